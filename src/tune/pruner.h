#pragma once
/// Pruners decide, after a trial reports an intermediate value (its validation metric at
/// a step = epochs done), whether to stop it early. Semantics follow Optuna's:
///
///   none    never prunes
///   median  prunes when the trial's best value so far is worse than the median of the
///           complete trials' values at the same step; only after n_startup_trials trials
///           completed, from step n_warmup_steps on, every interval_steps steps
///   asha    asynchronous successive halving: rungs at min_resource * eta^(s + k) steps;
///           when a trial first reaches a rung, it continues only if its value there is in
///           the top 1/eta of all trials' values at that rung (any state, itself included)
#include <cstdint>
#include <memory>
#include <vector>

#include "core/config.h"
#include "core/registry.h"
#include "tune/trial.h"

namespace wtp::tune {

class Pruner {
 public:
  virtual ~Pruner() = default;
  /// Whether to stop `trial` now. `trial.intermediate` holds its reports so far (the
  /// last one is the current step); `trials` is the whole study (it may contain `trial`
  /// itself, which is ignored by number).
  virtual bool prune(const TrialRecord& trial, const std::vector<TrialRecord>& trials,
                     Direction direction) const = 0;
};

struct NonePrunerOptions {
  template <class V>
  void visit(V&) {}
};

struct MedianPrunerOptions {
  std::int64_t n_startup_trials = 5;  ///< no pruning before this many trials completed
  std::int64_t n_warmup_steps = 0;    ///< no pruning before this step
  std::int64_t interval_steps = 1;    ///< check every this many steps (after warm-up)
  std::int64_t n_min_trials = 1;      ///< complete trials needed at the step
  template <class V>
  void visit(V& v) {
    v("n_startup_trials", n_startup_trials, "no pruning before this many trials completed");
    v("n_warmup_steps", n_warmup_steps, "no pruning before this step (epochs done)");
    v("interval_steps", interval_steps, "check every this many steps");
    v("n_min_trials", n_min_trials, "complete trials needed at the step to compare");
  }
  void validate() const {
    require(n_startup_trials >= 0, "median: n_startup_trials must be >= 0");
    require(n_warmup_steps >= 0, "median: n_warmup_steps must be >= 0");
    require(interval_steps >= 1, "median: interval_steps must be >= 1");
    require(n_min_trials >= 1, "median: n_min_trials must be >= 1");
  }
};

struct AshaPrunerOptions {
  std::int64_t min_resource = 1;             ///< steps of the first rung
  std::int64_t reduction_factor = 3;         ///< eta: keep the top 1/eta at each rung
  std::int64_t min_early_stopping_rate = 0;  ///< s: the first rung is at min_resource * eta^s
  std::int64_t bootstrap_count = 0;          ///< prune until a rung has more values than this
  template <class V>
  void visit(V& v) {
    v("min_resource", min_resource, "steps (epochs) of the first rung");
    v("reduction_factor", reduction_factor, "eta: keep the top 1/eta at every rung");
    v("min_early_stopping_rate", min_early_stopping_rate, "first rung at min_resource*eta^s");
    v("bootstrap_count", bootstrap_count, "values a rung needs before trials are promoted");
  }
  void validate() const {
    require(min_resource >= 1, "asha: min_resource must be >= 1");
    require(reduction_factor >= 2, "asha: reduction_factor must be >= 2");
    require(min_early_stopping_rate >= 0, "asha: min_early_stopping_rate must be >= 0");
    require(bootstrap_count >= 0, "asha: bootstrap_count must be >= 0");
  }
};

using PrunerRegistry = Registry<std::unique_ptr<Pruner>>;
/// none, median, asha (also under the name successive_halving).
const PrunerRegistry& pruner_registry();

/// numpy.percentile with linear interpolation. requires: values non-empty, q in [0, 100].
double percentile(std::vector<double> values, double q);

}  // namespace wtp::tune
