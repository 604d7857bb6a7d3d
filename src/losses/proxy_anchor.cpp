#include "losses/proxy_anchor.h"

#include "losses/reduction.h"

namespace wtp::losses {

torch::Tensor proxy_anchor_loss(const torch::Tensor& cosines, const torch::Tensor& labels,
                                const ProxyAnchorOptions& options) {
  options.validate();
  detail::check_cosines(cosines, "proxy_anchor");
  const int64_t classes = cosines.size(1);
  const torch::Tensor y = detail::class_labels(labels, cosines.size(0), classes, "proxy_anchor");
  const torch::Tensor of_class =
      torch::one_hot(y, classes).to(torch::kBool);  // [B, C]: sample x is of class p
  const torch::Tensor present = of_class.any(0);
  const torch::Tensor positive = detail::log1p_sum_exp(-options.alpha * (cosines - options.margin),
                                                       of_class, 0);  // [C], 0 for absent classes
  const torch::Tensor negative =
      detail::log1p_sum_exp(options.alpha * (cosines + options.margin), of_class.logical_not(), 0);
  return positive.sum() / present.sum().clamp_min(1) + negative.sum() / classes;
}

}  // namespace wtp::losses
