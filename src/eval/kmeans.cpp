#include "eval/kmeans.h"

#include <ATen/Parallel.h>
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

/// The first point whose cumulative weight exceeds `target`, clipped to the last point of
/// positive weight. (scikit-learn's numpy.searchsorted takes the first sum >= target, which
/// differs only when target equals a sum exactly, and can then pick a zero-weight point.)
std::int64_t search_cumulative(const std::vector<double>& cum, double target) {
  const auto it = std::upper_bound(cum.begin(), cum.end(), target);
  if (it == cum.end()) {
    // Rounding left target at or above the total: the last point of positive weight.
    auto last = static_cast<std::int64_t>(cum.size()) - 1;
    while (last > 0 && cum[last] == cum[last - 1]) --last;
    return last;
  }
  return static_cast<std::int64_t>(it - cum.begin());
}

/// Greedy k-means++ (scikit-learn's `_kmeans_plusplus`) for `restarts` independent chains
/// at once. Each step draws `trials` candidates per chain with probability proportional
/// to the squared distance to the nearest chosen centre, computes the distances of all
/// points to every candidate of every chain in one matrix product, and keeps per chain the
/// candidate that lowers the potential (sum of squared distances) most. Potentials are
/// summed in double in a fixed order, one candidate per task, so the result does not
/// depend on the thread count. `gram`, when defined, is x x^T [N, N]: the candidates'
/// rows are read from it instead of computed.
std::vector<torch::Tensor> kmeans_plus_plus(const torch::Tensor& x, const torch::Tensor& sqnorm,
                                            const torch::Tensor& gram, std::int64_t k, int restarts,
                                            int trials, std::uint64_t seed) {
  const std::int64_t n = x.size(0);
  const float* sq = sqnorm.data_ptr<float>();
  std::vector<Rng> rngs;
  for (int r = 0; r < restarts; ++r)
    rngs.emplace_back(mix_seed(seed, static_cast<std::uint64_t>(r)));
  std::vector<std::vector<double>> closest(restarts, std::vector<double>(n));
  std::vector<std::vector<double>> cum(restarts, std::vector<double>(n));
  std::vector<double> potential(restarts, 0.0);
  std::vector<std::vector<std::int64_t>> chosen(restarts);
  std::optional<Progress> progress;  // only for runs long enough to watch
  if (static_cast<double>(k) * n * x.size(1) * trials * restarts > 2e10) {
    progress.emplace("k-means++", k, "centre");
    progress->set_interval(30);
  }
  std::vector<double> cand_pot;
  for (std::int64_t step = 0; step < k; ++step) {
    // Candidates: the first centre is one uniform draw, later ones `trials` weighted draws.
    const int per = step == 0 ? 1 : trials;
    std::vector<std::int64_t> cand(static_cast<std::size_t>(restarts) * per);
    for (int r = 0; r < restarts; ++r) {
      if (step == 0) {
        cand[r] = rngs[r].integer(0, n - 1);
        continue;
      }
      if (!(potential[r] > 0.0)) {  // every point is a centre already: any point will do
        for (int t = 0; t < per; ++t) cand[r * per + t] = rngs[r].integer(0, n - 1);
        continue;
      }
      double acc = 0.0;
      for (std::int64_t i = 0; i < n; ++i) cum[r][i] = acc += closest[r][i];
      for (int t = 0; t < per; ++t)
        cand[r * per + t] = search_cumulative(cum[r], rngs[r].uniform() * acc);
    }
    const auto m = static_cast<std::int64_t>(cand.size());
    // [M, N] squared distances of every point to every candidate (rows contiguous).
    auto idx = torch::tensor(cand, torch::kLong);
    const torch::Tensor dots =
        gram.defined() ? gram.index_select(0, idx) : torch::mm(x.index_select(0, idx), x.t());
    const float* g = dots.data_ptr<float>();
    cand_pot.assign(static_cast<std::size_t>(m), 0.0);
    auto distance = [&](std::int64_t c, std::int64_t i) {
      const double d = static_cast<double>(sq[i]) + sq[cand[c]] - 2.0 * g[c * n + i];
      return i == cand[c] ? 0.0 : std::max(d, 0.0);  // exactly zero for the point itself
    };
    at::parallel_for(0, m, 1, [&](std::int64_t c0, std::int64_t c1) {
      for (std::int64_t c = c0; c < c1; ++c) {
        const auto& cl = closest[c / per];
        double pot = 0.0;
        for (std::int64_t i = 0; i < n; ++i)
          pot += step == 0 ? distance(c, i) : std::min(cl[i], distance(c, i));
        cand_pot[c] = pot;
      }
    });
    for (int r = 0; r < restarts; ++r) {
      int best = 0;  // the first of equally good candidates
      for (int t = 1; t < per; ++t)
        if (cand_pot[r * per + t] < cand_pot[r * per + best]) best = t;
      const std::int64_t c = r * per + best;
      chosen[r].push_back(cand[c]);
      potential[r] = cand_pot[c];
      auto& cl = closest[r];
      for (std::int64_t i = 0; i < n; ++i)
        cl[i] = step == 0 ? distance(c, i) : std::min(cl[i], distance(c, i));
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

/// New centres: the mean of each cluster's points (`xd`: the points in double).
torch::Tensor update_centers(const torch::Tensor& xd, const Assignment& a,
                             const std::vector<std::int64_t>& counts, const torch::Tensor& old) {
  const std::int64_t k = old.size(0);
  auto sums = torch::zeros({k, xd.size(1)}, torch::kDouble);
  auto labels = torch::tensor(a.label, torch::kLong);
  sums.index_add_(0, labels, xd);
  auto cnt = torch::tensor(counts, torch::kDouble).clamp_min(1.0).unsqueeze(1);
  auto centers = (sums / cnt).to(torch::kFloat);
  // A cluster still empty (more empty clusters than donors) keeps its old centre.
  auto empty = (torch::tensor(counts, torch::kLong) == 0);
  if (empty.any().item<bool>()) centers.index_put_({empty}, old.index({empty}));
  return centers.contiguous();
}

}  // namespace

int kmeans_candidates(std::int64_t clusters, int candidates) {
  if (candidates > 0) return candidates;
  return 2 + static_cast<int>(std::log(static_cast<double>(std::max<std::int64_t>(clusters, 1))));
}

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
  const torch::Tensor xd = x.to(torch::kDouble);
  const double tol = options.tolerance * xd.var(0, /*unbiased=*/false).mean().item<double>();
  const int trials = kmeans_candidates(k, options.candidates);
  torch::Tensor gram;  // worth it when the candidate rows outnumber the points
  if (4.0 * n * n <= options.gram_mib * 1048576.0 && k * trials * options.restarts >= n)
    gram = torch::mm(x, x.t());
  auto inits = kmeans_plus_plus(x, sqnorm, gram, k, options.restarts, trials, options.seed);
  gram = torch::Tensor();

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
      torch::Tensor next = update_centers(xd, a, counts, centers);
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
    best.restart_inertias.push_back(a.inertia);
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
