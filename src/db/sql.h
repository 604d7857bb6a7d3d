#pragma once
/// One database, SQLite or PostgreSQL, behind a small dialect-neutral interface, so that a
/// store whose SQL both understand is written once (tuning studies).
///
/// Statements use `$1`, `$2`, ... parameters (both engines accept them). Values are typed
/// (null, 64-bit integer, double, text) and read back without loss.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace wtp::db {

using Value = std::variant<std::nullptr_t, std::int64_t, double, std::string>;

/// One result row.
class Row {
 public:
  explicit Row(std::vector<Value> values) : values_(std::move(values)) {}
  bool is_null(int col) const;
  std::int64_t integer(int col) const;
  double real(int col) const;
  std::string text(int col) const;

 private:
  const Value& at(int col) const;
  std::vector<Value> values_;
};

/// The statements of one transaction.
class Tx {
 public:
  virtual ~Tx() = default;
  /// Runs `sql` and returns its rows.
  virtual std::vector<Row> query(const std::string& sql, const std::vector<Value>& params = {}) = 0;
  /// Runs `sql` and returns the number of rows it changed.
  virtual std::int64_t execute(const std::string& sql, const std::vector<Value>& params = {}) = 0;
};

enum class Dialect { kSqlite, kPostgres };
enum class TxMode {
  kRead,   ///< a consistent snapshot
  kWrite,  ///< serialisable with every other write transaction
};

class SqlDatabase {
 public:
  virtual ~SqlDatabase() = default;
  virtual Dialect dialect() const = 0;
  /// Runs `work` in one transaction: committed when it returns, rolled back when it throws.
  /// kWrite is serialisable: SQLite takes the write lock at BEGIN IMMEDIATE; PostgreSQL runs
  /// SERIALIZABLE and re-runs `work` from the start when the server aborts it with a
  /// serialization failure, so `work` must have no effect outside the transaction.
  virtual void transact(TxMode mode, const std::function<void(Tx&)>& work) = 0;
};

/// `location`: `postgresql://...` / `postgres://...` (a pool of up to `pool_size`
/// connections), else a SQLite file path (one connection behind a mutex, WAL, waiting up to
/// `busy_timeout_ms` for another process's lock).
std::unique_ptr<SqlDatabase> open_sql_database(const std::string& location,
                                               std::int64_t busy_timeout_ms = 600000,
                                               int pool_size = 2);

/// True for a `postgresql://` or `postgres://` URL.
bool is_postgres_url(const std::string& location);

}  // namespace wtp::db
