#pragma once
/// Administrator authentication for wtp-serve: Argon2id passwords, session cookies with a
/// CSRF token, API keys. Secrets come from libsodium's CSPRNG and are stored only as hashes
/// (Argon2id for passwords, SHA-256 for session tokens and API keys).
///
/// Sessions: the cookie value is "EXPIRES.TOKEN" (EXPIRES = the absolute expiry in Unix ms,
/// TOKEN = 256 random bits, base64url); the store keeps SHA-256 of the whole value, so the
/// absolute expiry cannot be changed by the client without invalidating the cookie. The
/// stored expiry is the idle expiry: each use moves it to now + idle_ms (capped at the
/// absolute expiry) once less than half the idle time is left.
///
/// API keys: "wtp_" + 256 random bits (base64url), shown once at creation; the store keeps
/// SHA-256 of the key and its first 12 characters (the prefix shown in listings). A
/// revoked key is refused like an unknown one.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "serve/store.h"

namespace wtp::serve {

struct AuthOptions {
  std::int64_t session_idle_ms = 30 * 60 * 1000;  ///< a session unused this long ends
  std::int64_t session_absolute_ms =
      12 * 60 * 60 * 1000;       ///< a session ends this long after log-in
  bool cookie_secure = false;    ///< add the Secure flag (set it when a TLS proxy is in front)
  int min_password_length = 12;  ///< shortest admin password accepted

  template <class V>
  void visit(V& v) {
    v("session_idle_ms", session_idle_ms, "a session unused this long (ms) ends");
    v("session_absolute_ms", session_absolute_ms, "a session ends this long (ms) after log-in");
    v("cookie_secure", cookie_secure,
      "add the Secure flag to the session cookie (set it behind a TLS proxy)");
    v("min_password_length", min_password_length, "shortest admin password accepted");
  }
  void validate() const;
};

/// Name of the session cookie.
inline constexpr const char* kSessionCookie = "wtp_session";

/// 32 random bytes (libsodium CSPRNG) as unpadded base64url (43 characters).
std::string random_token();
/// SHA-256 of `data` as 64 lowercase hex digits.
std::string sha256_hex(const std::string& data);
/// Constant-time equality of two strings (sodium_memcmp; lengths compared first).
bool constant_time_equal(const std::string& a, const std::string& b);
/// Argon2id hash string (crypto_pwhash_str, libsodium's interactive limits).
std::string hash_password(const std::string& password);
/// True when `password` matches `hash` (crypto_pwhash_str_verify).
bool verify_password(const std::string& hash, const std::string& password);

/// Who made a request.
struct Principal {
  enum class Kind { kSession, kApiKey };
  Kind kind = Kind::kSession;
  std::int64_t admin_id = 0;
  std::string admin_name;
  std::string csrf_token;  ///< sessions only
  std::string key_prefix;  ///< API keys only
  /// "admin:NAME" or "key:PREFIX", for the audit table.
  std::string actor() const;
};

/// A session just opened: the cookie value (set once, never stored) and its CSRF token.
struct NewSession {
  std::string cookie;
  std::string csrf_token;
  std::int64_t expires_at = 0;  ///< absolute expiry, Unix ms
  Admin admin;
};

/// An API key just created: the key itself (shown once) and its record.
struct NewApiKey {
  std::string key;
  ApiKey record;
};

class Auth {
 public:
  using Clock = std::function<std::int64_t()>;
  Auth(const AuthOptions& options, std::shared_ptr<Store> store, Clock clock);

  /// Creates an administrator. Throws UsageError for an empty name or a password shorter
  /// than min_password_length, ConflictError for an existing name.
  Admin create_admin(const std::string& name, const std::string& password);
  /// Opens a session when `password` is right; nullopt for a wrong password or an unknown
  /// name (an unknown name costs the same Argon2id verification).
  std::optional<NewSession> log_in(const std::string& name, const std::string& password);
  /// Ends the session of `cookie` (no effect when unknown).
  void log_out(const std::string& cookie);
  /// The session's principal when `cookie` names a live session (refreshing its idle expiry).
  std::optional<Principal> session(const std::string& cookie);
  /// The key's principal when `key` is a known, unrevoked API key.
  std::optional<Principal> api_key(const std::string& key);
  /// Creates an API key owned by `admin_id`.
  NewApiKey create_api_key(std::int64_t admin_id, const std::string& name);
  const AuthOptions& options() const { return options_; }

 private:
  AuthOptions options_;
  std::shared_ptr<Store> store_;
  Clock clock_;
  std::string dummy_hash_;  ///< verified against when the admin name is unknown
};

}  // namespace wtp::serve
