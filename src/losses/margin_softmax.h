#pragma once
/// Margin-based softmax losses for face recognition: ArcFace and CosFace. Both read the
/// cosines between the embeddings and the class centres, which a normalised-weight
/// classifier head produces (`model: {name: embedding_head, classifier: cosine}`), move
/// the target class's cosine by a margin, scale all by `s`, and take the cross-entropy.
///
///     torch::Tensor cos = model->forward(images).logits;  // [B, C] in [-1, 1]
///     torch::Tensor loss = arcface(cos, labels, {});       // s = 64, m = 0.5
#include <torch/torch.h>

#include "core/error.h"
#include "losses/reduction.h"

namespace wtp::losses {

/// ArcFace (Deng et al. 2019), additive angular margin: the target logit is
/// s * cos(theta + m). Where theta + m would pass pi (cos(theta) <= cos(pi - m)), the
/// reference implementation keeps the logit decreasing with theta by using
/// s * (cos(theta) - m sin(m)) instead; with `easy_margin` the margin applies only where
/// cos(theta) > 0 and the target keeps s * cos(theta) elsewhere.
struct ArcFaceOptions {
  double scale = 64.0;       ///< s, the radius of the hypersphere the logits live on
  double margin = 0.5;       ///< m, in radians (0.5 rad = 28.6 degrees)
  bool easy_margin = false;  ///< margin only where cos(theta) > 0
  Reduction reduction = Reduction::kMean;

  template <class V>
  void visit(V& v) {
    v("scale", scale, "scale s of the logits");
    v("margin", margin, "additive angular margin m in radians");
    v("easy_margin", easy_margin, "apply the margin only where cos(theta) > 0");
    v("reduction", reduction, "mean, sum or none over the samples");
  }
  void validate() const {
    require(scale > 0, "arcface: scale must be > 0 (e.g. 64)");
    require(margin >= 0 && margin < 1.5707963267948966,
            "arcface: margin must be in [0, pi/2) radians (e.g. 0.5)");
  }
};

/// CosFace / large-margin cosine loss (Wang et al. 2018): the target logit is
/// s * (cos(theta) - m).
struct CosFaceOptions {
  double scale = 64.0;   ///< s
  double margin = 0.35;  ///< m, subtracted from the target cosine
  Reduction reduction = Reduction::kMean;

  template <class V>
  void visit(V& v) {
    v("scale", scale, "scale s of the logits");
    v("margin", margin, "additive cosine margin m");
    v("reduction", reduction, "mean, sum or none over the samples");
  }
  void validate() const {
    require(scale > 0, "cosface: scale must be > 0 (e.g. 64)");
    require(margin >= 0 && margin < 2, "cosface: margin must be in [0, 2) (e.g. 0.35)");
  }
};

/// The logits ArcFace feeds to the cross-entropy: s * cos(theta + m) at each sample's
/// target class, s * cos(theta) elsewhere.
///
/// requires: cosines floating point [B, C] with values in [-1, 1] (checked, with a hint
/// at the cosine head); labels integer [B] in [0, C).
torch::Tensor arcface_logits(const torch::Tensor& cosines, const torch::Tensor& labels,
                             const ArcFaceOptions& options = {});
/// Cross-entropy of arcface_logits(): 0-d for mean/sum, [B] for none.
torch::Tensor arcface(const torch::Tensor& cosines, const torch::Tensor& labels,
                      const ArcFaceOptions& options = {});

/// The logits CosFace feeds to the cross-entropy: s * (cos(theta) - m) at the target,
/// s * cos(theta) elsewhere. Same requirements as arcface_logits().
torch::Tensor cosface_logits(const torch::Tensor& cosines, const torch::Tensor& labels,
                             const CosFaceOptions& options = {});
/// Cross-entropy of cosface_logits().
torch::Tensor cosface(const torch::Tensor& cosines, const torch::Tensor& labels,
                      const CosFaceOptions& options = {});

}  // namespace wtp::losses
