#include "core/threads.h"

#include <malloc.h>
#include <sched.h>

#include <ATen/Parallel.h>
#include <thread>

namespace wtp {

int available_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw > 0 ? static_cast<int>(hw) : 1;
}

int set_threads(int threads) {
  const int n = threads > 0 ? threads : available_cores();
  at::set_num_threads(n);
  keep_freed_memory();
  return n;
}

void keep_freed_memory() {
  mallopt(M_MMAP_MAX, 0);         // large blocks from the heap, not from fresh mappings
  mallopt(M_TRIM_THRESHOLD, -1);  // never give the heap's top back (-1 = no trimming)
}

}  // namespace wtp
