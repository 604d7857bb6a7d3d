#pragma once
/// LibTorch threading. LibTorch defaults to one intra-op thread on this kind of machine,
/// so every tool sets it explicitly.

namespace wtp {

/// Number of cores available to this process (sched affinity aware), at least 1.
int available_cores();
/// Sets LibTorch's intra-op thread count (and OpenMP's); `threads` <= 0 means all cores.
/// Returns the count set.
int set_threads(int threads);

}  // namespace wtp
