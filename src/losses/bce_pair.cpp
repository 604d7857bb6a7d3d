#include "losses/bce_pair.h"

namespace wtp::losses {

torch::Tensor bce_pair(const torch::Tensor& logits, const torch::Tensor& y,
                       const BcePairOptions& options) {
  options.validate();
  require(logits.defined(), "bce_pair: the pair logits are missing");
  require(logits.is_floating_point(), "bce_pair: the pair logits must be floating point");
  require(logits.dim() == 1 || (logits.dim() == 2 && logits.size(1) == 1),
          "bce_pair: the pair logits must have shape [B] or [B, 1] (one logit per pair), got " +
              detail::shape_string(logits) + "; is the pair head's output size 1?");
  const torch::Tensor z = logits.reshape({-1});
  const torch::Tensor target = detail::binary_targets(y, z.size(0), z, "bce_pair");
  torch::Tensor pos_weight;
  if (options.pos_weight) pos_weight = torch::full({1}, *options.pos_weight, z.options());
  const torch::Tensor per_pair = torch::binary_cross_entropy_with_logits(
      z, target, /*weight=*/{}, pos_weight, at::Reduction::None);
  return reduce(per_pair, options.reduction);
}

BcePairImpl::BcePairImpl(BcePairOptions options) : options_(options) { options_.validate(); }

torch::Tensor BcePairImpl::forward(const torch::Tensor& logits, const torch::Tensor& y) {
  return bce_pair(logits, y, options_);
}

}  // namespace wtp::losses
