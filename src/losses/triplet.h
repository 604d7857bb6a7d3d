#pragma once
/// Triplet margin loss with in-batch mining (FaceNet; Hermans et al. 2017):
///     loss = mean over mined triplets with a positive value of
///            max(d(a, p) - d(a, n) + margin, 0)
/// with Euclidean distances between (by default L2-normalised) embeddings. Averaging over
/// the triplets that still violate the margin, not over all of them, keeps the loss from
/// fading as most triplets become easy (pytorch-metric-learning's default reducer too).
/// 0 when no triplet violates the margin.
#include <torch/torch.h>

#include "core/error.h"
#include "losses/mining.h"

namespace wtp::losses {

struct TripletOptions {
  double margin = 0.2;                               ///< FaceNet's alpha on unit-norm embeddings
  TripletMining mining = TripletMining::kBatchHard;  ///< which triplets of the batch
  bool normalize = true;                             ///< L2-normalise the embeddings first

  template <class V>
  void visit(V& v) {
    v("margin", margin, "margin between positive and negative distances");
    v("mining", mining, "batch_hard, semihard or all (margin violators)");
    v("normalize", normalize, "L2-normalise the embeddings first");
  }
  void validate() const { require(margin > 0, "triplet: margin must be > 0 (e.g. 0.2)"); }
};

/// requires: embeddings floating point [B, D]; labels integer [B] (class ids >= 0).
/// ensures: a 0-d tensor >= 0.
torch::Tensor triplet_loss(const torch::Tensor& embeddings, const torch::Tensor& labels,
                           const TripletOptions& options = {});

}  // namespace wtp::losses
