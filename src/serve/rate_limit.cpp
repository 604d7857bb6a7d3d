#include "serve/rate_limit.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace wtp::serve {

void RateLimitOptions::validate() const {
  for (double rate : {ip_per_second, login_per_second, detect_per_second, user_per_second})
    require(rate > 0, "request rates (*_per_second) must be > 0");
  for (double burst : {ip_burst, login_burst, detect_burst, user_burst})
    require(burst >= 1, "bursts (*_burst) must be >= 1");
  require(lockout_failures >= 1, "lockout_failures must be >= 1");
  require(lockout_window_ms > 0 && lockout_ms > 0, "lockout_window_ms and lockout_ms must be > 0");
  require(max_entries >= 1, "max_entries must be >= 1");
}

TokenBuckets::TokenBuckets(double per_second, double burst, std::size_t max_entries)
    : per_second_(per_second), burst_(burst), table_(max_entries) {}

std::int64_t TokenBuckets::take(const std::string& key, std::int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  Bucket& b = table_.touch(key);
  if (b.tokens < 0) {
    b.tokens = burst_;
  } else {
    const double elapsed = std::max<std::int64_t>(0, now_ms - b.at) / 1000.0;
    b.tokens = std::min(burst_, b.tokens + elapsed * per_second_);
  }
  b.at = now_ms;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return 0;
  }
  return std::max<std::int64_t>(
      1, static_cast<std::int64_t>(std::ceil((1.0 - b.tokens) / per_second_ * 1000.0)));
}

std::size_t TokenBuckets::size() {
  std::lock_guard<std::mutex> lock(mutex_);
  return table_.size();
}

Lockouts::Lockouts(int failures, std::int64_t window_ms, std::int64_t lockout_ms,
                   std::size_t max_entries)
    : failures_(failures), window_ms_(window_ms), lockout_ms_(lockout_ms), table_(max_entries) {}

std::int64_t Lockouts::locked_for(const std::string& key, std::int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  const Entry* e = table_.find(key);
  return e && e->locked_until > now_ms ? e->locked_until - now_ms : 0;
}

std::int64_t Lockouts::failure(const std::string& key, std::int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mutex_);
  Entry& e = table_.touch(key);
  if (e.failures == 0 || now_ms - e.first_at > window_ms_) {
    e.failures = 0;
    e.first_at = now_ms;
  }
  if (++e.failures < failures_) return 0;
  e.failures = 0;
  e.locked_until = now_ms + lockout_ms_;
  return lockout_ms_;
}

void Lockouts::success(const std::string& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  table_.erase(key);
}

std::size_t Lockouts::size() {
  std::lock_guard<std::mutex> lock(mutex_);
  return table_.size();
}

}  // namespace wtp::serve
