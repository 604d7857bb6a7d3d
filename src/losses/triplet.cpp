#include "losses/triplet.h"

#include <limits>

#include "losses/reduction.h"

namespace wtp::losses {

torch::Tensor triplet_loss(const torch::Tensor& embeddings, const torch::Tensor& labels,
                           const TripletOptions& options) {
  options.validate();
  detail::check_float(embeddings, "triplet", "the embeddings", 2);
  const torch::Tensor y = detail::class_labels(labels, embeddings.size(0),
                                               std::numeric_limits<int64_t>::max(), "triplet");
  const torch::Tensor x =
      options.normalize ? torch::nn::functional::normalize(
                              embeddings, torch::nn::functional::NormalizeFuncOptions().dim(1))
                        : embeddings;
  const torch::Tensor d = pairwise_distances(x);
  const Triplets t = mine_triplets(d, y, options.mining, options.margin);
  const torch::Tensor losses = torch::relu(d.index({t.anchor, t.positive}) -
                                           d.index({t.anchor, t.negative}) + options.margin);
  const torch::Tensor active = losses > 0;
  // No violating triplet: a zero that still depends on the embeddings (a graph to backprop).
  if (!active.any().item<bool>()) return (x * 0).sum();
  return losses.masked_select(active).mean();
}

}  // namespace wtp::losses
