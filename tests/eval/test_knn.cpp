#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <vector>

#include "catch_torch.h"
#include "core/error.h"
#include "core/random.h"
#include "eval/knn.h"
#include "test_support.h"

using namespace wtp::eval;
using Catch::Matchers::Contains;

namespace {

/// Rows of small random integers: every inner product is an exact integer, whatever the
/// summation order, with many exact ties (so the tie-break is exercised).
torch::Tensor integer_rows(std::int64_t n, std::int64_t d, int range, std::uint64_t seed) {
  wtp::Rng rng(seed);
  std::vector<float> v(static_cast<std::size_t>(n * d));
  for (auto& x : v) x = static_cast<float>(rng.integer(-range, range));
  return torch::tensor(v).view({n, d});
}

/// Reference: the full Q x N product, each row fully sorted by (score desc, index asc),
/// the excluded item removed, the first k kept, padded with (-inf, -1).
KnnResult brute_force(const torch::Tensor& q, const torch::Tensor& x, std::int64_t k,
                      const std::vector<std::int64_t>& exclude) {
  auto s = torch::mm(q, x.t()).contiguous();
  const std::int64_t nq = q.size(0), n = x.size(0);
  KnnResult r;
  r.scores = torch::full({nq, k}, -std::numeric_limits<float>::infinity());
  r.indices = torch::full({nq, k}, -1, torch::kLong);
  for (std::int64_t i = 0; i < nq; ++i) {
    const float* row = s.data_ptr<float>() + i * n;
    std::vector<std::int64_t> order;
    for (std::int64_t j = 0; j < n; ++j)
      if (exclude.empty() || exclude[i] != j) order.push_back(j);
    std::sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
      return row[a] > row[b] || (row[a] == row[b] && a < b);
    });
    for (std::int64_t j = 0; j < std::min<std::int64_t>(k, order.size()); ++j) {
      r.scores[i][j] = row[order[j]];
      r.indices[i][j] = order[j];
    }
  }
  return r;
}

}  // namespace

TEST_CASE("knn: tiled top-k equals brute force, with ties, at every tile size", "[eval][knn]") {
  const auto x = integer_rows(150, 6, 2, 1);
  const auto q = integer_rows(37, 6, 2, 2);
  for (std::int64_t k : {1, 5, 40, 149, 150, 400}) {
    const auto ref = brute_force(q, x, k, {});
    for (auto [tq, ti] : {std::pair<std::int64_t, std::int64_t>{1, 1},
                          {3, 7},
                          {16, 64},
                          {37, 150},
                          {1000, 1000},
                          {5, 149}}) {
      INFO("k " << k << ", tiles " << tq << " x " << ti);
      const auto r = knn_search(q, x, k, KnnOptions{tq, ti});
      CHECK(torch::equal(r.indices, ref.indices));
      CHECK(torch::equal(r.scores, ref.scores));
    }
  }
}

TEST_CASE("knn: self exclusion and k > N - 1", "[eval][knn]") {
  const auto x = integer_rows(60, 4, 1, 3);  // values in {-1, 0, 1}: ties everywhere
  const auto self = torch::arange(60);
  std::vector<std::int64_t> ex(60);
  for (int i = 0; i < 60; ++i) ex[i] = i;
  for (std::int64_t k : {1, 59, 60, 61}) {
    const auto ref = brute_force(x, x, k, ex);
    for (std::int64_t tile : {1, 8, 59, 60, 4096}) {
      INFO("k " << k << ", tile " << tile);
      const auto r = knn_search(x, x, k, KnnOptions{tile, tile}, self);
      CHECK(torch::equal(r.indices, ref.indices));
      CHECK(torch::equal(r.scores, ref.scores));
      CHECK((r.indices != self.unsqueeze(1)).all().item<bool>());
    }
  }
  // k > N - 1: the last columns are padding.
  const auto r = knn_search(x, x, 62, {}, self);
  CHECK((r.indices.narrow(1, 59, 3) == -1).all().item<bool>());
  CHECK(torch::isinf(r.scores.narrow(1, 59, 3)).all().item<bool>());
  CHECK((r.indices.narrow(1, 0, 59) >= 0).all().item<bool>());
  // Identical items: ranked by index.
  const auto same = knn_search(torch::ones({1, 3}), torch::ones({5, 3}), 5, KnnOptions{1, 2});
  CHECK(torch::equal(same.indices[0], torch::arange(5)));
}

TEST_CASE("knn: per-query k, streaming, and items far more than one tile", "[eval][knn]") {
  // The 1:N shape: a few probes against many items, tiles much smaller than N, so the
  // score matrix is never held whole (tile 8 x 256 against 20,000 items).
  const auto x = integer_rows(20000, 8, 3, 4);
  const auto q = integer_rows(8, 8, 3, 5);
  const std::vector<std::int64_t> ks = {0, 1, 2, 3, 10, 100, 19999, 20000};
  const auto ref = brute_force(q, x, 20000, {});
  const std::int64_t* ri = ref.indices.data_ptr<std::int64_t>();
  const float* rs = ref.scores.data_ptr<float>();
  std::vector<int> visited(8, 0);
  std::atomic<bool> same{true};
  knn_visit(
      q, x, ks, {},
      [&](std::int64_t i, const Neighbour* ranked, std::int64_t count) {
        visited[i]++;
        if (count != ks[i]) same = false;
        for (std::int64_t j = 0; j < count; ++j)
          if (ranked[j].index != ri[i * 20000 + j] || ranked[j].score != rs[i * 20000 + j])
            same = false;
      },
      KnnOptions{3, 256});
  CHECK(visited == std::vector<int>(8, 1));
  CHECK(same);
}

TEST_CASE("knn: normalised rows rank by cosine similarity", "[eval][knn]") {
  // Unit vectors at 0, 30, 100 and 170 degrees; the probe at 20 degrees: ranked 30, 0, 100,
  // 170 (angular distances 10, 20, 80, 150).
  auto deg = [](double a) {
    return std::vector<float>{static_cast<float>(std::cos(a * M_PI / 180)),
                              static_cast<float>(std::sin(a * M_PI / 180))};
  };
  std::vector<float> v;
  for (double a : {0.0, 30.0, 100.0, 170.0})
    for (float c : deg(a)) v.push_back(c);
  const auto r = knn_search(torch::tensor(deg(20)).view({1, 2}), torch::tensor(v).view({4, 2}), 4);
  CHECK(torch::equal(r.indices[0], torch::tensor(std::vector<std::int64_t>{1, 0, 2, 3})));
  CHECK(r.scores[0][0].item<float>() == Approx(std::cos(10 * M_PI / 180)));
}

TEST_CASE("knn: bad input is a usage error", "[eval][knn]") {
  const auto x = torch::randn({5, 3});
  CHECK_THROWS_WITH(knn_search(torch::randn({2, 4}), x, 1), Contains("D = 4"));
  CHECK_THROWS_AS(knn_search(x, x, 0), wtp::UsageError);
  CHECK_THROWS_AS(knn_search(x.view({15}), x, 1), wtp::UsageError);
  CHECK_THROWS_AS(knn_search(x, x, 1, KnnOptions{0, 4}), wtp::UsageError);
  CHECK_THROWS_AS(knn_search(x, x, 1, {}, torch::arange(4)), wtp::UsageError);
  auto nan = x.clone();
  nan[1][1] = std::nanf("");
  CHECK_THROWS_WITH(knn_search(nan, x, 1), Contains("NaN"));
  CHECK_THROWS_WITH(
      knn_visit(x, x, {1, 1}, {}, [](std::int64_t, const Neighbour*, std::int64_t) {}),
      Contains("2 k values for 5 queries"));
}
