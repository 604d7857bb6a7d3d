#pragma once
/// Samplers propose the parameters of the next trial from the finished ones.
///
///   random  independent uniform (log-uniform) draws
///   grid    every combination of the parameters' grid values (see Param::grid_values),
///           in a seeded random order; the study ends when the grid is exhausted
///   tpe     Tree-structured Parzen Estimator (Bergstra et al. 2011) as Optuna's: trials
///           split into "good" (the best gamma(n) = min(ceil(0.1 n), 25)) and "bad"; a
///           Parzen estimator l(x) of the good and g(x) of the bad values (truncated
///           Gaussians in the log space of log parameters, a prior kernel, magic clipping,
///           older trials down-weighted after 25), then the best of n_ei_candidates draws
///           from l by l(x) / g(x). The first n_startup_trials trials are random. Pruned
///           trials count, ranked by how far they got. By default the unconditional
///           parameters are modelled jointly (Optuna's multivariate=True, Scott's-rule
///           widths); `multivariate: false` gives Optuna's default univariate TPE.
///
/// Reproducible: trial `number`'s draws come from Rng(mix_seed(seed, number, ...)), so a
/// study gives the same points whatever the number of workers (given the same history).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/registry.h"
#include "tune/search_space.h"
#include "tune/trial.h"

namespace wtp::tune {

class Sampler {
 public:
  virtual ~Sampler() = default;
  /// Parameters of trial `number`, given the study's trials so far (in number order; any
  /// state: samplers use the complete and pruned ones). nullopt = no points left (grid).
  /// ensures: space.valid_point(result).
  virtual std::optional<Params> sample(const SearchSpace& space,
                                       const std::vector<TrialRecord>& trials, std::int64_t number,
                                       Direction direction) = 0;
};

struct RandomSamplerOptions {
  template <class V>
  void visit(V&) {}
};

struct GridSamplerOptions {
  bool shuffle = true;  ///< visit the grid in a seeded random order (false: in order)
  template <class V>
  void visit(V& v) {
    v("shuffle", shuffle, "visit the grid in a seeded random order");
  }
};

struct TpeSamplerOptions {
  std::int64_t n_startup_trials = 10;  ///< random trials before TPE starts
  std::int64_t n_ei_candidates = 24;   ///< draws from l(x) scored by l(x) / g(x)
  double gamma = 0.1;                  ///< fraction of trials in the good group...
  std::int64_t max_good = 25;          ///< ...at most this many: min(ceil(gamma n), max_good)
  double prior_weight = 1.0;           ///< weight of the prior kernel
  bool magic_clip = true;              ///< lower bound on kernel widths (Bergstra et al.)
  bool consider_endpoints = false;     ///< count the bounds as neighbours of the extremes
  std::int64_t flat_weights = 25;      ///< the newest this many trials weigh 1; older ramp down
  /// Joint (multivariate) kernels over the unconditional parameters, as Optuna's
  /// multivariate=True (Falkner et al. 2018); conditional parameters stay univariate.
  /// bench/run_tune.sh: better than univariate on Hartmann-6 and the Group Loss space.
  bool multivariate = true;
  /// Continuous kernels scored as normalised truncated-normal densities (true) or, as
  /// Optuna 3.1.0's _truncnorm.logpdf does, without their 1/sigma factor (false: every
  /// kernel has the same peak height). bench/run_tune.sh measured false better on all
  /// four test functions (median over 90 seeds), so it is the default.
  bool normalized_kernels = false;
  template <class V>
  void visit(V& v) {
    v("n_startup_trials", n_startup_trials, "random trials before TPE starts");
    v("n_ei_candidates", n_ei_candidates, "candidates drawn from l(x), scored by l(x)/g(x)");
    v("gamma", gamma, "fraction of trials in the good group");
    v("max_good", max_good, "at most this many trials in the good group");
    v("prior_weight", prior_weight, "weight of the prior kernel");
    v("magic_clip", magic_clip, "lower bound on kernel widths");
    v("consider_endpoints", consider_endpoints, "count the bounds as neighbours");
    v("flat_weights", flat_weights, "the newest N trials weigh 1, older ones ramp down");
    v("multivariate", multivariate, "joint (multivariate) TPE over unconditional parameters");
    v("normalized_kernels", normalized_kernels,
      "exact truncated-normal densities (false: Optuna 3.1's equal-height kernels)");
  }
  void validate() const {
    require(n_startup_trials >= 0, "tpe: n_startup_trials must be >= 0");
    require(n_ei_candidates >= 1, "tpe: n_ei_candidates must be >= 1");
    require(gamma > 0 && gamma <= 1, "tpe: gamma must be in (0, 1]");
    require(max_good >= 1, "tpe: max_good must be >= 1");
    require(prior_weight > 0, "tpe: prior_weight must be > 0");
    require(flat_weights >= 1, "tpe: flat_weights must be >= 1");
  }
};

/// The search samplers: random, grid, tpe (`search_sampler_registry().create(component,
/// seed)`: the factory takes the study seed). Not the training samplers of samplers/.
using SearchSamplerRegistry = Registry<std::unique_ptr<Sampler>, std::uint64_t>;
const SearchSamplerRegistry& search_sampler_registry();

namespace detail {

/// log(Phi(b) - Phi(a)) for a < b, accurate in the tails.
double log_gauss_mass(double a, double b);

/// A Parzen estimator (mixture of one kernel per observation plus a prior kernel) over one
/// or more parameters, as Optuna's. With several parameters the kernels are products
/// (multivariate TPE: one component is drawn for all dimensions) with Scott's-rule widths
/// 0.2 n^(-1/(d+4)) (high - low); a single parameter gets Optuna's univariate widths (the
/// larger gap to a neighbouring centre). Numeric parameters live in a transformed space
/// (log for log parameters, bounds widened by half a step for discrete ones).
class Parzen {
 public:
  /// `observations[i][j]`: internal value of params[j] in the i-th observation, oldest
  /// first. requires: every value in its parameter's space.
  Parzen(std::vector<const Param*> params, const std::vector<std::vector<double>>& observations,
         const TpeSamplerOptions& options);
  /// One parameter (univariate).
  Parzen(const Param& param, const std::vector<double>& observations,
         const TpeSamplerOptions& options);
  /// Draws `n` points ([n][d], internal values in the space).
  std::vector<std::vector<double>> sample(Rng& rng, std::size_t n) const;
  /// log density (numeric, continuous; see normalized_kernels) or log probability
  /// (discrete, categorical), summed over the dimensions per kernel, then mixed.
  double log_pdf(const std::vector<double>& internal) const;
  double log_pdf(double internal) const { return log_pdf(std::vector<double>{internal}); }

  const std::vector<double>& weights() const { return weights_; }
  /// Kernel centres / widths of dimension `d` (transformed space; the prior last).
  const std::vector<double>& mus(std::size_t d = 0) const { return dims_.at(d).mus; }
  const std::vector<double>& sigmas(std::size_t d = 0) const { return dims_.at(d).sigmas; }

 private:
  struct Dim {
    const Param* param = nullptr;
    double low = 0, high = 0;                      ///< transformed bounds
    std::optional<double> q;                       ///< discretisation step (transformed)
    std::vector<double> mus, sigmas;               ///< numeric kernels
    std::vector<std::vector<double>> categorical;  ///< categorical kernels [k][choice]
  };
  std::vector<double> weights_;  ///< mixture weights (sum 1)
  std::vector<Dim> dims_;
  bool normalized_ = false;  ///< TpeSamplerOptions::normalized_kernels
};

/// Optuna's default_weights(n): ones for n < flat, else a ramp 1/n..1 then `flat` ones.
std::vector<double> tpe_weights(std::size_t n, std::int64_t flat);

}  // namespace detail

}  // namespace wtp::tune
