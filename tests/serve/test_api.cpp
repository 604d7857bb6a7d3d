// wtp-serve's HTTP API over 127.0.0.1 without the face models: administration, users, API
// keys, attendance, audit, limits, errors and headers. Every case runs on SQLite and on a
// real PostgreSQL 15 server (tests/support/postgres_server.h).
#include "catch_torch.h"
#include "test_api_support.h"

using namespace wtp::serve;
using namespace wtp::test;
using json = nlohmann::json;

namespace {

/// Runs `body(url)` on a fresh database of each backend, as two test cases.
#define API_TEST(name, tags, fn)                         \
  TEST_CASE("sqlite: " name, "[api][sqlite]" tags) {     \
    auto db = sqlite_test_db();                          \
    fn(db.url);                                          \
  }                                                      \
  TEST_CASE("postgres: " name, "[api][postgres]" tags) { \
    WTP_REQUIRE_POSTGRES(server);                        \
    fn(server->create_database());                       \
  }

json post(httplib::Client& c, const std::string& path, const json& body,
          const httplib::Headers& headers, int expected_status) {
  auto r = c.Post(path.c_str(), headers, body.dump(), "application/json");
  REQUIRE(r);
  INFO(path << " -> " << r->status << " " << r->body);
  CHECK(r->status == expected_status);
  return r->body.empty() ? json() : body_json(r);
}

json get(httplib::Client& c, const std::string& path, const httplib::Headers& headers,
         int expected_status) {
  auto r = c.Get(path.c_str(), headers);
  REQUIRE(r);
  INFO(path << " -> " << r->status << " " << r->body);
  CHECK(r->status == expected_status);
  return body_json(r);
}

void headers_and_errors(const std::string& url) {
  ApiServer api(url);
  auto c = api.client();
  auto r = c.Get("/healthz", {{"Origin", "http://evil.example"}});
  REQUIRE(r);
  CHECK(r->status == 503);  // no models loaded in this server
  auto health = body_json(r);
  CHECK(health["database"] == true);
  CHECK(health["models"] == false);
  for (const auto& path : {"/healthz", "/api/v1/users", "/no/such/route"}) {
    INFO(path);
    r = c.Get(path, {{"Origin", "http://evil.example"}});
    REQUIRE(r);
    CHECK(r->get_header_value("Content-Security-Policy").find("default-src 'self'") !=
          std::string::npos);
    CHECK(r->get_header_value("Content-Security-Policy").find("frame-ancestors 'none'") !=
          std::string::npos);
    CHECK(r->get_header_value("X-Content-Type-Options") == "nosniff");
    CHECK(r->get_header_value("Referrer-Policy") == "no-referrer");
    CHECK_FALSE(r->has_header("Access-Control-Allow-Origin"));
    CHECK(r->get_header_value("X-Request-Id").size() == 16);
  }
  r = c.Get("/no/such/route");
  auto error = body_json(r);
  CHECK(r->status == 404);
  CHECK(error["error"] == "no such route");
  CHECK(error["request_id"] == r->get_header_value("X-Request-Id"));
}
API_TEST("every response has the security headers and a request id, no CORS; JSON errors", "",
         headers_and_errors)

void admin_auth(const std::string& url) {
  ServeOptions options;
  options.limits.lockout_failures = 3;
  options.limits.lockout_ms = 60000;
  ApiServer api(url, options);
  add_admin(api, "root");
  auto c = api.client();
  // No session, no key -> 401 on every admin route.
  for (const auto& path : {"/api/v1/users", "/api/v1/admin/me", "/api/v1/keys", "/api/v1/audit",
                           "/api/v1/attendance", "/api/v1/attendance.csv"}) {
    INFO(path);
    auto r = c.Get(path);
    REQUIRE(r);
    CHECK(r->status == 401);
  }
  post(c, "/api/v1/users", {{"employee_id", "E1"}, {"name", "A"}}, {}, 401);
  // Wrong password -> 401, then the lock-out -> 429 with Retry-After, even with the right one.
  post(c, "/api/v1/admin/login", {{"name", "root"}, {"password", "wrong password!"}}, {}, 401);
  post(c, "/api/v1/admin/login", {{"name", "nobody"}, {"password", "wrong password!"}}, {}, 401);
  auto r =
      c.Post("/api/v1/admin/login", json({{"name", "root"}, {"password", "nope nope nope"}}).dump(),
             "application/json");
  REQUIRE(r);
  CHECK(r->status == 401);
  r = c.Post("/api/v1/admin/login",
             json({{"name", "root"}, {"password", "correct horse battery"}}).dump(),
             "application/json");
  REQUIRE(r);
  CHECK(r->status == 429);
  CHECK(std::stoi(r->get_header_value("Retry-After")) == 60);
  CHECK(body_json(r)["code"] == "locked_out");
  api.advance(61000);
  AdminSession s = log_in(api, "root");
  auto set_cookie_check = [&] {
    auto again = c.Post("/api/v1/admin/login",
                        json({{"name", "root"}, {"password", "correct horse battery"}}).dump(),
                        "application/json");
    REQUIRE(again);
    const std::string cookie = again->get_header_value("Set-Cookie");
    CHECK(cookie.find("HttpOnly") != std::string::npos);
    CHECK(cookie.find("SameSite=Strict") != std::string::npos);
    CHECK(cookie.find("Path=/") != std::string::npos);
    CHECK(cookie.find("Secure") == std::string::npos);  // auth.cookie_secure is off
  };
  set_cookie_check();
  auto me = get(c, "/api/v1/admin/me", s.headers(false), 200);
  CHECK(me["name"] == "root");
  CHECK(me["csrf_token"] == s.csrf);
  // Reading needs no CSRF token; a state-changing request with the cookie does.
  get(c, "/api/v1/users", s.headers(false), 200);
  post(c, "/api/v1/users", {{"employee_id", "E1"}, {"name", "A"}}, s.headers(false), 403);
  httplib::Headers wrong{{"Cookie", s.cookie}, {"X-CSRF-Token", s.csrf + "x"}};
  post(c, "/api/v1/users", {{"employee_id", "E1"}, {"name", "A"}}, wrong, 403);
  auto created = post(c, "/api/v1/users", {{"employee_id", "E1"}, {"name", "A"}}, s.headers(), 201);
  auto d = c.Delete(("/api/v1/users/" + std::to_string(created["id"].get<int>())).c_str(),
                    s.headers(false));
  REQUIRE(d);
  CHECK(d->status == 403);
  // A forged or altered cookie is no session.
  get(c, "/api/v1/admin/me", {{"Cookie", s.cookie + "x"}}, 401);
  std::string altered = s.cookie;
  altered[altered.find('=') + 1] = altered[altered.find('=') + 1] == '9' ? '8' : '9';
  get(c, "/api/v1/admin/me", {{"Cookie", altered}}, 401);
  // Logout ends the session.
  post(c, "/api/v1/admin/logout", json::object(), s.headers(), 204);
  get(c, "/api/v1/admin/me", s.headers(false), 401);
}
API_TEST("admin auth: 401 without a session, CSRF 403, wrong password 401 then lock-out 429", "",
         admin_auth)

void session_expiry(const std::string& url) {
  ServeOptions options;
  options.auth.session_idle_ms = 10 * 60000;
  options.auth.session_absolute_ms = 60 * 60000;
  ApiServer api(url, options);
  add_admin(api, "root");
  auto c = api.client();
  AdminSession s = log_in(api, "root");
  // Used every 8 minutes, the session outlives its idle time but not its absolute time.
  for (int minute = 8; minute < 60; minute += 8) {
    api.advance(8 * 60000);
    get(c, "/api/v1/admin/me", s.headers(false), 200);
  }
  api.advance(8 * 60000);  // 64 minutes after log-in
  get(c, "/api/v1/admin/me", s.headers(false), 401);
  AdminSession idle = log_in(api, "root");
  api.advance(11 * 60000);
  get(c, "/api/v1/admin/me", idle.headers(false), 401);
}
API_TEST("sessions end after the idle time and after the absolute time", "", session_expiry)

void api_keys(const std::string& url) {
  ApiServer api(url);
  add_admin(api, "root");
  add_admin(api, "ops");
  auto c = api.client();
  AdminSession root = log_in(api, "root"), ops = log_in(api, "ops");
  auto created = post(c, "/api/v1/keys", {{"name", "payroll export"}}, root.headers(), 201);
  const std::string key = created["key"];
  CHECK(key.rfind("wtp_", 0) == 0);
  CHECK(created["prefix"] == key.substr(0, 12));
  const httplib::Headers bearer{{"Authorization", "Bearer " + key}};
  // The key works without a CSRF token (no cookie) and is listed without the key itself.
  get(c, "/api/v1/users", bearer, 200);
  post(c, "/api/v1/users", {{"employee_id", "K1"}, {"name", "By key"}}, bearer, 201);
  auto listed = get(c, "/api/v1/keys", root.headers(false), 200);
  REQUIRE(listed["keys"].size() == 1);
  CHECK_FALSE(listed["keys"][0].contains("key"));
  CHECK(listed.dump().find(key) == std::string::npos);
  // Keys cannot manage keys.
  get(c, "/api/v1/keys", bearer, 403);
  post(c, "/api/v1/keys", {{"name", "more"}}, bearer, 403);
  // Another admin revokes root's key -> 401 with it; revoking twice -> 404.
  const std::string path = "/api/v1/keys/" + std::to_string(created["id"].get<int>());
  auto d = c.Delete(path.c_str(), ops.headers());
  REQUIRE(d);
  CHECK(d->status == 204);
  get(c, "/api/v1/users", bearer, 401);
  d = c.Delete(path.c_str(), ops.headers());
  REQUIRE(d);
  CHECK(d->status == 404);
  get(c, "/api/v1/users", {{"Authorization", "Bearer wtp_not-a-key"}}, 401);
  get(c, "/api/v1/users", {{"Authorization", "Basic cm9vdDpyb290"}}, 401);
  auto audit = get(c, "/api/v1/audit", root.headers(false), 200);
  bool saw_revoke = false, saw_key_create = false;
  for (const auto& e : audit["entries"]) {
    if (e["action"] == "apikey.revoke" && e["actor"] == "admin:ops") saw_revoke = true;
    if (e["action"] == "user.create" && e["actor"] == "key:" + key.substr(0, 12))
      saw_key_create = true;
  }
  CHECK(saw_revoke);
  CHECK(saw_key_create);
}
API_TEST("API keys: shown once, never listed, revoked by another admin -> 401", "", api_keys)

void users(const std::string& url) {
  ApiServer api(url);
  add_admin(api, "root");
  auto c = api.client();
  AdminSession s = log_in(api, "root");
  const std::string sql = "Robert'); DROP TABLE users;--";
  const std::string html = "<script>alert(\"x\")</script> & <b>";
  auto a = post(c, "/api/v1/users", {{"employee_id", "E-1"}, {"name", sql}}, s.headers(), 201);
  auto b = post(c, "/api/v1/users", {{"employee_id", "E-2"}, {"name", html}}, s.headers(), 201);
  for (int i = 3; i <= 12; ++i)
    post(c, "/api/v1/users",
         {{"employee_id", "E-" + std::to_string(i)}, {"name", "Person " + std::to_string(i)}},
         s.headers(), 201);
  post(c, "/api/v1/users", {{"employee_id", "E-1"}, {"name", "dup"}}, s.headers(), 409);
  post(c, "/api/v1/users", {{"employee_id", ""}, {"name", "x"}}, s.headers(), 400);
  post(c, "/api/v1/users", {{"employee_id", "E-99"}, {"name", "a\nb"}}, s.headers(), 400);
  post(c, "/api/v1/users", {{"employee_id", "E-99"}}, s.headers(), 400);
  // Stored verbatim, returned as JSON strings (the raw body escapes the quotes).
  auto r = c.Get(("/api/v1/users/" + std::to_string(a["id"].get<int>())).c_str(), s.headers(false));
  REQUIRE(r);
  CHECK(body_json(r)["name"] == sql);
  CHECK_FALSE(body_json(r).contains("templates_data"));
  r = c.Get(("/api/v1/users/" + std::to_string(b["id"].get<int>())).c_str(), s.headers(false));
  REQUIRE(r);
  CHECK(body_json(r)["name"] == html);
  CHECK(r->body.find("\\\"x\\\"") != std::string::npos);
  // Paged listing and search.
  auto page = get(c, "/api/v1/users?offset=2&limit=5", s.headers(false), 200);
  CHECK(page["total"] == 12);
  REQUIRE(page["users"].size() == 5);
  CHECK(page["users"][0]["employee_id"] == "E-3");
  auto found = get(c, "/api/v1/users?q=person%201", s.headers(false), 200);
  CHECK(found["total"] == 3);  // Person 10, 11, 12
  auto none = get(c, "/api/v1/users?q=%25", s.headers(false), 200);
  CHECK(none["total"] == 0);  // % is literal
  get(c, "/api/v1/users?limit=0", s.headers(false), 400);
  get(c, "/api/v1/users?limit=100000", s.headers(false), 400);
  get(c, "/api/v1/users?offset=-1", s.headers(false), 400);
  get(c, "/api/v1/users/999999", s.headers(false), 404);
  // Only DELETE deletes; GET never changes state.
  const std::string path = "/api/v1/users/" + std::to_string(a["id"].get<int>());
  c.Get((path + "/delete").c_str(), s.headers());
  get(c, path, s.headers(false), 200);
  auto d = c.Delete(path.c_str(), s.headers());
  REQUIRE(d);
  CHECK(d->status == 204);
  get(c, path, s.headers(false), 404);
  d = c.Delete(path.c_str(), s.headers());
  REQUIRE(d);
  CHECK(d->status == 404);
}
API_TEST("users: create, search, page, get, delete (DELETE only); SQL and HTML stored verbatim", "",
         users)

void attendance(const std::string& url) {
  ApiServer api(url);
  add_admin(api, "root");
  auto c = api.client();
  AdminSession s = log_in(api, "root");
  auto u = api.store().create_user("=HYPERLINK(\"http://x\")", "+Eve, \"the\" @admin", api.now());
  auto v = api.store().create_user("E-2", "Bob", api.now());
  api.store().record_attendance(u.id, 1'700'000'000'000, "2023-11-14", 0);
  api.store().record_attendance(u.id, 1'700'000'600'000, "2023-11-14", 0);
  api.store().record_attendance(v.id, 1'700'100'000'000, "2023-11-16", 0);
  auto all = get(c, "/api/v1/attendance", s.headers(false), 200);
  REQUIRE(all["events"].size() == 3);
  CHECK(all["events"][0]["kind"] == "check_in");
  CHECK(all["events"][1]["kind"] == "check_out");
  auto one = get(c, "/api/v1/attendance?user_id=" + std::to_string(v.id), s.headers(false), 200);
  CHECK(one["events"].size() == 1);
  auto range = get(c, "/api/v1/attendance?from=2023-11-15&to=2023-11-30", s.headers(false), 200);
  REQUIRE(range["events"].size() == 1);
  CHECK(range["events"][0]["name"] == "Bob");
  get(c, "/api/v1/attendance?from=yesterday", s.headers(false), 400);
  get(c, "/api/v1/attendance?user_id=abc", s.headers(false), 400);
  auto r = c.Get("/api/v1/attendance.csv?to=2023-11-14", s.headers(false));
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(r->get_header_value("Content-Type").rfind("text/csv", 0) == 0);
  INFO(r->body);
  CHECK(r->body.rfind("id,user_id,employee_id,name,kind,at,day\r\n", 0) == 0);
  // Cells a spreadsheet would run as formulas start with a quote; quotes are doubled.
  CHECK(r->body.find("\"'=HYPERLINK(\"\"http://x\"\")\",\"'+Eve, \"\"the\"\" @admin\",check_in,"
                     "2023-11-14T22:13:20Z,2023-11-14\r\n") != std::string::npos);
  CHECK(r->body.find("Bob") == std::string::npos);
}
API_TEST("attendance: by user and date range, CSV with formula-safe cells", "", attendance)

void bad_requests(const std::string& url) {
  ServeOptions options;
  options.http.max_body_bytes = 64 * 1024;
  options.http.max_image_bytes = 16 * 1024;
  ApiServer api(url, options);
  add_admin(api, "root");
  auto c = api.client();
  AdminSession s = log_in(api, "root");
  // Over the cap: 413 from the Content-Length, before the body is read or decoded.
  const std::string big(65 * 1024, 'x');
  auto r = c.Post("/api/v1/users", s.headers(), big, "application/json");
  REQUIRE(r);
  CHECK(r->status == 413);
  CHECK(body_json(r)["error"] == "the request body is too large");
  r = c.Post("/api/v1/users", s.headers(), "{\"employee_id\": ", "application/json");
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(body_json(r)["error"] == "the body is not valid JSON");
  r = c.Post("/api/v1/users", s.headers(), "[1, 2]", "application/json");
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(body_json(r)["error"] == "the body must be a JSON object");
  r = c.Post("/api/v1/users", s.headers(), "employee_id=1&name=x",
             "application/x-www-form-urlencoded");
  REQUIRE(r);
  CHECK(r->status == 415);
  r = c.Post("/api/v1/users", s.headers(), "{\"employee_id\": \"\xff\xfe\", \"name\": \"x\"}",
             "application/json");
  REQUIRE(r);
  CHECK(r->status == 400);
  // The face routes answer 503 when no models are loaded.
  r = c.Post("/api/v1/faces/check", s.headers(), json({{"image", "not base64!"}}).dump(),
             "application/json");
  REQUIRE(r);
  CHECK(r->status == 503);
}
API_TEST("bad requests: 413 over the body cap, bad JSON 400, form posts 415", "", bad_requests)

void brute_force(const std::string& url) {
  ServeOptions options;
  options.limits.login_burst = 5;
  options.limits.login_per_second = 0.5;
  ApiServer api(url, options);
  auto c = api.client();
  int limited = 0;
  std::string retry;
  for (int i = 0; i < 8; ++i) {
    auto r = c.Post("/api/v1/login/challenge", "{}", "application/json");
    REQUIRE(r);
    if (r->status == 429) {
      ++limited;
      retry = r->get_header_value("Retry-After");
    }
  }
  CHECK(limited == 3);
  CHECK(retry == "2");
  api.advance(2000);
  auto r = c.Post("/api/v1/login/challenge", "{}", "application/json");
  REQUIRE(r);
  CHECK(r->status == 503);  // allowed again (no models in this server)
  // The metrics count the refused requests by route and status.
  auto m = c.Get("/metrics");
  REQUIRE(m);
  CHECK(m->body.find("wtp_http_requests_total{route=\"/api/v1/login/challenge\",method=\"POST\","
                     "status=\"429\"} 3") != std::string::npos);
}
API_TEST("employee log-in routes are rate-limited per address: 429 with Retry-After", "",
         brute_force)

}  // namespace
