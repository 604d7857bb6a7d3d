#include "eval/retrieval.h"

#include <algorithm>

#include "eval/tensors.h"

namespace wtp::eval {

torch::Tensor l2_normalize_rows(const torch::Tensor& embeddings) {
  require(embeddings.defined() && embeddings.dim() == 2,
          "embeddings: expected a 2-D tensor [N, D], got " +
              (embeddings.defined() ? std::to_string(embeddings.dim()) + " dimensions"
                                    : std::string("an undefined tensor")));
  require(embeddings.is_floating_point(), "embeddings: expected a real dtype, got " +
                                              std::string(c10::toString(embeddings.scalar_type())));
  require(embeddings.size(0) >= 1 && embeddings.size(1) >= 1,
          "embeddings: shape [" + std::to_string(embeddings.size(0)) + ", " +
              std::to_string(embeddings.size(1)) + "] is empty");
  auto e = embeddings.to(torch::kCPU, torch::kFloat).contiguous();
  auto bad = (~torch::isfinite(e)).any(1);
  if (bad.any().item<bool>()) {
    auto rows = bad.nonzero().flatten();
    throw UsageError("embeddings: " + std::to_string(rows.numel()) +
                     " row(s) contain NaN or inf values (first: row " +
                     std::to_string(rows[0].item<std::int64_t>()) + "); remove or fix them");
  }
  auto norms = e.norm(2, 1, /*keepdim=*/true);
  auto zero = (norms.squeeze(1) == 0);
  if (zero.any().item<bool>()) {
    auto rows = zero.nonzero().flatten();
    throw UsageError("embeddings: " + std::to_string(rows.numel()) +
                     " row(s) are all zeros and cannot be L2-normalised (first: row " +
                     std::to_string(rows[0].item<std::int64_t>()) + ")");
  }
  return (e / norms).contiguous();
}

namespace {

/// What one query contributes.
struct QueryStats {
  std::int64_t first_hit = -1;  ///< 0-based rank of the first relevant neighbour, -1 if none
  double average_precision_at_r = 0.0;
  double r_precision = 0.0;
  bool evaluated = false;
};

/// Ranks every query of `e` (normalised [N, D]) against all other rows with knn_visit()
/// and fills per-query stats. `lab` are dense labels, `counts` their class sizes. Lone
/// queries are skipped when `skip_lone`, otherwise evaluated as misses.
std::vector<QueryStats> rank_queries(const torch::Tensor& e, const std::vector<std::int64_t>& lab,
                                     const std::vector<std::int64_t>& counts, std::int64_t kmax,
                                     bool map_at_r, std::int64_t r_cap, const KnnOptions& tiles,
                                     bool skip_lone) {
  const std::int64_t n = e.size(0);
  std::vector<QueryStats> stats(static_cast<std::size_t>(n));
  if (n < 2) {
    if (!skip_lone && n == 1) stats[0].evaluated = true;
    return stats;
  }
  // Lone queries that are skipped need no neighbours: leave them out of the search.
  std::vector<std::int64_t> queries, r_used;
  for (std::int64_t q = 0; q < n; ++q) {
    const std::int64_t rel_total = counts[lab[q]] - 1;  // R
    if (skip_lone && rel_total == 0) continue;
    queries.push_back(q);
    r_used.push_back(r_cap > 0 ? std::min(rel_total, r_cap) : rel_total);
  }
  const auto total = static_cast<std::int64_t>(queries.size());
  // One query tile at a time, so that only a tile of query rows is copied.
  for (std::int64_t q0 = 0; q0 < total; q0 += tiles.query_tile) {
    const std::int64_t b = std::min(tiles.query_tile, total - q0);
    const std::vector<std::int64_t> self(queries.begin() + q0, queries.begin() + q0 + b);
    std::vector<std::int64_t> ks(static_cast<std::size_t>(b));
    for (std::int64_t i = 0; i < b; ++i)
      ks[i] = std::min(std::max(kmax, map_at_r ? r_used[q0 + i] : std::int64_t{0}), n - 1);
    const torch::Tensor rows = torch::tensor(self, torch::kLong);
    knn_visit(
        e.index_select(0, rows), e, ks, self,
        [&](std::int64_t i, const Neighbour* ranked, std::int64_t k) {
          QueryStats& st = stats[self[i]];
          st.evaluated = true;
          const std::int64_t label = lab[self[i]], r = r_used[q0 + i];
          for (std::int64_t j = 0; j < k; ++j) {
            if (lab[ranked[j].index] == label) {
              st.first_hit = j;
              break;
            }
          }
          if (map_at_r && r > 0) {
            std::int64_t hits = 0;
            double ap = 0.0;
            for (std::int64_t j = 0; j < r && j < k; ++j) {
              if (lab[ranked[j].index] != label) continue;
              ++hits;
              ap += static_cast<double>(hits) / static_cast<double>(j + 1);
            }
            st.average_precision_at_r = ap / static_cast<double>(r);
            st.r_precision = static_cast<double>(hits) / static_cast<double>(r);
          }
        },
        tiles);
  }
  return stats;
}

std::vector<std::int64_t> class_counts(const std::vector<std::int64_t>& lab, std::int64_t classes) {
  std::vector<std::int64_t> counts(static_cast<std::size_t>(classes), 0);
  for (auto l : lab) counts[l]++;
  return counts;
}

std::vector<std::int64_t> checked_labels(const torch::Tensor& embeddings,
                                         const torch::Tensor& labels) {
  auto lab = to_int64s(labels, "labels");
  require(static_cast<std::int64_t>(lab.size()) == embeddings.size(0),
          "labels: " + std::to_string(lab.size()) + " labels for " +
              std::to_string(embeddings.size(0)) + " embeddings (one label per row is needed)");
  return lab;
}

}  // namespace

RetrievalResult retrieval_metrics(const torch::Tensor& embeddings, const torch::Tensor& labels,
                                  const RetrievalOptions& options) {
  options.validate();
  torch::Tensor e = l2_normalize_rows(embeddings);
  require(e.size(0) >= 2, "retrieval_metrics: needs at least 2 embeddings");
  std::int64_t classes = 0;
  const auto lab = dense_labels(checked_labels(e, labels), &classes);
  const auto counts = class_counts(lab, classes);
  const std::int64_t kmax = *std::max_element(options.ks.begin(), options.ks.end());
  const auto stats = rank_queries(e, lab, counts, kmax, options.map_at_r, options.r_cap,
                                  options.tiles(), /*skip_lone=*/true);

  RetrievalResult result;
  std::vector<std::int64_t> hits(options.ks.size(), 0);
  double ap = 0.0, rp = 0.0;
  for (const auto& st : stats) {
    if (!st.evaluated) {
      result.excluded_queries++;
      continue;
    }
    result.queries++;
    for (std::size_t i = 0; i < options.ks.size(); ++i)
      hits[i] += st.first_hit >= 0 && st.first_hit < options.ks[i];
    ap += st.average_precision_at_r;
    rp += st.r_precision;
  }
  const double q = static_cast<double>(std::max<std::int64_t>(result.queries, 1));
  for (std::size_t i = 0; i < options.ks.size(); ++i)
    result.recall_at_k[options.ks[i]] = result.queries ? hits[i] / q : 0.0;
  if (options.map_at_r) {
    result.has_map_at_r = true;
    result.map_at_r = result.queries ? ap / q : 0.0;
    result.r_precision = result.queries ? rp / q : 0.0;
  }
  if (options.old_batch_size > 0)
    result.old_per_batch_recall_at_k =
        old_per_batch_recall(e, labels, options.ks, options.old_batch_size);
  return result;
}

std::map<std::int64_t, double> old_per_batch_recall(const torch::Tensor& embeddings,
                                                    const torch::Tensor& labels,
                                                    const std::vector<std::int64_t>& ks,
                                                    std::int64_t batch_size) {
  require(batch_size >= 1, "old_per_batch_recall: batch_size must be >= 1");
  require(!ks.empty(), "old_per_batch_recall: no K given");
  torch::Tensor e = l2_normalize_rows(embeddings);
  const auto all = checked_labels(e, labels);
  const std::int64_t n = e.size(0);
  const std::int64_t kmax = *std::max_element(ks.begin(), ks.end());
  std::vector<double> sums(ks.size(), 0.0);
  std::int64_t batches = 0;
  for (std::int64_t b0 = 0; b0 < n; b0 += batch_size) {
    const std::int64_t b = std::min(batch_size, n - b0);
    std::vector<std::int64_t> sub(all.begin() + b0, all.begin() + b0 + b);
    std::int64_t classes = 0;
    const auto lab = dense_labels(sub, &classes);
    const auto counts = class_counts(lab, classes);
    const auto stats = rank_queries(e.narrow(0, b0, b).contiguous(), lab, counts, kmax, false, 0,
                                    KnnOptions{b, b}, /*skip_lone=*/false);
    for (std::size_t i = 0; i < ks.size(); ++i) {
      std::int64_t hits = 0;
      for (const auto& st : stats) hits += st.first_hit >= 0 && st.first_hit < ks[i];
      sums[i] += static_cast<double>(hits) / static_cast<double>(b);
    }
    ++batches;
  }
  std::map<std::int64_t, double> out;
  for (std::size_t i = 0; i < ks.size(); ++i) out[ks[i]] = sums[i] / static_cast<double>(batches);
  return out;
}

std::vector<std::string> RetrievalResult::metric_names(const RetrievalOptions& options) {
  std::vector<std::string> names;
  for (const auto k : options.ks) names.push_back("recall_at_" + std::to_string(k));
  if (options.map_at_r) names.insert(names.end(), {"map_at_r", "r_precision"});
  return names;
}

void RetrievalResult::add_to(Report& report) const {
  for (const auto& [k, v] : recall_at_k) report["recall_at_" + std::to_string(k)] = v;
  if (has_map_at_r) {
    report["map_at_r"] = map_at_r;
    report["r_precision"] = r_precision;
  }
  report["retrieval_queries"] = static_cast<double>(queries);
  report["retrieval_excluded_queries"] = static_cast<double>(excluded_queries);
  for (const auto& [k, v] : old_per_batch_recall_at_k)
    report["old_per_batch_recall_at_" + std::to_string(k)] = v;
}

}  // namespace wtp::eval
