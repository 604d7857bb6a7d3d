#pragma once
/// Gradient averaging for data parallelism, as DDP does it: the trainable parameters are
/// laid out in buckets of about `bucket_mb` MB (in reverse registration order, roughly the
/// order the backward pass produces their gradients); with `overlap`, a gradient hook on
/// every parameter copies its gradient into its bucket, and a full bucket's all-reduce is
/// launched at once, while the backward pass goes on (buckets are launched strictly in
/// index order, so every rank issues the same collectives in the same order). finish()
/// launches what is left, waits, divides by the world size and writes every parameter's
/// .grad. Without `overlap`, finish() does all of it after the backward pass.
///
///     dist::GradientReducer reducer(group, trainable_parameters, {});
///     reducer.prepare();          // before backward
///     loss.backward();            // hooks launch full buckets
///     reducer.finish();           // grads = mean over ranks, identical on every rank
///
/// A parameter that received no gradient on a rank counts as a zero gradient there; one
/// that received none on any rank keeps its .grad untouched (so an optimizer skips it as
/// without data parallelism). Requires: dense float gradients, the same parameter list
/// (same shapes, same order) on every rank.
#include <cstdint>
#include <memory>
#include <torch/torch.h>
#include <vector>

#include "dist/group.h"

namespace wtp::dist {

struct ReducerOptions {
  double bucket_mb = 25.0;  ///< bucket size cap in MB (DDP's default: 25)
  bool overlap = true;      ///< launch buckets from gradient hooks during backward

  /// Defaults overridden by WTP_DIST_BUCKET_MB (> 0) and WTP_DIST_OVERLAP (0 or 1);
  /// UsageError naming the variable for another value.
  static ReducerOptions from_environment();
};

class GradientReducer {
 public:
  GradientReducer(Group& group, std::vector<torch::Tensor> parameters, ReducerOptions options);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  /// Arms the hooks for one backward pass (call before backward()).
  void prepare();
  /// Completes the reduction (call after backward(), before the optimizer step).
  void finish();

  std::size_t buckets() const { return buckets_.size(); }
  /// Seconds finish() spent blocked waiting for all-reduces since construction (the
  /// communication not hidden behind the backward pass).
  double wait_seconds() const { return wait_seconds_; }
  /// Buckets launched from hooks during backward (vs. from finish()) since construction.
  std::int64_t launched_in_backward() const { return launched_in_backward_; }

 private:
  struct Bucket {
    std::vector<std::size_t> params;  ///< indices into params_
    std::vector<std::int64_t> offsets;
    std::int64_t numel = 0;  ///< gradient elements (the flags follow them)
    torch::Tensor flat;      ///< [numel + params.size()]: gradients then used-flags
    std::size_t ready = 0;
    c10::intrusive_ptr<c10d::Work> work;
  };
  void on_gradient(std::size_t param, const torch::Tensor& grad);
  void launch_ready();
  void launch(std::size_t bucket);

  Group& group_;
  std::vector<torch::Tensor> params_;
  ReducerOptions options_;
  std::vector<Bucket> buckets_;
  std::vector<std::size_t> bucket_of_, slot_of_;  ///< per parameter
  std::vector<bool> filled_;                      ///< per parameter, this pass
  std::vector<unsigned> hooks_;
  std::size_t next_launch_ = 0;
  bool armed_ = false;
  double wait_seconds_ = 0.0;
  std::int64_t launched_in_backward_ = 0;
};

}  // namespace wtp::dist
