#pragma once
/// Contrastive loss (Hadsell, Chopra and LeCun, CVPR 2006) on pairs of embeddings.
#include <torch/torch.h>

#include "core/error.h"
#include "losses/reduction.h"

namespace wtp::losses {

/// Options of the contrastive loss.
struct ContrastiveOptions {
  /// Pairs of different classes closer than this are pushed apart. The old notebooks used
  /// 5; the default follows the common choice for unnormalised embeddings, 2.
  double margin = 2.0;
  /// Added to the squared distance under the square root of the "different" term, so that
  /// its gradient is finite (zero) for identical embeddings. The "same" term uses the exact
  /// squared distance.
  double eps = 1e-9;
  Reduction reduction = Reduction::kMean;  ///< mean, sum or none over the pairs

  template <class V>
  void visit(V& v) {
    v("margin", margin, "pairs of different classes closer than this are pushed apart");
    v("eps", eps, "added under the square root of the 'different' term (finite gradient at d = 0)");
    v("reduction", reduction, "mean, sum or none over the pairs");
  }
  void validate() const {
    require(margin > 0, "contrastive: margin must be > 0 (e.g. 2)");
    require(eps > 0, "contrastive: eps must be > 0 (e.g. 1e-9) so the gradient at d = 0 is finite");
  }
};

/// Contrastive loss of a batch of pairs.
///
/// With s_i = ||a_i - b_i||^2 and d_i = sqrt(s_i + eps):
///     loss_i = (1 - y_i) * s_i + y_i * max(margin - d_i, 0)^2
/// y = 1 means "different classes" (pushed apart up to `margin`), y = 0 "same class"
/// (pulled together).
///
/// requires: a, b floating point [B, D] of the same shape and dtype; y [B] (or [B, 1]) of
///   any numeric dtype holding only 0 and 1.
/// ensures: 0-d tensor for kMean/kSum, [B] for kNone; differentiable in a and b everywhere
///   (at a_i = b_i the "different" term has gradient 0 thanks to eps).
/// Note: PyTorch's F.pairwise_distance, often used for this loss, adds 1e-6 to every
///   coordinate difference (so d(a, a) = 1e-6 * sqrt(D)); this implementation does not.
torch::Tensor contrastive(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& y,
                          const ContrastiveOptions& options = {});

/// Module form of contrastive().
class ContrastiveImpl : public torch::nn::Module {
 public:
  explicit ContrastiveImpl(ContrastiveOptions options = {});
  torch::Tensor forward(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& y);
  const ContrastiveOptions& options() const { return options_; }

 private:
  ContrastiveOptions options_;
};
TORCH_MODULE(Contrastive);

}  // namespace wtp::losses
