#pragma once
/// A trial of a study as the samplers, pruners and storage see it.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "tune/search_space.h"

namespace wtp::tune {

/// Whether larger objective values are better.
enum class Direction { kMaximize, kMinimize };
WTP_ENUM_NAMES(Direction, {Direction::kMaximize, "max"}, {Direction::kMinimize, "min"})

/// The life of a trial: waiting (queued, e.g. re-queued after its worker died) ->
/// running -> complete | pruned | failed.
enum class TrialState { kWaiting, kRunning, kComplete, kPruned, kFailed };
WTP_ENUM_NAMES(TrialState, {TrialState::kWaiting, "waiting"}, {TrialState::kRunning, "running"},
               {TrialState::kComplete, "complete"}, {TrialState::kPruned, "pruned"},
               {TrialState::kFailed, "failed"})

struct TrialRecord {
  std::int64_t number = 0;                      ///< 0-based, unique in the study
  TrialState state = TrialState::kWaiting;      ///< current state
  Params params;                                ///< active parameters (internal values)
  std::optional<double> value;                  ///< objective (complete), last value (pruned)
  std::map<std::int64_t, double> intermediate;  ///< step -> reported value
  std::string message;                          ///< why it failed / was re-queued
  std::string worker;                           ///< worker that runs / ran it
  std::int64_t attempts = 0;                    ///< times it was started
  double started = 0.0;                         ///< unix time of the last start
  double finished = 0.0;                        ///< unix time of the end (0 = not finished)
};

/// +1 for minimisation, -1 for maximisation: sign * value is a loss (smaller is better).
inline double loss_sign(Direction d) { return d == Direction::kMinimize ? 1.0 : -1.0; }

/// True if `a` is strictly better than `b` in direction `d`.
inline bool better(double a, double b, Direction d) {
  return d == Direction::kMinimize ? a < b : a > b;
}

/// The best complete trial with a finite value (nullptr if none). Ties: the earlier trial.
const TrialRecord* best_trial(const std::vector<TrialRecord>& trials, Direction d);

}  // namespace wtp::tune
