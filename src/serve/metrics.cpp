#include "serve/metrics.h"

#include <sstream>

namespace wtp::serve {
namespace {

/// A label value escaped as the exposition format requires (\\, \", \n).
std::string label(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

/// `value` with `digits` significant digits (bucket bounds print as written: 0.05, not
/// 0.050000000000000003).
std::string number(double value, int digits) {
  std::ostringstream out;
  out.precision(digits);
  out << value;
  return out.str();
}

}  // namespace

void Metrics::observe_request(const std::string& route, const std::string& method, int status,
                              double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_[{route, method, status}];
  Histogram& h = latency_[route];
  for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i)
    if (seconds <= kLatencyBuckets[i]) ++h.buckets[i];
  ++h.count;
  h.sum += seconds;
}

void Metrics::count_match(bool accepted) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++(accepted ? accepted_ : rejected_);
}

void Metrics::count_refusal(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++refusals_[reason];
  if (reason == "no_blink") ++liveness_failures_;
}

std::string Metrics::render() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::ostringstream out;
  out << "# HELP wtp_http_requests_total HTTP requests by route pattern, method and status.\n"
         "# TYPE wtp_http_requests_total counter\n";
  for (const auto& [key, count] : requests_) {
    const auto& [route, method, status] = key;
    out << "wtp_http_requests_total{route=\"" << label(route) << "\",method=\"" << label(method)
        << "\",status=\"" << status << "\"} " << count << "\n";
  }
  out << "# HELP wtp_http_request_duration_seconds Time to answer a request, by route pattern.\n"
         "# TYPE wtp_http_request_duration_seconds histogram\n";
  for (const auto& [route, h] : latency_) {
    const std::string name = "wtp_http_request_duration_seconds";
    const std::string r = "route=\"" + label(route) + "\"";
    for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i)
      out << name << "_bucket{" << r << ",le=\"" << number(kLatencyBuckets[i], 6) << "\"} "
          << h.buckets[i] << "\n";
    out << name << "_bucket{" << r << ",le=\"+Inf\"} " << h.count << "\n";
    out << name << "_sum{" << r << "} " << number(h.sum, 17) << "\n";
    out << name << "_count{" << r << "} " << h.count << "\n";
  }
  out << "# HELP wtp_match_total Face match decisions (log-in and 1:1 verification).\n"
         "# TYPE wtp_match_total counter\n"
      << "wtp_match_total{result=\"accept\"} " << accepted_ << "\n"
      << "wtp_match_total{result=\"reject\"} " << rejected_ << "\n";
  out << "# HELP wtp_liveness_failures_total Log-ins refused for no blink after the cue.\n"
         "# TYPE wtp_liveness_failures_total counter\n"
      << "wtp_liveness_failures_total " << liveness_failures_ << "\n";
  out << "# HELP wtp_refusals_total Face requests refused, by reason.\n"
         "# TYPE wtp_refusals_total counter\n";
  for (const auto& [reason, count] : refusals_)
    out << "wtp_refusals_total{reason=\"" << label(reason) << "\"} " << count << "\n";
  return out.str();
}

}  // namespace wtp::serve
