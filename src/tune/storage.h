#pragma once
/// The SQLite store of a study (STUDY/study.db), shared by every worker process.
///
/// Concurrency: each process opens its own connection (WAL journal, busy timeout).
/// Claiming a trial is one `BEGIN IMMEDIATE` transaction (a write lock from the start),
/// so two workers can never claim the same trial or create the same trial number.
///
/// Dead workers: every worker has a row in `workers` with its host, pid and a heartbeat
/// (refreshed by a background thread). A worker is dead when it ran on this host and its
/// pid no longer exists, or its heartbeat is older than `stale_after` seconds (other
/// hosts, hung processes). At every claim, the running trials of dead workers are
/// re-queued (state waiting, intermediate values dropped, run again from scratch by the
/// next free worker) until they were started `max_attempts` times; then they are marked
/// failed. So a killed study loses no trial and runs none twice to completion: a trial
/// number reaches a final state (complete, pruned, failed) exactly once.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "db/sqlite.h"
#include "tune/trial.h"

namespace wtp::tune {

/// Who runs trials: one per process.
struct WorkerInfo {
  std::string id;    ///< unique: host:pid:start time
  std::string host;  ///< gethostname()
  std::int64_t pid = 0;
  /// The calling process as a worker.
  static WorkerInfo current();
};

/// Seconds since the Unix epoch.
double unix_time();

class StudyStorage {
 public:
  /// Opens (creating if needed) the database file. `busy_timeout` seconds to wait for
  /// another worker's lock.
  explicit StudyStorage(const std::string& path, double busy_timeout = 600.0);
  ~StudyStorage();
  StudyStorage(const StudyStorage&) = delete;
  StudyStorage& operator=(const StudyStorage&) = delete;

  /// Stores key = value on first use; afterwards returns the stored value (the caller
  /// compares it, e.g. to refuse a different search space on the same study).
  std::string ensure_meta(const std::string& key, const std::string& value);

  /// Registers (or refreshes) a worker row with a heartbeat of now.
  void register_worker(const WorkerInfo& worker);
  /// Sets the worker's heartbeat to now.
  void heartbeat(const std::string& worker_id);

  /// Proposes the parameters of new trial `number` given all trials (inside the claim
  /// transaction); nullopt = no more points.
  using Propose =
      std::function<std::optional<Params>(const std::vector<TrialRecord>&, std::int64_t)>;

  /// In one transaction: re-queues (or fails) the running trials of dead workers, then
  /// claims the lowest waiting trial, or creates trial number `count` with `propose` if
  /// the study has fewer than `n_trials` trials and `allow_new`. The claimed trial is
  /// running, owned by `worker`, attempts incremented. nullopt: nothing to run.
  std::optional<TrialRecord> claim(const WorkerInfo& worker, std::int64_t n_trials, bool allow_new,
                                   const Propose& propose, double stale_after,
                                   std::int64_t max_attempts);

  /// Records an intermediate value (replacing one at the same step).
  void report(std::int64_t number, std::int64_t step, double value);
  /// Ends a running trial owned by `worker_id` ("" message keeps the trial's earlier
  /// note, e.g. that it was re-queued). Returns false (and changes nothing) when
  /// the trial is no longer this worker's (it was declared dead and re-queued).
  bool finish(std::int64_t number, const std::string& worker_id, TrialState state,
              std::optional<double> value, const std::string& message);
  /// Puts a running trial of `worker_id` back to waiting (e.g. Ctrl-C); its attempt does
  /// not count.
  void release(std::int64_t number, const std::string& worker_id, const std::string& message);

  /// Every trial with its intermediate values, by number.
  std::vector<TrialRecord> trials();
  /// Number of trials (any state).
  std::int64_t count();

 private:
  std::vector<TrialRecord> trials_locked();
  db::SqliteDb db_;
};

}  // namespace wtp::tune
