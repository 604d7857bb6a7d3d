#pragma once
/// A real PostgreSQL server for the tests that need one (the store's and the HTTP API's).
///
/// Started once per test process on first use: initdb into a fresh temporary directory
/// (trust authentication, user `postgres`), listening only on a Unix socket in that
/// directory (no TCP port), fsync off. Stopped and removed when the process exits. As root
/// (CI), initdb and postgres refuse to run, so they run as Debian's `postgres` user through
/// `runuser`; the directory is owned by it.
///
/// Usage, copied from tests/serve/test_store.cpp:
///   WTP_REQUIRE_POSTGRES(server);
///   const std::string url = server->create_database();
#include <string>

namespace wtp::test {

class PostgresServer {
 public:
  /// The process's server, started on the first call. nullptr when PostgreSQL's binaries
  /// are not installed (`why` then says what to install); throws when they are but the
  /// server does not start (with initdb's or the server log's text).
  static PostgresServer* get(std::string& why);
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  /// Creates a fresh empty database and returns its URL
  /// (postgresql:///NAME?host=SOCKET_DIR&user=postgres).
  std::string create_database();
  /// Runs `sql` on the database at `url` with psql and returns its unaligned output; throws
  /// std::runtime_error with psql's output on failure.
  std::string psql(const std::string& url, const std::string& sql) const;
  /// The directory holding the socket (and the data directory).
  const std::string& dir() const { return dir_; }

 private:
  PostgresServer() = default;
  /// Runs a server binary (as `postgres` when we are root); throws with its output on failure.
  void run_as_owner(const std::string& command) const;

  std::string bin_, dir_, as_owner_;
  int databases_ = 0;
};

}  // namespace wtp::test

/// Declares `PostgresServer* var`, the test process's server, or skips the test (WTP_SKIP)
/// with the apt-get command when PostgreSQL 15 is not installed.
#define WTP_REQUIRE_POSTGRES(var)                                                  \
  std::string var##_why_;                                                          \
  ::wtp::test::PostgresServer* var = ::wtp::test::PostgresServer::get(var##_why_); \
  if (!var) WTP_SKIP(var##_why_)
