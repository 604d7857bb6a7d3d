#include "losses/mining.h"

#include <limits>

namespace wtp::losses {

torch::Tensor pairwise_distances(const torch::Tensor& x) {
  const torch::Tensor squared_norms = x.pow(2).sum(1);
  const torch::Tensor squared =
      (squared_norms.unsqueeze(1) + squared_norms.unsqueeze(0) - 2 * x.matmul(x.t())).clamp_min(0);
  // Below the floor the clamp passes no gradient, so coinciding rows give 0, not NaN.
  const torch::Tensor eye = torch::eye(x.size(0), x.options().dtype(torch::kBool));
  return squared.clamp_min(1e-16).sqrt().masked_fill(eye, 0);
}

PairMasks all_pairs(const torch::Tensor& labels) {
  const torch::Tensor same = labels.unsqueeze(1) == labels.unsqueeze(0);
  const torch::Tensor eye = torch::eye(labels.size(0), labels.options().dtype(torch::kBool));
  return {same.logical_and(eye.logical_not()), same.logical_not()};
}

Triplets mine_triplets(const torch::Tensor& distances, const torch::Tensor& labels,
                       TripletMining mining, double margin) {
  torch::NoGradGuard no_grad;
  const torch::Tensor d = distances.detach();
  const PairMasks pairs = all_pairs(labels);
  if (mining == TripletMining::kBatchHard) {
    const double inf = std::numeric_limits<double>::infinity();
    const torch::Tensor anchors =
        pairs.positive.any(1).logical_and(pairs.negative.any(1)).nonzero().squeeze(1);
    const torch::Tensor hardest_positive =
        d.masked_fill(pairs.positive.logical_not(), -inf).argmax(1);
    const torch::Tensor hardest_negative =
        d.masked_fill(pairs.negative.logical_not(), inf).argmin(1);
    return {anchors, hardest_positive.index({anchors}), hardest_negative.index({anchors})};
  }
  // One row per positive pair (a, p), one column per candidate negative n.
  const torch::Tensor ap = pairs.positive.nonzero();
  const torch::Tensor a = ap.select(1, 0), p = ap.select(1, 1);
  const torch::Tensor gap = d.index({a}) - d.index({a, p}).unsqueeze(1);  // d(a,n) - d(a,p)
  torch::Tensor keep = pairs.negative.index({a}).logical_and(gap <= margin);
  if (mining == TripletMining::kSemiHard) keep = keep.logical_and(gap > 0);
  const torch::Tensor hit = keep.nonzero();
  const torch::Tensor row = hit.select(1, 0);
  return {a.index({row}), p.index({row}), hit.select(1, 1)};
}

PairMasks mine_multi_similarity_pairs(const torch::Tensor& similarities,
                                      const torch::Tensor& labels, double epsilon) {
  torch::NoGradGuard no_grad;
  const torch::Tensor s = similarities.detach();
  const PairMasks pairs = all_pairs(labels);
  const double inf = std::numeric_limits<double>::infinity();
  const torch::Tensor hardest_negative =
      s.masked_fill(pairs.negative.logical_not(), -inf).amax(1, /*keepdim=*/true);
  const torch::Tensor hardest_positive =
      s.masked_fill(pairs.positive.logical_not(), inf).amin(1, /*keepdim=*/true);
  return {pairs.positive.logical_and(s - epsilon < hardest_negative),
          pairs.negative.logical_and(s + epsilon > hardest_positive)};
}

}  // namespace wtp::losses
