#include "serve/store_sqlite.h"

#include <mutex>
#include <stdexcept>

#include "db/sqlite.h"
#include "serve/store_common.h"

namespace wtp::serve {
namespace {

using db::Statement;
using db::Transaction;

const char* const kUserColumns =
    "u.id, u.employee_id, u.name, u.created_at, "
    "(SELECT COUNT(*) FROM templates t WHERE t.user_id = u.id)";

User read_user(const Statement& s) {
  return {s.integer(0), s.text(1), s.text(2), s.integer(3), s.integer(4)};
}

const char* const kEventColumns = "id, user_id, employee_id, name, kind, at, day";

AttendanceEvent read_event(const Statement& s) {
  AttendanceEvent e;
  e.id = s.integer(0);
  if (!s.is_null(1)) e.user_id = s.integer(1);
  e.employee_id = s.text(2);
  e.name = s.text(3);
  e.kind = detail::parse_kind(s.text(4));
  e.at = s.integer(5);
  e.day = s.text(6);
  return e;
}

const char* const kApiKeyColumns = "id, admin_id, name, prefix, created_at, revoked_at";

ApiKey read_api_key(const Statement& s) {
  ApiKey k{s.integer(0), s.integer(1), s.text(2), s.text(3), s.integer(4), std::nullopt};
  if (!s.is_null(5)) k.revoked_at = s.integer(5);
  return k;
}

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(const std::string& path) : db_(path, 30000) {
    db_.exec("PRAGMA synchronous=FULL");
    Transaction t(db_);
    db_.exec(
        "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER PRIMARY KEY, "
        "applied_at INTEGER NOT NULL)");
    Statement s(db_, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
    s.step();
    const std::int64_t found = s.integer(0);
    detail::check_schema_version(found, "sqlite:" + path);
    for (std::int64_t v = found; v < detail::kSchemaVersion; ++v) {
      db_.exec(detail::migration(v, detail::Dialect::kSqlite));
      Statement(db_, "INSERT INTO schema_version(version, applied_at) VALUES(?, ?)")
          .bind(1, v + 1)
          .bind(2, detail::unix_ms())
          .run();
    }
    t.commit();
  }

  User create_user(const std::string& employee_id, const std::string& name,
                   std::int64_t now) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Transaction t(db_);
    try {
      Statement(db_, "INSERT INTO users(employee_id, name, created_at) VALUES(?, ?, ?)")
          .bind(1, employee_id)
          .bind(2, name)
          .bind(3, now)
          .run();
    } catch (const db::UniqueViolation&) {
      throw ConflictError("a user with employee id '" + employee_id + "' exists");
    }
    const User user{db_.last_insert_id(), employee_id, name, now, 0};
    bump_templates_version();
    t.commit();
    return user;
  }

  std::optional<User> find_user(std::int64_t id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement s(db_, std::string("SELECT ") + kUserColumns + " FROM users u WHERE u.id = ?");
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    return read_user(s);
  }

  std::optional<User> find_user_by_employee_id(const std::string& employee_id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement s(db_,
                std::string("SELECT ") + kUserColumns + " FROM users u WHERE u.employee_id = ?");
    s.bind(1, employee_id);
    if (!s.step()) return std::nullopt;
    return read_user(s);
  }

  std::vector<User> list_users(const std::string& query, std::int64_t offset, std::int64_t limit,
                               std::int64_t& total) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Transaction t(db_, "BEGIN");  // one snapshot for the count and the page
    const std::string where =
        " FROM users u WHERE u.name LIKE ?1 ESCAPE '\\' OR u.employee_id LIKE ?1 ESCAPE '\\'";
    const std::string pattern = detail::like_pattern(query);
    {
      Statement s(db_, "SELECT COUNT(*)" + where);
      s.bind(1, pattern).step();
      total = s.integer(0);
    }
    Statement s(
        db_, std::string("SELECT ") + kUserColumns + where + " ORDER BY u.id LIMIT ?2 OFFSET ?3");
    s.bind(1, pattern).bind(2, limit).bind(3, offset);
    std::vector<User> out;
    while (s.step()) out.push_back(read_user(s));
    t.commit();
    return out;
  }

  bool delete_user(std::int64_t id) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Transaction t(db_);
    if (Statement(db_, "DELETE FROM users WHERE id = ?").bind(1, id).run() == 0) return false;
    bump_templates_version();
    t.commit();
    return true;
  }

  void add_templates(std::int64_t user_id, const std::string& model_md5,
                     const std::vector<std::vector<float>>& embeddings, std::int64_t now) override {
    const std::int64_t dim = detail::check_embeddings(embeddings);
    std::lock_guard<std::mutex> lock(mutex_);
    Transaction t(db_);
    if (!Statement(db_, "SELECT 1 FROM users WHERE id = ?").bind(1, user_id).step())
      throw std::invalid_argument("add_templates: no user with id " + std::to_string(user_id));
    Statement s(db_,
                "INSERT INTO templates(user_id, model_md5, dim, embedding, created_at) "
                "VALUES(?, ?, ?, ?, ?)");
    for (const auto& e : embeddings) {
      s.bind(1, user_id).bind(2, model_md5).bind(3, dim);
      s.bind_blob(4, e.data(), e.size() * sizeof(float)).bind(5, now).run();
      s.reset();
    }
    bump_templates_version();
    t.commit();
  }

  std::vector<Template> all_templates() override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement s(db_, "SELECT id, user_id, model_md5, dim, embedding FROM templates ORDER BY id");
    std::vector<Template> out;
    while (s.step())
      out.push_back({s.integer(0), s.integer(1), s.text(2),
                     detail::embedding_from_blob(s.blob(4), s.integer(3))});
    return out;
  }

  std::int64_t templates_version() override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement s(db_, "SELECT value FROM counters WHERE name = 'templates'");
    s.step();
    return s.integer(0);
  }

  AttendanceEvent record_attendance(std::int64_t user_id, std::int64_t at, const std::string& day,
                                    std::int64_t debounce_ms) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Transaction t(db_);
    Statement u(db_, "SELECT employee_id, name FROM users WHERE id = ?");
    if (!u.bind(1, user_id).step())
      throw std::invalid_argument("record_attendance: no user with id " + std::to_string(user_id));
    std::optional<AttendanceEvent> last;
    {
      Statement s(db_, std::string("SELECT ") + kEventColumns +
                           " FROM attendance WHERE user_id = ? ORDER BY at DESC, id DESC LIMIT 1");
      if (s.bind(1, user_id).step()) last = read_event(s);
    }
    if (last && at - last->at < debounce_ms) return *last;  // rolled back: nothing written
    AttendanceEvent e;
    e.user_id = user_id;
    e.employee_id = u.text(0);
    e.name = u.text(1);
    e.at = at;
    e.day = day;
    {
      Statement s(db_,
                  "SELECT kind FROM attendance WHERE user_id = ? AND day = ? "
                  "ORDER BY at DESC, id DESC LIMIT 1");
      const bool checked_in = s.bind(1, user_id).bind(2, day).step() && s.text(0) == "check_in";
      e.kind = checked_in ? AttendanceKind::kCheckOut : AttendanceKind::kCheckIn;
    }
    Statement(db_,
              "INSERT INTO attendance(user_id, employee_id, name, kind, at, day) "
              "VALUES(?, ?, ?, ?, ?, ?)")
        .bind(1, user_id)
        .bind(2, e.employee_id)
        .bind(3, e.name)
        .bind(4, std::string(detail::kind_name(e.kind)))
        .bind(5, at)
        .bind(6, day)
        .run();
    e.id = db_.last_insert_id();
    t.commit();
    return e;
  }

  std::vector<AttendanceEvent> attendance(std::optional<std::int64_t> user_id,
                                          const std::string& from_day,
                                          const std::string& to_day) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement s(db_, std::string("SELECT ") + kEventColumns +
                         " FROM attendance WHERE (?1 IS NULL OR user_id = ?1) AND "
                         "(?2 = '' OR day >= ?2) AND (?3 = '' OR day <= ?3) ORDER BY at, id");
    if (user_id)
      s.bind(1, *user_id);
    else
      s.bind_null(1);
    s.bind(2, from_day).bind(3, to_day);
    std::vector<AttendanceEvent> out;
    while (s.step()) out.push_back(read_event(s));
    return out;
  }

  void put_challenge(const std::string& nonce_hash, const std::string& payload,
                     std::int64_t expires_at) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement(db_, "INSERT INTO challenges(nonce_hash, payload, expires_at) VALUES(?, ?, ?)")
        .bind(1, nonce_hash)
        .bind(2, payload)
        .bind(3, expires_at)
        .run();
  }

  std::optional<std::string> take_challenge(const std::string& nonce_hash,
                                            std::int64_t now) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Transaction t(db_);
    std::optional<std::string> payload;
    {
      Statement s(db_,
                  "UPDATE challenges SET used = true WHERE nonce_hash = ? AND used = false AND "
                  "expires_at > ? RETURNING payload");
      if (s.bind(1, nonce_hash).bind(2, now).step()) payload = s.text(0);
    }
    Statement(db_, "DELETE FROM challenges WHERE expires_at <= ?").bind(1, now).run();
    t.commit();
    return payload;
  }

  Admin create_admin(const std::string& name, const std::string& password_hash,
                     std::int64_t now) override {
    std::lock_guard<std::mutex> lock(mutex_);
    try {
      Statement(db_, "INSERT INTO admins(name, password_hash, created_at) VALUES(?, ?, ?)")
          .bind(1, name)
          .bind(2, password_hash)
          .bind(3, now)
          .run();
    } catch (const db::UniqueViolation&) {
      throw ConflictError("an administrator named '" + name + "' exists");
    }
    return {db_.last_insert_id(), name, password_hash, now};
  }

  std::optional<Admin> find_admin(const std::string& name) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement s(db_, "SELECT id, name, password_hash, created_at FROM admins WHERE name = ?");
    if (!s.bind(1, name).step()) return std::nullopt;
    return Admin{s.integer(0), s.text(1), s.text(2), s.integer(3)};
  }

  std::vector<Admin> list_admins() override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement s(db_, "SELECT id, name, password_hash, created_at FROM admins ORDER BY id");
    std::vector<Admin> out;
    while (s.step()) out.push_back(Admin{s.integer(0), s.text(1), s.text(2), s.integer(3)});
    return out;
  }

  std::int64_t count_admins() override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement s(db_, "SELECT COUNT(*) FROM admins");
    s.step();
    return s.integer(0);
  }

  void create_session(const std::string& token_hash, std::int64_t admin_id,
                      const std::string& csrf_token, std::int64_t expires_at) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement(db_,
              "INSERT INTO sessions(token_hash, admin_id, csrf_token, expires_at) "
              "VALUES(?, ?, ?, ?)")
        .bind(1, token_hash)
        .bind(2, admin_id)
        .bind(3, csrf_token)
        .bind(4, expires_at)
        .run();
  }

  std::optional<Session> find_session(const std::string& token_hash, std::int64_t now) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement s(db_,
                "SELECT s.admin_id, a.name, s.csrf_token, s.expires_at FROM sessions s "
                "JOIN admins a ON a.id = s.admin_id WHERE s.token_hash = ? AND s.expires_at > ?");
    if (!s.bind(1, token_hash).bind(2, now).step()) return std::nullopt;
    return Session{s.integer(0), s.text(1), s.text(2), s.integer(3)};
  }

  void delete_session(const std::string& token_hash) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement(db_, "DELETE FROM sessions WHERE token_hash = ?").bind(1, token_hash).run();
  }

  ApiKey create_api_key(std::int64_t admin_id, const std::string& name, const std::string& prefix,
                        const std::string& key_hash, std::int64_t now) override {
    std::lock_guard<std::mutex> lock(mutex_);
    try {
      Statement(db_,
                "INSERT INTO api_keys(admin_id, name, prefix, key_hash, created_at) "
                "VALUES(?, ?, ?, ?, ?)")
          .bind(1, admin_id)
          .bind(2, name)
          .bind(3, prefix)
          .bind(4, key_hash)
          .bind(5, now)
          .run();
    } catch (const db::UniqueViolation&) {
      throw ConflictError("an API key with this hash exists");
    }
    return {db_.last_insert_id(), admin_id, name, prefix, now, std::nullopt};
  }

  std::optional<ApiKey> find_api_key(const std::string& key_hash) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement s(db_, std::string("SELECT ") + kApiKeyColumns +
                         " FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL");
    if (!s.bind(1, key_hash).step()) return std::nullopt;
    return read_api_key(s);
  }

  std::vector<ApiKey> list_api_keys() override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement s(db_, std::string("SELECT ") + kApiKeyColumns + " FROM api_keys ORDER BY id");
    std::vector<ApiKey> out;
    while (s.step()) out.push_back(read_api_key(s));
    return out;
  }

  bool revoke_api_key(std::int64_t id, std::int64_t now) override {
    std::lock_guard<std::mutex> lock(mutex_);
    return Statement(db_, "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
               .bind(1, now)
               .bind(2, id)
               .run() == 1;
  }

  void audit(const AuditEntry& e) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement(db_,
              "INSERT INTO audit(at, actor, action, target, result, ip, request_id) "
              "VALUES(?, ?, ?, ?, ?, ?, ?)")
        .bind(1, e.at)
        .bind(2, e.actor)
        .bind(3, e.action)
        .bind(4, e.target)
        .bind(5, e.result)
        .bind(6, e.ip)
        .bind(7, e.request_id)
        .run();
  }

  std::vector<AuditEntry> audit_log(std::int64_t offset, std::int64_t limit) override {
    std::lock_guard<std::mutex> lock(mutex_);
    Statement s(db_,
                "SELECT id, at, actor, action, target, result, ip, request_id FROM audit "
                "ORDER BY at DESC, id DESC LIMIT ? OFFSET ?");
    s.bind(1, limit).bind(2, offset);
    std::vector<AuditEntry> out;
    while (s.step())
      out.push_back({s.integer(0), s.integer(1), s.text(2), s.text(3), s.text(4), s.text(5),
                     s.text(6), s.text(7)});
    return out;
  }

 private:
  /// Call inside the transaction that changes users or templates.
  void bump_templates_version() {
    db_.exec("UPDATE counters SET value = value + 1 WHERE name = 'templates'");
  }

  db::SqliteDb db_;
  std::mutex mutex_;
};

}  // namespace

std::unique_ptr<Store> open_sqlite_store(const std::string& path) {
  return std::make_unique<SqliteStore>(path);
}

}  // namespace wtp::serve
