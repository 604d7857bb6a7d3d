#pragma once
/// What the trainer asks of the other ranks, in one place: rank 0's weights broadcast, the
/// gradient all-reduce during backward, agreement on each step's loss and on stopping, the
/// validation's gathers, and rank 0's "data ready" signal.
/// Without a process group (a plain run) every call is a no-op that returns its input, so
/// the trainer reads the same on one process and on many.
///
///     DistContext dist(group);                    // group may be null
///     dist.broadcast(*model, false, "weights");   // every rank starts from rank 0's
///     dist.reduce_gradients(trainable);           // backward passes average gradients
///     dist.before_backward(); loss.backward(); dist.after_backward();
#include <map>
#include <memory>
#include <string>
#include <torch/torch.h>
#include <vector>

#include "dist/group.h"

namespace wtp::dist {
class GradientReducer;
}

namespace wtp::train {

class DistContext {
 public:
  explicit DistContext(std::shared_ptr<dist::Group> group = nullptr);
  ~DistContext();
  DistContext(const DistContext&) = delete;
  DistContext& operator=(const DistContext&) = delete;

  bool distributed() const { return group_ != nullptr; }
  int rank() const { return group_ ? group_->rank() : 0; }
  int world_size() const { return group_ ? group_->world_size() : 1; }
  /// Rank 0, or a plain run: the process that writes the run directory.
  bool is_main() const { return !group_ || group_->is_main(); }
  /// "rank r of R (backend, T threads, timeout S s)" for the log; "" in a plain run.
  std::string describe() const;

  /// Every rank gets rank 0's parameters and buffers (`buffers_only`: BatchNorm statistics).
  void broadcast(torch::nn::Module& module, bool buffers_only, const std::string& what);
  /// From now on, backward passes between before_backward() and after_backward() average
  /// the gradients of `parameters` over the ranks (dist::GradientReducer, options from the
  /// environment). Replaces an earlier set.
  void reduce_gradients(const std::vector<torch::Tensor>& parameters);
  void before_backward();
  void after_backward();

  /// One step's loss and its parts averaged over the ranks, and whether any rank asked to
  /// stop; the same on every rank, so all take the same decisions at the same step.
  bool agree_on_step(double& loss, std::map<std::string, double>& parts, bool stop);
  /// For each flag, whether it is set on any rank (in order).
  std::vector<bool> any(const std::vector<bool>& flags, const std::string& what);

  /// Every rank's `rows` [n_r, ...] concatenated in rank order (n_r may be 0).
  torch::Tensor gather_rows(const torch::Tensor& rows, const std::string& what);
  /// Rank 0's `value` on every rank.
  double broadcast_value(double value, const std::string& what);
  /// Rank 0 marks `key` done; the other ranks wait for it (at least two hours, or the
  /// group's timeout if longer: rank 0 may be generating data).
  void main_done(const std::string& key);
  void wait_for_main(const std::string& key, const std::string& what);
  /// Throws std::runtime_error naming the rank unless every rank holds the same weights
  /// (data parallelism keeps the replicas bit-identical; checked once, after training).
  void check_same_weights(const torch::nn::Module& module);

 private:
  std::shared_ptr<dist::Group> group_;
  std::unique_ptr<dist::GradientReducer> reducer_;
};

}  // namespace wtp::train
