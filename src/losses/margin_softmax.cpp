#include "losses/margin_softmax.h"

#include <cmath>

#include "losses/cross_entropy.h"

namespace wtp::losses {
namespace {

/// The labels of a margin loss as int64 [B, 1], after checking them and the cosines.
torch::Tensor checked_targets(const torch::Tensor& cosines, const torch::Tensor& labels,
                              const std::string& loss) {
  detail::check_cosines(cosines, loss);
  return detail::class_labels(labels, cosines.size(0), cosines.size(1), loss).unsqueeze(1);
}

}  // namespace

torch::Tensor arcface_logits(const torch::Tensor& cosines, const torch::Tensor& labels,
                             const ArcFaceOptions& options) {
  options.validate();
  const torch::Tensor y = checked_targets(cosines, labels, "arcface");
  const double m = options.margin;
  const torch::Tensor c = cosines.gather(1, y).clamp(-1, 1);
  // sin(theta) >= 0 for theta in [0, pi]; the floor keeps the gradient finite at |c| = 1.
  const torch::Tensor sine = (1 - c * c).clamp_min(1e-12).sqrt();
  const torch::Tensor shifted = c * std::cos(m) - sine * std::sin(m);  // cos(theta + m)
  const torch::Tensor target = options.easy_margin ? torch::where(c > 0, shifted, c)
                                                   : torch::where(c > std::cos(M_PI - m), shifted,
                                                                  c - std::sin(M_PI - m) * m);
  return cosines.scatter(1, y, target) * options.scale;
}

torch::Tensor arcface(const torch::Tensor& cosines, const torch::Tensor& labels,
                      const ArcFaceOptions& options) {
  return cross_entropy(arcface_logits(cosines, labels, options), labels,
                       {/*label_smoothing=*/0.0, options.reduction});
}

torch::Tensor cosface_logits(const torch::Tensor& cosines, const torch::Tensor& labels,
                             const CosFaceOptions& options) {
  options.validate();
  const torch::Tensor y = checked_targets(cosines, labels, "cosface");
  return cosines.scatter(1, y, cosines.gather(1, y) - options.margin) * options.scale;
}

torch::Tensor cosface(const torch::Tensor& cosines, const torch::Tensor& labels,
                      const CosFaceOptions& options) {
  return cross_entropy(cosface_logits(cosines, labels, options), labels,
                       {/*label_smoothing=*/0.0, options.reduction});
}

}  // namespace wtp::losses
