#include "tune/storage.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "core/log.h"

namespace wtp::tune {

double unix_time() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

WorkerInfo WorkerInfo::current() {
  WorkerInfo w;
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "localhost");
  w.host = host;
  w.pid = static_cast<std::int64_t>(getpid());
  char id[400];
  std::snprintf(id, sizeof(id), "%s:%lld:%.6f", host, static_cast<long long>(w.pid), unix_time());
  w.id = id;
  return w;
}

namespace {

using db::Row;
using db::Tx;
using db::TxMode;

std::string params_json(const Params& params) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : params) j[k] = v;
  return j.dump();
}

Params parse_params(const std::string& text) {
  Params out;
  const auto j = nlohmann::json::parse(text);
  for (auto it = j.begin(); it != j.end(); ++it) out[it.key()] = it.value().get<double>();
  return out;
}

/// Whether the worker row says the process is gone.
bool worker_dead(const std::string& host, std::int64_t pid, double heartbeat, double stale_after,
                 const std::string& my_host) {
  if (host == my_host && pid > 0 && kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
    return true;
  return unix_time() - heartbeat > stale_after;
}

/// The study's tables, in SQL both engines accept (DOUBLE PRECISION: PostgreSQL's REAL is
/// single precision).
const char* const kSchema[] = {
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS trials(number BIGINT PRIMARY KEY, state TEXT NOT NULL,"
    " params TEXT NOT NULL, value DOUBLE PRECISION, message TEXT NOT NULL DEFAULT '',"
    " worker TEXT NOT NULL DEFAULT '', attempts BIGINT NOT NULL DEFAULT 0,"
    " started DOUBLE PRECISION NOT NULL DEFAULT 0, finished DOUBLE PRECISION NOT NULL DEFAULT 0)",
    "CREATE TABLE IF NOT EXISTS intermediate(trial BIGINT NOT NULL, step BIGINT NOT NULL,"
    " value DOUBLE PRECISION NOT NULL, PRIMARY KEY(trial, step))",
    "CREATE TABLE IF NOT EXISTS workers(id TEXT PRIMARY KEY, host TEXT NOT NULL,"
    " pid BIGINT NOT NULL, heartbeat DOUBLE PRECISION NOT NULL)",
};

/// Key of the PostgreSQL advisory lock held while creating the tables ("wtpTUNE").
constexpr const char* kSchemaLock = "SELECT pg_advisory_xact_lock(131365661378117)";

/// Every trial with its intermediate values, by number, as `tx` sees them.
std::vector<TrialRecord> all_trials(Tx& tx) {
  std::vector<TrialRecord> out;
  std::map<std::int64_t, std::size_t> index;
  for (const Row& r : tx.query("SELECT number, state, params, value, message, worker, attempts, "
                               "started, finished FROM trials ORDER BY number")) {
    TrialRecord t;
    t.number = r.integer(0);
    t.state = config::parse_enum<TrialState>(r.text(1), "trial state");
    t.params = parse_params(r.text(2));
    if (!r.is_null(3)) t.value = r.real(3);
    t.message = r.text(4);
    t.worker = r.text(5);
    t.attempts = r.integer(6);
    t.started = r.real(7);
    t.finished = r.real(8);
    index[t.number] = out.size();
    out.push_back(std::move(t));
  }
  for (const Row& r :
       tx.query("SELECT trial, step, value FROM intermediate ORDER BY trial, step")) {
    auto it = index.find(r.integer(0));
    if (it != index.end()) out[it->second].intermediate[r.integer(1)] = r.real(2);
  }
  return out;
}

}  // namespace

StudyStorage::StudyStorage(const std::string& location, double busy_timeout)
    : db_(db::open_sql_database(location, static_cast<std::int64_t>(busy_timeout * 1000))) {
  db_->transact(TxMode::kWrite, [&](Tx& tx) {
    if (db_->dialect() == db::Dialect::kPostgres) tx.query(kSchemaLock);
    for (const char* sql : kSchema) tx.execute(sql);
  });
}

StudyStorage::~StudyStorage() = default;

std::string StudyStorage::ensure_meta(const std::string& key, const std::string& value) {
  std::string stored;
  db_->transact(TxMode::kWrite, [&](Tx& tx) {
    tx.execute("INSERT INTO meta(key, value) VALUES($1, $2) ON CONFLICT(key) DO NOTHING",
               {key, value});
    stored = tx.query("SELECT value FROM meta WHERE key = $1", {key}).at(0).text(0);
  });
  return stored;
}

void StudyStorage::register_worker(const WorkerInfo& w) {
  db_->transact(TxMode::kWrite, [&](Tx& tx) {
    tx.execute(
        "INSERT INTO workers(id, host, pid, heartbeat) VALUES($1, $2, $3, $4) ON CONFLICT(id) "
        "DO UPDATE SET host = excluded.host, pid = excluded.pid, heartbeat = excluded.heartbeat",
        {w.id, w.host, w.pid, unix_time()});
  });
}

void StudyStorage::heartbeat(const std::string& worker_id) {
  db_->transact(TxMode::kWrite, [&](Tx& tx) {
    tx.execute("UPDATE workers SET heartbeat = $1 WHERE id = $2", {unix_time(), worker_id});
  });
}

std::vector<TrialRecord> StudyStorage::trials() {
  std::vector<TrialRecord> out;
  db_->transact(TxMode::kRead, [&](Tx& tx) { out = all_trials(tx); });  // one snapshot
  return out;
}

std::int64_t StudyStorage::count() {
  std::int64_t n = 0;
  db_->transact(TxMode::kRead,
                [&](Tx& tx) { n = tx.query("SELECT COUNT(*) FROM trials").at(0).integer(0); });
  return n;
}

std::optional<TrialRecord> StudyStorage::claim(const WorkerInfo& me, std::int64_t n_trials,
                                               bool allow_new, const Propose& propose,
                                               double stale_after, std::int64_t max_attempts) {
  std::optional<TrialRecord> claimed;
  std::vector<std::string> requeued;  // logged once committed (the work may be re-run)
  db_->transact(TxMode::kWrite, [&](Tx& tx) {
    claimed.reset();
    requeued.clear();
    // 1. Recover the running trials of dead workers.
    for (const Row& r :
         tx.query("SELECT t.number, t.attempts, t.worker, w.host, w.pid, w.heartbeat FROM trials "
                  "t LEFT JOIN workers w ON w.id = t.worker WHERE t.state = 'running' AND "
                  "t.worker != $1",
                  {me.id})) {
      const bool dead =
          r.is_null(3) || worker_dead(r.text(3), r.integer(4), r.real(5), stale_after, me.host);
      if (!dead) continue;
      const std::int64_t number = r.integer(0), attempts = r.integer(1);
      const bool retry = attempts < max_attempts;
      const std::string msg = "worker " + r.text(2) + " died during attempt " +
                              std::to_string(attempts) +
                              (retry ? "; re-queued" : "; no attempts left (max_attempts)");
      tx.execute(
          "UPDATE trials SET state = $1, message = $2, worker = '', finished = $3 WHERE "
          "number = $4",
          {std::string(retry ? "waiting" : "failed"), msg, retry ? 0.0 : unix_time(), number});
      if (retry) tx.execute("DELETE FROM intermediate WHERE trial = $1", {number});
      requeued.push_back("trial " + std::to_string(number) + ": " + msg);
    }

    // 2. A waiting trial, else a new one.
    auto all = all_trials(tx);
    for (auto& t : all)
      if (t.state == TrialState::kWaiting) {
        claimed = t;
        break;
      }
    if (!claimed && allow_new) {
      const auto number = static_cast<std::int64_t>(all.size());
      if (number < n_trials) {
        if (auto params = propose(all, number)) {
          TrialRecord t;
          t.number = number;
          t.params = std::move(*params);
          tx.execute("INSERT INTO trials(number, state, params) VALUES($1, 'waiting', $2)",
                     {number, params_json(t.params)});
          claimed = std::move(t);
        }
      }
    }
    if (!claimed) return;  // committed: keeps the recoveries
    claimed->state = TrialState::kRunning;
    claimed->worker = me.id;
    claimed->attempts += 1;
    claimed->started = unix_time();
    claimed->intermediate.clear();
    tx.execute(
        "UPDATE trials SET state = 'running', worker = $1, attempts = $2, started = $3 WHERE "
        "number = $4",
        {me.id, claimed->attempts, claimed->started, claimed->number});
  });
  for (const auto& m : requeued) log::warn(m);
  return claimed;
}

void StudyStorage::report(std::int64_t number, std::int64_t step, double value) {
  if (std::isnan(value)) return;  // NaN reports are not stored (the pruner sees none)
  db_->transact(TxMode::kWrite, [&](Tx& tx) {
    tx.execute(
        "INSERT INTO intermediate(trial, step, value) VALUES($1, $2, $3) "
        "ON CONFLICT(trial, step) DO UPDATE SET value = excluded.value",
        {number, step, value});
  });
}

bool StudyStorage::finish(std::int64_t number, const std::string& worker_id, TrialState state,
                          std::optional<double> value, const std::string& message) {
  const db::Value stored = value && std::isfinite(*value) ? db::Value(*value) : db::Value(nullptr);
  std::int64_t changed = 0;
  db_->transact(TxMode::kWrite, [&](Tx& tx) {
    changed = tx.execute(
        "UPDATE trials SET state = $1, value = $2, message = CASE WHEN $3 = '' THEN message "
        "ELSE $3 END, finished = $4 WHERE number = $5 AND worker = $6 AND state = 'running'",
        {config::enum_name(state), stored, message, unix_time(), number, worker_id});
  });
  return changed == 1;
}

void StudyStorage::release(std::int64_t number, const std::string& worker_id,
                           const std::string& message) {
  db_->transact(TxMode::kWrite, [&](Tx& tx) {
    tx.execute(
        "UPDATE trials SET state = 'waiting', worker = '', attempts = CASE WHEN attempts > 0 "
        "THEN attempts - 1 ELSE 0 END, message = $1 WHERE number = $2 AND worker = $3 AND "
        "state = 'running'",
        {message, number, worker_id});
    tx.execute("DELETE FROM intermediate WHERE trial = $1", {number});
  });
}

}  // namespace wtp::tune
