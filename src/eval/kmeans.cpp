#include "eval/kmeans.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>
#include <vector>

#include "core/log.h"
#include "core/progress.h"
#include "core/random.h"

namespace wtp::eval {

namespace {

/// Draws index i with probability w[i] / sum(w); uniform when every weight is 0.
std::int64_t draw_weighted(const std::vector<double>& w, Rng& rng) {
  const double total = std::accumulate(w.begin(), w.end(), 0.0);
  const auto n = static_cast<std::int64_t>(w.size());
  if (!(total > 0.0)) return rng.integer(0, n - 1);
  const double target = rng.uniform() * total;
  double cum = 0.0;
  std::int64_t last_positive = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    if (w[i] <= 0.0) continue;
    cum += w[i];
    last_positive = i;
    if (cum > target) return i;
  }
  return last_positive;  // rounding left target just above the sum
}

/// k-means++ for `restarts` independent chains at once: each step computes the distances
/// of all points to the new centre of every chain in one matrix product.
std::vector<torch::Tensor> kmeans_plus_plus(const torch::Tensor& x, const torch::Tensor& sqnorm,
                                            std::int64_t k, int restarts, std::uint64_t seed) {
  const std::int64_t n = x.size(0);
  std::vector<Rng> rngs;
  std::vector<std::vector<double>> dist(restarts, std::vector<double>(n));
  std::vector<std::vector<std::int64_t>> chosen(restarts);
  for (int r = 0; r < restarts; ++r)
    rngs.emplace_back(mix_seed(seed, static_cast<std::uint64_t>(r)));
  // Progress only for runs long enough to watch.
  std::optional<Progress> progress;
  if (static_cast<double>(k) * static_cast<double>(n) * static_cast<double>(x.size(1)) > 1e9) {
    progress.emplace("k-means++", k, "centre");
    progress->set_interval(30);
  }
  for (std::int64_t step = 0; step < k; ++step) {
    std::vector<std::int64_t> pick(restarts);
    for (int r = 0; r < restarts; ++r) {
      pick[r] = step == 0 ? rngs[r].integer(0, n - 1) : draw_weighted(dist[r], rngs[r]);
      chosen[r].push_back(pick[r]);
    }
    if (step + 1 == k) break;
    auto idx = torch::tensor(pick, torch::kLong);
    auto c = x.index_select(0, idx);                             // [R, D]
    auto d = (sqnorm.unsqueeze(1) - 2.0 * torch::mm(x, c.t()) +  // [N, R]
              sqnorm.index_select(0, idx).unsqueeze(0))
                 .clamp_min(0.0)
                 .to(torch::kDouble)
                 .contiguous();
    const double* dp = d.data_ptr<double>();
    for (int r = 0; r < restarts; ++r) {
      auto& dr = dist[r];
      for (std::int64_t i = 0; i < n; ++i) {
        const double v = dp[i * restarts + r];
        dr[i] = step == 0 ? v : std::min(dr[i], v);
      }
      dr[pick[r]] = 0.0;  // exactly zero for the chosen point itself
    }
    if (progress) progress->advance();
  }
  if (progress) progress->finish();
  std::vector<torch::Tensor> centers;
  for (int r = 0; r < restarts; ++r)
    centers.push_back(x.index_select(0, torch::tensor(chosen[r], torch::kLong)).clone());
  return centers;
}

struct Assignment {
  std::vector<std::int64_t> label;
  std::vector<double> dist;  ///< squared distance to the assigned centre
  double inertia = 0.0;
};

Assignment assign(const torch::Tensor& x, const torch::Tensor& sqnorm, const torch::Tensor& centers,
                  std::int64_t block_size) {
  const std::int64_t n = x.size(0);
  Assignment a;
  a.label.resize(n);
  a.dist.resize(n);
  auto cnorm = centers.pow(2).sum(1);  // [k]
  for (std::int64_t b0 = 0; b0 < n; b0 += block_size) {
    const std::int64_t b = std::min(block_size, n - b0);
    auto d = torch::addmm(cnorm.unsqueeze(0), x.narrow(0, b0, b), centers.t(), 1.0, -2.0);
    auto [val, idx] = d.min(1);
    val = (val + sqnorm.narrow(0, b0, b)).clamp_min(0.0).to(torch::kDouble).contiguous();
    idx = idx.contiguous();
    const double* vp = val.data_ptr<double>();
    const std::int64_t* ip = idx.data_ptr<std::int64_t>();
    for (std::int64_t i = 0; i < b; ++i) {
      a.label[b0 + i] = ip[i];
      a.dist[b0 + i] = vp[i];
    }
  }
  for (double v : a.dist) a.inertia += v;
  return a;
}

/// Re-seeds empty clusters with the farthest points of clusters that keep a point.
std::int64_t fix_empty(Assignment& a, std::vector<std::int64_t>& counts) {
  std::vector<std::int64_t> empty;
  for (std::size_t j = 0; j < counts.size(); ++j)
    if (counts[j] == 0) empty.push_back(static_cast<std::int64_t>(j));
  if (empty.empty()) return 0;
  std::vector<std::int64_t> order(a.label.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::int64_t p, std::int64_t q) { return a.dist[p] > a.dist[q]; });
  std::size_t next = 0;
  std::int64_t fixed = 0;
  for (std::int64_t j : empty) {
    while (next < order.size() && counts[a.label[order[next]]] <= 1) ++next;
    if (next == order.size()) break;
    const std::int64_t p = order[next++];
    counts[a.label[p]]--;
    a.inertia -= a.dist[p];
    a.label[p] = j;
    a.dist[p] = 0.0;
    counts[j] = 1;
    ++fixed;
  }
  return fixed;
}

torch::Tensor update_centers(const torch::Tensor& x, const Assignment& a,
                             const std::vector<std::int64_t>& counts, const torch::Tensor& old) {
  const std::int64_t k = old.size(0);
  auto sums = torch::zeros({k, x.size(1)}, torch::kDouble);
  auto labels = torch::tensor(a.label, torch::kLong);
  sums.index_add_(0, labels, x.to(torch::kDouble));
  auto cnt = torch::tensor(counts, torch::kDouble).clamp_min(1.0).unsqueeze(1);
  auto centers = (sums / cnt).to(torch::kFloat);
  // A cluster still empty (more empty clusters than donors) keeps its old centre.
  auto empty = (torch::tensor(counts, torch::kLong) == 0);
  if (empty.any().item<bool>()) centers.index_put_({empty}, old.index({empty}));
  return centers.contiguous();
}

}  // namespace

KMeansResult kmeans(const torch::Tensor& points, const KMeansOptions& options) {
  options.validate();
  require(points.defined() && points.dim() == 2 && points.is_floating_point(),
          "kmeans: expected real points [N, D]");
  torch::Tensor x = points.to(torch::kCPU, torch::kFloat).contiguous();
  const std::int64_t n = x.size(0), k = options.clusters;
  require(k >= 1 && k <= n, "kmeans: clusters must be in [1, N = " + std::to_string(n) + "], got " +
                                std::to_string(k));
  require(torch::isfinite(x).all().item<bool>(), "kmeans: points contain NaN or inf");

  const torch::Tensor sqnorm = x.pow(2).sum(1);
  const double tol =
      options.tolerance * x.to(torch::kDouble).var(0, /*unbiased=*/false).mean().item<double>();
  auto inits = kmeans_plus_plus(x, sqnorm, k, options.restarts, options.seed);

  KMeansResult best;
  best.inertia = std::numeric_limits<double>::infinity();
  std::int64_t fixes = 0;
  for (int r = 0; r < options.restarts; ++r) {
    torch::Tensor centers = inits[r];
    Assignment a = assign(x, sqnorm, centers, options.block_size);
    std::vector<std::int64_t> counts(k, 0);
    bool converged = false;
    int it = 0;
    for (; it < options.max_iterations; ++it) {
      std::fill(counts.begin(), counts.end(), 0);
      for (auto l : a.label) counts[l]++;
      fixes += fix_empty(a, counts);
      torch::Tensor next = update_centers(x, a, counts, centers);
      const double shift = (next - centers).pow(2).sum().item<double>();
      centers = next;
      Assignment b = assign(x, sqnorm, centers, options.block_size);
      const bool same = b.label == a.label;
      a = std::move(b);
      if (same || shift <= tol) {
        converged = true;
        ++it;
        break;
      }
    }
    // The expanded form |x|^2 + |c|^2 - 2 x.c used for assigning loses precision when
    // norms are large; the reported inertia uses the exact differences.
    a.inertia = (x - centers.index_select(0, torch::tensor(a.label, torch::kLong)))
                    .pow(2)
                    .sum(1)
                    .to(torch::kDouble)
                    .sum()
                    .item<double>();
    log::debug("kmeans restart ", r, ": ", it, " iterations, inertia ", a.inertia,
               converged ? "" : " (not converged)");
    if (a.inertia < best.inertia) {
      best.inertia = a.inertia;
      best.centers = centers;
      best.assignments = torch::tensor(a.label, torch::kLong);
      best.iterations = it;
      best.restart = r;
      best.converged = converged;
    }
  }
  best.empty_cluster_fixes = fixes;
  return best;
}

}  // namespace wtp::eval
