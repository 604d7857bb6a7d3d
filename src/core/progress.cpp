#include "core/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "core/log.h"

namespace wtp {
namespace {

std::string format_count(double value, const std::string& unit) {
  char buffer[64];
  if (unit == "B") {
    static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    while (value >= 1024.0 && i < 4) {
      value /= 1024.0;
      ++i;
    }
    std::snprintf(buffer, sizeof(buffer), i == 0 ? "%.0f %s" : "%.1f %s", value, kUnits[i]);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%.0f %s", value, unit.c_str());
  }
  return buffer;
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  auto s = static_cast<long long>(seconds + 0.5);
  char buffer[32];
  if (s >= 3600)
    std::snprintf(buffer, sizeof(buffer), "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  else
    std::snprintf(buffer, sizeof(buffer), "%lld:%02lld", s / 60, s % 60);
  return buffer;
}

}  // namespace

Progress::Progress(std::string label, std::int64_t total, std::string unit)
    : label_(std::move(label)),
      total_(total),
      unit_(std::move(unit)),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_),
      tty_(::isatty(::fileno(stderr)) == 1) {}

Progress::~Progress() { finish(); }

void Progress::advance(std::int64_t n) {
  std::lock_guard<std::mutex> lock(mutex_);
  done_ += n;
  draw(false);
}

void Progress::set(std::int64_t done) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (done_ == 0 && start_done_ == 0) start_done_ = done;  // e.g. a resumed download
  done_ = done;
  draw(false);
}

void Progress::metric(const std::string& name, double value) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& m : metrics_) {
    if (m.first == name) {
      m.second = value;
      return;
    }
  }
  metrics_.emplace_back(name, value);
}

void Progress::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  finished_ = true;
  draw(true);
}

std::int64_t Progress::done() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return done_;
}

double Progress::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string Progress::line() const {
  const double seconds = elapsed();
  const double rate = seconds > 0 ? static_cast<double>(done_ - start_done_) / seconds : 0.0;
  std::string out = label_ + ": ";
  if (total_ > 0) {
    char pct[16];
    std::snprintf(pct, sizeof(pct), "%3.0f%% ",
                  100.0 * static_cast<double>(done_) / static_cast<double>(total_));
    out += pct;
    out += format_count(static_cast<double>(done_), unit_) + "/" +
           format_count(static_cast<double>(total_), unit_);
  } else {
    out += format_count(static_cast<double>(done_), unit_);
  }
  out += " [" + format_duration(seconds);
  if (total_ > 0 && rate > 0 && !finished_)
    out += "<" + format_duration(static_cast<double>(total_ - done_) / rate);
  out += ", " + format_count(rate, unit_) + "/s]";
  for (const auto& [name, value] : metrics_) {
    char buffer[64];
    std::snprintf(buffer, sizeof(buffer), " %s=%.4g", name.c_str(), value);
    out += buffer;
  }
  return out;
}

void Progress::draw(bool final) {
  if (!log::enabled(log::Level::kInfo)) return;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  if (tty_) {
    if (!final && since < 0.1) return;
    std::fprintf(stderr, "\r\033[K%s%s", line().c_str(), final ? "\n" : "");
  } else {
    if (!final && since < interval_) return;
    std::fprintf(stderr, "%s\n", line().c_str());
  }
  std::fflush(stderr);
  last_draw_ = now;
}

}  // namespace wtp
