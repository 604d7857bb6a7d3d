#pragma once
/// Multi-similarity loss (Wang et al. 2019) on the cosine similarities S of a batch, with
/// its pair miner: for each anchor i,
///     (1/alpha) log(1 + sum_{k in P_i} exp(-alpha (S_ik - base)))
///   + (1/beta)  log(1 + sum_{n in N_i} exp( beta (S_in - base)))
/// averaged over the batch, where P_i / N_i are i's positive / negative pairs kept by
/// mine_multi_similarity_pairs() (or all of them without mining).
#include <torch/torch.h>

#include "core/error.h"

namespace wtp::losses {

struct MultiSimilarityOptions {
  double alpha = 2.0;    ///< weight of the positive pairs
  double beta = 50.0;    ///< weight of the negative pairs
  double base = 0.5;     ///< lambda, the similarity the pairs are pushed away from
  bool mining = true;    ///< keep only the informative pairs (the paper's miner)
  double epsilon = 0.1;  ///< the miner's margin

  template <class V>
  void visit(V& v) {
    v("alpha", alpha, "weight of the positive pairs");
    v("beta", beta, "weight of the negative pairs");
    v("base", base, "similarity margin lambda");
    v("mining", mining, "mine informative pairs first");
    v("epsilon", epsilon, "margin of the pair miner");
  }
  void validate() const {
    require(alpha > 0 && beta > 0, "multi_similarity: alpha and beta must be > 0 (e.g. 2, 50)");
    require(epsilon >= 0, "multi_similarity: epsilon must be >= 0 (e.g. 0.1)");
  }
};

/// requires: embeddings floating point [B, D] (normalised inside); labels integer [B].
/// ensures: a 0-d tensor >= 0.
torch::Tensor multi_similarity_loss(const torch::Tensor& embeddings, const torch::Tensor& labels,
                                    const MultiSimilarityOptions& options = {});

}  // namespace wtp::losses
