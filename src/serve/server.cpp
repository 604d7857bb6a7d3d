#include "serve/server.h"

#include <httplib.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "core/config.h"
#include "core/error.h"
#include "core/log.h"
#include "serve/request.h"

namespace wtp::serve {
namespace {

using json = nlohmann::json;

std::int64_t system_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// When the request being served on this worker thread started, set by the pre-routing
/// handler (cpp-httplib serves a request on one thread from its headers to its response).
thread_local std::chrono::steady_clock::time_point request_start;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(dump(body), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& code,
                const std::string& message) {
  send_json(
      res, status,
      {{"error", message}, {"code", code}, {"request_id", res.get_header_value("X-Request-Id")}});
}

json user_json(const User& u) {
  return {{"id", u.id},
          {"employee_id", u.employee_id},
          {"name", u.name},
          {"created_at", u.created_at},
          {"templates", u.templates}};
}

const char* kind_name(AttendanceKind kind) {
  return kind == AttendanceKind::kCheckIn ? "check_in" : "check_out";
}

json event_json(const AttendanceEvent& e) {
  return {{"id", e.id},
          {"user_id", e.user_id ? json(*e.user_id) : json(nullptr)},
          {"employee_id", e.employee_id},
          {"name", e.name},
          {"kind", kind_name(e.kind)},
          {"at", e.at},
          {"day", e.day}};
}

json key_json(const ApiKey& k) {
  return {{"id", k.id},
          {"admin_id", k.admin_id},
          {"name", k.name},
          {"prefix", k.prefix},
          {"created_at", k.created_at},
          {"revoked_at", k.revoked_at ? json(*k.revoked_at) : json(nullptr)}};
}

/// The JSON object of a POST body (serve/request.h).
json parse_body(const httplib::Request& req) {
  return parse_json_body(req.get_header_value("Content-Type"), req.body);
}

std::string query_day(const httplib::Request& req, const char* key) {
  const std::string value = req.get_param_value(key);
  static const std::regex day(R"(\d{4}-\d{2}-\d{2})");
  if (!value.empty() && !std::regex_match(value, day))
    throw HttpError(400, "bad_parameter", std::string("'") + key + "' must be a date YYYY-MM-DD");
  return value;
}

/// A CSV cell: quoted, and prefixed with ' when a spreadsheet would read it as a formula.
std::string csv_cell(const std::string& value) {
  std::string out = "\"";
  if (!value.empty() && std::string("=+-@\t\r").find(value[0]) != std::string::npos) out += '\'';
  for (char c : value) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string iso_utc(std::int64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

std::string cookie_value(const httplib::Request& req, const std::string& name) {
  const std::string header = req.get_header_value("Cookie");
  std::size_t pos = 0;
  while (pos < header.size()) {
    auto end = header.find(';', pos);
    if (end == std::string::npos) end = header.size();
    std::string part = header.substr(pos, end - pos);
    const auto first = part.find_first_not_of(' ');
    if (first != std::string::npos) part = part.substr(first);
    if (part.rfind(name + "=", 0) == 0) return part.substr(name.size() + 1);
    pos = end + 1;
  }
  return "";
}

/// A refusal in words for a person: the general sentence and the service's detail.
std::string refusal_message(Refusal refusal, const std::string& detail) {
  return detail.empty() ? describe(refusal) : describe(refusal) + " (" + detail + ")";
}

/// HTTP status of a face refusal.
int refusal_status(Refusal refusal) {
  switch (refusal) {
    case Refusal::kBadImage:
    case Refusal::kBadChallenge:
    case Refusal::kBadTiming:
      return 400;
    default:
      return 422;
  }
}

/// Where a route may be used from.
enum class Access { kPublic, kLogin, kAdmin, kSession };

struct Context {
  const httplib::Request& req;
  httplib::Response& res;
  std::string ip;
  std::string request_id;
  std::optional<Principal> principal;
  std::string actor() const { return principal ? principal->actor() : "anonymous"; }
};

}  // namespace

void HttpOptions::validate() const {
  require(threads >= 1, "http.threads must be >= 1");
  require(max_body_bytes >= 1024, "http.max_body_bytes must be >= 1024");
  require(max_image_bytes >= 1024 && max_image_bytes <= max_body_bytes,
          "http.max_image_bytes must be in [1024, max_body_bytes]");
  require(timeout_s >= 1, "http.timeout_s must be >= 1");
  require(max_page >= 1, "http.max_page must be >= 1");
  require(static_root.empty() || std::filesystem::is_directory(static_root),
          "http.static_root '" + static_root + "' is not a directory");
}

void ServeOptions::validate() const {
  require(!host.empty(), "host must not be empty");
  require(port >= 0 && port <= 65535, "port must be in [0, 65535]");
  require(!db.empty(), "db must name a database (sqlite:PATH or postgresql://...)");
}

namespace {

/// Lists every key of an options struct with its default and description.
class Describer {
 public:
  explicit Describer(std::string prefix) : prefix_(std::move(prefix)) {}
  template <class T>
  void operator()(const char* key, T& field, const char* doc) {
    const std::string path = prefix_ + key;
    if constexpr (config::detail::is_options<T>::value) {
      Describer inner(path + ".");
      field.visit(inner);
      out += inner.out;
    } else {
      config::Node value = config::encode(field);
      std::string text = value.is_scalar() ? value.text() : "";
      if (text.empty()) text = "\"\"";
      out += "  " + path + " = " + text + "\n      " + doc + "\n";
    }
  }
  std::string out;

 private:
  std::string prefix_;
};

}  // namespace

std::string describe_serve_options() {
  ServeOptions defaults;
  Describer describer("");
  defaults.visit(describer);
  return describer.out;
}

struct Server::Impl {
  Impl(const ServeOptions& o, std::shared_ptr<Store> s, std::shared_ptr<Service> sv, Clock c)
      : options(o),
        store(std::move(s)),
        service(std::move(sv)),
        clock(c ? std::move(c) : Clock(system_ms)),
        auth(o.auth, store, clock),
        ip_buckets(o.limits.ip_per_second, o.limits.ip_burst, o.limits.max_entries),
        login_buckets(o.limits.login_per_second, o.limits.login_burst, o.limits.max_entries),
        detect_buckets(o.limits.detect_per_second, o.limits.detect_burst, o.limits.max_entries),
        user_buckets(o.limits.user_per_second, o.limits.user_burst, o.limits.max_entries),
        lockouts(o.limits.lockout_failures, o.limits.lockout_window_ms, o.limits.lockout_ms,
                 o.limits.max_entries) {
    setup();
  }

  ServeOptions options;
  std::shared_ptr<Store> store;
  std::shared_ptr<Service> service;
  Clock clock;
  Auth auth;
  TokenBuckets ip_buckets, login_buckets, detect_buckets, user_buckets;
  Lockouts lockouts;
  Metrics metrics;
  httplib::Server http;
  /// Route patterns (for metrics and logs), in registration order.
  std::vector<std::pair<std::regex, std::string>> routes;

  using Handler = std::function<void(Context&)>;

  std::string client_ip(const httplib::Request& req) const {
    if (options.http.trust_forwarded_for) {
      const std::string forwarded = req.get_header_value("X-Forwarded-For");
      if (!forwarded.empty()) {
        std::string last = forwarded.substr(forwarded.rfind(',') + 1);
        last.erase(0, last.find_first_not_of(' '));
        if (!last.empty()) return last;
      }
    }
    return req.remote_addr;
  }

  std::string route_of(const std::string& method, const std::string& path) const {
    for (const auto& [pattern, name] : routes)
      if (name.rfind(method + " ", 0) == 0 && std::regex_match(path, pattern))
        return name.substr(method.size() + 1);
    return "other";
  }

  void audit(const Context& ctx, const std::string& action, const std::string& target,
             const std::string& result) {
    AuditEntry entry;
    entry.at = clock();
    entry.actor = ctx.actor();
    entry.action = action;
    entry.target = target;
    entry.result = result;
    entry.ip = ctx.ip;
    entry.request_id = ctx.request_id;
    store->audit(entry);
  }

  void limit(TokenBuckets& buckets, const std::string& key) {
    if (auto wait = buckets.take(key, clock()))
      throw HttpError(429, "rate_limited", "too many requests: try again later", wait);
  }

  void check_lockout(const std::string& key) {
    if (auto wait = lockouts.locked_for(key, clock()))
      throw HttpError(
          429, "locked_out",
          "too many failed attempts: try again in " + std::to_string((wait + 999) / 1000) + " s",
          wait);
  }

  /// The `offset` and `limit` query parameters of a paged listing.
  std::pair<std::int64_t, std::int64_t> page(const httplib::Request& req,
                                             std::int64_t default_limit) const {
    const std::string offset_text = req.get_param_value("offset");
    const std::string limit_text = req.get_param_value("limit");
    const std::int64_t offset = offset_text.empty() ? 0 : parse_id(offset_text, "offset");
    const std::int64_t limit = limit_text.empty() ? default_limit : parse_id(limit_text, "limit");
    if (limit < 1 || limit > options.http.max_page)
      throw HttpError(400, "bad_parameter",
                      "'limit' must be in [1, " + std::to_string(options.http.max_page) + "]");
    return {offset, limit};
  }

  Service& need_service() {
    if (!service) throw HttpError(503, "no_models", "the face models are not loaded");
    return *service;
  }

  void authenticate(Context& ctx, Access access) {
    const std::string cookie = cookie_value(ctx.req, kSessionCookie);
    const std::string authorization = ctx.req.get_header_value("Authorization");
    if (!cookie.empty()) {
      ctx.principal = auth.session(cookie);
    } else if (authorization.rfind("Bearer ", 0) == 0) {
      ctx.principal = auth.api_key(authorization.substr(7));
    }
    if (!ctx.principal)
      throw HttpError(401, "unauthenticated", "log in as an administrator or send a valid API key");
    if (ctx.principal->kind == Principal::Kind::kSession) {
      if (ctx.req.method != "GET" &&
          !constant_time_equal(ctx.req.get_header_value("X-CSRF-Token"), ctx.principal->csrf_token))
        throw HttpError(403, "csrf",
                        "the X-CSRF-Token header is missing or wrong: reload the page");
    } else if (access == Access::kSession) {
      throw HttpError(403, "session_required",
                      "API keys cannot do this: log in as an administrator");
    }
  }

  /// Registers `handler` for METHOD `pattern` (a regex; `name` is the route as documented).
  void route(const std::string& method, const std::string& pattern, const std::string& name,
             Access access, Handler handler) {
    routes.emplace_back(std::regex(pattern), method + " " + name);
    auto wrapped = [this, access, handler](const httplib::Request& req, httplib::Response& res) {
      Context ctx{req, res, client_ip(req), res.get_header_value("X-Request-Id"), std::nullopt};
      try {
        if (access == Access::kLogin) limit(login_buckets, "ip:" + ctx.ip);
        if (access == Access::kAdmin || access == Access::kSession) authenticate(ctx, access);
        handler(ctx);
      } catch (const HttpError& e) {
        if (e.retry_after_ms > 0)
          res.set_header("Retry-After", std::to_string((e.retry_after_ms + 999) / 1000));
        send_error(res, e.status, e.code, e.what());
      } catch (const ConflictError&) {
        send_error(res, 409, "conflict", "that name or employee id is taken");
      } catch (const UsageError& e) {
        // A refusal by the library about the request (e.g. a config-style check).
        log::warn("request ", ctx.request_id, ": ", e.what());
        send_error(res, 400, "bad_request", "the request was refused: check its fields");
      } catch (const std::exception& e) {
        log::error("request ", ctx.request_id, " failed: ", e.what());
        send_error(res, 500, "internal", "internal error; quote the request id to the operator");
      }
    };
    if (method == "GET") http.Get(pattern, wrapped);
    if (method == "POST") http.Post(pattern, wrapped);
    if (method == "DELETE") http.Delete(pattern, wrapped);
  }

  /// The quality check of the request body's `image` (400 when it is no JPEG or PNG).
  QualityResult check_body_image(const Context& ctx) {
    const QualityResult q =
        need_service().check_image(image_field(parse_body(ctx.req), options.http.max_image_bytes));
    if (q.refusal == Refusal::kBadImage)
      throw HttpError(400, "bad_image", refusal_message(q.refusal, q.detail));
    return q;
  }

  void setup();
  void add_face_routes();
  void add_admin_routes();
  void add_user_routes();
  void add_operation_routes();
};

void Server::Impl::setup() {
  const auto& h = options.http;
  http.new_task_queue = [threads = h.threads] { return new httplib::ThreadPool(threads); };
  http.set_payload_max_length(static_cast<std::size_t>(h.max_body_bytes));
  // Responses go out as headers then body: without TCP_NODELAY, Nagle's algorithm holds the
  // body until the client's delayed ACK, about 25-40 ms on every keep-alive request.
  http.set_tcp_nodelay(true);
  http.set_read_timeout(h.timeout_s, 0);
  http.set_write_timeout(h.timeout_s, 0);
  if (!h.static_root.empty()) http.set_mount_point("/", h.static_root);

  http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    request_start = std::chrono::steady_clock::now();
    unsigned char bytes[8];
    randombytes_buf(bytes, sizeof bytes);
    char id[2 * sizeof bytes + 1];
    sodium_bin2hex(id, sizeof id, bytes, sizeof bytes);
    res.set_header("X-Request-Id", id);
    if (auto wait = ip_buckets.take("ip:" + client_ip(req), clock())) {
      res.set_header("Retry-After", std::to_string((wait + 999) / 1000));
      send_error(res, 429, "rate_limited", "too many requests: try again later");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  http.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        std::string message = "request refused";
        std::string code = "http_" + std::to_string(res.status);
        if (res.status == 404) message = "no such route";
        if (res.status == 413) message = "the request body is too large";
        if (res.status == 400) message = "malformed HTTP request";
        send_error(res, res.status, code, message);
        return httplib::Server::HandlerResponse::Handled;
      }));
  http.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        send_error(res, 500, "internal", "internal error; quote the request id to the operator");
      });
  http.set_post_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    res.set_header(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; object-src 'none'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'");
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Referrer-Policy", "no-referrer");
    res.set_header("X-Frame-Options", "DENY");
    if (req.path.rfind("/api/", 0) == 0) res.set_header("Cache-Control", "no-store");
    if (!res.has_header("X-Request-Id")) {
      // The request never reached the pre-routing handler (a malformed request line).
      request_start = std::chrono::steady_clock::now();
      res.set_header("X-Request-Id", "-");
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - request_start).count();
    const std::string route = route_of(req.method, req.path);
    metrics.observe_request(route, req.method, res.status, seconds);
    log::info("request id=", res.get_header_value("X-Request-Id"), " ip=", client_ip(req),
              " method=", req.method, " route=", route, " status=", res.status,
              " ms=", std::lround(seconds * 1000.0));
  });
  add_face_routes();
  add_admin_routes();
  add_user_routes();
  add_operation_routes();
}

void Server::Impl::add_face_routes() {
  route("POST", "/api/v1/login/challenge", "/api/v1/login/challenge", Access::kLogin,
        [this](Context& ctx) {
          check_lockout("ip:" + ctx.ip);
          const Challenge c = need_service().challenge();
          send_json(ctx.res, 200,
                    {{"nonce", c.nonce},
                     {"expires_in_ms", c.expires_in_ms},
                     {"cue_after_ms", c.cue_after_ms},
                     {"min_frames", c.min_frames},
                     {"max_frames", c.max_frames},
                     {"min_fps", c.min_fps}});
        });

  route("POST", "/api/v1/login", "/api/v1/login", Access::kLogin, [this](Context& ctx) {
    check_lockout("ip:" + ctx.ip);
    Service& svc = need_service();
    const LoginRequest request = parse_login_request(
        parse_body(ctx.req), options.service.max_frames, options.http.max_image_bytes);
    const LoginResult r = svc.login(request.nonce, request.frames);
    const bool matched = r.refusal == Refusal::kNone;
    if (r.refusal == Refusal::kNone || r.refusal == Refusal::kUnknownFace ||
        r.refusal == Refusal::kNoBlink || r.refusal == Refusal::kDifferentPeople)
      metrics.count_match(matched && r.user.has_value());
    if (!matched) {
      // A refused log-in names no user (the service keeps who was nearest to itself, and
      // locks that user out itself after repeated failures), so failures count against the
      // address.
      metrics.count_refusal(config::enum_name(r.refusal));
      const auto wait = std::max(lockouts.failure("ip:" + ctx.ip, clock()), r.retry_after_ms);
      audit(ctx, "login", "", config::enum_name(r.refusal));
      if (wait > 0) ctx.res.set_header("Retry-After", std::to_string((wait + 999) / 1000));
      const int status = r.refusal == Refusal::kLockedOut   ? 429
                         : refusal_status(r.refusal) == 400 ? 400
                                                            : 401;
      send_json(ctx.res, status,
                {{"error", refusal_message(r.refusal, r.detail)},
                 {"code", config::enum_name(r.refusal)},
                 {"request_id", ctx.request_id}});
      return;
    }
    lockouts.success("ip:" + ctx.ip);
    audit(ctx, "login", r.user->employee_id, "ok");
    json out = {{"user", user_json(*r.user)}};
    out["event"] = r.event ? event_json(*r.event) : json(nullptr);
    send_json(ctx.res, 200, out);
  });

  route("POST", "/api/v1/verify", "/api/v1/verify", Access::kAdmin, [this](Context& ctx) {
    Service& svc = need_service();
    const json body = parse_body(ctx.req);
    const std::int64_t user_id = int_field(body, "user_id");
    const std::string key = "user:" + std::to_string(user_id);
    check_lockout(key);
    limit(user_buckets, key);
    const std::string image = image_field(body, options.http.max_image_bytes);
    if (!store->find_user(user_id)) throw HttpError(404, "not_found", "no such user");
    const LoginResult r = svc.verify(user_id, image);
    if (r.refusal == Refusal::kBadImage)
      throw HttpError(400, "bad_image", refusal_message(r.refusal, r.detail));
    const bool match = r.refusal == Refusal::kNone;
    metrics.count_match(match);
    if (match) {
      lockouts.success(key);
    } else {
      metrics.count_refusal(config::enum_name(r.refusal));
      lockouts.failure(key, clock());
    }
    audit(ctx, "verify", std::to_string(user_id), match ? "ok" : config::enum_name(r.refusal));
    send_json(
        ctx.res, 200,
        {{"match", match},
         {"code", config::enum_name(r.refusal)},
         {"message", match ? "the face matches the user" : refusal_message(r.refusal, r.detail)}});
  });

  // The log-in page's face box: where the one face is, or why none is usable. No identity,
  // no embedding: nothing to learn about enrolled people.
  route(
      "POST", "/api/v1/faces/detect", "/api/v1/faces/detect", Access::kPublic,
      [this](Context& ctx) {
        limit(detect_buckets, "ip:" + ctx.ip);
        const QualityResult q = check_body_image(ctx);
        json answer = {{"ok", q.refusal == Refusal::kNone},
                       {"code", config::enum_name(q.refusal)},
                       {"face", nullptr}};
        if (q.box)
          answer["face"] = {
              {"x", q.box->x}, {"y", q.box->y}, {"width", q.box->width}, {"height", q.box->height}};
        send_json(ctx.res, 200, answer);
      });

  route("POST", "/api/v1/faces/check", "/api/v1/faces/check", Access::kAdmin, [this](Context& ctx) {
    const QualityResult q = check_body_image(ctx);
    const bool ok = q.refusal == Refusal::kNone;
    send_json(
        ctx.res, 200,
        {{"ok", ok},
         {"code", config::enum_name(q.refusal)},
         {"message", ok ? "the image is good for enrolment" : refusal_message(q.refusal, q.detail)},
         {"face_px", q.face_px},
         {"sharpness", q.sharpness},
         {"brightness", q.brightness}});
  });

  route("POST", R"(/api/v1/users/(\d+)/faces)", "/api/v1/users/{id}/faces", Access::kAdmin,
        [this](Context& ctx) {
          Service& svc = need_service();
          const std::int64_t id = parse_id(ctx.req.matches[1], "user id");
          const std::vector<std::string> images =
              parse_enrol_request(parse_body(ctx.req), options.service.enrol_min_images,
                                  options.service.enrol_max_images, options.http.max_image_bytes);
          if (!store->find_user(id)) throw HttpError(404, "not_found", "no such user");
          const EnrolResult r = svc.enrol(id, images);
          if (r.refusal != Refusal::kNone) {
            metrics.count_refusal(config::enum_name(r.refusal));
            audit(ctx, "user.enrol", std::to_string(id), config::enum_name(r.refusal));
            send_json(ctx.res, refusal_status(r.refusal),
                      {{"error", refusal_message(r.refusal, r.detail)},
                       {"code", config::enum_name(r.refusal)},
                       {"image", r.image},
                       {"request_id", ctx.request_id}});
            return;
          }
          audit(ctx, "user.enrol", std::to_string(id), "ok");
          send_json(ctx.res, 200, {{"added", r.added}});
        });
}

void Server::Impl::add_admin_routes() {
  route("POST", "/api/v1/admin/login", "/api/v1/admin/login", Access::kLogin, [this](Context& ctx) {
    const json body = parse_body(ctx.req);
    const std::string name = text_field(body, "name", 64);
    auto it = body.find("password");
    if (it == body.end() || !it->is_string() || it->get_ref<const std::string&>().size() > 1024)
      throw HttpError(400, "bad_field", "give 'password' as a string");
    const std::string ip_key = "ip:" + ctx.ip, name_key = "admin:" + name;
    check_lockout(ip_key);
    check_lockout(name_key);
    auto session = auth.log_in(name, it->get<std::string>());
    if (!session) {
      const auto wait =
          std::max(lockouts.failure(ip_key, clock()), lockouts.failure(name_key, clock()));
      audit(ctx, "admin.login", name, "wrong_password");
      if (wait > 0) ctx.res.set_header("Retry-After", std::to_string((wait + 999) / 1000));
      throw HttpError(401, "wrong_password", "wrong name or password");
    }
    lockouts.success(ip_key);
    lockouts.success(name_key);
    ctx.principal = Principal{Principal::Kind::kSession, session->admin.id, name, "", ""};
    audit(ctx, "admin.login", name, "ok");
    const std::int64_t max_age = (session->expires_at - clock()) / 1000;
    std::string cookie = std::string(kSessionCookie) + "=" + session->cookie +
                         "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age);
    if (options.auth.cookie_secure) cookie += "; Secure";
    ctx.res.set_header("Set-Cookie", cookie);
    send_json(
        ctx.res, 200,
        {{"name", name}, {"csrf_token", session->csrf_token}, {"expires_at", session->expires_at}});
  });

  route("POST", "/api/v1/admin/logout", "/api/v1/admin/logout", Access::kSession,
        [this](Context& ctx) {
          auth.log_out(cookie_value(ctx.req, kSessionCookie));
          audit(ctx, "admin.logout", ctx.principal->admin_name, "ok");
          std::string cookie =
              std::string(kSessionCookie) + "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0";
          if (options.auth.cookie_secure) cookie += "; Secure";
          ctx.res.set_header("Set-Cookie", cookie);
          ctx.res.status = 204;
        });

  route("GET", "/api/v1/admin/me", "/api/v1/admin/me", Access::kAdmin, [](Context& ctx) {
    const Principal& p = *ctx.principal;
    json out = {{"actor", p.actor()}, {"admin_id", p.admin_id}};
    if (p.kind == Principal::Kind::kSession) {
      out["name"] = p.admin_name;
      out["csrf_token"] = p.csrf_token;
    }
    send_json(ctx.res, 200, out);
  });

  route("GET", "/api/v1/keys", "/api/v1/keys", Access::kSession, [this](Context& ctx) {
    json keys = json::array();
    for (const auto& k : store->list_api_keys()) keys.push_back(key_json(k));
    send_json(ctx.res, 200, {{"keys", keys}});
  });

  route("POST", "/api/v1/keys", "/api/v1/keys", Access::kSession, [this](Context& ctx) {
    const json body = parse_body(ctx.req);
    const NewApiKey key =
        auth.create_api_key(ctx.principal->admin_id, text_field(body, "name", 100));
    audit(ctx, "apikey.create", key.record.prefix, "ok");
    json out = key_json(key.record);
    out["key"] = key.key;
    send_json(ctx.res, 201, out);
  });

  route("DELETE", R"(/api/v1/keys/(\d+))", "/api/v1/keys/{id}", Access::kSession,
        [this](Context& ctx) {
          const std::int64_t id = parse_id(ctx.req.matches[1], "key id");
          const bool revoked = store->revoke_api_key(id, clock());
          audit(ctx, "apikey.revoke", std::to_string(id), revoked ? "ok" : "not_found");
          if (!revoked) throw HttpError(404, "not_found", "no such key (or revoked already)");
          ctx.res.status = 204;
        });
}

void Server::Impl::add_user_routes() {
  route("GET", "/api/v1/users", "/api/v1/users", Access::kAdmin, [this](Context& ctx) {
    const std::string q = ctx.req.get_param_value("q");
    if (q.size() > 200) throw HttpError(400, "bad_parameter", "'q' is too long");
    const auto [offset, limit] = page(ctx.req, 50);
    std::int64_t total = 0;
    json users = json::array();
    for (const auto& u : store->list_users(q, offset, limit, total)) users.push_back(user_json(u));
    send_json(ctx.res, 200,
              {{"users", users}, {"total", total}, {"offset", offset}, {"limit", limit}});
  });

  route("POST", "/api/v1/users", "/api/v1/users", Access::kAdmin, [this](Context& ctx) {
    const json body = parse_body(ctx.req);
    const std::string employee_id = text_field(body, "employee_id", 64);
    const std::string name = text_field(body, "name", 200);
    try {
      const User u = store->create_user(employee_id, name, clock());
      audit(ctx, "user.create", employee_id, "ok");
      send_json(ctx.res, 201, user_json(u));
    } catch (const ConflictError&) {
      audit(ctx, "user.create", employee_id, "conflict");
      throw HttpError(409, "conflict", "employee id " + employee_id + " is taken");
    }
  });

  route("GET", R"(/api/v1/users/(\d+))", "/api/v1/users/{id}", Access::kAdmin,
        [this](Context& ctx) {
          auto u = store->find_user(parse_id(ctx.req.matches[1], "user id"));
          if (!u) throw HttpError(404, "not_found", "no such user");
          send_json(ctx.res, 200, user_json(*u));
        });

  route("DELETE", R"(/api/v1/users/(\d+))", "/api/v1/users/{id}", Access::kAdmin,
        [this](Context& ctx) {
          const std::int64_t id = parse_id(ctx.req.matches[1], "user id");
          const bool deleted = store->delete_user(id);
          audit(ctx, "user.delete", std::to_string(id), deleted ? "ok" : "not_found");
          if (!deleted) throw HttpError(404, "not_found", "no such user");
          ctx.res.status = 204;
        });

  auto attendance = [this](Context& ctx) {
    const std::string user = ctx.req.get_param_value("user_id");
    std::optional<std::int64_t> user_id;
    if (!user.empty()) user_id = parse_id(user, "user_id");
    return store->attendance(user_id, query_day(ctx.req, "from"), query_day(ctx.req, "to"));
  };
  route("GET", "/api/v1/attendance", "/api/v1/attendance", Access::kAdmin,
        [attendance](Context& ctx) {
          json events = json::array();
          for (const auto& e : attendance(ctx)) events.push_back(event_json(e));
          send_json(ctx.res, 200, {{"events", events}});
        });
  route("GET", R"(/api/v1/attendance\.csv)", "/api/v1/attendance.csv", Access::kAdmin,
        [attendance](Context& ctx) {
          std::string csv = "id,user_id,employee_id,name,kind,at,day\r\n";
          for (const auto& e : attendance(ctx)) {
            csv += std::to_string(e.id) + "," + (e.user_id ? std::to_string(*e.user_id) : "") +
                   "," + csv_cell(e.employee_id) + "," + csv_cell(e.name) + "," +
                   kind_name(e.kind) + "," + iso_utc(e.at) + "," + e.day + "\r\n";
          }
          ctx.res.status = 200;
          ctx.res.set_header("Content-Disposition", "attachment; filename=\"attendance.csv\"");
          ctx.res.set_content(csv, "text/csv; charset=utf-8");
        });

  route("GET", "/api/v1/audit", "/api/v1/audit", Access::kAdmin, [this](Context& ctx) {
    const auto [offset, limit] = page(ctx.req, 100);
    json entries = json::array();
    for (const auto& a : store->audit_log(offset, limit))
      entries.push_back({{"id", a.id},
                         {"at", a.at},
                         {"actor", a.actor},
                         {"action", a.action},
                         {"target", a.target},
                         {"result", a.result},
                         {"ip", a.ip},
                         {"request_id", a.request_id}});
    send_json(ctx.res, 200, {{"entries", entries}});
  });
}

void Server::Impl::add_operation_routes() {
  route("GET", "/healthz", "/healthz", Access::kPublic, [this](Context& ctx) {
    bool database = true;
    try {
      store->count_admins();
    } catch (const std::exception& e) {
      log::error("healthz: database check failed: ", e.what());
      database = false;
    }
    const bool models = service != nullptr;
    const bool ok = database && models;
    send_json(ctx.res, ok ? 200 : 503,
              {{"status", ok ? "ok" : "unavailable"}, {"database", database}, {"models", models}});
  });
  route("GET", "/metrics", "/metrics", Access::kPublic, [this](Context& ctx) {
    ctx.res.status = 200;
    ctx.res.set_content(metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
  });
}

Server::Server(const ServeOptions& options, std::shared_ptr<Store> store,
               std::shared_ptr<Service> service, Clock clock)
    : impl_(std::make_unique<Impl>(options, std::move(store), std::move(service),
                                   std::move(clock))) {}

Server::~Server() = default;

int Server::bind() {
  const auto& o = impl_->options;
  int port = o.port;
  if (port == 0) {
    port = impl_->http.bind_to_any_port(o.host);
  } else if (!impl_->http.bind_to_port(o.host, port)) {
    port = -1;
  }
  if (port <= 0)
    throw std::runtime_error("cannot listen on " + o.host + ":" + std::to_string(o.port) +
                             " (in use, or not an address of this machine)");
  return port;
}

void Server::serve() { impl_->http.listen_after_bind(); }

void Server::stop() { impl_->http.stop(); }

Metrics& Server::metrics() { return impl_->metrics; }

void run_serve(const ServeOptions& options, const std::function<void(int)>& on_listening) {
  for (const auto& [path, flag] : {std::pair{options.service.model, "--model"},
                                   std::pair{options.service.liveness, "--liveness"}}) {
    require(!path.empty(), std::string("give the archive with ") + flag);
    require(std::filesystem::is_regular_file(path),
            std::string(flag) + " " + path + ": no such file");
  }
  // Block the stop signals in every thread; one thread waits for them and stops the server.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::shared_ptr<Store> store = open_store(options.db);
  auto service = std::make_shared<Service>(options.service, store);
  Server server(options, store, service);
  const int port = server.bind();
  log::info("wtp-serve: listening on http://", options.host, ":", port, " (database ",
            options.db.rfind("postgres", 0) == 0 ? "postgresql" : options.db, ")");
  if (on_listening) on_listening(port);
  std::atomic<bool> signalled{false};
  std::thread waiter([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    if (signalled.exchange(true)) return;  // woken by the server ending on its own
    log::info("wtp-serve: signal ", signal, ": finishing requests in flight");
    server.stop();
  });
  server.serve();
  if (!signalled.exchange(true)) pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  service.reset();
  store.reset();
  log::info("wtp-serve: stopped; database closed");
}

void create_admin(const ServeOptions& options, const std::string& name,
                  const std::string& password) {
  auto store = std::shared_ptr<Store>(open_store(options.db));
  Auth auth(options.auth, store, system_ms);
  try {
    auth.create_admin(name, password);
  } catch (const ConflictError&) {
    throw UsageError("an administrator named '" + name + "' exists already");
  }
}

std::string list_admins(const ServeOptions& options) {
  auto store = open_store(options.db);
  std::ostringstream out;
  for (const auto& a : store->list_admins()) out << a.name << "\t" << iso_utc(a.created_at) << "\n";
  return out.str();
}

}  // namespace wtp::serve
