#include "catch_torch.h"
#include "core/config.h"
#include "tune/pruner.h"

namespace config = wtp::config;
using namespace wtp::tune;

namespace {

/// A trial with the learning curve value(step) = level for steps 1..n.
TrialRecord curve(std::int64_t number, TrialState state, double level, std::int64_t n) {
  TrialRecord t;
  t.number = number;
  t.state = state;
  for (std::int64_t s = 1; s <= n; ++s) t.intermediate[s] = level + 0.01 * static_cast<double>(s);
  if (state == TrialState::kComplete) t.value = t.intermediate.rbegin()->second;
  return t;
}

std::unique_ptr<Pruner> pruner(const std::string& yaml) {
  return pruner_registry().create(
      config::decode_component(config::parse(yaml, "pruner.yaml"), "pruner"));
}

}  // namespace

TEST_CASE("percentile interpolates linearly as numpy", "[tune][pruner]") {
  CHECK(percentile({1, 2, 3, 4}, 50) == Approx(2.5));
  CHECK(percentile({5, 1, 3}, 50) == Approx(3));
  CHECK(percentile({1, 2, 3, 4}, 25) == Approx(1.75));
}

TEST_CASE("median pruner: clearly worse trials stop, good ones continue (Optuna semantics)",
          "[tune][pruner]") {
  // Complete trials (maximise) at levels 0.5, 0.6, 0.7: median at step 2 = 0.62.
  std::vector<TrialRecord> study{curve(0, TrialState::kComplete, 0.5, 5),
                                 curve(1, TrialState::kComplete, 0.6, 5),
                                 curve(2, TrialState::kComplete, 0.7, 5)};
  auto median = pruner("{name: median, n_startup_trials: 3, n_warmup_steps: 2}");
  TrialRecord bad = curve(3, TrialState::kRunning, 0.1, 2);
  TrialRecord good = curve(4, TrialState::kRunning, 0.65, 2);
  CHECK(median->prune(bad, study, Direction::kMaximize));
  CHECK_FALSE(median->prune(good, study, Direction::kMaximize));
  // Minimising, the same curves: the low one is the good one.
  CHECK_FALSE(median->prune(bad, study, Direction::kMinimize));
  CHECK(median->prune(good, study, Direction::kMinimize));
  // Warm-up: step 1 < n_warmup_steps = 2: never pruned.
  CHECK_FALSE(median->prune(curve(5, TrialState::kRunning, 0.1, 1), study, Direction::kMaximize));
  // Start-up: with only 2 complete trials (n_startup_trials = 3), no pruning.
  std::vector<TrialRecord> two(study.begin(), study.begin() + 2);
  CHECK_FALSE(median->prune(bad, two, Direction::kMaximize));
  // Pruned / running trials do not count towards the median.
  std::vector<TrialRecord> with_pruned = study;
  with_pruned.push_back(curve(6, TrialState::kPruned, 0.0, 2));
  with_pruned.push_back(curve(7, TrialState::kPruned, 0.0, 2));
  CHECK_FALSE(median->prune(good, with_pruned, Direction::kMaximize));
  // The trial's best value over its steps is compared: a dip after a high value survives.
  TrialRecord dip = curve(8, TrialState::kRunning, 0.9, 1);
  dip.intermediate[2] = 0.1;
  CHECK_FALSE(median->prune(dip, study, Direction::kMaximize));
  // interval_steps 2 from warm-up 2: checked at steps 2, 4, not at 3.
  auto every2 = pruner("{name: median, n_startup_trials: 1, n_warmup_steps: 2, interval_steps: 2}");
  CHECK(every2->prune(curve(9, TrialState::kRunning, 0.1, 2), study, Direction::kMaximize));
  CHECK_FALSE(every2->prune(curve(9, TrialState::kRunning, 0.1, 3), study, Direction::kMaximize));
  CHECK(every2->prune(curve(9, TrialState::kRunning, 0.1, 4), study, Direction::kMaximize));
}

TEST_CASE("ASHA: only the top 1/eta of a rung is promoted", "[tune][pruner]") {
  // Rungs at 1, 2, 4 steps (min_resource 1, eta 2). Nine trials reached rung 1 (step 1)
  // with values 0.1 .. 0.9 (maximise).
  std::vector<TrialRecord> study;
  for (int i = 0; i < 9; ++i)
    study.push_back(
        curve(i, i < 3 ? TrialState::kComplete : TrialState::kPruned, 0.1 * (i + 1) - 0.01, 1));
  auto asha = pruner("{name: asha, min_resource: 1, reduction_factor: 2}");
  // A new trial at rung 1: 10 values, the top 10 // 2 = 5 continue. With 0.45 it is 6th
  // (0.9 0.8 0.7 0.6 0.5 0.45 ...): pruned; with 0.5 it ties the 5th: promoted.
  CHECK(asha->prune(curve(20, TrialState::kRunning, 0.45 - 0.01, 1), study, Direction::kMaximize));
  CHECK_FALSE(
      asha->prune(curve(20, TrialState::kRunning, 0.5 - 0.01, 1), study, Direction::kMaximize));
  CHECK_FALSE(
      asha->prune(curve(20, TrialState::kRunning, 0.95 - 0.01, 1), study, Direction::kMaximize));
  // Between rungs (step 3: rung 2 was at step 2, decided before) nothing is decided.
  TrialRecord between = curve(21, TrialState::kRunning, -5.0, 3);
  CHECK_FALSE(asha->prune(between, study, Direction::kMaximize));
  // Alone at a rung, a trial is promoted (asynchronous: nobody to compare with).
  CHECK_FALSE(asha->prune(curve(22, TrialState::kRunning, -1.0, 1), {}, Direction::kMaximize));
  // Minimise: the low values are the good ones.
  CHECK_FALSE(
      asha->prune(curve(20, TrialState::kRunning, 0.05 - 0.01, 1), study, Direction::kMinimize));
  CHECK(asha->prune(curve(20, TrialState::kRunning, 0.95 - 0.01, 1), study, Direction::kMinimize));
  CHECK_THROWS_WITH(pruner("{name: asha, reduction_factor: 1}"),
                    Catch::Contains("reduction_factor must be >= 2"));
  CHECK_THROWS_WITH(pruner("{name: hyperband}"), Catch::Contains("asha, median, none"));
}
