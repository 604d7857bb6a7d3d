#pragma once
/// Progress reporting for long work (downloads, extraction, alignment, epochs, evaluation).
/// On a terminal: one bar redrawn in place with count, rate, ETA and named metrics.
/// Otherwise (logs, CI): a plain line at most every `interval` seconds and at the end.
/// Silent when the log level is above info. Thread-safe: workers may call advance().
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace wtp {

class Progress {
 public:
  /// `total` = 0 means unknown (no percentage or ETA). `unit` e.g. "img", "B" (bytes are
  /// shown as KiB/MiB/GiB).
  Progress(std::string label, std::int64_t total, std::string unit = "it");
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// Adds `n` to the count and redraws if due.
  void advance(std::int64_t n = 1);
  /// Sets the count (e.g. a resumed download starting at its offset).
  void set(std::int64_t done);
  /// Sets a named metric shown after the rate (e.g. "loss", 0.41).
  void metric(const std::string& name, double value);
  /// Prints the final line (also done by the destructor).
  void finish();

  std::int64_t done() const;
  /// Seconds since construction.
  double elapsed() const;

  /// Minimum seconds between plain (non-terminal) lines; default 10.
  void set_interval(double seconds) { interval_ = seconds; }

 private:
  void draw(bool final);
  std::string line() const;

  std::string label_;
  std::int64_t total_;
  std::string unit_;
  std::int64_t done_ = 0;
  std::int64_t start_done_ = 0;
  std::vector<std::pair<std::string, double>> metrics_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  double interval_ = 10.0;
  bool tty_ = false;
  bool finished_ = false;
  mutable std::mutex mutex_;
};

}  // namespace wtp
