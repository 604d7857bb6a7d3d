#include "serve/auth.h"

#include <sodium.h>

#include <algorithm>
#include <stdexcept>

#include "core/error.h"

namespace wtp::serve {
namespace {

constexpr const char* kApiKeyTag = "wtp_";
constexpr std::size_t kApiKeyPrefixLength = 12;

void init_sodium() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
}

}  // namespace

void AuthOptions::validate() const {
  require(session_idle_ms > 0, "session_idle_ms must be > 0");
  require(session_absolute_ms >= session_idle_ms, "session_absolute_ms must be >= session_idle_ms");
  require(min_password_length >= 8, "min_password_length must be >= 8");
}

std::string random_token() {
  init_sodium();
  unsigned char bytes[32];
  randombytes_buf(bytes, sizeof bytes);
  const int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string out(sodium_base64_ENCODED_LEN(sizeof bytes, variant), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes, sizeof bytes, variant);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

std::string sha256_hex(const std::string& data) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  std::string out(2 * sizeof digest + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), digest, sizeof digest);
  out.resize(2 * sizeof digest);
  return out;
}

bool constant_time_equal(const std::string& a, const std::string& b) {
  return a.size() == b.size() && sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string hash_password(const std::string& password) {
  init_sodium();
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                        crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
    throw std::runtime_error("password hashing ran out of memory");
  return out;
}

bool verify_password(const std::string& hash, const std::string& password) {
  init_sodium();
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

std::string Principal::actor() const {
  return kind == Kind::kSession ? "admin:" + admin_name : "key:" + key_prefix;
}

Auth::Auth(const AuthOptions& options, std::shared_ptr<Store> store, Clock clock)
    : options_(options),
      store_(std::move(store)),
      clock_(std::move(clock)),
      dummy_hash_(hash_password(random_token())) {}

Admin Auth::create_admin(const std::string& name, const std::string& password) {
  require(!name.empty() && name.size() <= 64, "an admin name must have 1 to 64 characters");
  require(password.size() >= static_cast<std::size_t>(options_.min_password_length),
          "the password is too short: use at least " +
              std::to_string(options_.min_password_length) + " characters");
  return store_->create_admin(name, hash_password(password), clock_());
}

std::optional<NewSession> Auth::log_in(const std::string& name, const std::string& password) {
  auto admin = store_->find_admin(name);
  const bool ok = verify_password(admin ? admin->password_hash : dummy_hash_, password);
  if (!admin || !ok) return std::nullopt;
  const std::int64_t now = clock_();
  NewSession session;
  session.expires_at = now + options_.session_absolute_ms;
  session.cookie = std::to_string(session.expires_at) + "." + random_token();
  session.csrf_token = random_token();
  session.admin = *admin;
  store_->create_session(sha256_hex(session.cookie), admin->id, session.csrf_token,
                         now + options_.session_idle_ms);
  return session;
}

void Auth::log_out(const std::string& cookie) { store_->delete_session(sha256_hex(cookie)); }

std::optional<Principal> Auth::session(const std::string& cookie) {
  const auto dot = cookie.find('.');
  if (cookie.empty() || dot == std::string::npos || dot == 0 || dot > 18) return std::nullopt;
  std::int64_t absolute = 0;
  for (std::size_t i = 0; i < dot; ++i) {
    if (cookie[i] < '0' || cookie[i] > '9') return std::nullopt;
    absolute = absolute * 10 + (cookie[i] - '0');
  }
  const std::string hash = sha256_hex(cookie);
  const std::int64_t now = clock_();
  if (now >= absolute) {
    store_->delete_session(hash);
    return std::nullopt;
  }
  auto found = store_->find_session(hash, now);
  if (!found) return std::nullopt;
  if (found->expires_at - now < options_.session_idle_ms / 2)
    store_->touch_session(hash, *found, std::min(absolute, now + options_.session_idle_ms));
  Principal p;
  p.kind = Principal::Kind::kSession;
  p.admin_id = found->admin_id;
  p.admin_name = found->admin_name;
  p.csrf_token = found->csrf_token;
  return p;
}

std::optional<Principal> Auth::api_key(const std::string& key) {
  if (key.rfind(kApiKeyTag, 0) != 0 || key.size() > 128) return std::nullopt;
  auto found = store_->find_api_key(sha256_hex(key));
  if (!found) return std::nullopt;
  Principal p;
  p.kind = Principal::Kind::kApiKey;
  p.admin_id = found->admin_id;
  p.key_prefix = found->prefix;
  return p;
}

NewApiKey Auth::create_api_key(std::int64_t admin_id, const std::string& name) {
  require(!name.empty() && name.size() <= 100, "an API key name must have 1 to 100 characters");
  NewApiKey out;
  out.key = kApiKeyTag + random_token();
  out.record = store_->create_api_key(admin_id, name, out.key.substr(0, kApiKeyPrefixLength),
                                      sha256_hex(out.key), clock_());
  return out;
}

}  // namespace wtp::serve
