#include "losses/cross_entropy.h"

namespace wtp::losses {

torch::Tensor cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels,
                            const CrossEntropyOptions& options) {
  options.validate();
  detail::check_float(logits, "cross_entropy", "the logits", 2);
  const torch::Tensor y =
      detail::class_labels(labels, logits.size(0), logits.size(1), "cross_entropy");
  const torch::Tensor log_p = torch::log_softmax(logits, 1);
  torch::Tensor per_sample = -log_p.gather(1, y.unsqueeze(1)).squeeze(1);
  if (options.label_smoothing > 0) {
    per_sample =
        (1 - options.label_smoothing) * per_sample - options.label_smoothing * log_p.mean(1);
  }
  return reduce(per_sample, options.reduction);
}

CrossEntropyImpl::CrossEntropyImpl(CrossEntropyOptions options) : options_(options) {
  options_.validate();
}

torch::Tensor CrossEntropyImpl::forward(const torch::Tensor& logits, const torch::Tensor& labels) {
  return cross_entropy(logits, labels, options_);
}

}  // namespace wtp::losses
