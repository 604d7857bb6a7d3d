#pragma once
/// Binary cross-entropy with logits on the output of a pair head (Siamese BCE model).
#include <optional>
#include <torch/torch.h>

#include "core/error.h"
#include "losses/reduction.h"

namespace wtp::losses {

/// Options of the pair BCE loss.
struct BcePairOptions {
  /// Weight of the positive class (y = 1, "different"); > 1 raises recall of "different".
  /// Unset means 1 (plain BCE).
  std::optional<double> pos_weight;
  Reduction reduction = Reduction::kMean;  ///< mean, sum or none over the pairs

  template <class V>
  void visit(V& v) {
    v("pos_weight", pos_weight, "weight of the y = 1 ('different') term; unset = 1");
    v("reduction", reduction, "mean, sum or none over the pairs");
  }
  void validate() const {
    require(!pos_weight || *pos_weight > 0, "bce_pair: pos_weight must be > 0 (or left unset)");
  }
};

/// Binary cross-entropy with logits:
///     loss_i = -[w * y_i * log sigmoid(z_i) + (1 - y_i) * log(1 - sigmoid(z_i))]
/// with w = pos_weight (1 when unset); computed stably by LibTorch.
///
/// requires: logits z floating point [B] or [B, 1] (one logit per pair, "1 = different");
///   y [B] (or [B, 1]) holding only 0 and 1.
/// ensures: 0-d tensor for kMean/kSum, [B] for kNone.
torch::Tensor bce_pair(const torch::Tensor& logits, const torch::Tensor& y,
                       const BcePairOptions& options = {});

/// Module form of bce_pair().
class BcePairImpl : public torch::nn::Module {
 public:
  explicit BcePairImpl(BcePairOptions options = {});
  torch::Tensor forward(const torch::Tensor& logits, const torch::Tensor& y);
  const BcePairOptions& options() const { return options_; }

 private:
  BcePairOptions options_;
};
TORCH_MODULE(BcePair);

}  // namespace wtp::losses
