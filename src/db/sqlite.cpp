#include "db/sqlite.h"

#include <sqlite3.h>

namespace wtp::db {

SqliteDb::SqliteDb(const std::string& path, std::int64_t busy_timeout_ms) : path_(path) {
  if (sqlite3_open_v2(path.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw std::runtime_error("cannot open database " + path + ": " + msg);
  }
  sqlite3_extended_result_codes(db_, 1);
  sqlite3_busy_timeout(db_, static_cast<int>(busy_timeout_ms));
  try {
    exec("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON");
  } catch (...) {
    sqlite3_close(db_);
    throw;
  }
}

SqliteDb::~SqliteDb() { sqlite3_close(db_); }

void SqliteDb::exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    sqlite3_free(err);
    fail(sql);
  }
}

std::int64_t SqliteDb::changes() const { return sqlite3_changes(db_); }

std::int64_t SqliteDb::last_insert_id() const { return sqlite3_last_insert_rowid(db_); }

void SqliteDb::fail(const std::string& what) const {
  const std::string msg = "database " + path_ + ": " + sqlite3_errmsg(db_) + " (in: " + what + ")";
  const int code = sqlite3_extended_errcode(db_);
  if (code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY)
    throw UniqueViolation(msg);
  throw std::runtime_error(msg);
}

Statement::Statement(const SqliteDb& db, const std::string& sql) : db_(db) {
  if (sqlite3_prepare_v2(db.handle(), sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK) db.fail(sql);
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::check(int rc) {
  if (rc != SQLITE_OK) db_.fail(sqlite3_sql(stmt_));
}

Statement& Statement::bind(int i, std::int64_t v) {
  check(sqlite3_bind_int64(stmt_, i, v));
  return *this;
}

Statement& Statement::bind(int i, double v) {
  check(sqlite3_bind_double(stmt_, i, v));
  return *this;
}

Statement& Statement::bind(int i, const std::string& v) {
  check(sqlite3_bind_text(stmt_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  return *this;
}

Statement& Statement::bind_blob(int i, const void* data, std::size_t bytes) {
  check(sqlite3_bind_blob64(stmt_, i, data, bytes, SQLITE_TRANSIENT));
  return *this;
}

Statement& Statement::bind_null(int i) {
  check(sqlite3_bind_null(stmt_, i));
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  db_.fail(sqlite3_sql(stmt_));
}

std::int64_t Statement::run() {
  step();
  return db_.changes();
}

void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t Statement::integer(int col) const { return sqlite3_column_int64(stmt_, col); }

double Statement::real(int col) const { return sqlite3_column_double(stmt_, col); }

bool Statement::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

std::string Statement::text(int col) const {
  const auto* p = sqlite3_column_text(stmt_, col);
  return p ? std::string(reinterpret_cast<const char*>(p),
                         static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
           : std::string();
}

std::string Statement::blob(int col) const {
  const void* p = sqlite3_column_blob(stmt_, col);
  return p ? std::string(static_cast<const char*>(p),
                         static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
           : std::string();
}

Transaction::Transaction(SqliteDb& db, const char* begin) : db_(db) { db_.exec(begin); }

Transaction::~Transaction() {
  if (!done_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace wtp::db
