#pragma once
/// wtp-serve's HTTP API (cpp-httplib, JSON with nlohmann-json) on top of Service and Store.
/// Plain HTTP only: TLS belongs to a reverse proxy in front (set auth.cookie_secure there).
///
/// Routes (JSON bodies; POST needs Content-Type: application/json). Auth: "-" none (rate
/// limited), "admin" a session cookie or `Authorization: Bearer KEY`, "session" a session
/// cookie only. Every state-changing request made with a session cookie needs the header
/// X-CSRF-Token (the token returned by admin log-in), else 403.
///   POST   /api/v1/login/challenge    -      {} -> {nonce, expires_in_ms, cue_after_ms,
///                                            min_frames, max_frames, min_fps}
///   POST   /api/v1/login              -      {nonce, frames: [{image, t_ms}]} -> {user, event}
///                                            or 401 {error, code: refusal}, or 429
///                                            locked_out with Retry-After (the matched user
///                                            failed too often: service.user_lockout_*)
///   POST   /api/v1/verify             admin  {user_id, image} -> {match, code, message}
///   POST   /api/v1/admin/login        -      {name, password} -> {name, csrf_token, expires_at}
///                                            + the session cookie (HttpOnly, SameSite=Strict,
///                                            Path=/, Secure when auth.cookie_secure)
///   POST   /api/v1/admin/logout       session -> 204, the cookie cleared
///   GET    /api/v1/admin/me           admin  -> {name, actor, csrf_token (sessions)}
///   GET    /api/v1/users?q=&offset=&limit=   admin -> {users, total, offset, limit}
///   POST   /api/v1/users              admin  {employee_id, name} -> 201 user (409 if taken)
///   GET    /api/v1/users/{id}         admin  -> user
///   DELETE /api/v1/users/{id}         admin  -> 204 (templates deleted, attendance kept)
///   POST   /api/v1/users/{id}/faces   admin  {images: [3-5 images]} -> {added} or 422
///                                            {error, code, image} (nothing stored)
///   POST   /api/v1/faces/detect       -      {image} -> {ok, code, face: {x, y, width,
///                                            height} or null} (the log-in page's face box;
///                                            its own per-address limit)
///   POST   /api/v1/faces/check        admin  {image} -> {ok, code, message, face_px,
///                                            sharpness, brightness}
///   GET    /api/v1/attendance?user_id=&from=&to=   admin -> {events} (days YYYY-MM-DD)
///   GET    /api/v1/attendance.csv?user_id=&from=&to= admin -> text/csv (formula-safe cells)
///   GET    /api/v1/keys               session -> {keys} (never the keys themselves)
///   POST   /api/v1/keys               session {name} -> 201 {key (shown once), id, prefix, ...}
///   DELETE /api/v1/keys/{id}          session -> 204
///   GET    /api/v1/audit?offset=&limit=   admin -> {entries} (newest first)
///   GET    /healthz                   -      {status, database, models} (503 when not ok)
///   GET    /metrics                   -      Prometheus text format (serve/metrics.h)
/// A user is {id, employee_id, name, created_at, templates}; an event {id, user_id,
/// employee_id, name, kind: check_in|check_out, at, day}. Images are base64 JPEG or PNG
/// (a `data:image/...;base64,` prefix is accepted). Templates and images are never returned.
///
/// Errors: {error: a sentence for a person, code, request_id}; never exception text. Every
/// response carries X-Request-Id (the id in the server log line with the details) and the
/// security headers (Content-Security-Policy default-src 'self' with frame-ancestors 'none',
/// X-Content-Type-Options nosniff, Referrer-Policy no-referrer); no CORS headers (same
/// origin only). Limits: bodies over http.max_body_bytes get 413 before being read, images
/// over http.max_image_bytes 413, more frames than service.max_frames 400; per-address and
/// per-user token buckets and lock-outs after failed log-ins give 429 with Retry-After
/// (serve/rate_limit.h). One log line per request: request id, method, route, status, ms.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "serve/auth.h"
#include "serve/metrics.h"
#include "serve/rate_limit.h"
#include "serve/service.h"
#include "serve/store.h"

namespace wtp::serve {

struct HttpOptions {
  int threads = 8;                         ///< worker threads (requests served at once)
  std::int64_t max_body_bytes = 24 << 20;  ///< larger request bodies get 413 unread
  std::int64_t max_image_bytes = 2 << 20;  ///< one decoded image, bytes
  int timeout_s = 20;                      ///< socket read/write timeout
  std::int64_t max_page = 500;             ///< largest `limit` of a paged listing
  std::string static_root;                 ///< directory served at / (the web page; "" = none)
  /// Take the client address from the last X-Forwarded-For hop (only behind a proxy that
  /// sets it; otherwise clients could choose their rate-limit key).
  bool trust_forwarded_for = false;

  template <class V>
  void visit(V& v) {
    v("threads", threads, "worker threads (requests served at once)");
    v("max_body_bytes", max_body_bytes, "request bodies larger than this get 413 unread");
    v("max_image_bytes", max_image_bytes, "largest decoded image (bytes)");
    v("timeout_s", timeout_s, "socket read/write timeout (s)");
    v("max_page", max_page, "largest limit of a paged listing");
    v("static_root", static_root, "directory served at / (the web page; empty = none)");
    v("trust_forwarded_for", trust_forwarded_for,
      "take the client address from X-Forwarded-For's last hop (only behind a proxy)");
  }
  void validate() const;
};

/// wtp-serve's whole configuration (strict YAML, --set, flags).
struct ServeOptions {
  std::string host = "127.0.0.1";    ///< address to listen on
  int port = 8080;                   ///< port (0 = any free port)
  std::string db = "sqlite:wtp.db";  ///< sqlite:PATH or postgresql://...
  std::uint64_t seed = 0;            ///< unused by the service (secrets come from the OS)
  HttpOptions http;
  AuthOptions auth;
  RateLimitOptions limits;
  ServiceOptions service;

  template <class V>
  void visit(V& v) {
    v("host", host, "address to listen on (127.0.0.1: this machine only)");
    v("port", port, "TCP port (0 = any free port)");
    v("db", db, "database: sqlite:PATH (default sqlite:wtp.db) or postgresql://...");
    v("seed", seed, "unused: nonces, tokens and keys come from the OS's random source");
    v("http", http, "HTTP server");
    v("auth", auth, "administrator sessions and passwords");
    v("limits", limits, "rate limits and lock-outs");
    v("service", service, "models, matching, liveness and enrolment rules");
  }
  void validate() const;
};

/// Every config key of ServeOptions with its default and description, one per line (for
/// wtp-serve --help).
std::string describe_serve_options();

class Server {
 public:
  using Clock = std::function<std::int64_t()>;
  /// `service` may be null (no models loaded): face routes then answer 503 and /healthz
  /// reports models: false. `clock` (Unix ms) defaults to the system clock.
  Server(const ServeOptions& options, std::shared_ptr<Store> store,
         std::shared_ptr<Service> service, Clock clock = {});
  ~Server();
  /// Binds options.host:options.port; returns the port (the chosen one for port 0). Throws
  /// std::runtime_error when the address cannot be bound.
  int bind();
  /// Serves until stop(); requests in flight are finished before it returns.
  void serve();
  /// Stops accepting connections (thread-safe; callable from another thread).
  void stop();
  Metrics& metrics();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// wtp-serve: opens the database and the archives (UsageError naming a missing or damaged
/// file), serves until SIGTERM or SIGINT, then finishes the requests in flight and closes
/// the database. `on_listening(port)` is called once the port is bound.
void run_serve(const ServeOptions& options, const std::function<void(int)>& on_listening = {});

/// `wtp-serve admin create NAME`: creates an administrator in `options.db` with `password`
/// (UsageError when too short or the name exists).
void create_admin(const ServeOptions& options, const std::string& name,
                  const std::string& password);
/// `wtp-serve admin list`: every administrator's name and creation time, one per line.
std::string list_admins(const ServeOptions& options);

}  // namespace wtp::serve
