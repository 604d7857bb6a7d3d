#pragma once
/// Abuse limits of wtp-serve: token-bucket request rates and temporary lock-outs after
/// repeated failures, keyed by strings such as "ip:127.0.0.1", "user:42" or "admin:root".
///
/// Memory is bounded: each table holds at most `max_entries` keys; when full, the least
/// recently used key is dropped (for a bucket that only forgives; for a lock-out it forgets
/// failures of the key that was quiet longest). Thread-safe (one mutex per table).
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

namespace wtp::serve {

struct RateLimitOptions {
  double ip_per_second = 10.0;  ///< sustained requests per second from one address
  double ip_burst = 40.0;       ///< requests one address may make at once
  /// Log-in attempts (challenge, login, verify) per second from one address, and burst.
  double login_per_second = 1.0;
  double login_burst = 10.0;
  /// Face-box look-ups (the log-in page's preview) per second from one address, and burst.
  double detect_per_second = 4.0;
  double detect_burst = 8.0;
  double user_per_second = 0.2;  ///< 1:1 verifications per second of one claimed user
  double user_burst = 5.0;
  int lockout_failures = 5;                         ///< failed log-ins that lock a key out
  std::int64_t lockout_window_ms = 15 * 60 * 1000;  ///< failures older than this are forgotten
  std::int64_t lockout_ms = 5 * 60 * 1000;          ///< how long a lock-out lasts
  std::size_t max_entries = 100000;                 ///< keys kept per table (oldest evicted)

  template <class V>
  void visit(V& v) {
    v("ip_per_second", ip_per_second, "sustained requests per second from one address");
    v("ip_burst", ip_burst, "requests one address may make at once");
    v("login_per_second", login_per_second,
      "log-in attempts (challenge, login, verify, admin log-in) per second from one address");
    v("login_burst", login_burst, "log-in attempts one address may make at once");
    v("detect_per_second", detect_per_second,
      "face-box look-ups (the log-in page's preview) per second from one address");
    v("detect_burst", detect_burst, "face-box look-ups one address may make at once");
    v("user_per_second", user_per_second, "1:1 verifications per second of one claimed user");
    v("user_burst", user_burst, "1:1 verifications of one claimed user at once");
    v("lockout_failures", lockout_failures,
      "failed log-ins (per address, per user, per admin name) that start a lock-out");
    v("lockout_window_ms", lockout_window_ms, "failures older than this (ms) are forgotten");
    v("lockout_ms", lockout_ms, "how long (ms) a lock-out lasts");
    v("max_entries", max_entries, "keys kept per limiter table (least recently used evicted)");
  }
  void validate() const;
};

/// A bounded least-recently-used map from string keys to `Value`.
template <class Value>
class LruTable {
 public:
  explicit LruTable(std::size_t capacity) : capacity_(capacity) {}
  /// The entry for `key`, created (evicting the least recently used one when full) and
  /// marked as most recently used.
  Value& touch(const std::string& key) {
    auto it = index_.find(key);
    if (it != index_.end()) {
      order_.splice(order_.begin(), order_, it->second);
      return it->second->second;
    }
    if (index_.size() >= capacity_) {
      index_.erase(order_.back().first);
      order_.pop_back();
    }
    order_.emplace_front(key, Value{});
    index_[key] = order_.begin();
    return order_.front().second;
  }
  Value* find(const std::string& key) {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &it->second->second;
  }
  void erase(const std::string& key) {
    auto it = index_.find(key);
    if (it == index_.end()) return;
    order_.erase(it->second);
    index_.erase(it);
  }
  std::size_t size() const { return index_.size(); }

 private:
  using Entry = std::pair<std::string, Value>;
  std::size_t capacity_;
  std::list<Entry> order_;
  std::unordered_map<std::string, typename std::list<Entry>::iterator> index_;
};

/// Token buckets: each key holds up to `burst` tokens, refilled at `per_second`.
class TokenBuckets {
 public:
  TokenBuckets(double per_second, double burst, std::size_t max_entries);
  /// Takes one token of `key` at time `now_ms`: 0 when allowed, otherwise the ms until a
  /// token is available (nothing is taken).
  std::int64_t take(const std::string& key, std::int64_t now_ms);
  std::size_t size();

 private:
  struct Bucket {
    double tokens = -1.0;  ///< < 0: new, full
    std::int64_t at = 0;
  };
  double per_second_, burst_;
  std::mutex mutex_;
  LruTable<Bucket> table_;
};

/// Lock-outs: `failures` failures of a key within `window_ms` lock it for `lockout_ms`.
class Lockouts {
 public:
  Lockouts(int failures, std::int64_t window_ms, std::int64_t lockout_ms, std::size_t max_entries);
  /// 0 when `key` may try now, else the ms left of its lock-out.
  std::int64_t locked_for(const std::string& key, std::int64_t now_ms);
  /// Records a failure of `key`; returns the lock-out it started (ms), or 0.
  std::int64_t failure(const std::string& key, std::int64_t now_ms);
  /// Forgets the failures of `key` (after a success).
  void success(const std::string& key);
  std::size_t size();

 private:
  struct Entry {
    int failures = 0;
    std::int64_t first_at = 0;
    std::int64_t locked_until = 0;
  };
  int failures_;
  std::int64_t window_ms_, lockout_ms_;
  std::mutex mutex_;
  LruTable<Entry> table_;
};

}  // namespace wtp::serve
