#pragma once
/// wtp-serve's counters and latency histograms, rendered in the Prometheus text exposition
/// format (version 0.0.4) for GET /metrics:
///   wtp_http_requests_total{route,method,status}          counter
///   wtp_http_request_duration_seconds{route}              histogram (buckets kLatencyBuckets)
///   wtp_match_total{result="accept"|"reject"}             counter (log-ins and verifications)
///   wtp_liveness_failures_total                           counter (no blink after the cue)
///   wtp_refusals_total{reason}                            counter (Refusal names)
/// `route` is the route pattern (e.g. /api/v1/users/{id}), never the raw path, so the
/// number of series is bounded. Thread-safe.
#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

namespace wtp::serve {

/// Upper bounds (seconds) of the latency histogram buckets (+Inf is implied).
inline constexpr std::array<double, 12> kLatencyBuckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                        0.1,   0.25,   0.5,   1.0,  2.5,   5.0};

class Metrics {
 public:
  /// Counts one finished request and its duration.
  void observe_request(const std::string& route, const std::string& method, int status,
                       double seconds);
  /// Counts one match decision (accepted or rejected).
  void count_match(bool accepted);
  /// Counts one refusal by its reason name (see Refusal); "no_blink" is also a liveness
  /// failure.
  void count_refusal(const std::string& reason);
  /// The whole exposition text.
  std::string render() const;

 private:
  struct Histogram {
    std::array<std::uint64_t, kLatencyBuckets.size()> buckets{};
    std::uint64_t count = 0;
    double sum = 0.0;
  };
  mutable std::mutex mutex_;
  std::map<std::tuple<std::string, std::string, int>, std::uint64_t> requests_;
  std::map<std::string, Histogram> latency_;
  std::uint64_t accepted_ = 0, rejected_ = 0, liveness_failures_ = 0;
  std::map<std::string, std::uint64_t> refusals_;
};

}  // namespace wtp::serve
