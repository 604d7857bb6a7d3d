#pragma once
/// Softmax cross-entropy with optional label smoothing (plain classification, and the
/// warm-up epochs before Group Loss).
#include <torch/torch.h>

#include "core/error.h"
#include "losses/reduction.h"

namespace wtp::losses {

/// Options of the cross-entropy loss.
struct CrossEntropyOptions {
  /// Label smoothing eps in [0, 1): the target puts 1 - eps on the label and eps spread
  /// uniformly over all C classes (Szegedy et al. 2016; same definition as PyTorch).
  double label_smoothing = 0.0;
  Reduction reduction = Reduction::kMean;  ///< mean, sum or none over the samples

  template <class V>
  void visit(V& v) {
    v("label_smoothing", label_smoothing, "label smoothing in [0, 1)");
    v("reduction", reduction, "mean, sum or none over the samples");
  }
  void validate() const {
    require(label_smoothing >= 0 && label_smoothing < 1,
            "cross_entropy: label_smoothing must be in [0, 1) (e.g. 0.1)");
  }
};

/// Cross-entropy with label smoothing:
///     loss_i = (1 - eps) * (-log p_i[y_i]) + eps * mean_c(-log p_i[c]),  p_i = softmax(z_i)
///
/// requires: logits z floating point [B, C]; labels integer [B] in [0, C).
/// ensures: 0-d tensor for kMean/kSum, [B] for kNone.
torch::Tensor cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels,
                            const CrossEntropyOptions& options = {});

/// Module form of cross_entropy().
class CrossEntropyImpl : public torch::nn::Module {
 public:
  explicit CrossEntropyImpl(CrossEntropyOptions options = {});
  torch::Tensor forward(const torch::Tensor& logits, const torch::Tensor& labels);
  const CrossEntropyOptions& options() const { return options_; }

 private:
  CrossEntropyOptions options_;
};
TORCH_MODULE(CrossEntropy);

}  // namespace wtp::losses
