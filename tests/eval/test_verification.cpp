#include <cmath>
#include <limits>
#include <map>
#include <vector>

#include "core/error.h"
#include "core/random.h"
#include "eval/roc.h"
#include "eval/verification.h"

// Last: Catch's CHECK must replace the one glog (via LibTorch) defines.
#include <catch2/catch.hpp>

using namespace wtp::eval;
using Catch::Matchers::Contains;

namespace {

/// Brute-force reference for best_threshold: every candidate evaluated by counting.
ThresholdChoice brute_best(const std::vector<double>& d, const std::vector<std::int64_t>& s) {
  std::vector<double> u(d);
  std::sort(u.begin(), u.end());
  u.erase(std::unique(u.begin(), u.end()), u.end());
  const double delta = u.size() > 1 ? (u.back() - u.front()) / (2.0 * (u.size() - 1)) : 0.5;
  std::vector<double> cands{u.front() - delta};
  for (std::size_t i = 0; i + 1 < u.size(); ++i) cands.push_back(0.5 * (u[i] + u[i + 1]));
  cands.push_back(u.back() + delta);
  ThresholdChoice best;
  best.correct = -1;
  best.pairs = static_cast<std::int64_t>(d.size());
  for (double t : cands) {
    std::int64_t c = 0;
    for (std::size_t i = 0; i < d.size(); ++i) c += (d[i] <= t) == (s[i] == 1);
    if (c > best.correct) best = {t, c, best.pairs};
  }
  return best;
}

}  // namespace

TEST_CASE("roc: perfect separation gives AUC 1, EER 0, TAR 1 at any FAR", "[eval][roc]") {
  // Distances: same pairs close, different pairs far.
  auto roc = roc_curve(std::vector<double>{0.1, 0.2, 0.8, 0.9}, {1, 1, 0, 0},
                       ScoreOrder::kLowerIsPositive);
  CHECK(roc.auc == 1.0);
  CHECK(equal_error_rate(roc) == 0.0);
  CHECK(tar_at_far(roc, 1e-3) == 1.0);
  CHECK(roc.far.front() == 0.0);
  CHECK(roc.tar.back() == 1.0);
}

TEST_CASE("roc: fully reversed scores give AUC 0, constant scores 0.5", "[eval][roc]") {
  auto reversed = roc_curve(std::vector<double>{0.9, 0.8, 0.1, 0.2}, {1, 1, 0, 0},
                            ScoreOrder::kLowerIsPositive);
  CHECK(reversed.auc == 0.0);
  CHECK(equal_error_rate(reversed) == 1.0);
  auto tied = roc_curve(std::vector<double>{0.5, 0.5, 0.5, 0.5}, {1, 0, 1, 0});
  CHECK(tied.auc == 0.5);
  REQUIRE(tied.far.size() == 2);  // (0,0) and one tied group (1,1)
  CHECK(equal_error_rate(tied) == Approx(0.5));
}

TEST_CASE("roc: ties count one half (trapezoid over tied groups)", "[eval][roc]") {
  // Positives at distance 0.1, 0.5, 0.5; negatives at 0.5, 0.9. Of the 6 (pos, neg) pairs:
  // (0.1, *) 2 wins, (0.5, 0.9) 2 wins, (0.5, 0.5) 2 ties -> (2 + 2 + 1) / 6 = 5/6.
  auto roc = roc_curve(std::vector<double>{0.1, 0.5, 0.5, 0.5, 0.9}, {1, 1, 1, 0, 0},
                       ScoreOrder::kLowerIsPositive);
  CHECK(roc.auc == Approx(5.0 / 6.0).epsilon(1e-15));
  // Points: (0,0), (0,1/3) after 0.1, (1/2,1) after the tied 0.5 group, (1,1).
  REQUIRE(roc.far == std::vector<double>{0.0, 0.0, 0.5, 1.0});
  CHECK(roc.tar[1] == Approx(1.0 / 3.0));
  CHECK(roc.threshold[2] == 0.5);
  // FAR - FRR goes from -2/3 at (0, 1/3) to +1/2 at (1/2, 1): crossing at alpha = 4/7,
  // FAR = 4/7 * 1/2 = 2/7.
  CHECK(equal_error_rate(roc) == Approx(2.0 / 7.0));
  CHECK(tar_at_far(roc, 1e-2) == Approx(1.0 / 3.0));
  CHECK(tar_at_far(roc, 0.5) == 1.0);
  // Operating points: FAR 0 is reached accepting distances <= 0.1 (TAR 1/3); FAR 1/2 at
  // 0.5 (the tied group comes in whole); below every point's FAR only the origin, whose
  // threshold accepts nothing.
  const OperatingPoint strict = operating_point_at_far(roc, 0.0);
  CHECK(strict.threshold == 0.1);
  CHECK(strict.far == 0.0);
  CHECK(strict.tar == Approx(1.0 / 3.0));
  const OperatingPoint half = operating_point_at_far(roc, 0.5);
  CHECK(half.threshold == 0.5);
  CHECK(half.tar == 1.0);
  CHECK(operating_point_at_far(roc, 0.49).threshold == 0.1);
  const OperatingPoint none = operating_point_at_far(
      roc_curve(std::vector<double>{0.1, 0.2}, {0, 1}, ScoreOrder::kLowerIsPositive), 0.0);
  CHECK(none.tar == 0.0);
  CHECK(std::isinf(none.threshold));
}

TEST_CASE("roc: AUC equals the brute-force Mann-Whitney statistic with ties", "[eval][roc]") {
  wtp::Rng rng(7);
  std::vector<double> scores;
  std::vector<std::int64_t> labels;
  for (int i = 0; i < 300; ++i) {
    const bool pos = rng.bernoulli(0.4);
    // Rounded to 0.05 so that many ties occur across and within classes.
    scores.push_back(std::round((rng.normal() + (pos ? 0.8 : 0.0)) * 20.0) / 20.0);
    labels.push_back(pos);
  }
  double wins = 0, pairs = 0;
  for (std::size_t i = 0; i < scores.size(); ++i)
    for (std::size_t j = 0; j < scores.size(); ++j)
      if (labels[i] == 1 && labels[j] == 0) {
        wins += scores[i] > scores[j] ? 1.0 : scores[i] == scores[j] ? 0.5 : 0.0;
        pairs += 1;
      }
  auto roc = roc_curve(scores, labels);
  CHECK(roc.auc == Approx(wins / pairs).epsilon(1e-12));
  // The trapezoid over the returned points gives the same area.
  double trapezoid = 0;
  for (std::size_t i = 1; i < roc.far.size(); ++i)
    trapezoid += (roc.far[i] - roc.far[i - 1]) * (roc.tar[i] + roc.tar[i - 1]) / 2;
  CHECK(trapezoid == Approx(roc.auc).epsilon(1e-12));
  // Tensor overload agrees.
  auto t = roc_curve(torch::tensor(scores), torch::tensor(labels));
  CHECK(t.auc == roc.auc);
}

TEST_CASE("roc: bad input is a usage error", "[eval][roc]") {
  CHECK_THROWS_AS(roc_curve(std::vector<double>{0.1, 0.2}, {1, 1}), wtp::UsageError);
  CHECK_THROWS_AS(roc_curve(std::vector<double>{0.1, 0.2}, {1, 2}), wtp::UsageError);
  CHECK_THROWS_AS(roc_curve(std::vector<double>{0.1, std::nan("")}, {1, 0}), wtp::UsageError);
  CHECK_THROWS_AS(roc_curve(std::vector<double>{0.1}, {1, 0}), wtp::UsageError);
}

TEST_CASE("verification: best_threshold takes the smallest of equally good candidates",
          "[eval][verification]") {
  // same at 0.2 and 0.4, different at 0.3 and 0.5: candidates 0.15 (2/4), 0.25 (3/4),
  // 0.35 (2/4), 0.45 (3/4), 0.55 (2/4) -> 0.25 wins the tie with 0.45.
  auto c = best_threshold({0.2, 0.3, 0.4, 0.5}, {1, 0, 1, 0});
  CHECK(c.threshold == Approx(0.25));
  CHECK(c.correct == 3);
  // Below-minimum and above-maximum candidates: all different pairs -> below the minimum.
  auto all_diff = best_threshold({0.2, 0.4}, {0, 0});
  CHECK(all_diff.threshold < 0.2);
  CHECK(all_diff.correct == 2);
  auto all_same = best_threshold({0.2, 0.4}, {1, 1});
  CHECK(all_same.threshold > 0.4);
  CHECK(all_same.accuracy() == 1.0);
}

TEST_CASE("verification: best_threshold equals a brute-force search", "[eval][verification]") {
  wtp::Rng rng(11);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<double> d;
    std::vector<std::int64_t> s;
    const int n = 5 + trial * 7;
    for (int i = 0; i < n; ++i) {
      const bool same = rng.bernoulli(0.5);
      d.push_back(std::round((same ? rng.uniform(0.3, 1.1) : rng.uniform(0.8, 1.6)) * 30) / 30);
      s.push_back(same);
    }
    auto fast = best_threshold(d, s);
    auto slow = brute_best(d, s);
    CHECK(fast.correct == slow.correct);
    CHECK(fast.threshold == Approx(slow.threshold).epsilon(1e-12));
  }
}

TEST_CASE("verification: each fold's threshold never sees that fold's pairs",
          "[eval][verification]") {
  // Fold 1: same at 0.35, different at 0.2 (adversarial). Fold 2: same 0.1, different 0.5.
  // Honest protocol:
  //   fold 1 <- threshold from fold 2 alone: midpoint 0.3 (acc 1 on fold 2); on fold 1 the
  //            same pair (0.35 > 0.3) and the different pair (0.2 <= 0.3) are both wrong: 0.
  //   fold 2 <- threshold from fold 1 alone: candidates 0.125 (1/2), 0.275 (0), 0.425 (1/2);
  //            smallest best 0.125 -> on fold 2 both right: 1.
  // A leak (choosing on all 4 pairs) would pick 0.15 and give fold 1 an accuracy of 1/2.
  std::vector<double> d{0.35, 0.2, 0.1, 0.5};
  std::vector<std::int64_t> s{1, 0, 1, 0};
  std::vector<std::int64_t> f{1, 1, 2, 2};
  auto r = verification_protocol(d, s, f);
  REQUIRE(r.folds.size() == 2);
  CHECK(r.folds[0].fold == 1);
  CHECK(r.folds[0].threshold == Approx(0.3));
  CHECK(r.folds[0].accuracy == 0.0);
  CHECK(r.folds[1].threshold == Approx(0.125));
  CHECK(r.folds[1].accuracy == 1.0);
  CHECK(r.accuracy_mean == 0.5);
  // ddof = 1: sqrt(((0 - .5)^2 + (1 - .5)^2) / 1) = sqrt(0.5); se = std / sqrt(2) = 0.5.
  CHECK(r.accuracy_std == Approx(std::sqrt(0.5)));
  CHECK(r.accuracy_se == Approx(0.5));
  CHECK(r.threshold_mean == Approx((0.3 + 0.125) / 2));
  // The leaky choice on all pairs differs, so the check above can fail if a fold leaks.
  CHECK(best_threshold(d, s).threshold == Approx(0.15));
}

TEST_CASE("verification: 10 folds on separable pairs, report keys", "[eval][verification]") {
  std::vector<double> d;
  std::vector<std::int64_t> s, f;
  for (int fold = 0; fold < 10; ++fold)
    for (int i = 0; i < 6; ++i) {
      d.push_back(i < 3 ? 0.5 + 0.01 * i + 0.001 * fold : 1.2 + 0.01 * i);
      s.push_back(i < 3);
      f.push_back(fold);
    }
  auto r = verification_protocol(torch::tensor(d), torch::tensor(s), torch::tensor(f));
  CHECK(r.accuracy_mean == 1.0);
  CHECK(r.accuracy_std == 0.0);
  CHECK(r.roc.auc == 1.0);
  CHECK(r.eer == 0.0);
  CHECK(r.tar_at_far_1e3 == 1.0);
  Report rep;
  r.add_to(rep);
  for (const char* key : {"accuracy_mean", "accuracy_std", "accuracy_se", "threshold_mean", "auc",
                          "eer", "tar_at_far_1e-3", "tar_at_far_1e-2", "fold_0_accuracy",
                          "fold_9_threshold", "verification_folds", "verification_pairs"})
    CHECK(rep.count(key) == 1);
  CHECK(rep.count("leaky_old_sweep_accuracy") == 0);
  CHECK(rep["verification_pairs"] == 60);
  for (const auto& name : VerificationResult::metric_names()) CHECK(rep.count(name) == 1);
}

TEST_CASE("verification: the old fixed sweep is reported only on request", "[eval][verification]") {
  // Same at 0.865 / 0.905, different at 0.935 / 0.975: thresholds 0.91, 0.92, 0.93 are all
  // perfect; the smallest (0.91) is reported.
  std::vector<double> d{0.865, 0.905, 0.935, 0.975};
  std::vector<std::int64_t> s{1, 1, 0, 0}, f{0, 0, 1, 1};
  VerificationOptions o;
  o.old_sweep = true;
  auto r = verification_protocol(d, s, f, o);
  REQUIRE(r.old_sweep);
  CHECK(r.old_sweep->threshold == Approx(0.91));
  CHECK(r.old_sweep->accuracy() == 1.0);
  Report rep;
  r.add_to(rep);
  CHECK(rep.at("leaky_old_sweep_accuracy") == 1.0);
  // Nothing in the grid separates pairs far from it: at best half are right.
  auto low = old_fixed_sweep({0.1, 0.2, 0.3, 0.4}, {1, 0, 1, 0}, o);
  CHECK(low.accuracy() == 0.5);
  CHECK(low.threshold == Approx(0.85));
}

TEST_CASE("verification: bad input is a usage error", "[eval][verification]") {
  CHECK_THROWS_WITH(verification_protocol({0.1, 0.9}, {1, 0}, {3, 3}),
                    Contains("at least 2 folds"));
  CHECK_THROWS_AS(verification_protocol({0.1, 0.9}, {1, 0}, {1}), wtp::UsageError);
  CHECK_THROWS_AS(verification_protocol({0.1, std::nan("")}, {1, 0}, {1, 2}), wtp::UsageError);
  CHECK_THROWS_AS(verification_protocol({0.1, 0.9}, {1, 3}, {1, 2}), wtp::UsageError);
  // All pairs "same": ROC is undefined -> clear error.
  CHECK_THROWS_WITH(verification_protocol({0.1, 0.9}, {1, 1}, {1, 2}),
                    Contains("at least one positive and one negative"));
}
