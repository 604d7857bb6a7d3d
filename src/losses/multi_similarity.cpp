#include "losses/multi_similarity.h"

#include <limits>

#include "losses/mining.h"
#include "losses/reduction.h"

namespace wtp::losses {

torch::Tensor multi_similarity_loss(const torch::Tensor& embeddings, const torch::Tensor& labels,
                                    const MultiSimilarityOptions& options) {
  options.validate();
  detail::check_float(embeddings, "multi_similarity", "the embeddings", 2);
  const torch::Tensor y = detail::class_labels(
      labels, embeddings.size(0), std::numeric_limits<int64_t>::max(), "multi_similarity");
  const torch::Tensor x = torch::nn::functional::normalize(
      embeddings, torch::nn::functional::NormalizeFuncOptions().dim(1));
  const torch::Tensor s = x.matmul(x.t());
  const PairMasks pairs =
      options.mining ? mine_multi_similarity_pairs(s, y, options.epsilon) : all_pairs(y);
  const torch::Tensor positive =
      detail::log1p_sum_exp(-options.alpha * (s - options.base), pairs.positive, 1) / options.alpha;
  const torch::Tensor negative =
      detail::log1p_sum_exp(options.beta * (s - options.base), pairs.negative, 1) / options.beta;
  return (positive + negative).mean();
}

}  // namespace wtp::losses
