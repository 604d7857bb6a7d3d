#include "eval/knn.h"

#include <ATen/Parallel.h>
#include <algorithm>
#include <limits>
#include <string>

namespace wtp::eval {

namespace {

/// Heap order: a "less than" b when a ranks before b (higher score, then lower index), so
/// the heap's front is the worst kept neighbour and sort_heap leaves the best first.
bool ranks_before(const Neighbour& a, const Neighbour& b) {
  return a.score > b.score || (a.score == b.score && a.index < b.index);
}

/// Offers items base .. base + count - 1 (scores s[0..count)) to the running top-`k` heap.
/// Items arrive in increasing index order, so an item whose score only equals the worst
/// kept one ranks after it and is skipped.
void offer(std::vector<Neighbour>& heap, std::int64_t k, const float* s, std::int64_t count,
           std::int64_t base, std::int64_t exclude) {
  if (k == 0) return;
  std::int64_t j = 0;
  for (; j < count && static_cast<std::int64_t>(heap.size()) < k; ++j) {
    if (base + j == exclude) continue;
    heap.push_back({s[j], base + j});
    std::push_heap(heap.begin(), heap.end(), ranks_before);
  }
  if (static_cast<std::int64_t>(heap.size()) < k) return;
  float worst = heap.front().score;
  constexpr std::int64_t kChunk = 16;
  for (; j < count; j += kChunk) {
    const std::int64_t end = std::min(count, j + kChunk);
    bool any = false;  // vectorised test: does any item of the chunk beat the worst kept?
    for (std::int64_t t = j; t < end; ++t) any |= s[t] > worst;
    if (!any) continue;
    for (std::int64_t t = j; t < end; ++t) {
      if (!(s[t] > worst) || base + t == exclude) continue;
      std::pop_heap(heap.begin(), heap.end(), ranks_before);
      heap.back() = {s[t], base + t};
      std::push_heap(heap.begin(), heap.end(), ranks_before);
      worst = heap.front().score;
    }
  }
}

/// `t` as float32, CPU, contiguous (no copy when it already is); checks shape and dtype.
torch::Tensor as_rows(const torch::Tensor& t, const char* what) {
  require(t.defined() && t.dim() == 2,
          std::string("knn: ") + what + " must be a 2-D tensor [rows, D]");
  require(t.is_floating_point(), std::string("knn: ") + what + " must have a real dtype, got " +
                                     std::string(c10::toString(t.scalar_type())));
  return t.to(torch::kCPU, torch::kFloat).contiguous();
}

}  // namespace

void knn_visit(const torch::Tensor& queries, const torch::Tensor& items,
               const std::vector<std::int64_t>& ks, const std::vector<std::int64_t>& exclude,
               const NeighbourVisitor& visit, const KnnOptions& options) {
  options.validate();
  const torch::Tensor q = as_rows(queries, "queries");
  const torch::Tensor x = as_rows(items, "items");
  const std::int64_t nq = q.size(0), n = x.size(0), d = q.size(1);
  require(x.size(1) == d, "knn: queries have D = " + std::to_string(d) +
                              " but items have D = " + std::to_string(x.size(1)));
  require(static_cast<std::int64_t>(ks.size()) == nq,
          "knn: " + std::to_string(ks.size()) + " k values for " + std::to_string(nq) + " queries");
  require(exclude.empty() || static_cast<std::int64_t>(exclude.size()) == nq,
          "knn: " + std::to_string(exclude.size()) + " excluded items for " + std::to_string(nq) +
              " queries (give one per query, or none)");
  for (auto k : ks) require(k >= 0, "knn: every k must be >= 0, got " + std::to_string(k));
  require(torch::isfinite(q).all().item<bool>(), "knn: queries contain NaN or inf values");
  if (nq == 0) return;
  const std::int64_t tq = std::min(options.query_tile, nq);
  const std::int64_t ti = std::max<std::int64_t>(1, std::min(options.item_tile, n));
  torch::Tensor buffer = torch::empty({tq * ti}, torch::kFloat);
  std::vector<std::vector<Neighbour>> heaps(static_cast<std::size_t>(tq));
  for (std::int64_t q0 = 0; q0 < nq; q0 += tq) {
    const std::int64_t qb = std::min(tq, nq - q0);
    const torch::Tensor qt = q.narrow(0, q0, qb);
    for (std::int64_t r = 0; r < qb; ++r) {
      heaps[r].clear();
      heaps[r].reserve(static_cast<std::size_t>(std::min(ks[q0 + r], n)));
    }
    for (std::int64_t i0 = 0; i0 < n; i0 += ti) {
      const std::int64_t ib = std::min(ti, n - i0);
      torch::Tensor scores = buffer.narrow(0, 0, qb * ib).view({qb, ib});
      torch::mm_out(scores, qt, x.narrow(0, i0, ib).t());
      const float* s = scores.data_ptr<float>();
      at::parallel_for(0, qb, 1, [&](std::int64_t r0, std::int64_t r1) {
        for (std::int64_t r = r0; r < r1; ++r)
          offer(heaps[r], ks[q0 + r], s + r * ib, ib, i0, exclude.empty() ? -1 : exclude[q0 + r]);
      });
    }
    at::parallel_for(0, qb, 1, [&](std::int64_t r0, std::int64_t r1) {
      for (std::int64_t r = r0; r < r1; ++r) {
        auto& h = heaps[r];
        std::sort_heap(h.begin(), h.end(), ranks_before);
        visit(q0 + r, h.data(), static_cast<std::int64_t>(h.size()));
      }
    });
  }
}

KnnResult knn_search(const torch::Tensor& queries, const torch::Tensor& items, std::int64_t k,
                     const KnnOptions& options, const torch::Tensor& exclude) {
  require(k >= 1, "knn_search: k must be >= 1, got " + std::to_string(k));
  require(queries.defined() && queries.dim() == 2, "knn: queries must be a 2-D tensor [Q, D]");
  const std::int64_t nq = queries.size(0);
  std::vector<std::int64_t> excluded;
  if (exclude.defined()) {
    require(exclude.dim() == 1 && exclude.numel() == nq && !exclude.is_floating_point(),
            "knn_search: exclude must be an integer tensor [Q] (one item per query, -1 = none)");
    const torch::Tensor e = exclude.to(torch::kCPU, torch::kLong).contiguous();
    excluded.assign(e.data_ptr<std::int64_t>(), e.data_ptr<std::int64_t>() + nq);
  }
  KnnResult result;
  result.scores = torch::full({nq, k}, -std::numeric_limits<float>::infinity(), torch::kFloat);
  result.indices = torch::full({nq, k}, -1, torch::kLong);
  float* sp = result.scores.data_ptr<float>();
  std::int64_t* ip = result.indices.data_ptr<std::int64_t>();
  knn_visit(
      queries, items, std::vector<std::int64_t>(static_cast<std::size_t>(nq), k), excluded,
      [&](std::int64_t q, const Neighbour* ranked, std::int64_t count) {
        for (std::int64_t i = 0; i < count; ++i) {
          sp[q * k + i] = ranked[i].score;
          ip[q * k + i] = ranked[i].index;
        }
      },
      options);
  return result;
}

}  // namespace wtp::eval
