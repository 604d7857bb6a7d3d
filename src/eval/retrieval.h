#pragma once
/// Retrieval metrics over a labelled embedding set, every sample a query against all the
/// others (self excluded): Recall@K (metric-learning meaning), MAP@R and R-precision
/// (pytorch-metric-learning's definitions), computed in query blocks so memory stays
/// O(N * block_size) instead of O(N^2).
///
/// Ranking: references are ordered by decreasing cosine similarity of the L2-normalised
/// embeddings (the same order as increasing Euclidean distance); exact ties are broken by
/// increasing sample index, so results do not depend on the block size or thread count.
/// The query itself is excluded by index (a duplicate of the query is a normal neighbour).
///
/// Lone queries: a query whose label has no other sample cannot be answered; it is left
/// out of every metric and counted in `excluded_queries` (pytorch-metric-learning does the
/// same). The old per-batch Recall@K, on request, keeps the old code's behaviour instead.
#include <cstdint>
#include <map>
#include <string>
#include <torch/torch.h>
#include <vector>

#include "core/error.h"
#include "eval/knn.h"
#include "eval/report.h"

namespace wtp::eval {

struct RetrievalOptions {
  std::vector<std::int64_t> ks = {1, 2, 4, 8, 10, 20};  ///< K values of Recall@K
  bool map_at_r = true;                                 ///< compute map_at_r and r_precision
  std::int64_t block_size = 1024;       ///< queries per tile (memory: see the header)
  std::int64_t item_block_size = 4096;  ///< items per tile (memory: see the header)
  /// Caps R at this value (0 = no cap). pytorch-metric-learning with faiss caps the
  /// neighbour count at 1023, i.e. uses min(R, 1023); set 1023 to reproduce that.
  std::int64_t r_cap = 0;
  /// Also compute the old per-batch Recall@K over consecutive batches of this many
  /// samples (0 = off). See old_per_batch_recall().
  std::int64_t old_batch_size = 0;

  template <class V>
  void visit(V& v) {
    v("ks", ks, "K values of Recall@K");
    v("map_at_r", map_at_r, "compute MAP@R and R-precision");
    v("block_size", block_size, "queries per tile (memory ~ 4 * block_size * item_block_size B)");
    v("item_block_size", item_block_size, "items per tile of the query-item score matrix");
    v("r_cap", r_cap, "cap R at this value (0 = none; 1023 reproduces faiss-based PML)");
    v("old_batch_size", old_batch_size, "also report the old per-batch Recall@K (0 = off)");
  }
  void validate() const {
    require(!ks.empty(), "retrieval.ks must list at least one K");
    for (auto k : ks)
      require(k >= 1, "retrieval.ks: every K must be >= 1, got " + std::to_string(k));
    require(block_size >= 1, "retrieval.block_size must be >= 1");
    require(item_block_size >= 1, "retrieval.item_block_size must be >= 1");
    require(r_cap >= 0, "retrieval.r_cap must be >= 0");
    require(old_batch_size >= 0, "retrieval.old_batch_size must be >= 0");
  }
  /// The tile sizes as knn_visit() takes them.
  KnnOptions tiles() const { return {block_size, item_block_size}; }
};

struct RetrievalResult {
  std::map<std::int64_t, double> recall_at_k;  ///< K -> fraction of queries with a hit
  double map_at_r = 0.0;                       ///< mean over queries (when requested)
  double r_precision = 0.0;                    ///< mean over queries (when requested)
  bool has_map_at_r = false;                   ///< map_at_r / r_precision computed
  std::int64_t queries = 0;                    ///< queries evaluated
  std::int64_t excluded_queries = 0;           ///< lone queries left out
  std::map<std::int64_t, double> old_per_batch_recall_at_k;  ///< when requested

  /// Adds recall_at_<K>, map_at_r, r_precision, retrieval_queries,
  /// retrieval_excluded_queries and old_per_batch_recall_at_<K> when computed.
  void add_to(Report& report) const;
  /// The quality metrics add_to() writes with `options` (recall_at_<K> for each K, then
  /// map_at_r and r_precision when computed): what a validation may select.
  static std::vector<std::string> metric_names(const RetrievalOptions& options);
};

/// Returns the rows of `embeddings` scaled to unit L2 norm (float32, contiguous).
/// Requires: [N, D] real, N >= 1, D >= 1, no NaN/inf, no all-zero row. Throws UsageError
/// naming the first bad row otherwise.
torch::Tensor l2_normalize_rows(const torch::Tensor& embeddings);

/// Retrieval metrics of `embeddings` [N, D] (real; L2-normalised here) with `labels` [N]
/// (integer). Requires N >= 2 and the input checks of l2_normalize_rows(). For a query q
/// with R = (samples sharing q's label) - 1 > 0 (min(R, r_cap) when capped) and its
/// ranked references n_1, n_2, ...:
///   recall@K  = 1 if any of n_1..n_K has q's label (K > N - 1 behaves as N - 1);
///   R-precision = |{i <= R : n_i relevant}| / R;
///   MAP@R     = (1 / R) * sum_{i <= R, n_i relevant} |{j <= i : n_j relevant}| / i;
/// each averaged over the non-lone queries (0 when there are none).
RetrievalResult retrieval_metrics(const torch::Tensor& embeddings, const torch::Tensor& labels,
                                  const RetrievalOptions& options = {});

/// The old per-batch Recall@K: the samples are cut into consecutive batches of
/// `batch_size` (the last may be shorter), Recall@K is computed inside each batch with
/// every query counted (a query without a same-label partner in its batch is a miss, as
/// the old code did), and the unweighted mean over batches is returned per K. For
/// comparison with old numbers only: it depends on the batch composition.
std::map<std::int64_t, double> old_per_batch_recall(const torch::Tensor& embeddings,
                                                    const torch::Tensor& labels,
                                                    const std::vector<std::int64_t>& ks,
                                                    std::int64_t batch_size);

}  // namespace wtp::eval
