#include "serve/store_postgres.h"

#include <stdexcept>

#include "db/postgres.h"
#include "serve/store_common.h"

namespace wtp::serve {
namespace {

/// Key of the advisory lock held while migrating (any constant shared by all instances).
constexpr long long kMigrationLock = 0x777470'5345'5256;  // "wtpSERV"

using pqxx::connection;
using Work = pqxx::work;

std::int64_t i64(const pqxx::field& f) { return f.as<std::int64_t>(); }

const char* const kUserColumns =
    "u.id, u.employee_id, u.name, u.created_at, "
    "(SELECT COUNT(*) FROM templates t WHERE t.user_id = u.id)";

User read_user(const pqxx::row& r) {
  return {i64(r[0]), r[1].as<std::string>(), r[2].as<std::string>(), i64(r[3]), i64(r[4])};
}

const char* const kEventColumns = "id, user_id, employee_id, name, kind, at, day";

AttendanceEvent read_event(const pqxx::row& r) {
  AttendanceEvent e;
  e.id = i64(r[0]);
  if (!r[1].is_null()) e.user_id = i64(r[1]);
  e.employee_id = r[2].as<std::string>();
  e.name = r[3].as<std::string>();
  e.kind = detail::parse_kind(r[4].as<std::string>());
  e.at = i64(r[5]);
  e.day = r[6].as<std::string>();
  return e;
}

const char* const kApiKeyColumns = "id, admin_id, name, prefix, created_at, revoked_at";

ApiKey read_api_key(const pqxx::row& r) {
  ApiKey k{i64(r[0]), i64(r[1]),   r[2].as<std::string>(), r[3].as<std::string>(),
           i64(r[4]), std::nullopt};
  if (!r[5].is_null()) k.revoked_at = i64(r[5]);
  return k;
}

/// Call inside the transaction that changes users or templates.
void bump_templates_version(Work& w) {
  w.exec0("UPDATE counters SET value = value + 1 WHERE name = 'templates'");
}

class PostgresStore final : public Store {
 public:
  explicit PostgresStore(const std::string& url) : pool_(url) {
    pool_.run([&](connection& c) {
      Work w(c);
      w.exec("SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLock) + ")");
      w.exec0(
          "CREATE TABLE IF NOT EXISTS schema_version(version BIGINT PRIMARY KEY, "
          "applied_at BIGINT NOT NULL)");
      const std::int64_t found =
          i64(w.exec1("SELECT COALESCE(MAX(version), 0) FROM schema_version")[0]);
      detail::check_schema_version(found, pool_.redacted_url());
      for (std::int64_t v = found; v < detail::kSchemaVersion; ++v) {
        w.exec0(detail::migration(v, detail::Dialect::kPostgres));
        w.exec_params0("INSERT INTO schema_version(version, applied_at) VALUES($1, $2)", v + 1,
                       detail::unix_ms());
      }
      w.commit();
    });
  }

  User create_user(const std::string& employee_id, const std::string& name,
                   std::int64_t now) override {
    const auto id = insert_unique(
        "a user with employee id '" + employee_id + "' exists", true,
        "INSERT INTO users(employee_id, name, created_at) VALUES($1, $2, $3) RETURNING id",
        employee_id, name, now);
    return User{id, employee_id, name, now, 0};
  }

  std::optional<User> find_user(std::int64_t id) override {
    return find_user_where("u.id = $1", std::to_string(id));
  }

  std::optional<User> find_user_by_employee_id(const std::string& employee_id) override {
    return find_user_where("u.employee_id = $1", employee_id);
  }

  std::vector<User> list_users(const std::string& query, std::int64_t offset, std::int64_t limit,
                               std::int64_t& total) override {
    return pool_.run([&](connection& c) {
      pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> w(c);  // one snapshot
      const std::string where =
          " FROM users u WHERE u.name ILIKE $1 ESCAPE '\\' OR u.employee_id ILIKE $1 ESCAPE '\\'";
      const std::string pattern = detail::like_pattern(query);
      total = i64(w.exec_params1("SELECT COUNT(*)" + where, pattern)[0]);
      std::vector<User> out;
      for (const auto& r : w.exec_params(
               std::string("SELECT ") + kUserColumns + where + " ORDER BY u.id LIMIT $2 OFFSET $3",
               pattern, limit, offset))
        out.push_back(read_user(r));
      w.commit();
      return out;
    });
  }

  bool delete_user(std::int64_t id) override {
    return pool_.run([&](connection& c) {
      Work w(c);
      if (w.exec_params0("DELETE FROM users WHERE id = $1", id).affected_rows() == 0) return false;
      bump_templates_version(w);
      w.commit();
      return true;
    });
  }

  void add_templates(std::int64_t user_id, const std::string& model_md5,
                     const std::vector<std::vector<float>>& embeddings, std::int64_t now) override {
    const std::int64_t dim = detail::check_embeddings(embeddings);
    pool_.run([&](connection& c) {
      Work w(c);
      if (w.exec_params("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", user_id).empty())
        throw std::invalid_argument("add_templates: no user with id " + std::to_string(user_id));
      for (const auto& e : embeddings)
        w.exec_params0(
            "INSERT INTO templates(user_id, model_md5, dim, embedding, created_at) "
            "VALUES($1, $2, $3, $4, $5)",
            user_id, model_md5, dim, pqxx::binarystring(e.data(), e.size() * sizeof(float)), now);
      bump_templates_version(w);
      w.commit();
    });
  }

  std::vector<Template> all_templates() override {
    return pool_.run([&](connection& c) {
      pqxx::read_transaction w(c);
      std::vector<Template> out;
      for (const auto& r :
           w.exec("SELECT id, user_id, model_md5, dim, embedding FROM templates ORDER BY id")) {
        const pqxx::binarystring blob(r[4]);
        out.push_back({i64(r[0]), i64(r[1]), r[2].as<std::string>(),
                       detail::embedding_from_blob(blob.str(), i64(r[3]))});
      }
      w.commit();
      return out;
    });
  }

  std::int64_t templates_version() override {
    return pool_.run([&](connection& c) {
      pqxx::nontransaction w(c);
      return i64(w.exec1("SELECT value FROM counters WHERE name = 'templates'")[0]);
    });
  }

  AttendanceEvent record_attendance(std::int64_t user_id, std::int64_t at, const std::string& day,
                                    std::int64_t debounce_ms) override {
    return pool_.run([&](connection& c) {
      Work w(c);
      // The user's row lock serialises this user's check-ins across instances.
      const auto u =
          w.exec_params("SELECT employee_id, name FROM users WHERE id = $1 FOR UPDATE", user_id);
      if (u.empty())
        throw std::invalid_argument("record_attendance: no user with id " +
                                    std::to_string(user_id));
      const auto last = w.exec_params(std::string("SELECT ") + kEventColumns +
                                          " FROM attendance WHERE user_id = $1 "
                                          "ORDER BY at DESC, id DESC LIMIT 1",
                                      user_id);
      if (!last.empty() && at - i64(last[0][5]) < debounce_ms) return read_event(last[0]);
      AttendanceEvent e;
      e.user_id = user_id;
      e.employee_id = u[0][0].as<std::string>();
      e.name = u[0][1].as<std::string>();
      e.at = at;
      e.day = day;
      const auto today = w.exec_params(
          "SELECT kind FROM attendance WHERE user_id = $1 AND day = $2 "
          "ORDER BY at DESC, id DESC LIMIT 1",
          user_id, day);
      const bool checked_in = !today.empty() && today[0][0].as<std::string>() == "check_in";
      e.kind = checked_in ? AttendanceKind::kCheckOut : AttendanceKind::kCheckIn;
      e.id = i64(w.exec_params1(
          "INSERT INTO attendance(user_id, employee_id, name, kind, at, day) "
          "VALUES($1, $2, $3, $4, $5, $6) RETURNING id",
          user_id, e.employee_id, e.name, std::string(detail::kind_name(e.kind)), at, day)[0]);
      w.commit();
      return e;
    });
  }

  std::vector<AttendanceEvent> attendance(std::optional<std::int64_t> user_id,
                                          const std::string& from_day,
                                          const std::string& to_day) override {
    return pool_.run([&](connection& c) {
      pqxx::nontransaction w(c);
      const std::string sql = std::string("SELECT ") + kEventColumns +
                              " FROM attendance WHERE ($1::bigint IS NULL OR user_id = $1) AND "
                              "($2 = '' OR day >= $2) AND ($3 = '' OR day <= $3) ORDER BY at, id";
      const auto rows = user_id ? w.exec_params(sql, *user_id, from_day, to_day)
                                : w.exec_params(sql, nullptr, from_day, to_day);
      std::vector<AttendanceEvent> out;
      for (const auto& r : rows) out.push_back(read_event(r));
      return out;
    });
  }

  void put_challenge(const std::string& nonce_hash, const std::string& payload,
                     std::int64_t expires_at) override {
    write("INSERT INTO challenges(nonce_hash, payload, expires_at) VALUES($1, $2, $3)", nonce_hash,
          payload, expires_at);
  }

  std::optional<std::string> take_challenge(const std::string& nonce_hash,
                                            std::int64_t now) override {
    return pool_.run([&](connection& c) -> std::optional<std::string> {
      Work w(c);
      const auto r = w.exec_params(
          "UPDATE challenges SET used = true WHERE nonce_hash = $1 AND used = false AND "
          "expires_at > $2 RETURNING payload",
          nonce_hash, now);
      w.exec_params0("DELETE FROM challenges WHERE expires_at <= $1", now);
      w.commit();
      if (r.empty()) return std::nullopt;
      return r[0][0].as<std::string>();
    });
  }

  Admin create_admin(const std::string& name, const std::string& password_hash,
                     std::int64_t now) override {
    const auto id = insert_unique(
        "an administrator named '" + name + "' exists", false,
        "INSERT INTO admins(name, password_hash, created_at) VALUES($1, $2, $3) RETURNING id", name,
        password_hash, now);
    return Admin{id, name, password_hash, now};
  }

  std::optional<Admin> find_admin(const std::string& name) override {
    return pool_.run([&](connection& c) -> std::optional<Admin> {
      pqxx::nontransaction w(c);
      const auto r = w.exec_params(
          "SELECT id, name, password_hash, created_at FROM admins WHERE name = $1", name);
      if (r.empty()) return std::nullopt;
      return Admin{i64(r[0][0]), r[0][1].as<std::string>(), r[0][2].as<std::string>(),
                   i64(r[0][3])};
    });
  }

  std::vector<Admin> list_admins() override {
    return pool_.run([&](connection& c) {
      pqxx::nontransaction w(c);
      std::vector<Admin> out;
      for (const auto& row :
           w.exec("SELECT id, name, password_hash, created_at FROM admins ORDER BY id"))
        out.push_back(
            Admin{i64(row[0]), row[1].as<std::string>(), row[2].as<std::string>(), i64(row[3])});
      return out;
    });
  }

  std::int64_t count_admins() override {
    return pool_.run([&](connection& c) {
      pqxx::nontransaction w(c);
      return i64(w.exec1("SELECT COUNT(*) FROM admins")[0]);
    });
  }

  void create_session(const std::string& token_hash, std::int64_t admin_id,
                      const std::string& csrf_token, std::int64_t expires_at) override {
    write(
        "INSERT INTO sessions(token_hash, admin_id, csrf_token, expires_at) "
        "VALUES($1, $2, $3, $4)",
        token_hash, admin_id, csrf_token, expires_at);
  }

  std::optional<Session> find_session(const std::string& token_hash, std::int64_t now) override {
    return pool_.run([&](connection& c) -> std::optional<Session> {
      pqxx::nontransaction w(c);
      const auto r = w.exec_params(
          "SELECT s.admin_id, a.name, s.csrf_token, s.expires_at FROM sessions s "
          "JOIN admins a ON a.id = s.admin_id WHERE s.token_hash = $1 AND s.expires_at > $2",
          token_hash, now);
      if (r.empty()) return std::nullopt;
      return Session{i64(r[0][0]), r[0][1].as<std::string>(), r[0][2].as<std::string>(),
                     i64(r[0][3])};
    });
  }

  void delete_session(const std::string& token_hash) override {
    write("DELETE FROM sessions WHERE token_hash = $1", token_hash);
  }

  ApiKey create_api_key(std::int64_t admin_id, const std::string& name, const std::string& prefix,
                        const std::string& key_hash, std::int64_t now) override {
    const auto id = insert_unique("an API key with this hash exists", false,
                                  "INSERT INTO api_keys(admin_id, name, prefix, key_hash, "
                                  "created_at) VALUES($1, $2, $3, $4, $5) RETURNING id",
                                  admin_id, name, prefix, key_hash, now);
    return ApiKey{id, admin_id, name, prefix, now, std::nullopt};
  }

  std::optional<ApiKey> find_api_key(const std::string& key_hash) override {
    return pool_.run([&](connection& c) -> std::optional<ApiKey> {
      pqxx::nontransaction w(c);
      const auto r = w.exec_params(std::string("SELECT ") + kApiKeyColumns +
                                       " FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
                                   key_hash);
      if (r.empty()) return std::nullopt;
      return read_api_key(r[0]);
    });
  }

  std::vector<ApiKey> list_api_keys() override {
    return pool_.run([&](connection& c) {
      pqxx::nontransaction w(c);
      std::vector<ApiKey> out;
      for (const auto& r :
           w.exec(std::string("SELECT ") + kApiKeyColumns + " FROM api_keys ORDER BY id"))
        out.push_back(read_api_key(r));
      return out;
    });
  }

  bool revoke_api_key(std::int64_t id, std::int64_t now) override {
    return write("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL", now,
                 id) == 1;
  }

  void audit(const AuditEntry& e) override {
    write(
        "INSERT INTO audit(at, actor, action, target, result, ip, request_id) "
        "VALUES($1, $2, $3, $4, $5, $6, $7)",
        e.at, e.actor, e.action, e.target, e.result, e.ip, e.request_id);
  }

  std::vector<AuditEntry> audit_log(std::int64_t offset, std::int64_t limit) override {
    return pool_.run([&](connection& c) {
      pqxx::nontransaction w(c);
      std::vector<AuditEntry> out;
      for (const auto& r :
           w.exec_params("SELECT id, at, actor, action, target, result, ip, request_id FROM audit "
                         "ORDER BY at DESC, id DESC LIMIT $1 OFFSET $2",
                         limit, offset))
        out.push_back({i64(r[0]), i64(r[1]), r[2].as<std::string>(), r[3].as<std::string>(),
                       r[4].as<std::string>(), r[5].as<std::string>(), r[6].as<std::string>(),
                       r[7].as<std::string>()});
      return out;
    });
  }

 private:
  /// Runs `sql` (an INSERT ... RETURNING id) in its own transaction, bumping the templates
  /// version in it when `bump`; ConflictError(`conflict`) on a uniqueness violation.
  template <class... Args>
  std::int64_t insert_unique(const std::string& conflict, bool bump, const std::string& sql,
                             const Args&... args) {
    return pool_.run([&](connection& c) {
      Work w(c);
      try {
        const auto id = i64(w.exec_params1(sql, args...)[0]);
        if (bump) bump_templates_version(w);
        w.commit();
        return id;
      } catch (const pqxx::unique_violation&) {
        throw ConflictError(conflict);
      }
    });
  }

  /// One statement in its own transaction; returns the rows it changed.
  template <class... Args>
  std::int64_t write(const std::string& sql, const Args&... args) {
    return pool_.run([&](connection& c) {
      Work w(c);
      const auto changed = static_cast<std::int64_t>(w.exec_params0(sql, args...).affected_rows());
      w.commit();
      return changed;
    });
  }

  std::optional<User> find_user_where(const std::string& condition, const std::string& value) {
    return pool_.run([&](connection& c) -> std::optional<User> {
      pqxx::nontransaction w(c);
      const auto r = w.exec_params(
          std::string("SELECT ") + kUserColumns + " FROM users u WHERE " + condition, value);
      if (r.empty()) return std::nullopt;
      return read_user(r[0]);
    });
  }

  db::PgPool pool_;
};

}  // namespace

std::unique_ptr<Store> open_postgres_store(const std::string& url) {
  return std::make_unique<PostgresStore>(url);
}

}  // namespace wtp::serve
