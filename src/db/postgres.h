#pragma once
/// A small PostgreSQL connection pool over libpqxx, shared by every PostgreSQL database of
/// wtp (the log-in service's store, tuning studies).
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <string>
#include <vector>

namespace wtp::db {

/// `url` with the password (in `user:password@` or a `password=` parameter) replaced by
/// "***", for messages and logs.
std::string redact_url(const std::string& url);

/// Up to `size` connections to one database, opened on demand and reused by any thread.
///
/// Contract: the constructor connects once, so an unreachable server or a refused log-in
/// is a UsageError naming the redacted URL (never the password). A connection that broke
/// during a call is dropped, not returned to the pool.
class PgPool {
 public:
  explicit PgPool(const std::string& url, int size = 8);
  ~PgPool();
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;

  /// Runs `work(connection)` on a pooled connection, waiting for a free one. The whole
  /// call is retried (up to 20 times) when the server aborts it with a serialization
  /// failure or a deadlock, so `work` must be one transaction with no other side effects.
  template <class Work>
  auto run(Work&& work) -> decltype(work(std::declval<pqxx::connection&>())) {
    for (int attempt = 0;; ++attempt) {
      Lease lease(*this);
      try {
        return work(*lease.connection);
      } catch (const pqxx::broken_connection&) {
        lease.broken = true;
        throw;
      } catch (const pqxx::serialization_failure&) {
        if (attempt >= 19) throw;
      } catch (const pqxx::deadlock_detected&) {
        if (attempt >= 19) throw;
      }
    }
  }

  const std::string& redacted_url() const { return redacted_; }

 private:
  struct Lease {
    explicit Lease(PgPool& pool);
    ~Lease();
    PgPool& pool;
    std::unique_ptr<pqxx::connection> connection;
    bool broken = false;
  };
  std::unique_ptr<pqxx::connection> connect();

  std::string url_, redacted_;
  int size_;
  int open_ = 0;  ///< connections in use or idle
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  std::mutex mutex_;
  std::condition_variable freed_;
};

}  // namespace wtp::db
