#include "eval/roc.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"
#include "eval/tensors.h"

namespace wtp::eval {

RocCurve roc_curve(const torch::Tensor& scores, const torch::Tensor& positive, ScoreOrder order) {
  return roc_curve(to_doubles(scores, "roc_curve scores"), to_int64s(positive, "roc_curve labels"),
                   order);
}

RocCurve roc_curve(const std::vector<double>& scores, const std::vector<std::int64_t>& positive,
                   ScoreOrder order) {
  require(scores.size() == positive.size(), "roc_curve: " + std::to_string(scores.size()) +
                                                " scores but " + std::to_string(positive.size()) +
                                                " labels");
  RocCurve curve;
  for (std::size_t i = 0; i < scores.size(); ++i) {
    require(!std::isnan(scores[i]), "roc_curve: score " + std::to_string(i) + " is NaN");
    require(positive[i] == 0 || positive[i] == 1, "roc_curve: label " + std::to_string(i) + " is " +
                                                      std::to_string(positive[i]) +
                                                      " (expected 0 or 1)");
    (positive[i] ? curve.positives : curve.negatives)++;
  }
  require(curve.positives > 0 && curve.negatives > 0,
          "roc_curve: needs at least one positive and one negative sample (got " +
              std::to_string(curve.positives) + " positive, " + std::to_string(curve.negatives) +
              " negative)");

  // Most positive first; the sign flip turns "lower is positive" into "higher is positive".
  const double sign = order == ScoreOrder::kHigherIsPositive ? 1.0 : -1.0;
  std::vector<std::size_t> idx(scores.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) {
    return sign * scores[a] > sign * scores[b];
  });

  const double inf = std::numeric_limits<double>::infinity();
  curve.far.push_back(0.0);
  curve.tar.push_back(0.0);
  curve.threshold.push_back(sign > 0 ? inf : -inf);
  // Exact area: sum over tied groups of dFP * (TP_before + dTP / 2), in integers * 0.5.
  double area2 = 0.0;  // twice the un-normalised area, exact below 2^53
  std::int64_t tp = 0, fp = 0;
  for (std::size_t i = 0; i < idx.size();) {
    const double value = scores[idx[i]];
    std::int64_t dtp = 0, dfp = 0;
    for (; i < idx.size() && scores[idx[i]] == value; ++i) (positive[idx[i]] ? dtp : dfp)++;
    area2 += static_cast<double>(dfp) * static_cast<double>(2 * tp + dtp);
    tp += dtp;
    fp += dfp;
    curve.far.push_back(static_cast<double>(fp) / static_cast<double>(curve.negatives));
    curve.tar.push_back(static_cast<double>(tp) / static_cast<double>(curve.positives));
    curve.threshold.push_back(value);
  }
  curve.auc =
      area2 / (2.0 * static_cast<double>(curve.positives) * static_cast<double>(curve.negatives));
  return curve;
}

double equal_error_rate(const RocCurve& curve) {
  require(!curve.far.empty() && curve.far.size() == curve.tar.size(),
          "equal_error_rate: empty or malformed ROC curve");
  // g = FAR - FRR rises from -1 at (0, 0) to +1 at (1, 1).
  auto g = [&](std::size_t i) { return curve.far[i] - (1.0 - curve.tar[i]); };
  for (std::size_t i = 1; i < curve.far.size(); ++i) {
    const double b = g(i);
    if (b < 0.0) continue;
    const double a = g(i - 1);
    const double alpha = a == b ? 0.0 : a / (a - b);
    return curve.far[i - 1] + alpha * (curve.far[i] - curve.far[i - 1]);
  }
  return curve.far.back();
}

OperatingPoint operating_point_at_far(const RocCurve& curve, double far) {
  // far and tar are non-decreasing along the curve: the last qualifying point has the
  // highest TAR.
  OperatingPoint best{curve.threshold.front(), curve.far.front(), curve.tar.front()};
  for (std::size_t i = 0; i < curve.far.size() && curve.far[i] <= far; ++i)
    best = {curve.threshold[i], curve.far[i], curve.tar[i]};
  return best;
}

double tar_at_far(const RocCurve& curve, double far) {
  return operating_point_at_far(curve, far).tar;
}

}  // namespace wtp::eval
