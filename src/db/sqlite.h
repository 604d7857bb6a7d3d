#pragma once
/// Small RAII helpers over SQLite's C API, shared by every SQLite database of wtp (tuning
/// studies, the log-in service's store).
///
/// Errors are std::runtime_error naming the database file and SQLite's message; a
/// uniqueness violation is UniqueViolation so callers can map it to their own error.
#include <cstdint>
#include <stdexcept>
#include <string>

struct sqlite3;
struct sqlite3_stmt;

namespace wtp::db {

/// A UNIQUE or PRIMARY KEY constraint failed.
class UniqueViolation : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An open SQLite connection (closed on destruction), in WAL mode with foreign keys on and
/// `busy_timeout_ms` to wait for another connection's write lock.
class SqliteDb {
 public:
  /// Opens (creating if needed) `path`. Throws std::runtime_error naming it on failure.
  explicit SqliteDb(const std::string& path, std::int64_t busy_timeout_ms = 600000);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  /// Runs one or more statements without results.
  void exec(const std::string& sql);
  /// Rows changed by the last INSERT/UPDATE/DELETE.
  std::int64_t changes() const;
  std::int64_t last_insert_id() const;
  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }
  /// Throws the error of the last failed call (UniqueViolation for a uniqueness conflict),
  /// mentioning `what`.
  [[noreturn]] void fail(const std::string& what) const;

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

/// A prepared statement with positional binding (1-based); finalized on destruction.
class Statement {
 public:
  Statement(const SqliteDb& db, const std::string& sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int i, std::int64_t v);
  Statement& bind(int i, double v);
  Statement& bind(int i, const std::string& v);
  Statement& bind_blob(int i, const void* data, std::size_t bytes);
  Statement& bind_null(int i);
  /// Steps once: true if a row is available.
  bool step();
  /// Steps once and returns the number of rows changed (for INSERT/UPDATE/DELETE).
  std::int64_t run();
  /// Makes the statement ready to run again with new bindings.
  void reset();
  std::int64_t integer(int col) const;
  double real(int col) const;
  bool is_null(int col) const;
  std::string text(int col) const;
  /// The column's bytes (BLOB or TEXT).
  std::string blob(int col) const;

 private:
  void check(int rc);
  const SqliteDb& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

/// Begins a transaction (`begin`: "BEGIN", "BEGIN IMMEDIATE", ...) and rolls it back on
/// destruction unless committed.
class Transaction {
 public:
  Transaction(SqliteDb& db, const char* begin = "BEGIN IMMEDIATE");
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  SqliteDb& db_;
  bool done_ = false;
};

}  // namespace wtp::db
