#pragma once
/// LibTorch threading and memory. LibTorch defaults to one intra-op thread on this kind of
/// machine, so every tool sets it explicitly; and glibc hands large activations back to the
/// kernel on every free, which costs a training step of BN-Inception at batch 48 about a
/// quarter of its time in page faults (bench/run_train.sh), so the heap keeps them.

namespace wtp {

/// Number of cores available to this process (sched affinity aware), at least 1.
int available_cores();
/// Sets LibTorch's intra-op thread count (and OpenMP's); `threads` <= 0 means all cores.
/// Also calls keep_freed_memory(). Returns the count set.
int set_threads(int threads);

/// Makes glibc's allocator serve large blocks from the heap and never return freed memory
/// to the kernel, so the tensors of each training step reuse the previous step's pages
/// instead of faulting fresh ones in. The process keeps its peak heap size.
void keep_freed_memory();

}  // namespace wtp
