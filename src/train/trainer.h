#pragma once
/// The YAML-driven trainer behind `wtp-train`: data (with identity-disjoint splits),
/// model, one or more stages (each with its own loss, sampler, optimizer, schedule, epochs
/// and early stopping), validation every epoch, the best checkpoint chosen on validation,
/// the test split evaluated once at the end, and a run directory that reproduces the run.
///
///     config:  configs/quickstart.yaml (see configs/ for every recipe)
///     auto result = wtp::train::run_train(config::load_file(path), {});
///
/// Run directory (RunOptions::out or the config's `out`):
///   config.yaml        resolved configuration (defaults filled in, overrides applied)
///   splits.txt         the train/valid/test file lists
///   metrics.csv        stage,epoch,step,split,metric,value
///   checkpoints/last.pt, checkpoints/best.pt
///   curves.png         training loss and the validation metric per epoch
///   eval.json          test metrics (written once, at the end, from best.pt)
///   train.log          the log lines of the run
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "train/train_config.h"

namespace wtp::train {

/// What the trainer reports after each epoch's validation (RunOptions::on_epoch).
struct EpochReport {
  std::size_t stage = 0;                ///< index of the stage in the config
  std::string stage_name;               ///< its name
  std::int64_t epoch = 0;               ///< epochs completed in this stage (1-based)
  std::int64_t epochs_done = 0;         ///< epochs completed over all stages so far
  std::int64_t global_step = 0;         ///< optimizer steps over all stages
  double mean_loss = 0.0;               ///< mean training loss of the epoch
  std::map<std::string, double> valid;  ///< the validation report (empty: no validation)
  std::optional<double> metric;         ///< validation.metric's value, if validated
};

/// Per-invocation settings that are not part of the experiment.
struct RunOptions {
  std::string resume;    ///< run directory to resume ("" = new run)
  std::string device;    ///< overrides the config's device ("" = keep)
  bool progress = true;  ///< show progress bars
  /// Stop as on Ctrl-C after this many optimizer steps in this invocation (0 = never):
  /// last.pt is written and the run can be resumed (time-boxed jobs, tests).
  std::int64_t stop_after_steps = 0;
  /// Called after every epoch (after validation and the checkpoints of that epoch).
  /// Returning false ends the run there (RunResult::stopped; e.g. a tuner's pruner): no
  /// further epochs or stages, no test evaluation.
  std::function<bool(const EpochReport&)> on_epoch;
};

struct RunResult {
  std::string run_dir;
  bool interrupted = false;            ///< stopped by SIGINT/SIGTERM; resumable
  bool stopped = false;                ///< stopped by RunOptions::on_epoch
  double best_valid = 0.0;             ///< best validation metric (last stage)
  std::map<std::string, double> test;  ///< eval.json content
  std::int64_t steps = 0;              ///< optimizer steps done in this invocation
};

/// Runs (or resumes) training. A new run refuses a non-empty run directory that holds a
/// different run (UsageError naming it and --resume). Throws UsageError for configuration
/// problems (before any training), std::runtime_error for failures (a non-finite loss
/// names stage, epoch and step; the last good checkpoint is kept).
RunResult run_train(const config::Node& node, const RunOptions& options);

}  // namespace wtp::train
