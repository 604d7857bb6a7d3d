#include "db/sql.h"

#include <mutex>
#include <sqlite3.h>
#include <stdexcept>

#include "db/postgres.h"
#include "db/sqlite.h"

namespace wtp::db {

const Value& Row::at(int col) const {
  if (col < 0 || col >= static_cast<int>(values_.size()))
    throw std::out_of_range("database row: no column " + std::to_string(col));
  return values_[static_cast<std::size_t>(col)];
}

bool Row::is_null(int col) const { return std::holds_alternative<std::nullptr_t>(at(col)); }

std::int64_t Row::integer(int col) const {
  const Value& v = at(col);
  if (const auto* i = std::get_if<std::int64_t>(&v)) return *i;
  if (const auto* d = std::get_if<double>(&v)) return static_cast<std::int64_t>(*d);
  if (const auto* s = std::get_if<std::string>(&v)) return std::stoll(*s);
  return 0;
}

double Row::real(int col) const {
  const Value& v = at(col);
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* i = std::get_if<std::int64_t>(&v)) return static_cast<double>(*i);
  if (const auto* s = std::get_if<std::string>(&v)) return std::stod(*s);
  return 0.0;
}

std::string Row::text(int col) const {
  const Value& v = at(col);
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* i = std::get_if<std::int64_t>(&v)) return std::to_string(*i);
  if (const auto* d = std::get_if<double>(&v)) return std::to_string(*d);
  return "";
}

bool is_postgres_url(const std::string& location) {
  return location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0;
}

namespace {

class SqliteTx final : public Tx {
 public:
  explicit SqliteTx(SqliteDb& db) : db_(db) {}
  std::vector<Row> query(const std::string& sql, const std::vector<Value>& params) override {
    Statement s(db_, sql);
    bind(s, params);
    std::vector<Row> rows;
    while (s.step()) {
      std::vector<Value> values;
      for (int c = 0; c < s.column_count(); ++c) {
        switch (s.column_type(c)) {
          case SQLITE_NULL:
            values.emplace_back(nullptr);
            break;
          case SQLITE_INTEGER:
            values.emplace_back(s.integer(c));
            break;
          case SQLITE_FLOAT:
            values.emplace_back(s.real(c));
            break;
          default:
            values.emplace_back(s.text(c));
        }
      }
      rows.emplace_back(std::move(values));
    }
    return rows;
  }
  std::int64_t execute(const std::string& sql, const std::vector<Value>& params) override {
    Statement s(db_, sql);
    bind(s, params);
    return s.run();
  }

 private:
  static void bind(Statement& s, const std::vector<Value>& params) {
    for (std::size_t i = 0; i < params.size(); ++i) {
      const int index = s.parameter_index("$" + std::to_string(i + 1));
      if (index == 0) continue;  // not used by this statement
      std::visit(
          [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::nullptr_t>)
              s.bind_null(index);
            else
              s.bind(index, v);
          },
          params[i]);
    }
  }
  SqliteDb& db_;
};

class SqliteDatabase final : public SqlDatabase {
 public:
  SqliteDatabase(const std::string& path, std::int64_t busy_timeout_ms)
      : db_(path, busy_timeout_ms) {
    db_.exec("PRAGMA synchronous=NORMAL");
  }
  Dialect dialect() const override { return Dialect::kSqlite; }
  void transact(TxMode mode, const std::function<void(Tx&)>& work) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Transaction t(db_, mode == TxMode::kWrite ? "BEGIN IMMEDIATE" : "BEGIN");
    SqliteTx tx(db_);
    work(tx);
    t.commit();
  }

 private:
  SqliteDb db_;
  std::mutex mutex_;
};

class PostgresTx final : public Tx {
 public:
  explicit PostgresTx(pqxx::transaction_base& w) : w_(w) {}
  std::vector<Row> query(const std::string& sql, const std::vector<Value>& params) override {
    const pqxx::result r = run(sql, params);
    std::vector<Row> rows;
    for (const auto& row : r) {
      std::vector<Value> values;
      for (const auto& f : row) {
        if (f.is_null())
          values.emplace_back(nullptr);
        else
          values.emplace_back(f.as<std::string>());  // converted on access, exactly
      }
      rows.emplace_back(std::move(values));
    }
    return rows;
  }
  std::int64_t execute(const std::string& sql, const std::vector<Value>& params) override {
    return static_cast<std::int64_t>(run(sql, params).affected_rows());
  }

 private:
  pqxx::result run(const std::string& sql, const std::vector<Value>& params) {
    std::vector<std::string> text(params.size());
    std::vector<const char*> args(params.size(), nullptr);  // nullptr = NULL
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (std::holds_alternative<std::nullptr_t>(params[i])) continue;
      if (const auto* s = std::get_if<std::string>(&params[i]))
        text[i] = *s;
      else if (const auto* n = std::get_if<std::int64_t>(&params[i]))
        text[i] = std::to_string(*n);
      else
        text[i] = pqxx::to_string(std::get<double>(params[i]));  // round-trips exactly
      args[i] = text[i].c_str();
    }
    return w_.exec_params(sql, pqxx::prepare::make_dynamic_params(args));
  }
  pqxx::transaction_base& w_;
};

class PostgresDatabase final : public SqlDatabase {
 public:
  PostgresDatabase(const std::string& url, int pool_size) : pool_(url, pool_size) {}
  Dialect dialect() const override { return Dialect::kPostgres; }
  void transact(TxMode mode, const std::function<void(Tx&)>& work) override {
    pool_.run([&](pqxx::connection& c) {
      if (mode == TxMode::kWrite) {
        pqxx::transaction<pqxx::serializable> w(c);
        PostgresTx tx(w);
        work(tx);
        w.commit();
      } else {
        pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> w(c);
        PostgresTx tx(w);
        work(tx);
        w.commit();
      }
    });
  }

 private:
  PgPool pool_;
};

}  // namespace

std::unique_ptr<SqlDatabase> open_sql_database(const std::string& location,
                                               std::int64_t busy_timeout_ms, int pool_size) {
  if (is_postgres_url(location)) return std::make_unique<PostgresDatabase>(location, pool_size);
  return std::make_unique<SqliteDatabase>(location, busy_timeout_ms);
}

}  // namespace wtp::db
