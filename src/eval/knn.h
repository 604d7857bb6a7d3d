#pragma once
/// Exact k-nearest-neighbour search by inner product (cosine similarity when the rows are
/// L2-normalised, e.g. by l2_normalize_rows()), tiled over queries and items with a running
/// top-k per query, so memory does not grow with Q x N. Used by the retrieval metrics and
/// meant for 1:N matching (e.g. one probe against up to millions of enrolled templates).
///
/// Order: neighbours are ranked by decreasing score; exact ties by increasing item index.
/// The result is exact and does not depend on the tile sizes or the thread count (given
/// that the matrix product gives each query-item score the same value in every tile).
///
/// Memory, in bytes, besides the caller's tensors: 4 * Tq * Ti (one score tile) +
/// 16 * Tq * kmax (running top-k of one query tile), where Tq = min(query_tile, Q),
/// Ti = min(item_tile, N) and kmax the largest k of the tile's queries (at most N);
/// knn_search() adds its result, 12 * Q * k.
///
/// Example (from tests/eval/test_knn.cpp):
///   auto r = knn_search(probes, templates, 5);  // r.indices[q][0]: best template of probe q
#include <cstdint>
#include <functional>
#include <torch/torch.h>
#include <vector>

#include "core/error.h"

namespace wtp::eval {

struct KnnOptions {
  std::int64_t query_tile = 1024;  ///< queries per matrix product (memory: see the header)
  std::int64_t item_tile = 4096;   ///< items per matrix product (memory: see the header)

  void validate() const {
    require(query_tile >= 1, "knn: query_tile must be >= 1, got " + std::to_string(query_tile));
    require(item_tile >= 1, "knn: item_tile must be >= 1, got " + std::to_string(item_tile));
  }
};

/// One ranked neighbour: the item's row index and its inner product with the query.
struct Neighbour {
  float score = 0.0f;
  std::int64_t index = -1;
};

/// The ranked neighbours of one query: `count` entries, best first.
using NeighbourVisitor =
    std::function<void(std::int64_t query, const Neighbour* ranked, std::int64_t count)>;

/// Streaming form: for every query q (row of `queries` [Q, D]) finds its ks[q] best items
/// (rows of `items` [N, D]) by inner product, leaving out item exclude[q] (-1 = none; pass
/// an empty vector for none at all), and calls visit(q, ranked, count) once with
/// count = min(ks[q], eligible items). Queries are visited a tile at a time, in parallel
/// within a tile (`visit` must be safe to call concurrently for different queries).
/// Requires: real 2-D tensors with the same D (read in place when float32, CPU and
/// contiguous, else converted); ks.size() == Q, every ks[q] >= 0; exclude empty or of size
/// Q. Values must be finite: queries are checked (UsageError), items are not (a gallery is
/// checked once when it is built, not at every search; NaN scores would rank arbitrarily).
void knn_visit(const torch::Tensor& queries, const torch::Tensor& items,
               const std::vector<std::int64_t>& ks, const std::vector<std::int64_t>& exclude,
               const NeighbourVisitor& visit, const KnnOptions& options = {});

struct KnnResult {
  torch::Tensor scores;   ///< [Q, k] float32, each row decreasing; -inf where no item is left
  torch::Tensor indices;  ///< [Q, k] int64 item rows; -1 where no item is left (k > N)
};

/// The `k` best items of every query by inner product (see knn_visit()); `exclude`, when
/// defined, is an int64 [Q] tensor of the item to leave out per query (-1 = none), e.g.
/// torch::arange(Q) when the queries are the items themselves.
/// Requires: k >= 1 and the inputs of knn_visit().
KnnResult knn_search(const torch::Tensor& queries, const torch::Tensor& items, std::int64_t k,
                     const KnnOptions& options = {}, const torch::Tensor& exclude = {});

}  // namespace wtp::eval
