#include "tune/pruner.h"

#include <algorithm>
#include <cmath>

namespace wtp::tune {

double percentile(std::vector<double> values, double q) {
  std::sort(values.begin(), values.end());
  const double pos = q / 100.0 * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (pos - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

namespace {

class NonePruner : public Pruner {
 public:
  bool prune(const TrialRecord&, const std::vector<TrialRecord>&, Direction) const override {
    return false;
  }
};

class MedianPruner : public Pruner {
 public:
  explicit MedianPruner(const MedianPrunerOptions& o) : o_(o) {}
  bool prune(const TrialRecord& trial, const std::vector<TrialRecord>& trials,
             Direction d) const override {
    if (trial.intermediate.empty()) return false;
    const std::int64_t step = trial.intermediate.rbegin()->first;
    std::int64_t complete = 0;
    for (const auto& t : trials)
      if (t.state == TrialState::kComplete && t.number != trial.number) ++complete;
    if (complete < o_.n_startup_trials) return false;
    if (step < o_.n_warmup_steps) return false;
    // Optuna's _is_first_in_interval_step: check at the first report at or after each
    // multiple of interval_steps past the warm-up.
    const std::int64_t pruning_step =
        (step - o_.n_warmup_steps) / o_.interval_steps * o_.interval_steps + o_.n_warmup_steps;
    std::int64_t previous = -1;
    for (const auto& [s, v] : trial.intermediate)
      if (s < step) previous = std::max(previous, s);
    if (previous >= pruning_step) return false;

    double best = std::numeric_limits<double>::quiet_NaN();
    for (const auto& [s, v] : trial.intermediate)
      if (!std::isnan(v) && (std::isnan(best) || better(v, best, d))) best = v;
    if (std::isnan(best)) return true;  // nothing but NaN reported

    std::vector<double> at_step;
    for (const auto& t : trials) {
      if (t.state != TrialState::kComplete || t.number == trial.number) continue;
      auto it = t.intermediate.find(step);
      if (it != t.intermediate.end() && !std::isnan(it->second)) at_step.push_back(it->second);
    }
    if (static_cast<std::int64_t>(at_step.size()) < o_.n_min_trials) return false;
    const double median = percentile(at_step, 50.0);
    return d == Direction::kMaximize ? best < median : best > median;
  }

 private:
  MedianPrunerOptions o_;
};

class AshaPruner : public Pruner {
 public:
  explicit AshaPruner(const AshaPrunerOptions& o) : o_(o) {}
  bool prune(const TrialRecord& trial, const std::vector<TrialRecord>& trials,
             Direction d) const override {
    if (trial.intermediate.empty()) return false;
    const std::int64_t step = trial.intermediate.rbegin()->first;
    const double value = trial.intermediate.rbegin()->second;
    std::int64_t previous = -1;
    for (const auto& [s, v] : trial.intermediate)
      if (s < step) previous = std::max(previous, s);
    for (std::int64_t rung = 0;; ++rung) {
      const std::int64_t resource = rung_resource(rung);
      if (step < resource) return false;   // not at this rung yet
      if (previous >= resource) continue;  // this rung was decided at an earlier report
      if (std::isnan(value)) return true;
      // The trial's value at a rung is the one it reported when it first reached it.
      std::vector<double> competing{value};
      for (const auto& t : trials) {
        if (t.number == trial.number) continue;
        auto it = t.intermediate.lower_bound(resource);
        if (it != t.intermediate.end() && !std::isnan(it->second)) competing.push_back(it->second);
      }
      if (static_cast<std::int64_t>(competing.size()) <= o_.bootstrap_count) return true;
      std::int64_t idx = static_cast<std::int64_t>(competing.size()) / o_.reduction_factor - 1;
      if (idx < 0) idx = 0;
      std::sort(competing.begin(), competing.end());
      const bool promotable =
          d == Direction::kMaximize
              ? value >= competing[competing.size() - 1 - static_cast<std::size_t>(idx)]
              : value <= competing[static_cast<std::size_t>(idx)];
      if (!promotable) return true;
    }
  }

 private:
  std::int64_t rung_resource(std::int64_t rung) const {
    std::int64_t r = o_.min_resource;
    for (std::int64_t i = 0; i < o_.min_early_stopping_rate + rung; ++i) {
      if (r > (std::int64_t{1} << 40)) break;
      r *= o_.reduction_factor;
    }
    return r;
  }
  AshaPrunerOptions o_;
};

void register_builtin_pruners(PrunerRegistry& r) {
  r.add<NonePrunerOptions>("none", "never prune",
                           [](const NonePrunerOptions&) -> std::unique_ptr<Pruner> {
                             return std::make_unique<NonePruner>();
                           });
  r.add<MedianPrunerOptions>("median", "prune below the median of complete trials at the same step",
                             [](const MedianPrunerOptions& o) -> std::unique_ptr<Pruner> {
                               return std::make_unique<MedianPruner>(o);
                             });
  auto asha = [](const AshaPrunerOptions& o) -> std::unique_ptr<Pruner> {
    return std::make_unique<AshaPruner>(o);
  };
  r.add<AshaPrunerOptions>("asha", "asynchronous successive halving", asha);
  r.add<AshaPrunerOptions>("successive_halving", "same as asha", asha);
}

}  // namespace

const PrunerRegistry& pruner_registry() {
  static const PrunerRegistry registry("pruner", register_builtin_pruners);
  return registry;
}

}  // namespace wtp::tune
