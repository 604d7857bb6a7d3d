#pragma once
/// The API tests' server: a wtp::serve::Server on 127.0.0.1 (a free port) over a fresh
/// database of either backend, served from a background thread, with a fake clock.
#include <httplib.h>

#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "postgres_server.h"
#include "serve/server.h"
#include "test_support.h"

namespace wtp::test {

/// A database URL of a fresh database: SQLite in a temporary directory or PostgreSQL on the
/// test process's server.
struct TestDb {
  std::string url;
  std::shared_ptr<TempDir> dir;
};

inline TestDb sqlite_test_db() {
  TestDb db;
  db.dir = std::make_shared<TempDir>();
  db.url = "sqlite:" + (*db.dir / "wtp.db").string();
  return db;
}

class ApiServer {
 public:
  /// Models: `kNone` serves without them (face routes answer 503), `kLoad` loads
  /// options.service's archives into a Service that shares the fake clock.
  enum class Models { kNone, kLoad };
  ApiServer(const std::string& url, serve::ServeOptions options = {}, Models models = Models::kNone)
      : now_(std::make_shared<std::atomic<std::int64_t>>(1'700'000'000'000)) {
    options.host = "127.0.0.1";
    options.port = 0;
    store_ = serve::open_store(url);
    auto now = now_;
    serve::Server::Clock clock = [now] { return now->load(); };
    std::shared_ptr<serve::Service> service;
    if (models == Models::kLoad)
      service = std::make_shared<serve::Service>(options.service, store_, clock);
    server_ = std::make_unique<serve::Server>(options, store_, service, clock);
    port_ = server_->bind();
    thread_ = std::thread([this] { server_->serve(); });
  }
  ~ApiServer() {
    server_->stop();
    thread_.join();
  }
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  int port() const { return port_; }
  serve::Store& store() { return *store_; }
  serve::Server& server() { return *server_; }
  /// Moves the fake clock (Unix ms) forward.
  void advance(std::int64_t ms) { *now_ += ms; }
  std::int64_t now() const { return now_->load(); }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    return c;
  }

 private:
  std::shared_ptr<std::atomic<std::int64_t>> now_;
  std::shared_ptr<serve::Store> store_;
  std::unique_ptr<serve::Server> server_;
  int port_ = 0;
  std::thread thread_;
};

/// An administrator session: the cookie header and the CSRF token.
struct AdminSession {
  std::string cookie;  ///< "wtp_session=..."
  std::string csrf;
  httplib::Headers headers(bool with_csrf = true) const {
    httplib::Headers h{{"Cookie", cookie}};
    if (with_csrf) h.emplace("X-CSRF-Token", csrf);
    return h;
  }
};

/// Creates administrator `name` (password "correct horse battery") in the server's store.
inline void add_admin(ApiServer& api, const std::string& name) {
  api.store().create_admin(name, serve::hash_password("correct horse battery"), api.now());
}

/// Logs `name` in; REQUIREs success.
AdminSession log_in(ApiServer& api, const std::string& name,
                    const std::string& password = "correct horse battery");

/// The JSON body of a response (REQUIREs it to be JSON).
nlohmann::json body_json(const httplib::Result& r);

/// Base64 of bytes (libsodium's original variant, padded).
std::string base64(const std::string& bytes);

}  // namespace wtp::test
