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
#include "db/sqlite.h"

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

using db::Statement;
using db::Transaction;

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

}  // namespace

StudyStorage::StudyStorage(const std::string& path, double busy_timeout)
    : db_(path, static_cast<std::int64_t>(busy_timeout * 1000)) {
  db_.exec("PRAGMA synchronous=NORMAL");
  Transaction t(db_);
  db_.exec(
      "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
      "CREATE TABLE IF NOT EXISTS trials(number INTEGER PRIMARY KEY, state TEXT NOT NULL,"
      " params TEXT NOT NULL, value REAL, message TEXT NOT NULL DEFAULT '',"
      " worker TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 0,"
      " started REAL NOT NULL DEFAULT 0, finished REAL NOT NULL DEFAULT 0);"
      "CREATE TABLE IF NOT EXISTS intermediate(trial INTEGER NOT NULL, step INTEGER NOT NULL,"
      " value REAL NOT NULL, PRIMARY KEY(trial, step));"
      "CREATE TABLE IF NOT EXISTS workers(id TEXT PRIMARY KEY, host TEXT NOT NULL,"
      " pid INTEGER NOT NULL, heartbeat REAL NOT NULL);");
  t.commit();
}

StudyStorage::~StudyStorage() = default;

std::string StudyStorage::ensure_meta(const std::string& key, const std::string& value) {
  Transaction t(db_);
  {
    Statement s(db_, "SELECT value FROM meta WHERE key = ?");
    s.bind(1, key);
    if (s.step()) return s.text(0);  // rolled back: nothing written
  }
  Statement(db_, "INSERT INTO meta(key, value) VALUES(?, ?)").bind(1, key).bind(2, value).step();
  t.commit();
  return value;
}

void StudyStorage::register_worker(const WorkerInfo& w) {
  Statement(db_, "INSERT OR REPLACE INTO workers(id, host, pid, heartbeat) VALUES(?, ?, ?, ?)")
      .bind(1, w.id)
      .bind(2, w.host)
      .bind(3, w.pid)
      .bind(4, unix_time())
      .step();
}

void StudyStorage::heartbeat(const std::string& worker_id) {
  Statement(db_, "UPDATE workers SET heartbeat = ? WHERE id = ?")
      .bind(1, unix_time())
      .bind(2, worker_id)
      .step();
}

std::vector<TrialRecord> StudyStorage::trials_locked() {
  std::vector<TrialRecord> out;
  std::map<std::int64_t, std::size_t> index;
  {
    Statement s(db_,
                "SELECT number, state, params, value, message, worker, attempts, started, "
                "finished FROM trials ORDER BY number");
    while (s.step()) {
      TrialRecord t;
      t.number = s.integer(0);
      t.state = config::parse_enum<TrialState>(s.text(1), "trial state");
      t.params = parse_params(s.text(2));
      if (!s.is_null(3)) t.value = s.real(3);
      t.message = s.text(4);
      t.worker = s.text(5);
      t.attempts = s.integer(6);
      t.started = s.real(7);
      t.finished = s.real(8);
      index[t.number] = out.size();
      out.push_back(std::move(t));
    }
  }
  Statement s(db_, "SELECT trial, step, value FROM intermediate ORDER BY trial, step");
  while (s.step()) {
    auto it = index.find(s.integer(0));
    if (it != index.end()) out[it->second].intermediate[s.integer(1)] = s.real(2);
  }
  return out;
}

std::vector<TrialRecord> StudyStorage::trials() {
  Transaction t(db_, "BEGIN");  // one consistent snapshot of both tables
  auto out = trials_locked();
  t.commit();
  return out;
}

std::int64_t StudyStorage::count() {
  Statement s(db_, "SELECT COUNT(*) FROM trials");
  s.step();
  return s.integer(0);
}

std::optional<TrialRecord> StudyStorage::claim(const WorkerInfo& me, std::int64_t n_trials,
                                               bool allow_new, const Propose& propose,
                                               double stale_after, std::int64_t max_attempts) {
  Transaction t(db_);
  // 1. Recover the running trials of dead workers.
  struct Orphan {
    std::int64_t number, attempts;
    std::string worker;
  };
  std::vector<Orphan> orphans;
  {
    Statement s(db_,
                "SELECT t.number, t.attempts, t.worker, w.host, w.pid, w.heartbeat FROM trials t "
                "LEFT JOIN workers w ON w.id = t.worker WHERE t.state = 'running' AND "
                "t.worker != ?");
    s.bind(1, me.id);
    while (s.step()) {
      const bool dead =
          s.is_null(3) || worker_dead(s.text(3), s.integer(4), s.real(5), stale_after, me.host);
      if (dead) orphans.push_back({s.integer(0), s.integer(1), s.text(2)});
    }
  }
  for (const auto& o : orphans) {
    const bool retry = o.attempts < max_attempts;
    const std::string msg = "worker " + o.worker + " died during attempt " +
                            std::to_string(o.attempts) +
                            (retry ? "; re-queued" : "; no attempts left (max_attempts)");
    Statement(db_,
              "UPDATE trials SET state = ?, message = ?, worker = '', finished = ? WHERE "
              "number = ?")
        .bind(1, std::string(retry ? "waiting" : "failed"))
        .bind(2, msg)
        .bind(3, retry ? 0.0 : unix_time())
        .bind(4, o.number)
        .step();
    if (retry) Statement(db_, "DELETE FROM intermediate WHERE trial = ?").bind(1, o.number).step();
    log::warn("trial ", o.number, ": ", msg);
  }

  // 2. A waiting trial, else a new one.
  std::optional<TrialRecord> claimed;
  {
    Statement s(db_, "SELECT number FROM trials WHERE state = 'waiting' ORDER BY number LIMIT 1");
    if (s.step()) {
      const std::int64_t number = s.integer(0);
      for (auto& tr : trials_locked())
        if (tr.number == number) claimed = std::move(tr);
    }
  }
  if (!claimed && allow_new) {
    auto all = trials_locked();
    const auto number = static_cast<std::int64_t>(all.size());
    if (number < n_trials) {
      if (auto params = propose(all, number)) {
        TrialRecord tr;
        tr.number = number;
        tr.params = std::move(*params);
        Statement(db_, "INSERT INTO trials(number, state, params) VALUES(?, 'waiting', ?)")
            .bind(1, number)
            .bind(2, params_json(tr.params))
            .step();
        claimed = std::move(tr);
      }
    }
  }
  if (!claimed) {
    t.commit();  // keep the recoveries
    return std::nullopt;
  }
  claimed->state = TrialState::kRunning;
  claimed->worker = me.id;
  claimed->attempts += 1;
  claimed->started = unix_time();
  claimed->intermediate.clear();
  Statement(db_,
            "UPDATE trials SET state = 'running', worker = ?, attempts = ?, started = ? WHERE "
            "number = ?")
      .bind(1, me.id)
      .bind(2, claimed->attempts)
      .bind(3, claimed->started)
      .bind(4, claimed->number)
      .step();
  t.commit();
  return claimed;
}

void StudyStorage::report(std::int64_t number, std::int64_t step, double value) {
  if (std::isnan(value)) return;  // NaN reports are not stored (the pruner sees none)
  Statement(db_, "INSERT OR REPLACE INTO intermediate(trial, step, value) VALUES(?, ?, ?)")
      .bind(1, number)
      .bind(2, step)
      .bind(3, value)
      .step();
}

bool StudyStorage::finish(std::int64_t number, const std::string& worker_id, TrialState state,
                          std::optional<double> value, const std::string& message) {
  Statement s(db_,
              "UPDATE trials SET state = ?, value = ?, message = CASE WHEN ?3 = '' THEN message "
              "ELSE ?3 END, finished = ? WHERE number = ? AND worker = ? AND state = 'running'");
  s.bind(1, config::enum_name(state));
  if (value && std::isfinite(*value))
    s.bind(2, *value);
  else
    s.bind_null(2);
  s.bind(3, message).bind(4, unix_time()).bind(5, number).bind(6, worker_id);
  return s.run() == 1;
}

void StudyStorage::release(std::int64_t number, const std::string& worker_id,
                           const std::string& message) {
  Transaction t(db_);
  Statement(db_,
            "UPDATE trials SET state = 'waiting', worker = '', attempts = MAX(attempts - 1, 0), "
            "message = ? WHERE number = ? AND worker = ? AND state = 'running'")
      .bind(1, message)
      .bind(2, number)
      .bind(3, worker_id)
      .step();
  Statement(db_, "DELETE FROM intermediate WHERE trial = ?").bind(1, number).step();
  t.commit();
}

}  // namespace wtp::tune
