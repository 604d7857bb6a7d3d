#include "losses/reduction.h"

#include <limits>
#include <sstream>
#include <vector>

#include "core/error.h"

namespace wtp::losses {

torch::Tensor reduce(const torch::Tensor& per_sample, Reduction reduction) {
  switch (reduction) {
    case Reduction::kMean:
      return per_sample.mean();
    case Reduction::kSum:
      return per_sample.sum();
    case Reduction::kNone:
      return per_sample;
  }
  throw std::logic_error("reduce: unknown reduction");
}

namespace detail {

std::string shape_string(const torch::Tensor& t) {
  if (!t.defined()) return "(undefined)";
  std::ostringstream out;
  out << t.sizes();
  return out.str();
}

void check_float(const torch::Tensor& t, const std::string& loss, const std::string& what,
                 int64_t dim) {
  require(t.defined(), loss + ": " + what + " is missing");
  require(t.is_floating_point(), loss + ": " + what + " must be a floating-point tensor (got " +
                                     std::string(c10::toString(t.scalar_type())) + ")");
  require(t.dim() == dim, loss + ": " + what + " must have " + std::to_string(dim) +
                              " dimension(s), got shape " + shape_string(t));
}

torch::Tensor binary_targets(const torch::Tensor& y, int64_t batch, const torch::Tensor& like,
                             const std::string& loss) {
  require(y.defined(), loss + ": the pair labels are missing");
  torch::Tensor flat = (y.dim() == 2 && y.size(1) == 1) ? y.reshape({-1}) : y;
  require(flat.dim() == 1 && flat.size(0) == batch, loss + ": pair labels must have shape [" +
                                                        std::to_string(batch) +
                                                        "] (one per pair), got " + shape_string(y));
  torch::Tensor as = flat.to(like.options());
  require(as.eq(0).logical_or(as.eq(1)).all().item<bool>(),
          loss + ": pair labels must be 0 (same class) or 1 (different classes)");
  return as;
}

void check_cosines(const torch::Tensor& cosines, const std::string& loss) {
  check_float(cosines, loss, "the cosines (logits)", 2);
  if (cosines.numel() == 0) return;
  const double largest = cosines.detach().abs().max().item<double>();
  require(largest <= 1.001, loss + ": the logits are not cosines (|logit| up to " +
                                std::to_string(largest) +
                                "); give the model a normalised-weight head, e.g. model: "
                                "{name: embedding_head, classifier: cosine}");
}

torch::Tensor log1p_sum_exp(const torch::Tensor& z, const torch::Tensor& mask, int64_t dim) {
  const torch::Tensor kept =
      z.masked_fill(mask.logical_not(), -std::numeric_limits<double>::infinity());
  std::vector<int64_t> one_shape = z.sizes().vec();
  one_shape[static_cast<std::size_t>(dim < 0 ? dim + z.dim() : dim)] = 1;
  return torch::logsumexp(torch::cat({kept, torch::zeros(one_shape, z.options())}, dim), dim);
}

torch::Tensor class_labels(const torch::Tensor& labels, int64_t batch, int64_t classes,
                           const std::string& loss) {
  require(labels.defined(), loss + ": the class labels are missing");
  require(
      !labels.is_floating_point() && !labels.is_complex() && labels.scalar_type() != torch::kBool,
      loss + ": class labels must be an integer tensor (got " +
          std::string(c10::toString(labels.scalar_type())) + ")");
  require(labels.dim() == 1 && labels.size(0) == batch,
          loss + ": class labels must have shape [" + std::to_string(batch) +
              "] (one per row of the logits), got " + shape_string(labels));
  torch::Tensor out = labels.to(torch::kLong);
  if (batch > 0) {
    const int64_t lo = out.min().item<int64_t>();
    const int64_t hi = out.max().item<int64_t>();
    require(lo >= 0 && hi < classes, loss + ": class labels must lie in [0, " +
                                         std::to_string(classes) + ") but range over [" +
                                         std::to_string(lo) + ", " + std::to_string(hi) +
                                         "]; the model's number of classes must match the dataset");
  }
  return out;
}

}  // namespace detail
}  // namespace wtp::losses
