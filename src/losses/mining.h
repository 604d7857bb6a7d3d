#pragma once
/// Mining inside a batch for the pair and triplet losses: which (anchor, positive,
/// negative) triplets and which pairs a loss is computed on. The class-balanced n x m
/// sampler (samplers/) draws batches with several images per class, so every anchor has
/// positives. Miners read detached distances: the choice is not differentiated.
///
///     torch::Tensor d = pairwise_distances(l2_normalize(embeddings));
///     Triplets t = mine_triplets(d, labels, TripletMining::kBatchHard, 0.2);
///     torch::Tensor violation = d.index({t.anchor, t.positive}) - d.index({t.anchor, t.negative});
#include <cstdint>
#include <torch/torch.h>

#include "core/config.h"

namespace wtp::losses {

/// Euclidean distances between the rows of `x` [B, D] -> [B, B], differentiable; the
/// gradient is zero where two rows coincide (instead of NaN), and the diagonal is 0.
torch::Tensor pairwise_distances(const torch::Tensor& x);

/// Which triplets a triplet loss is computed on.
///  - batch_hard: for each anchor, its farthest positive and nearest negative (Hermans et
///    al. 2017, "In Defense of the Triplet Loss"); anchors without both are skipped.
///  - semihard: every triplet whose negative lies beyond the positive but within the
///    margin, d(a,p) < d(a,n) <= d(a,p) + margin (FaceNet, Schroff et al. 2015).
///  - all: every triplet that violates the margin, d(a,n) <= d(a,p) + margin.
enum class TripletMining { kBatchHard, kSemiHard, kAll };
WTP_ENUM_NAMES(TripletMining, {TripletMining::kBatchHard, "batch_hard"},
               {TripletMining::kSemiHard, "semihard"}, {TripletMining::kAll, "all"})

/// Triplets as three int64 index tensors of equal length T into the batch.
struct Triplets {
  torch::Tensor anchor, positive, negative;
  std::int64_t size() const { return anchor.size(0); }
};

/// Mines triplets from the distances `distances` [B, B] (detached inside) of a batch with
/// class `labels` [B]. `margin` is used by semihard and all.
Triplets mine_triplets(const torch::Tensor& distances, const torch::Tensor& labels,
                       TripletMining mining, double margin);

/// Pairs of a batch as boolean masks [B, B]: positive[i][k] (same class, i != k) and
/// negative[i][k] (different classes) that a pair loss uses.
struct PairMasks {
  torch::Tensor positive, negative;
};

/// Every pair of the batch.
PairMasks all_pairs(const torch::Tensor& labels);

/// The multi-similarity miner (Wang et al. 2019) on cosine similarities `similarities`
/// [B, B]: keeps a positive pair (i, k) when S_ik - epsilon < max over i's negatives S_in,
/// and a negative pair (i, n) when S_in + epsilon > min over i's positives S_ik. An anchor
/// without negatives keeps no positives, and one without positives keeps no negatives.
PairMasks mine_multi_similarity_pairs(const torch::Tensor& similarities,
                                      const torch::Tensor& labels, double epsilon);

}  // namespace wtp::losses
