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
