#include <cmath>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "eval/liveness.h"

// Last: Catch's CHECK must replace the one glog (via LibTorch) defines.
#include <catch2/catch.hpp>

using namespace wtp::eval;

TEST_CASE("liveness: eye-state metrics on a hand-built case", "[eval][liveness]") {
  // label 1 = closed. Scores >= 0.5 predicted closed.
  //   closed: 0.9 (TP), 0.7 (TP), 0.4 (FN);  open: 0.6 (FP), 0.2 (TN), 0.1 (TN)
  // accuracy 4/6, precision 2/3, recall 2/3, F1 2/3.
  // AUC: closed {0.9, 0.7, 0.4} vs open {0.6, 0.2, 0.1}: 0.9 > all (3), 0.7 > all (3),
  // 0.4 > 0.2, 0.1 (2) -> 8/9.
  auto scores = torch::tensor(std::vector<double>{0.9, 0.7, 0.4, 0.6, 0.2, 0.1});
  auto labels = torch::tensor(std::vector<std::int64_t>{1, 1, 1, 0, 0, 0});
  auto m = eye_state_metrics(scores, labels);
  CHECK(m.tp == 2);
  CHECK(m.fn == 1);
  CHECK(m.fp == 1);
  CHECK(m.tn == 2);
  CHECK(m.accuracy == Approx(4.0 / 6.0));
  CHECK(m.precision == Approx(2.0 / 3.0));
  CHECK(m.recall == Approx(2.0 / 3.0));
  CHECK(m.f1 == Approx(2.0 / 3.0));
  CHECK(m.auc == Approx(8.0 / 9.0));
  // Threshold 0.95: nothing predicted closed -> precision and F1 0 by convention.
  auto none = eye_state_metrics(scores, labels, 0.95);
  CHECK(none.precision == 0.0);
  CHECK(none.f1 == 0.0);
  CHECK(none.accuracy == 0.5);
  Report rep;
  m.add_to(rep, "eye_");
  CHECK(rep.at("eye_auc") == Approx(8.0 / 9.0));
  CHECK(rep.at("eye_fp") == 1);
  for (const auto& name : BinaryMetrics::metric_names()) CHECK(rep.count("eye_" + name) == 1);
  // One class only: AUC undefined (NaN) and left out of the report.
  auto one = eye_state_metrics(torch::tensor(std::vector<double>{0.2, 0.8}),
                               torch::tensor(std::vector<std::int64_t>{1, 1}));
  CHECK(std::isnan(one.auc));
  Report rep1;
  one.add_to(rep1, "");
  CHECK(rep1.count("auc") == 0);
  CHECK_THROWS_AS(eye_state_metrics(scores, torch::tensor(std::vector<std::int64_t>{1, 2})),
                  wtp::UsageError);
}

TEST_CASE("liveness: blink rule on frame sequences", "[eval][liveness]") {
  BlinkRuleOptions full;  // open -> closed -> open, thresholds 0.985, 15 frames
  BlinkRuleOptions old = full;
  old.pattern = BlinkPattern::kOpenClosed;  // the old service: open then closed
  const std::vector<double> blink{0.1, 0.2, 0.99, 0.995, 0.3, 0.1};
  const std::vector<double> closes{0.1, 0.2, 0.99, 0.995, 0.999};  // never reopens
  const std::vector<double> always_open(15, 0.1);
  const std::vector<double> starts_closed{0.99, 0.99, 0.2};  // closed -> open only
  const std::vector<double> almost{0.1, 0.98, 0.1};          // 0.98 < 0.985: never "closed"
  CHECK(detect_blink(blink, full));
  CHECK(!detect_blink(closes, full));
  CHECK(detect_blink(closes, old));
  CHECK(!detect_blink(always_open, full));
  CHECK(!detect_blink(starts_closed, old));
  CHECK(!detect_blink(almost, old));
  // Only the first `frames` frames are examined.
  std::vector<double> late(20, 0.1);
  late[16] = 0.999;
  CHECK(!detect_blink(late, full));
  BlinkRuleOptions all = full;
  all.frames = 0;
  CHECK(detect_blink(late, all));
  // A separate open threshold: frames between the thresholds are undecided and skipped.
  BlinkRuleOptions strict = full;
  strict.open_threshold = 0.5;
  CHECK(!detect_blink({0.7, 0.99, 0.1}, strict));  // 0.7 is not "open" -> no opening frame
  CHECK(detect_blink({0.3, 0.99, 0.7, 0.2}, strict));

  // As a classifier over sequences: label 1 = a blink happened.
  auto m = evaluate_blink_rule({blink, closes, always_open, starts_closed}, {1, 1, 0, 0}, full);
  CHECK(m.tp == 1);
  CHECK(m.fn == 1);
  CHECK(m.tn == 2);
  CHECK(m.fp == 0);
  CHECK(m.accuracy == 0.75);
  CHECK(m.precision == 1.0);
  CHECK(m.recall == 0.5);

  BlinkRuleOptions bad = full;
  bad.open_threshold = 0.99;
  CHECK_THROWS_AS(detect_blink(blink, bad), wtp::UsageError);
  // Options decode from config with the enum's names.
  auto node = wtp::config::parse("pattern: open_closed\nframes: 10\n", "test");
  auto decoded = wtp::config::decode<BlinkRuleOptions>(node);
  CHECK(decoded.pattern == BlinkPattern::kOpenClosed);
  CHECK(decoded.frames == 10);
}

TEST_CASE("liveness: the hysteresis pair chosen on labelled frames", "[eval][liveness]") {
  auto d = [](std::vector<double> v) { return torch::tensor(v, torch::kDouble); };
  auto l = [](std::vector<std::int64_t> v) { return torch::tensor(v); };
  // Separated classes, 10 open and 10 closed frames, error 0.1: one frame of each class may
  // fall on the wrong side. hi_open = 2nd highest open score (0.3), lo_closed = 2nd lowest
  // closed score (0.8) -> open iff p <= 0.3, closed iff p >= 0.8.
  const std::vector<double> open{0.01, 0.02, 0.05, 0.1, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4};
  const std::vector<double> closed{0.6, 0.8, 0.85, 0.9, 0.9, 0.92, 0.95, 0.97, 0.99, 0.999};
  std::vector<double> scores = open;
  scores.insert(scores.end(), closed.begin(), closed.end());
  std::vector<std::int64_t> labels(10, 0);
  labels.insert(labels.end(), 10, 1);
  auto t = choose_eye_state_thresholds(d(scores), l(labels), 0.1);
  CHECK(t.open_threshold == 0.3);
  CHECK(t.closed_threshold == 0.8);
  CHECK(t.open_recall == Approx(0.9));    // 0.4 is undecided
  CHECK(t.closed_recall == Approx(0.9));  // 0.6 is undecided
  CHECK(t.false_closed_rate == 0.0);
  CHECK(t.false_open_rate == 0.0);
  CHECK(t.open_frames == 10);
  CHECK(t.closed_frames == 10);
  // Error 0: every frame on its side -> the extremes (0.4 and 0.6).
  t = choose_eye_state_thresholds(d(scores), l(labels), 0.0);
  CHECK(t.open_threshold == 0.4);
  CHECK(t.closed_threshold == 0.6);
  CHECK(t.open_recall == 1.0);
  CHECK(t.closed_recall == 1.0);

  // Overlapping classes: hi_open (0.7) >= lo_closed (0.5) -> the overlap is undecided:
  // closed iff p > 0.7, open iff p < 0.5; at most one frame of each class is misread.
  const std::vector<double> o2{0.1, 0.2, 0.3, 0.55, 0.7, 0.9};
  const std::vector<double> c2{0.2, 0.5, 0.6, 0.8, 0.9, 0.95};
  std::vector<double> s2 = o2;
  s2.insert(s2.end(), c2.begin(), c2.end());
  std::vector<std::int64_t> l2(6, 0);
  l2.insert(l2.end(), 6, 1);
  t = choose_eye_state_thresholds(d(s2), l(l2), 0.2);  // floor(0.2 x 6) = 1 allowed
  CHECK(t.closed_threshold > 0.7);
  CHECK(t.closed_threshold == Approx(0.7));
  CHECK(t.open_threshold < 0.5);
  CHECK(t.open_threshold == Approx(0.5));
  CHECK(t.false_closed_rate == Approx(1.0 / 6));  // 0.9
  CHECK(t.false_open_rate == Approx(1.0 / 6));    // 0.2
  CHECK(t.open_recall == Approx(3.0 / 6));        // 0.1, 0.2, 0.3
  CHECK(t.closed_recall == Approx(3.0 / 6));      // 0.8, 0.9, 0.95
  CHECK(t.open_threshold < t.closed_threshold);

  // Ties at the threshold never push a rate over the error.
  t = choose_eye_state_thresholds(d({0.5, 0.5, 0.5, 0.5}), l({0, 0, 1, 1}), 0.0);
  CHECK(t.open_threshold < 0.5);
  CHECK(t.closed_threshold > 0.5);
  CHECK(t.false_closed_rate == 0.0);
  CHECK(t.false_open_rate == 0.0);

  CHECK_THROWS_AS(choose_eye_state_thresholds(d({0.1, 0.2}), l({0, 0}), 0.02), wtp::UsageError);
  CHECK_THROWS_AS(choose_eye_state_thresholds(d({0.1, 0.9}), l({0, 1}), 0.5), wtp::UsageError);
  CHECK_THROWS_AS(choose_eye_state_thresholds(d({0.1, 0.9}), l({0, 2}), 0.0), wtp::UsageError);
}
