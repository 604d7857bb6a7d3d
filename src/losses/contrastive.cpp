#include "losses/contrastive.h"

namespace wtp::losses {

torch::Tensor contrastive(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& y,
                          const ContrastiveOptions& options) {
  options.validate();
  detail::check_float(a, "contrastive", "the first embeddings", 2);
  detail::check_float(b, "contrastive", "the second embeddings", 2);
  require(a.sizes() == b.sizes(),
          "contrastive: the two embedding batches must have the same shape, got " +
              detail::shape_string(a) + " and " + detail::shape_string(b));
  require(a.scalar_type() == b.scalar_type(),
          "contrastive: the two embedding batches must have the same dtype");
  const torch::Tensor target = detail::binary_targets(y, a.size(0), a, "contrastive");
  const torch::Tensor squared = (a - b).pow(2).sum(1);
  const torch::Tensor distance = (squared + options.eps).sqrt();
  const torch::Tensor push = (options.margin - distance).clamp_min(0).pow(2);
  return reduce((1 - target) * squared + target * push, options.reduction);
}

ContrastiveImpl::ContrastiveImpl(ContrastiveOptions options) : options_(options) {
  options_.validate();
}

torch::Tensor ContrastiveImpl::forward(const torch::Tensor& a, const torch::Tensor& b,
                                       const torch::Tensor& y) {
  return contrastive(a, b, y, options_);
}

}  // namespace wtp::losses
