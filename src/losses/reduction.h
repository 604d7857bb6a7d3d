#pragma once
/// How a loss turns per-sample values into its result, and the input checks shared by the
/// losses of this folder.
#include <string>
#include <torch/torch.h>

#include "core/config.h"

namespace wtp::losses {

/// kMean: average over the batch (0-d tensor); kSum: sum (0-d); kNone: one value per
/// sample ([B]).
enum class Reduction { kMean, kSum, kNone };
WTP_ENUM_NAMES(Reduction, {Reduction::kMean, "mean"}, {Reduction::kSum, "sum"},
               {Reduction::kNone, "none"})

/// Applies `reduction` to per-sample values `per_sample` ([B]).
/// ensures: kMean/kSum give a 0-d tensor (mean of an empty batch is NaN, as in LibTorch);
/// kNone returns `per_sample` unchanged.
torch::Tensor reduce(const torch::Tensor& per_sample, Reduction reduction);

namespace detail {

/// Throws UsageError "<loss>: <what> must be ..." unless `t` is defined, floating point and
/// has `dim` dimensions.
void check_float(const torch::Tensor& t, const std::string& loss, const std::string& what,
                 int64_t dim);
/// Returns `y` ([B], or [B, 1] which is flattened) as a tensor of dtype `like` holding only
/// 0 and 1; throws UsageError naming `loss` when the shape is not [B] or a value is not 0/1.
torch::Tensor binary_targets(const torch::Tensor& y, int64_t batch, const torch::Tensor& like,
                             const std::string& loss);
/// Checks that `labels` is an integer tensor [batch] with values in [0, classes) and returns
/// it as int64. Throws UsageError naming `loss` otherwise.
torch::Tensor class_labels(const torch::Tensor& labels, int64_t batch, int64_t classes,
                           const std::string& loss);
/// check_float(cosines, loss, "the cosines (logits)", 2), and every value in [-1, 1] (up to
/// rounding); otherwise a UsageError pointing at the normalised-weight head.
void check_cosines(const torch::Tensor& cosines, const std::string& loss);
/// log(1 + sum over k of exp(z_k)), summing along `dim` only where `mask` (bool, same shape)
/// is true: 0 where nothing is kept. Stable for large z, with finite gradients.
torch::Tensor log1p_sum_exp(const torch::Tensor& z, const torch::Tensor& mask, int64_t dim);
/// "[2, 3]" for messages.
std::string shape_string(const torch::Tensor& t);

}  // namespace detail
}  // namespace wtp::losses
