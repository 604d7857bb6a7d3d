#pragma once
/// Receiver operating characteristic of scored binary decisions: the curve, its exact area
/// (ties handled as the trapezoid over tied groups, i.e. the Mann-Whitney statistic with
/// ties counted 1/2), the equal error rate and the true accept rate at a false accept rate.
#include <cstdint>
#include <torch/torch.h>
#include <vector>

#include "core/config.h"

namespace wtp::eval {

/// Which way a score points. Verification distances: kLowerIsPositive (smaller = same
/// person); classifier probabilities: kHigherIsPositive.
enum class ScoreOrder { kHigherIsPositive, kLowerIsPositive };
WTP_ENUM_NAMES(ScoreOrder, {ScoreOrder::kHigherIsPositive, "higher_is_positive"},
               {ScoreOrder::kLowerIsPositive, "lower_is_positive"})

/// A ROC curve. Point i accepts every sample whose score is at least as "positive" as
/// threshold[i] (score >= t for kHigherIsPositive, score <= t for kLowerIsPositive).
/// Points run from (0, 0) (threshold +-inf: accept nothing) to (1, 1), one point per
/// group of tied scores, so far and tar are non-decreasing.
struct RocCurve {
  std::vector<double> far;        ///< false accept rate FP / negatives
  std::vector<double> tar;        ///< true accept rate TP / positives
  std::vector<double> threshold;  ///< score threshold of the point (first is +-inf)
  std::int64_t positives = 0;     ///< number of positive samples
  std::int64_t negatives = 0;     ///< number of negative samples
  /// Area under the curve, computed exactly from counts (see roc_curve()).
  double auc = 0.0;
};

/// The ROC curve of `scores` against `positive` labels.
/// Requires: scores 1-D real [P] without NaN; positive 1-D integer/bool [P] with values
/// 0/1; at least one positive and one negative. Throws UsageError otherwise.
/// Ensures: auc = P(score of a random positive is more positive than that of a random
/// negative) + 0.5 P(tie), identical to the trapezoid over the curve's points.
RocCurve roc_curve(const torch::Tensor& scores, const torch::Tensor& positive,
                   ScoreOrder order = ScoreOrder::kHigherIsPositive);
/// As above on plain vectors (positive: 0/1).
RocCurve roc_curve(const std::vector<double>& scores, const std::vector<std::int64_t>& positive,
                   ScoreOrder order = ScoreOrder::kHigherIsPositive);

/// Equal error rate: where FAR = FRR (= 1 - TAR). The curve is linearly interpolated
/// between the two consecutive points where FAR - FRR changes sign; returns the FAR at
/// the crossing. Requires a curve from roc_curve().
double equal_error_rate(const RocCurve& curve);

/// A point of a ROC curve that a threshold actually achieves (no interpolation).
struct OperatingPoint {
  double threshold = 0.0;  ///< the curve's threshold (+-inf at the origin)
  double far = 0.0;        ///< false accept rate at it
  double tar = 0.0;        ///< true accept rate at it
};

/// The point with the highest TAR among the curve's points with FAR <= `far`: the most
/// permissive threshold whose false accept rate stays within `far` (the origin, which
/// accepts nothing, when no other point qualifies). Requires a curve from roc_curve().
OperatingPoint operating_point_at_far(const RocCurve& curve, double far);

/// operating_point_at_far(curve, far).tar.
double tar_at_far(const RocCurve& curve, double far);

}  // namespace wtp::eval
