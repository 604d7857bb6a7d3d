// The blink rule on hand-made closed-eye probability sequences, and the frame timing checks.
#include "catch_torch.h"
#include "core/error.h"
#include "serve/blink.h"
#include "test_support.h"

using Catch::Matchers::Contains;
using wtp::serve::BlinkRule;
using wtp::serve::check_frame_timing;
using wtp::serve::detect_blink;

namespace {

/// Frames 100 ms apart from t = 0.
std::vector<double> times(std::size_t n) {
  std::vector<double> t;
  for (std::size_t i = 0; i < n; ++i) t.push_back(100.0 * static_cast<double>(i));
  return t;
}

constexpr double kOpen = 0.05, kClosed = 0.95, kBetween = 0.5;

}  // namespace

TEST_CASE("a blink after the cue is open, closed, open", "[serve][blink]") {
  const BlinkRule rule;  // open <= 0.3, closed >= 0.7, 2 open / 1 closed / 2 open
  const std::vector<double> p{kOpen, kOpen, kOpen, kClosed, kClosed, kOpen, kOpen, kOpen};
  const auto verdict = detect_blink(p, times(p.size()), 0.0, rule);
  CHECK(verdict.blink);
  CHECK(verdict.closed_frame == 3);
  CHECK(verdict.detail.empty());
}

TEST_CASE("eyes that never close are no blink", "[serve][blink]") {
  const std::vector<double> p(12, kOpen);
  const auto verdict = detect_blink(p, times(p.size()), 0.0, BlinkRule{});
  CHECK_FALSE(verdict.blink);
  CHECK_THAT(verdict.detail, Contains("stayed open"));
}

TEST_CASE("a blink before the cue does not count", "[serve][blink]") {
  const std::vector<double> p{kOpen, kOpen, kClosed, kOpen, kOpen, kOpen, kOpen, kOpen, kOpen};
  const auto t = times(p.size());
  CHECK(detect_blink(p, t, 0.0, BlinkRule{}).blink);
  // Cue at 300 ms: only frames 3.. count, all open.
  CHECK_FALSE(detect_blink(p, t, 300.0, BlinkRule{}).blink);
  // The closed frame itself after the cue, but only one open frame before it: no blink.
  CHECK_FALSE(detect_blink(p, t, 100.0, BlinkRule{}).blink);
}

TEST_CASE("a single open frame is not a reopening (flicker)", "[serve][blink]") {
  BlinkRule rule;
  // Closed eyes with a one-frame flicker open, ending closed: open -> closed -> (1 open).
  const std::vector<double> flicker{kOpen, kOpen, kClosed, kClosed, kOpen, kClosed, kClosed};
  CHECK_FALSE(detect_blink(flicker, times(flicker.size()), 0.0, rule).blink);
  // Starts with closed eyes, one open flicker, closed again, then open: not enough open
  // frames before the closed run.
  const std::vector<double> start{kClosed, kOpen, kClosed, kOpen, kOpen, kOpen};
  CHECK_FALSE(detect_blink(start, times(start.size()), 0.0, rule).blink);
  // A single closed frame is a blink with min_closed 1, not with 2.
  const std::vector<double> single{kOpen, kOpen, kClosed, kOpen, kOpen};
  CHECK(detect_blink(single, times(single.size()), 0.0, rule).blink);
  rule.min_closed = 2;
  CHECK_FALSE(detect_blink(single, times(single.size()), 0.0, rule).blink);
}

TEST_CASE("undecided frames neither break nor make a blink", "[serve][blink]") {
  const BlinkRule rule;
  // Undecided frames around and inside the runs are skipped.
  const std::vector<double> p{kOpen,    kBetween, kOpen,    kBetween, kClosed,
                              kBetween, kOpen,    kBetween, kOpen};
  CHECK(detect_blink(p, times(p.size()), 0.0, rule).blink);
  // Half-closed (undecided) frames are not closed: no blink without a closed frame.
  const std::vector<double> half{kOpen, kOpen, kBetween, kBetween, kOpen, kOpen};
  CHECK_FALSE(detect_blink(half, times(half.size()), 0.0, rule).blink);
  // Nothing decided at all.
  const std::vector<double> none(6, kBetween);
  CHECK_THAT(detect_blink(none, times(none.size()), 0.0, rule).detail, Contains("clearly"));
  // Hysteresis bounds are inclusive.
  CHECK(rule.state(0.3) == wtp::serve::EyeState::kOpen);
  CHECK(rule.state(0.7) == wtp::serve::EyeState::kClosed);
  CHECK(rule.state(0.31) == wtp::serve::EyeState::kUndecided);
}

TEST_CASE("blink rule thresholds are validated", "[serve][blink]") {
  BlinkRule rule;
  rule.open_threshold = 0.8;
  CHECK_THROWS_AS(rule.validate(), wtp::UsageError);
  rule = BlinkRule{};
  rule.min_open_after = 0;
  CHECK_THROWS_AS(rule.validate(), wtp::UsageError);
  CHECK_NOTHROW(BlinkRule{}.validate());
  CHECK_THROWS_AS(detect_blink({0.1}, {}, 0.0, BlinkRule{}), std::invalid_argument);
}

TEST_CASE("frame timing: count, order, rate and span", "[serve][blink]") {
  const wtp::serve::FrameTiming timing{10, 40, 8.0};
  const auto ok = times(12);  // 10 fps over 1.1 s
  CHECK(check_frame_timing(ok, 5000.0, timing).empty());
  CHECK_THAT(check_frame_timing(times(9), 5000.0, timing), Contains("between 10 and 40"));
  CHECK_THAT(check_frame_timing(times(41), 5000.0, timing), Contains("between 10 and 40"));
  auto repeated = ok;
  repeated[5] = repeated[4];
  CHECK_THAT(check_frame_timing(repeated, 5000.0, timing), Contains("increase"));
  auto negative = ok;
  negative[0] = -1.0;
  CHECK_THAT(check_frame_timing(negative, 5000.0, timing), Contains("valid capture time"));
  // 12 frames over 2.2 s = 5 fps.
  std::vector<double> slow;
  for (int i = 0; i < 12; ++i) slow.push_back(200.0 * i);
  CHECK_THAT(check_frame_timing(slow, 5000.0, timing), Contains("too far apart"));
  // Exactly 8 fps passes.
  std::vector<double> eight;
  for (int i = 0; i < 10; ++i) eight.push_back(125.0 * i);
  CHECK(check_frame_timing(eight, 5000.0, timing).empty());
  // A span longer than the time since the challenge: recorded before it.
  CHECK_THAT(check_frame_timing(ok, 1000.0, timing), Contains("since the challenge"));
}
