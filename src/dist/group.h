#pragma once
/// Distributed data parallelism on LibTorch's own engine (c10d): rendezvous through a
/// `c10d::TCPStore`, collectives through `c10d::ProcessGroupGloo` (CPU tensors) or
/// `c10d::ProcessGroupNCCL` (CUDA tensors, when this LibTorch was built with CUDA).
///
/// Launch contract, identical to torchrun: every process reads
///   RANK, WORLD_SIZE          its global rank and the number of processes
///   LOCAL_RANK, LOCAL_WORLD_SIZE   its rank on this machine and the ranks on this machine
///   MASTER_ADDR, MASTER_PORT  where rank 0 hosts the rendezvous store
///   WTP_DIST_TIMEOUT          collective timeout in seconds (default 300)
/// `wtp-launch --nproc N -- wtp-train ...` sets them for N local processes.
///
///     auto env = dist::LaunchEnv::from_environment();   // nullopt: not distributed
///     dist::Group group(*env, torch::kCPU);             // blocks until all ranks joined
///     group.broadcast_module(model);                    // rank 0's weights everywhere
///
/// Every collective is called by every rank in the same order. A collective that fails
/// (a peer died: connection reset; a peer hangs: the timeout expires) throws
/// std::runtime_error naming this rank, the collective, the timeout and the cause.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>
#include <torch/torch.h>
#include <vector>

namespace wtp::dist {

/// The torchrun environment of one process.
struct LaunchEnv {
  int rank = 0;                           ///< RANK: 0 <= rank < world_size
  int world_size = 1;                     ///< WORLD_SIZE
  int local_rank = 0;                     ///< LOCAL_RANK (defaults to RANK)
  int local_world_size = 1;               ///< LOCAL_WORLD_SIZE (defaults to WORLD_SIZE)
  std::string master_addr = "127.0.0.1";  ///< MASTER_ADDR
  int master_port = 29500;                ///< MASTER_PORT
  std::chrono::milliseconds timeout{std::chrono::seconds(300)};  ///< WTP_DIST_TIMEOUT (s)

  /// The environment of this process; nullopt when WORLD_SIZE is unset (a plain run).
  /// Throws UsageError naming the variable when a value is malformed or out of range
  /// (e.g. RANK >= WORLD_SIZE, MASTER_PORT outside 1..65535, RANK missing).
  static std::optional<LaunchEnv> from_environment();
};

/// Default intra-op threads of one rank: the cores of this process divided among the
/// LOCAL_WORLD_SIZE ranks of the machine (at least 1). Without a launch environment, all
/// cores.
int default_threads();

/// Collective timeout from a number of seconds (> 0; UsageError naming `what` otherwise).
std::chrono::milliseconds parse_timeout(const std::string& seconds, const std::string& what);

/// 64-bit FNV-1a checksum of the bytes of every parameter and buffer of `module` in
/// named order: equal on two ranks iff their weights are bit-identical (up to hash
/// collisions).
std::uint64_t module_checksum(const torch::nn::Module& module);

/// A process group: this rank's handle on the collectives of the job.
class Group {
 public:
  enum class ReduceOp { kSum, kMax, kMin };

  /// Rendezvous: rank 0 hosts a TCPStore on master_port, the others connect to
  /// master_addr:master_port (waiting up to `env.timeout` for everyone). Uses NCCL when
  /// `device` is CUDA (UsageError if this LibTorch lacks it), Gloo otherwise.
  Group(const LaunchEnv& env, torch::Device device);
  ~Group();
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }
  bool is_main() const { return env_.rank == 0; }
  const LaunchEnv& env() const { return env_; }
  torch::Device device() const { return device_; }
  std::chrono::milliseconds timeout() const { return env_.timeout; }
  /// "gloo" or "nccl".
  const std::string& backend_name() const { return backend_name_; }

  /// Copies `root`'s values into `tensors` on every rank (in place; any dtypes; flattened
  /// into one buffer per dtype, so few messages).
  void broadcast(const std::vector<torch::Tensor>& tensors, int root, const std::string& what);
  /// Every parameter and buffer of `module` (or buffers only) from rank 0.
  void broadcast_module(torch::nn::Module& module, bool buffers_only, const std::string& what);
  /// In place: element-wise reduction over ranks (contiguous tensor).
  void all_reduce(torch::Tensor& tensor, ReduceOp op, const std::string& what);
  /// Launches an in-place sum all-reduce of a contiguous tensor; finish with wait().
  c10::intrusive_ptr<c10d::Work> all_reduce_async(torch::Tensor& tensor);
  /// Waits for `work` (a collective called `what`); throws the clear error on failure.
  void wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& what);
  /// The rows of every rank's `local` [n_r, ...] concatenated in rank order (n_r may
  /// differ between ranks; the trailing shape and dtype may not). Result on local's device.
  torch::Tensor all_gather_rows(const torch::Tensor& local, const std::string& what);
  /// Returns when every rank has called it (or throws after the timeout).
  void barrier(const std::string& what);
  /// Rank 0 calls signal(key); the others' wait_key(key, timeout) returns then. For
  /// one-off waits longer than the collective timeout (rank 0 preparing data).
  void signal(const std::string& key);
  void wait_key(const std::string& key, std::chrono::milliseconds timeout, const std::string& what);

 private:
  [[noreturn]] void fail(const std::string& what, const std::exception& cause,
                         std::chrono::steady_clock::time_point started) const;

  LaunchEnv env_;
  torch::Device device_;
  std::string backend_name_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::ProcessGroup> pg_;
};

/// [begin, end) of rank `rank`'s contiguous part of `n` items split over `world` ranks
/// (sizes differ by at most one; together they cover 0..n-1 once).
std::pair<std::int64_t, std::int64_t> shard_range(std::int64_t n, int rank, int world);

}  // namespace wtp::dist
