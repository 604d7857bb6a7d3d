#include "eval/liveness.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "eval/roc.h"
#include "eval/tensors.h"

namespace wtp::eval {

BinaryMetrics binary_metrics_from_counts(std::int64_t tp, std::int64_t fp, std::int64_t tn,
                                         std::int64_t fn) {
  BinaryMetrics m;
  m.tp = tp;
  m.fp = fp;
  m.tn = tn;
  m.fn = fn;
  const std::int64_t n = tp + fp + tn + fn;
  m.accuracy = n ? static_cast<double>(tp + tn) / n : 0.0;
  m.precision = tp + fp ? static_cast<double>(tp) / (tp + fp) : 0.0;
  m.recall = tp + fn ? static_cast<double>(tp) / (tp + fn) : 0.0;
  m.f1 = m.precision + m.recall > 0 ? 2 * m.precision * m.recall / (m.precision + m.recall) : 0.0;
  m.auc = std::numeric_limits<double>::quiet_NaN();
  return m;
}

BinaryMetrics eye_state_metrics(const torch::Tensor& scores, const torch::Tensor& labels,
                                double threshold) {
  const auto s = to_doubles(scores, "eye-state scores");
  const auto y = to_int64s(labels, "eye-state labels");
  require(s.size() == y.size(), "eye_state_metrics: " + std::to_string(s.size()) + " scores but " +
                                    std::to_string(y.size()) + " labels");
  require(!s.empty(), "eye_state_metrics: no samples");
  std::int64_t tp = 0, fp = 0, tn = 0, fn = 0, pos = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    require(!std::isnan(s[i]), "eye_state_metrics: score " + std::to_string(i) + " is NaN");
    require(y[i] == 0 || y[i] == 1, "eye_state_metrics: label " + std::to_string(i) + " is " +
                                        std::to_string(y[i]) + " (expected 0 = open, 1 = closed)");
    const bool predicted = s[i] >= threshold;
    pos += y[i];
    if (y[i])
      (predicted ? tp : fn)++;
    else
      (predicted ? fp : tn)++;
  }
  BinaryMetrics m = binary_metrics_from_counts(tp, fp, tn, fn);
  if (pos > 0 && pos < static_cast<std::int64_t>(y.size()))
    m.auc = roc_curve(s, y, ScoreOrder::kHigherIsPositive).auc;
  return m;
}

EyeStateThresholds choose_eye_state_thresholds(const torch::Tensor& scores,
                                               const torch::Tensor& labels, double error) {
  require(error >= 0 && error < 0.5, "choose_eye_state_thresholds: error must be in [0, 0.5)");
  const auto s = to_doubles(scores, "eye-state scores");
  const auto y = to_int64s(labels, "eye-state labels");
  require(s.size() == y.size(), "choose_eye_state_thresholds: " + std::to_string(s.size()) +
                                    " scores but " + std::to_string(y.size()) + " labels");
  std::vector<double> open, closed;
  for (std::size_t i = 0; i < s.size(); ++i) {
    require(!std::isnan(s[i]),
            "choose_eye_state_thresholds: score " + std::to_string(i) + " is NaN");
    require(y[i] == 0 || y[i] == 1, "choose_eye_state_thresholds: label " + std::to_string(i) +
                                        " is " + std::to_string(y[i]) +
                                        " (expected 0 = open, 1 = closed)");
    (y[i] ? closed : open).push_back(s[i]);
  }
  require(!open.empty() && !closed.empty(),
          "choose_eye_state_thresholds: needs open and closed frames (got " +
              std::to_string(open.size()) + " open, " + std::to_string(closed.size()) + " closed)");
  std::sort(open.begin(), open.end());
  std::sort(closed.begin(), closed.end());
  const auto m = static_cast<std::size_t>(std::floor(error * static_cast<double>(open.size())));
  const auto mc = static_cast<std::size_t>(std::floor(error * static_cast<double>(closed.size())));
  const double hi_open = open[open.size() - 1 - m];
  const double lo_closed = closed[mc];
  constexpr double kInf = std::numeric_limits<double>::infinity();
  EyeStateThresholds t;
  t.open_threshold = std::min(hi_open, std::nextafter(lo_closed, -kInf));
  t.closed_threshold = std::max(lo_closed, std::nextafter(hi_open, kInf));
  auto fraction = [](const std::vector<double>& v, auto predicate) {
    return static_cast<double>(std::count_if(v.begin(), v.end(), predicate)) /
           static_cast<double>(v.size());
  };
  t.false_closed_rate = fraction(open, [&](double p) { return p >= t.closed_threshold; });
  t.open_recall = fraction(open, [&](double p) { return p <= t.open_threshold; });
  t.false_open_rate = fraction(closed, [&](double p) { return p <= t.open_threshold; });
  t.closed_recall = fraction(closed, [&](double p) { return p >= t.closed_threshold; });
  t.open_frames = static_cast<std::int64_t>(open.size());
  t.closed_frames = static_cast<std::int64_t>(closed.size());
  return t;
}

bool detect_blink(const std::vector<double>& closed_probability, const BlinkRuleOptions& options) {
  options.validate();
  const std::size_t n = options.frames > 0
                            ? std::min<std::size_t>(closed_probability.size(), options.frames)
                            : closed_probability.size();
  // Stage 0: waiting for open; 1: waiting for closed; 2: waiting for open again.
  int stage = 0;
  const int final_stage = options.pattern == BlinkPattern::kOpenClosed ? 2 : 3;
  for (std::size_t i = 0; i < n && stage < final_stage; ++i) {
    const double p = closed_probability[i];
    const bool closed = p >= options.closed_threshold;
    const bool open = p < options.open_threshold;
    if ((stage == 0 || stage == 2) && open)
      ++stage;
    else if (stage == 1 && closed)
      ++stage;
  }
  return stage == final_stage;
}

BinaryMetrics evaluate_blink_rule(const std::vector<std::vector<double>>& sequences,
                                  const std::vector<std::int64_t>& has_blink,
                                  const BlinkRuleOptions& options) {
  require(sequences.size() == has_blink.size(),
          "evaluate_blink_rule: " + std::to_string(sequences.size()) + " sequences but " +
              std::to_string(has_blink.size()) + " labels");
  std::int64_t tp = 0, fp = 0, tn = 0, fn = 0;
  for (std::size_t i = 0; i < sequences.size(); ++i) {
    require(has_blink[i] == 0 || has_blink[i] == 1,
            "evaluate_blink_rule: label " + std::to_string(i) + " must be 0 or 1");
    const bool predicted = detect_blink(sequences[i], options);
    if (has_blink[i])
      (predicted ? tp : fn)++;
    else
      (predicted ? fp : tn)++;
  }
  return binary_metrics_from_counts(tp, fp, tn, fn);
}

std::vector<std::string> BinaryMetrics::metric_names() {
  return {"accuracy", "precision", "recall", "f1", "auc"};
}

void BinaryMetrics::add_to(Report& report, const std::string& prefix) const {
  report[prefix + "accuracy"] = accuracy;
  report[prefix + "precision"] = precision;
  report[prefix + "recall"] = recall;
  report[prefix + "f1"] = f1;
  if (std::isfinite(auc)) report[prefix + "auc"] = auc;
  report[prefix + "tp"] = static_cast<double>(tp);
  report[prefix + "fp"] = static_cast<double>(fp);
  report[prefix + "tn"] = static_cast<double>(tn);
  report[prefix + "fn"] = static_cast<double>(fn);
}

}  // namespace wtp::eval
