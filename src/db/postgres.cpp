#include "db/postgres.h"

#include <regex>

#include "core/error.h"

namespace wtp::db {

std::string redact_url(const std::string& url) {
  static const std::regex userinfo(R"(^([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@?#]*):[^@/?#]*@)");
  static const std::regex param(R"(([?&]password=)[^&#]*)");
  return std::regex_replace(std::regex_replace(url, userinfo, "$1:***@"), param, "$1***");
}

PgPool::PgPool(const std::string& url, int size)
    : url_(url), redacted_(redact_url(url)), size_(size) {
  require(size >= 1, "PostgreSQL pool size must be >= 1");
  idle_.push_back(connect());
  open_ = 1;
}

PgPool::~PgPool() = default;

std::unique_ptr<pqxx::connection> PgPool::connect() {
  try {
    return std::make_unique<pqxx::connection>(url_);
  } catch (const pqxx::broken_connection& e) {
    // libpq's message names host and port, never the password.
    std::string why = e.what();
    while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
    throw UsageError("cannot connect to PostgreSQL at " + redacted_ + ": " + why +
                     " (is the server running, and are the host, port, user and database "
                     "right?)");
  }
}

PgPool::Lease::Lease(PgPool& p) : pool(p) {
  std::unique_lock<std::mutex> lock(pool.mutex_);
  pool.freed_.wait(lock, [&] { return !pool.idle_.empty() || pool.open_ < pool.size_; });
  if (!pool.idle_.empty()) {
    connection = std::move(pool.idle_.back());
    pool.idle_.pop_back();
    return;
  }
  ++pool.open_;
  lock.unlock();
  try {
    connection = pool.connect();
  } catch (...) {
    std::lock_guard<std::mutex> relock(pool.mutex_);
    --pool.open_;
    pool.freed_.notify_one();
    throw;
  }
}

PgPool::Lease::~Lease() {
  std::lock_guard<std::mutex> lock(pool.mutex_);
  if (broken || !connection || !connection->is_open())
    --pool.open_;
  else
    pool.idle_.push_back(std::move(connection));
  pool.freed_.notify_one();
}

}  // namespace wtp::db
