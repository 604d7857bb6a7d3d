#include "tune/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/random.h"

namespace wtp::tune {

const TrialRecord* best_trial(const std::vector<TrialRecord>& trials, Direction d) {
  const TrialRecord* best = nullptr;
  for (const auto& t : trials)
    if (t.state == TrialState::kComplete && t.value && std::isfinite(*t.value) &&
        (!best || better(*t.value, *best->value, d)))
      best = &t;
  return best;
}

namespace detail {

namespace {
constexpr double kEps = 1e-12;
constexpr double kLogSqrt2Pi = 0.91893853320467274178;

/// log Phi(x).
double log_ndtr(double x) {
  if (x > 6.0) return -0.5 * std::erfc(x / std::sqrt(2.0));  // log(1 - t) ~ -t
  if (x > -20.0) return std::log(0.5 * std::erfc(-x / std::sqrt(2.0)));
  // Asymptotic expansion of the lower tail.
  const double x2 = x * x;
  return -0.5 * x2 - std::log(-x) - kLogSqrt2Pi + std::log1p(-1.0 / x2 + 3.0 / (x2 * x2));
}

/// log(exp(a) - exp(b)) for a >= b.
double log_diff(double a, double b) {
  if (b == -std::numeric_limits<double>::infinity()) return a;
  return a + std::log1p(-std::exp(b - a));
}

double logsumexp(const std::vector<double>& v) {
  double m = -std::numeric_limits<double>::infinity();
  for (double x : v) m = std::max(m, x);
  if (!std::isfinite(m)) return m;
  double s = 0;
  for (double x : v) s += std::exp(x - m);
  return m + std::log(s);
}
}  // namespace

double log_gauss_mass(double a, double b) {
  if (b <= 0) return log_diff(log_ndtr(b), log_ndtr(a));
  if (a > 0) return log_gauss_mass(-b, -a);
  // a <= 0 < b: 1 - Phi(a) - Phi(-b), both terms <= 0.5.
  const double left = 0.5 * std::erfc(-a / std::sqrt(2.0));
  const double right = 0.5 * std::erfc(b / std::sqrt(2.0));
  return std::log1p(-left - right);
}

std::vector<double> tpe_weights(std::size_t n, std::int64_t flat) {
  const auto f = static_cast<std::size_t>(flat);
  if (n < f) return std::vector<double>(n, 1.0);
  std::vector<double> w;
  const std::size_t ramp = n - f;
  // numpy.linspace(1/n, 1, num=ramp)
  for (std::size_t i = 0; i < ramp; ++i)
    w.push_back(ramp == 1 ? 1.0 / static_cast<double>(n)
                          : 1.0 / static_cast<double>(n) + (1.0 - 1.0 / static_cast<double>(n)) *
                                                               static_cast<double>(i) /
                                                               static_cast<double>(ramp - 1));
  w.insert(w.end(), f, 1.0);
  return w;
}

Parzen::Parzen(const Param& param, const std::vector<double>& obs, const TpeSamplerOptions& o)
    : Parzen(
          std::vector<const Param*>{&param},
          [&] {
            std::vector<std::vector<double>> rows;
            for (double v : obs) rows.push_back({v});
            return rows;
          }(),
          o) {}

Parzen::Parzen(std::vector<const Param*> params, const std::vector<std::vector<double>>& obs,
               const TpeSamplerOptions& o)
    : normalized_(o.normalized_kernels) {
  const std::size_t n = obs.size();
  const bool multivariate = params.size() > 1;
  // Mixture weights: the trials' weights, then the prior kernel (always, as Optuna with
  // consider_prior=True), normalised.
  weights_ = tpe_weights(n, o.flat_weights);
  weights_.push_back(o.prior_weight);
  const double total = std::accumulate(weights_.begin(), weights_.end(), 0.0);
  for (double& w : weights_) w /= total;
  // Scott's rule factor of Optuna's multivariate estimator.
  const double sigma0 = 0.2 * std::pow(static_cast<double>(std::max<std::size_t>(n, 1)),
                                       -1.0 / (static_cast<double>(params.size()) + 4.0));

  for (std::size_t j = 0; j < params.size(); ++j) {
    const Param& param = *params[j];
    Dim dim;
    dim.param = &param;
    if (param.type == ParamType::kCategorical) {
      const std::size_t c = param.n_choices();
      const double fill = o.prior_weight / static_cast<double>(n + 1);
      dim.categorical.assign(n + 1, std::vector<double>(c, fill));
      for (std::size_t i = 0; i < n; ++i)
        dim.categorical[i][static_cast<std::size_t>(obs[i][j])] += 1.0;
      for (auto& row : dim.categorical) {
        const double sum = std::accumulate(row.begin(), row.end(), 0.0);
        for (double& v : row) v /= sum;
      }
      dims_.push_back(std::move(dim));
      continue;
    }
    // Transformed bounds.
    if (param.log) {
      const double widen = param.type == ParamType::kInt ? 0.5 : 0.0;
      dim.low = std::log(param.low - widen);
      dim.high = std::log(param.high + widen);
    } else if (param.step) {
      dim.q = *param.step;
      dim.low = param.low - 0.5 * *dim.q;
      dim.high = param.high + 0.5 * *dim.q;
    } else {
      dim.low = param.low;
      dim.high = param.high;
    }
    auto& mus = dim.mus;
    for (const auto& row : obs) mus.push_back(param.log ? std::log(row[j]) : row[j]);
    mus.push_back(0.5 * (dim.low + dim.high));  // prior
    const std::size_t k = mus.size();
    auto& sigmas = dim.sigmas;
    if (multivariate) {
      sigmas.assign(k, sigma0 * (dim.high - dim.low));
    } else {
      // Kernel widths: the larger distance to a neighbour among the sorted centres (the
      // bounds are neighbours of the extremes unless consider_endpoints is off and there
      // are at least two centres, as Optuna).
      std::vector<std::size_t> order(k);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return mus[a] < mus[b]; });
      std::vector<double> with_ends{dim.low};
      for (auto i : order) with_ends.push_back(mus[i]);
      with_ends.push_back(dim.high);
      std::vector<double> sorted_sigmas(k);
      for (std::size_t i = 0; i < k; ++i)
        sorted_sigmas[i] =
            std::max(with_ends[i + 1] - with_ends[i], with_ends[i + 2] - with_ends[i + 1]);
      if (!o.consider_endpoints && with_ends.size() >= 4) {
        sorted_sigmas[0] = with_ends[2] - with_ends[1];
        sorted_sigmas[k - 1] = with_ends[k] - with_ends[k - 1];
      }
      sigmas.assign(k, 0.0);
      for (std::size_t i = 0; i < k; ++i) sigmas[order[i]] = sorted_sigmas[i];
    }
    const double max_sigma = dim.high - dim.low;
    const double min_sigma =
        o.magic_clip ? (dim.high - dim.low) / std::min(100.0, 1.0 + static_cast<double>(k)) : kEps;
    for (double& sg : sigmas) sg = std::clamp(sg, min_sigma, max_sigma);
    sigmas.back() = dim.high - dim.low;  // the prior's width
    dims_.push_back(std::move(dim));
  }
}

std::vector<std::vector<double>> Parzen::sample(Rng& rng, std::size_t n) const {
  std::vector<std::vector<double>> out;
  out.reserve(n);
  auto pick = [&rng](const std::vector<double>& probabilities) {
    const double u = rng.uniform();
    double acc = 0;
    for (std::size_t i = 0; i < probabilities.size(); ++i) {
      acc += probabilities[i];
      if (u < acc) return i;
    }
    return probabilities.size() - 1;
  };
  for (std::size_t s = 0; s < n; ++s) {
    const std::size_t k = pick(weights_);  // one component for every dimension
    std::vector<double> point;
    for (const auto& dim : dims_) {
      if (dim.param->type == ParamType::kCategorical) {
        point.push_back(static_cast<double>(pick(dim.categorical[k])));
        continue;
      }
      // Truncated normal by rejection: the centre lies in [low, high] and the width is at
      // most high - low, so at least Phi(1) - Phi(0) = 34 % of draws are accepted.
      double x = dim.mus[k];
      for (int tries = 0; tries < 1000; ++tries) {
        const double y = rng.normal(dim.mus[k], dim.sigmas[k]);
        if (y >= dim.low && y <= dim.high) {
          x = y;
          break;
        }
      }
      point.push_back(dim.param->snap(dim.param->log ? std::exp(x) : x));
    }
    out.push_back(std::move(point));
  }
  return out;
}

double Parzen::log_pdf(const std::vector<double>& internal) const {
  std::vector<double> terms(weights_.size());
  for (std::size_t k = 0; k < weights_.size(); ++k) terms[k] = std::log(weights_[k]);
  for (std::size_t j = 0; j < dims_.size(); ++j) {
    const Dim& dim = dims_[j];
    if (dim.param->type == ParamType::kCategorical) {
      const auto c = static_cast<std::size_t>(internal[j]);
      for (std::size_t k = 0; k < weights_.size(); ++k) terms[k] += std::log(dim.categorical[k][c]);
      continue;
    }
    const double x = dim.param->log ? std::log(internal[j]) : internal[j];
    for (std::size_t k = 0; k < weights_.size(); ++k) {
      const double mu = dim.mus[k], sigma = dim.sigmas[k];
      const double accept = log_gauss_mass((dim.low - mu) / sigma, (dim.high - mu) / sigma);
      if (dim.q) {
        const double lo = std::max(x - 0.5 * *dim.q, dim.low);
        const double hi = std::min(x + 0.5 * *dim.q, dim.high);
        terms[k] += log_gauss_mass((lo - mu) / sigma, (hi - mu) / sigma) - accept;
      } else {
        const double z = (x - mu) / sigma;
        terms[k] += -0.5 * z * z - kLogSqrt2Pi - (normalized_ ? std::log(sigma) : 0.0) - accept;
      }
    }
  }
  return logsumexp(terms);
}

}  // namespace detail

namespace {

Params sample_random(const SearchSpace& space, Rng& rng) {
  Params out;
  for (const auto& p : space.params())
    if (space.active(p, out)) out[p.name] = p.sample_uniform(rng);
  return out;
}

class RandomSampler : public Sampler {
 public:
  explicit RandomSampler(std::uint64_t seed) : seed_(seed) {}
  std::optional<Params> sample(const SearchSpace& space, const std::vector<TrialRecord>&,
                               std::int64_t number, Direction) override {
    Rng rng(mix_seed(seed_, static_cast<std::uint64_t>(number), 0x52414e44));
    return sample_random(space, rng);
  }

 private:
  std::uint64_t seed_;
};

class GridSampler : public Sampler {
 public:
  GridSampler(const GridSamplerOptions& options, std::uint64_t seed)
      : options_(options), seed_(seed) {}
  std::optional<Params> sample(const SearchSpace& space, const std::vector<TrialRecord>&,
                               std::int64_t number, Direction) override {
    if (grid_.empty()) build(space);
    if (number < 0 || static_cast<std::size_t>(number) >= grid_.size()) return std::nullopt;
    return grid_[static_cast<std::size_t>(number)];
  }

 private:
  void build(const SearchSpace& space) {
    // Depth-first over the parameters in order; inactive ones are skipped, so a
    // conditional parameter multiplies only the branches where it is active.
    std::function<void(std::size_t, Params)> walk = [&](std::size_t i, Params point) {
      if (i == space.size()) {
        grid_.push_back(std::move(point));
        return;
      }
      const Param& p = space.params()[i];
      if (!space.active(p, point)) return walk(i + 1, std::move(point));
      for (double v : p.grid_values()) {
        Params next = point;
        next[p.name] = v;
        walk(i + 1, std::move(next));
      }
    };
    walk(0, {});
    if (options_.shuffle) {
      Rng rng(mix_seed(seed_, 0x47524944));
      rng.shuffle(grid_);
    }
  }
  GridSamplerOptions options_;
  std::uint64_t seed_;
  std::vector<Params> grid_;
};

class TpeSampler : public Sampler {
 public:
  TpeSampler(const TpeSamplerOptions& options, std::uint64_t seed)
      : options_(options), seed_(seed) {}

  std::optional<Params> sample(const SearchSpace& space, const std::vector<TrialRecord>& trials,
                               std::int64_t number, Direction direction) override {
    // Observations: complete trials rank before pruned ones, which rank by how far they got
    // (later step first) then by their last value; as Optuna's _get_observation_pairs.
    struct Obs {
      const TrialRecord* trial;
      double step_key;
      double loss;
    };
    std::vector<Obs> obs;
    const double sign = loss_sign(direction);
    for (const auto& t : trials) {
      if (t.state == TrialState::kComplete) {
        if (!t.value) continue;
        const double loss =
            std::isfinite(*t.value) ? sign * *t.value : std::numeric_limits<double>::infinity();
        obs.push_back({&t, -std::numeric_limits<double>::infinity(), loss});
      } else if (t.state == TrialState::kPruned) {
        if (t.intermediate.empty()) {
          obs.push_back({&t, 1.0, 0.0});
        } else {
          const auto& [step, v] = *t.intermediate.rbegin();
          obs.push_back({&t, -static_cast<double>(step),
                         std::isnan(v) ? std::numeric_limits<double>::infinity() : sign * v});
        }
      }
    }
    Rng rng(mix_seed(seed_, static_cast<std::uint64_t>(number), 0x545045));
    const std::size_t n = obs.size();
    if (static_cast<std::int64_t>(n) < options_.n_startup_trials) return sample_random(space, rng);

    const auto n_good = static_cast<std::size_t>(
        std::min<double>(std::ceil(options_.gamma * static_cast<double>(n)),
                         static_cast<double>(options_.max_good)));
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      if (obs[a].step_key != obs[b].step_key) return obs[a].step_key < obs[b].step_key;
      return obs[a].loss < obs[b].loss;
    });
    std::vector<bool> good(n, false);
    for (std::size_t i = 0; i < std::min(n_good, n); ++i) good[order[i]] = true;

    Params out;
    // Joint (multivariate) group: the unconditional parameters, sampled together first.
    std::vector<const Param*> group;
    if (options_.multivariate)
      for (const auto& p : space.params())
        if (!p.when_param) group.push_back(&p);
    if (group.size() >= 2)
      sample_group(group, obs_trials(obs), good, rng, out);
    else
      group.clear();
    for (const auto& p : space.params()) {
      if (std::find(group.begin(), group.end(), &p) != group.end()) continue;
      if (!space.active(p, out)) continue;
      sample_group({&p}, obs_trials(obs), good, rng, out);
    }
    return out;
  }

 private:
  template <class Obs>
  static std::vector<const TrialRecord*> obs_trials(const std::vector<Obs>& obs) {
    std::vector<const TrialRecord*> out;
    for (const auto& o : obs) out.push_back(o.trial);
    return out;
  }

  /// Samples `params` jointly: l from the good trials, g from the others (trials where
  /// every one of them was active), the best of n_ei_candidates draws from l by l / g.
  void sample_group(const std::vector<const Param*>& params,
                    const std::vector<const TrialRecord*>& trials, const std::vector<bool>& good,
                    Rng& rng, Params& out) const {
    std::vector<std::vector<double>> below, above;
    for (std::size_t i = 0; i < trials.size(); ++i) {
      std::vector<double> row;
      for (const Param* p : params) {
        auto it = trials[i]->params.find(p->name);
        if (it == trials[i]->params.end() || !p->contains(it->second)) break;
        row.push_back(it->second);
      }
      if (row.size() != params.size()) continue;
      (good[i] ? below : above).push_back(std::move(row));
    }
    detail::Parzen l(params, below, options_), g(params, above, options_);
    double best_score = -std::numeric_limits<double>::infinity();
    std::vector<double> best;
    for (auto& c : l.sample(rng, static_cast<std::size_t>(options_.n_ei_candidates))) {
      const double score = l.log_pdf(c) - g.log_pdf(c);
      if (best.empty() || score > best_score) {
        best_score = score;
        best = std::move(c);
      }
    }
    for (std::size_t j = 0; j < params.size(); ++j) out[params[j]->name] = best[j];
  }

  TpeSamplerOptions options_;
  std::uint64_t seed_;
};

void register_builtin_search_samplers(SearchSamplerRegistry& r) {
  r.add<RandomSamplerOptions>(
      "random", "independent uniform (log-uniform for log parameters) draws",
      [](const RandomSamplerOptions&, std::uint64_t seed) -> std::unique_ptr<Sampler> {
        return std::make_unique<RandomSampler>(seed);
      });
  r.add<GridSamplerOptions>(
      "grid", "every combination of grid values (grid_points per float range)",
      [](const GridSamplerOptions& o, std::uint64_t seed) -> std::unique_ptr<Sampler> {
        return std::make_unique<GridSampler>(o, seed);
      });
  r.add<TpeSamplerOptions>(
      "tpe", "Tree-structured Parzen Estimator (Optuna's defaults)",
      [](const TpeSamplerOptions& o, std::uint64_t seed) -> std::unique_ptr<Sampler> {
        return std::make_unique<TpeSampler>(o, seed);
      });
}

}  // namespace

const SearchSamplerRegistry& search_sampler_registry() {
  static const SearchSamplerRegistry registry("sampler", register_builtin_search_samplers);
  return registry;
}

}  // namespace wtp::tune
