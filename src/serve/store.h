#pragma once
/// The log-in service's database, behind one interface with two backends:
/// SQLite (`sqlite:PATH` or a plain path; the embedded default `wtp.db`) and PostgreSQL
/// (`postgresql://...` / `postgres://...`, for several wtp-serve instances on one database).
///
/// Contract shared by both backends (tests run the same cases on each):
/// - Every write is one transaction: a failure or a crash leaves the previous state.
/// - Schema versioned in `schema_version`; opening a database migrates it forward in one
///   transaction and refuses (UsageError) a database written by a newer wtp.
/// - Deleting a user deletes their templates; their attendance rows are kept (labour
///   records) with the employee id and name copied into them.
/// - Templates are float32 blobs with the embedding model's MD5 and dimension; nothing
///   returned to HTTP clients ever contains them (the matcher alone calls all_templates()).
/// - templates_version() changes with every change of users or templates, so an instance
///   rebuilds its in-memory matrix when another instance enrolled or deleted someone.
/// - Secrets are stored only as hashes (password hashes from libsodium's Argon2id, SHA-256
///   of session tokens, API keys and nonces), computed by the caller.
/// - Times are Unix milliseconds (UTC); `day` is the caller's local calendar date
///   "YYYY-MM-DD".
///
/// Thread safety: a Store is shared by the server's worker threads; each backend serialises
/// or pools its connections internally.
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace wtp::serve {

struct User {
  std::int64_t id = 0;
  std::string employee_id;  ///< unique, chosen by the administrator
  std::string name;
  std::int64_t created_at = 0;
  std::int64_t templates = 0;  ///< number of enrolled templates
};

struct Template {
  std::int64_t id = 0;
  std::int64_t user_id = 0;
  std::string model_md5;  ///< MD5 of the embedding archive that computed it
  std::vector<float> embedding;
};

enum class AttendanceKind { kCheckIn, kCheckOut };

struct AttendanceEvent {
  std::int64_t id = 0;
  std::optional<std::int64_t> user_id;  ///< empty once the user was deleted
  std::string employee_id;
  std::string name;
  AttendanceKind kind = AttendanceKind::kCheckIn;
  std::int64_t at = 0;  ///< Unix ms
  std::string day;      ///< local date of `at`, YYYY-MM-DD
};

struct Admin {
  std::int64_t id = 0;
  std::string name;
  std::string password_hash;  ///< crypto_pwhash_str output (Argon2id)
  std::int64_t created_at = 0;
};

struct Session {
  std::int64_t admin_id = 0;
  std::string admin_name;
  std::string csrf_token;  ///< sent to the page, compared on every state-changing request
  std::int64_t expires_at = 0;
};

struct ApiKey {
  std::int64_t id = 0;
  std::int64_t admin_id = 0;  ///< who created it
  std::string name;
  std::string prefix;  ///< first characters of the key, shown to tell keys apart
  std::int64_t created_at = 0;
  std::optional<std::int64_t> revoked_at;
};

struct AuditEntry {
  std::int64_t id = 0;
  std::int64_t at = 0;
  std::string actor;   ///< "admin:NAME", "key:PREFIX", "user:EMPLOYEE_ID", "anonymous"
  std::string action;  ///< e.g. "user.create", "login", "apikey.revoke"
  std::string target;
  std::string result;  ///< "ok" or a short reason
  std::string ip;
  std::string request_id;
};

/// Raised for a uniqueness violation (duplicate employee id or admin name); HTTP 409.
class ConflictError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Store {
 public:
  virtual ~Store() = default;

  // Users and templates.
  /// Throws ConflictError when `employee_id` exists.
  virtual User create_user(const std::string& employee_id, const std::string& name,
                           std::int64_t now) = 0;
  virtual std::optional<User> find_user(std::int64_t id) = 0;
  virtual std::optional<User> find_user_by_employee_id(const std::string& employee_id) = 0;
  /// Users whose name or employee id contains `query` (case-insensitive; "" = all), ordered by
  /// id, `limit` from `offset`; `total` receives the number of matches.
  virtual std::vector<User> list_users(const std::string& query, std::int64_t offset,
                                       std::int64_t limit, std::int64_t& total) = 0;
  /// Deletes the user and their templates; false when there is no such user.
  virtual bool delete_user(std::int64_t id) = 0;
  /// Adds all `embeddings` (each of the same dimension) in one transaction. Throws
  /// std::invalid_argument for an unknown user.
  virtual void add_templates(std::int64_t user_id, const std::string& model_md5,
                             const std::vector<std::vector<float>>& embeddings,
                             std::int64_t now) = 0;
  /// Every template of every user, ordered by id.
  virtual std::vector<Template> all_templates() = 0;
  /// Changes whenever users or templates change (in any instance sharing the database).
  virtual std::int64_t templates_version() = 0;

  // Attendance.
  /// Records a log-in of `user_id` at `at` on `day`, in one transaction: the kind alternates
  /// per user and day (the first event of a day is a check-in). When the user's last event is
  /// less than `debounce_ms` old, nothing is written and that event is returned.
  virtual AttendanceEvent record_attendance(std::int64_t user_id, std::int64_t at,
                                            const std::string& day, std::int64_t debounce_ms) = 0;
  /// Events with from_day <= day <= to_day (inclusive, "" = unbounded), of one user or all,
  /// ordered by time.
  virtual std::vector<AttendanceEvent> attendance(std::optional<std::int64_t> user_id,
                                                  const std::string& from_day,
                                                  const std::string& to_day) = 0;

  // Log-in challenges (single-use nonces).
  /// Stores a challenge by the hash of its nonce, with a JSON payload (cue timing, ...).
  virtual void put_challenge(const std::string& nonce_hash, const std::string& payload,
                             std::int64_t expires_at) = 0;
  /// Atomically consumes a challenge: its payload when it exists, is unused and
  /// expires_at > now; nullopt otherwise (unknown, used or expired). A challenge can be
  /// taken once, across instances.
  virtual std::optional<std::string> take_challenge(const std::string& nonce_hash,
                                                    std::int64_t now) = 0;

  // Administrators, sessions, API keys.
  /// Throws ConflictError when `name` exists.
  virtual Admin create_admin(const std::string& name, const std::string& password_hash,
                             std::int64_t now) = 0;
  virtual std::optional<Admin> find_admin(const std::string& name) = 0;
  virtual std::int64_t count_admins() = 0;
  /// Every administrator, ordered by id.
  virtual std::vector<Admin> list_admins() = 0;
  virtual void create_session(const std::string& token_hash, std::int64_t admin_id,
                              const std::string& csrf_token, std::int64_t expires_at) = 0;
  /// The session when it exists and has not expired.
  virtual std::optional<Session> find_session(const std::string& token_hash, std::int64_t now) = 0;
  virtual void delete_session(const std::string& token_hash) = 0;
  /// Moves a live session's expiry to `expires_at` (the idle timeout, see serve/auth.h). The
  /// default re-creates the row; a backend may override it with one UPDATE.
  virtual void touch_session(const std::string& token_hash, const Session& session,
                             std::int64_t expires_at) {
    delete_session(token_hash);
    create_session(token_hash, session.admin_id, session.csrf_token, expires_at);
  }
  virtual ApiKey create_api_key(std::int64_t admin_id, const std::string& name,
                                const std::string& prefix, const std::string& key_hash,
                                std::int64_t now) = 0;
  /// The key when it exists and is not revoked.
  virtual std::optional<ApiKey> find_api_key(const std::string& key_hash) = 0;
  virtual std::vector<ApiKey> list_api_keys() = 0;
  /// Marks the key revoked; false when there is no such key or it was revoked already.
  virtual bool revoke_api_key(std::int64_t id, std::int64_t now) = 0;

  // Audit.
  virtual void audit(const AuditEntry& entry) = 0;
  /// Newest first.
  virtual std::vector<AuditEntry> audit_log(std::int64_t offset, std::int64_t limit) = 0;
};

/// Opens (creating and migrating) the database named by `url`: `sqlite:PATH`, a plain PATH,
/// or `postgresql://...`. Throws UsageError naming the URL for an unknown scheme, an
/// unreachable server or a database of a newer schema version.
std::unique_ptr<Store> open_store(const std::string& url);

}  // namespace wtp::serve
