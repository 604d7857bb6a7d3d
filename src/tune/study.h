#pragma once
/// Hyper-parameter studies behind `wtp-tune` (see configs/tune/):
///
///     base: ../quickstart.yaml           # the training config (relative to this file)
///     trials: 20                         # trials in the study (in total, over resumes)
///     sampler: {name: tpe}               # random | grid | tpe
///     pruner: {name: median, n_warmup_steps: 2}   # none | median | asha
///     resources: {epochs: [1, 3], max_steps_per_epoch: 20}   # per trial (not best.yaml)
///     space:
///       lr: {path: stages.1.optimizer.lr, type: float, low: 1.0e-5, high: 1.0e-3, log: true}
///
/// Every trial is a real training run (run_train, in-process) in STUDY/trials/NNNN with
/// the base config + `set` + resources + the trial's values + `test: false` (tuning never
/// evaluates the test split; the trainer's default split is identity-disjoint, so
/// validation is on identities that training never sees). The validation metric is
/// reported after every epoch (step = epochs done over all stages) for the pruner; the
/// trial's value is the best validation metric of its last stage.
///
/// Trials run in-process, in a try/catch: the trainer reports bad configs, non-finite
/// losses and I/O failures as exceptions, which mark the trial failed (message kept) and
/// the study goes on. A hard crash (signal, OOM kill) ends the worker process; its
/// running trial is found by the next claim of any worker (see storage.h) and re-queued.
/// In-process trials keep LibTorch and the data caches warm and let the pruner run in the
/// trainer's epoch callback without any inter-process protocol; several processes give
/// parallelism and isolation (`--workers K`).
///
/// `storage: postgresql://USER@HOST/DB` keeps the trials in PostgreSQL instead of
/// STUDY/study.db, so workers on several machines (each with its own STUDY directory for
/// the trials' run directories) share one study, as Optuna's RDB storage does.
///
/// STUDY directory: study.db (SQLite: trials, intermediate values, workers), trials/NNNN
/// (each trial's run directory: config.yaml holds the trial's values), best.yaml (base +
/// `set` + best values, for wtp-train), trials.csv, history.png.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "tune/pruner.h"
#include "tune/sampler.h"
#include "tune/search_space.h"
#include "tune/storage.h"
#include "tune/trial.h"

namespace wtp::tune {

/// Per-trial resources: the tuning budget of each trial (not written to best.yaml).
struct ResourceOptions {
  std::vector<std::int64_t> epochs;      ///< epochs of each stage (empty = the base's)
  std::int64_t max_steps_per_epoch = 0;  ///< cap on steps per epoch, every stage (0 = base's)
  template <class V>
  void visit(V& v) {
    v("epochs", epochs, "epochs of each stage in a trial (empty: the base config's)");
    v("max_steps_per_epoch", max_steps_per_epoch, "cap on steps per epoch in a trial (0: base's)");
  }
};

/// Options of the `function` objective: a test function instead of training.
struct FunctionObjectiveOptions {
  std::string function = "branin";  ///< see test_functions.h
  std::int64_t dims = 2;            ///< quadratic: number of dimensions
  std::int64_t steps = 1;           ///< intermediate reports (a flat learning curve)
  double step_seconds = 0.0;        ///< sleep per step (tests of workers and resumes)
  template <class V>
  void visit(V& v) {
    v("function", function, "branin | hartmann6 | quadratic | group_loss");
    v("dims", dims, "quadratic: dimensions");
    v("steps", steps, "intermediate reports per trial");
    v("step_seconds", step_seconds, "seconds slept per step");
  }
};

struct TuneConfig {
  std::string base;                          ///< training config file ("" for function)
  config::Node set;                          ///< map merged onto base for trials and best.yaml
  config::Component objective{"train", {}};  ///< train | function
  config::Node space;                        ///< name -> ParamOptions, in order
  std::string metric;                        ///< validation metric ("" = base's)
  std::optional<Direction> direction;        ///< max | min ("" = base's validation.goal)
  config::Component sampler{"tpe", {}};      ///< random | grid | tpe
  config::Component pruner{"median", {}};    ///< none | median | asha
  ResourceOptions resources;                 ///< per-trial budget
  std::int64_t trials = 20;                  ///< trials in the study, in total
  std::uint64_t seed = 0;                    ///< seed of the sampler
  std::string study;                         ///< study directory
  std::string storage;                       ///< "" = STUDY/study.db, or postgresql://...
  std::int64_t workers = 1;                  ///< worker processes (wtp-tune spawns them)
  double timeout = 0.0;                      ///< no new trial after this many s (0 = none)
  double stale_after = 300.0;                ///< s without heartbeat: a worker is dead
  std::int64_t max_attempts = 2;             ///< starts of a trial before it fails
  bool keep_checkpoints = false;             ///< keep trials' checkpoints/ (disk)
  bool progress = false;                     ///< trainer progress bars inside trials

  template <class V>
  void visit(V& v) {
    v("base", base, "training config (path relative to this file)");
    v("set", set, "config merged onto base for every trial and best.yaml");
    v("objective", objective, "train (default) | function (a test function)");
    v("space", space, "search space: name -> {path, type, low, high, log, choices, when}");
    v("metric", metric, "validation metric (default: base's validation.metric)");
    v("direction", direction, "max | min (default: base's validation.goal)");
    v("sampler", sampler, "random | grid | tpe");
    v("pruner", pruner, "none | median | asha");
    v("resources", resources, "per-trial budget: epochs per stage, max_steps_per_epoch");
    v("trials", trials, "trials in the study (in total, over resumes)");
    v("seed", seed, "sampler seed");
    v("study", study, "study directory (study.db, trials/, best.yaml, ...)");
    v("storage", storage,
      "study database: \"\" = STUDY/study.db, or postgresql://... shared by workers on "
      "several machines");
    v("workers", workers, "worker processes on this study");
    v("timeout", timeout, "seconds after which no new trial starts (0 = none)");
    v("stale_after", stale_after, "seconds without heartbeat after which a worker is dead");
    v("max_attempts", max_attempts, "starts of a trial (after dead workers) before it fails");
    v("keep_checkpoints", keep_checkpoints, "keep every trial's checkpoints");
    v("progress", progress, "progress bars of the trainer inside trials");
  }
  void validate() const;
};

/// What an objective sees of its trial.
class TrialContext {
 public:
  TrialContext(std::int64_t number, Params params, std::vector<std::string> overrides,
               std::string dir, std::function<bool(std::int64_t, double)> report)
      : number_(number),
        params_(std::move(params)),
        overrides_(std::move(overrides)),
        dir_(std::move(dir)),
        report_(std::move(report)) {}
  std::int64_t number() const { return number_; }
  const Params& params() const { return params_; }
  /// "path=value" overrides of the trial's values.
  const std::vector<std::string>& overrides() const { return overrides_; }
  /// The trial's own directory (exists, empty at the start).
  const std::string& dir() const { return dir_; }
  /// Reports an intermediate value; returns false when the pruner stops the trial (the
  /// objective should return promptly; its return value is then ignored).
  bool report(std::int64_t step, double value) {
    last_ = value;
    if (pruned_) return false;
    if (!report_(step, value)) pruned_ = true;
    return !pruned_;
  }
  bool pruned() const { return pruned_; }
  std::optional<double> last_report() const { return last_; }

 private:
  std::int64_t number_;
  Params params_;
  std::vector<std::string> overrides_;
  std::string dir_;
  std::function<bool(std::int64_t, double)> report_;
  bool pruned_ = false;
  std::optional<double> last_;
};

/// An objective: runs the trial, returns its value. Exceptions mark the trial failed;
/// throw Interrupted to stop the worker and put the trial back in the queue.
using Objective = std::function<double(TrialContext&)>;

/// Thrown by an objective on Ctrl-C: the trial is re-queued and the worker stops.
struct Interrupted : std::runtime_error {
  Interrupted() : std::runtime_error("interrupted") {}
};

/// Per-invocation settings.
struct WorkerOptions {
  bool progress = true;  ///< a progress line per finished trial
};

struct StudySummary {
  std::vector<TrialRecord> trials;  ///< every trial, by number
  std::optional<TrialRecord> best;  ///< the best complete trial
  std::int64_t ran = 0;             ///< trials this worker finished
  bool interrupted = false;         ///< stopped by Ctrl-C
};

/// A study: its validated config, space, storage and components.
class Study {
 public:
  /// Decodes and validates a tune config (strict), loads the base training config,
  /// checks every parameter path against the decoded training config (each parameter
  /// set to values of its range; an unknown path names the path and the keys there), and
  /// opens or creates the study directory. Everything that can be wrong with the config
  /// fails here, before any trial. A study created with another space, objective or
  /// sampler refuses to open (UsageError).
  explicit Study(const config::Node& tune_node);
  ~Study();

  const TuneConfig& config() const { return cfg_; }
  const SearchSpace& space() const { return space_; }
  Direction direction() const { return direction_; }
  const std::string& dir() const { return dir_; }
  StudyStorage& storage() { return *storage_; }
  /// Where the study's database is: `storage`, or STUDY/study.db.
  std::string storage_location() const;

  /// The training config of a trial: base + set + resources + values, out = its
  /// directory, test off, the study's metric and direction.
  config::Node trial_config(const Params& params, const std::string& out) const;
  /// base + set + values, out = STUDY/best: the config for wtp-train.
  config::Node best_config(const Params& params) const;

  /// The objective of the config (train or function).
  Objective objective() const;

  /// Runs trials until none is left to claim (or the timeout / Ctrl-C), then writes the
  /// outputs. Several processes may run workers on the same study at once.
  StudySummary run_worker(const Objective& objective, const WorkerOptions& options);

  /// Writes best.yaml (if a trial completed), trials.csv and history.png (atomically).
  void write_outputs(const std::vector<TrialRecord>& trials) const;
  /// The summary table: one row per trial, the best marked.
  std::string summary_table(const std::vector<TrialRecord>& trials) const;

 private:
  TuneConfig cfg_;
  SearchSpace space_;
  Direction direction_ = Direction::kMaximize;
  config::Node base_;  ///< base training config with `set` merged (null for function)
  std::string dir_;
  std::unique_ptr<Sampler> sampler_;
  std::unique_ptr<Pruner> pruner_;
  std::unique_ptr<StudyStorage> storage_;
};

/// The objective for a test function: the space's parameters in order are its arguments
/// (categoricals by their numeric choice); reports the value `steps` times.
Objective function_objective(const FunctionObjectiveOptions& options, const SearchSpace& space);

}  // namespace wtp::tune
