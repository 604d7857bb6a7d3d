#include "serve/store_common.h"

#include <chrono>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "core/error.h"

namespace wtp::serve::detail {
namespace {

/// Ordered migrations: entry i takes the schema from version i to i + 1. `@ID@` is an
/// auto-incremented 64-bit key, `@BLOB@` a byte string.
const char* const kMigrations[] = {
    R"sql(
CREATE TABLE users(id @ID@, employee_id TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
  created_at BIGINT NOT NULL);
CREATE TABLE templates(id @ID@, user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  model_md5 TEXT NOT NULL, dim INTEGER NOT NULL, embedding @BLOB@ NOT NULL,
  created_at BIGINT NOT NULL);
CREATE INDEX templates_user ON templates(user_id);
CREATE TABLE attendance(id @ID@, user_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
  employee_id TEXT NOT NULL, name TEXT NOT NULL,
  kind TEXT NOT NULL CHECK(kind IN ('check_in', 'check_out')), at BIGINT NOT NULL,
  day TEXT NOT NULL);
CREATE INDEX attendance_user_at ON attendance(user_id, at);
CREATE INDEX attendance_day ON attendance(day, at);
CREATE TABLE admins(id @ID@, name TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL,
  created_at BIGINT NOT NULL);
CREATE TABLE sessions(token_hash TEXT PRIMARY KEY,
  admin_id BIGINT NOT NULL REFERENCES admins(id) ON DELETE CASCADE,
  csrf_token TEXT NOT NULL, expires_at BIGINT NOT NULL);
CREATE TABLE api_keys(id @ID@, admin_id BIGINT NOT NULL REFERENCES admins(id),
  name TEXT NOT NULL, prefix TEXT NOT NULL, key_hash TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL, revoked_at BIGINT);
CREATE TABLE challenges(nonce_hash TEXT PRIMARY KEY, payload TEXT NOT NULL,
  expires_at BIGINT NOT NULL, used BOOLEAN NOT NULL DEFAULT false);
CREATE TABLE audit(id @ID@, at BIGINT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
  target TEXT NOT NULL, result TEXT NOT NULL, ip TEXT NOT NULL, request_id TEXT NOT NULL);
CREATE TABLE counters(name TEXT PRIMARY KEY, value BIGINT NOT NULL);
INSERT INTO counters(name, value) VALUES('templates', 0);
)sql",
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == kSchemaVersion,
              "one migration per schema version");

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
}

}  // namespace

std::string migration(std::int64_t version, Dialect dialect) {
  std::string sql = kMigrations[version];
  const bool sqlite = dialect == Dialect::kSqlite;
  // SQLite: only INTEGER PRIMARY KEY is the rowid; AUTOINCREMENT never reuses a deleted id.
  replace_all(sql, "@ID@", sqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGSERIAL PRIMARY KEY");
  replace_all(sql, "@BLOB@", sqlite ? "BLOB" : "BYTEA");
  return sql;
}

void check_schema_version(std::int64_t found, const std::string& what) {
  require(found <= kSchemaVersion, "database " + what + " has schema version " +
                                       std::to_string(found) + ", newer than this wtp (version " +
                                       std::to_string(kSchemaVersion) +
                                       "): run a newer wtp-serve, or give another --db");
}

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const char* kind_name(AttendanceKind kind) {
  return kind == AttendanceKind::kCheckIn ? "check_in" : "check_out";
}

AttendanceKind parse_kind(const std::string& name) {
  if (name == "check_in") return AttendanceKind::kCheckIn;
  if (name == "check_out") return AttendanceKind::kCheckOut;
  throw std::runtime_error("database: unknown attendance kind '" + name + "'");
}

std::string embedding_blob(const std::vector<float>& embedding) {
  std::string out(embedding.size() * sizeof(float), '\0');
  std::memcpy(out.data(), embedding.data(), out.size());
  return out;
}

std::vector<float> embedding_from_blob(const std::string& blob, std::int64_t dim) {
  if (dim < 0 || blob.size() != static_cast<std::size_t>(dim) * sizeof(float))
    throw std::runtime_error("database: a template's blob holds " + std::to_string(blob.size()) +
                             " bytes, not " + std::to_string(dim) + " float32 values");
  std::vector<float> out(static_cast<std::size_t>(dim));
  std::memcpy(out.data(), blob.data(), blob.size());
  return out;
}

std::int64_t check_embeddings(const std::vector<std::vector<float>>& embeddings) {
  if (embeddings.empty()) throw std::invalid_argument("add_templates: no embeddings");
  const auto dim = embeddings.front().size();
  for (const auto& e : embeddings) {
    if (e.empty() || e.size() != dim)
      throw std::invalid_argument("add_templates: embeddings of different or zero dimension");
    for (float x : e)
      if (!std::isfinite(x)) throw std::invalid_argument("add_templates: non-finite embedding");
  }
  return static_cast<std::int64_t>(dim);
}

std::string like_pattern(const std::string& query) {
  std::string out = "%";
  for (char c : query) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out + "%";
}

}  // namespace wtp::serve::detail
