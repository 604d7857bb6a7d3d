#pragma once
/// Liveness metrics: the eye-state classifier (label 1 = eyes closed, score = probability
/// that the eyes are closed) and the blink rule of the old liveness service applied to
/// frame sequences.
#include <cstdint>
#include <string>
#include <torch/torch.h>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "eval/report.h"

namespace wtp::eval {

/// Counts and rates of binary decisions (positive = 1).
struct BinaryMetrics {
  std::int64_t tp = 0, fp = 0, tn = 0, fn = 0;
  double accuracy = 0.0;
  double precision = 0.0;  ///< tp / (tp + fp); 0 when nothing is predicted positive
  double recall = 0.0;     ///< tp / (tp + fn); 0 when there is no positive
  double f1 = 0.0;         ///< 2 p r / (p + r); 0 when p + r = 0
  double auc = 0.0;        ///< ROC AUC of the scores (NaN when only one class is present)

  /// Adds <prefix>accuracy, precision, recall, f1, auc (when finite), tp, fp, tn, fn.
  void add_to(Report& report, const std::string& prefix) const;
  /// The rates of add_to() a validation may select: accuracy, precision, recall, f1, auc.
  static std::vector<std::string> metric_names();
};

/// Rates from counts (auc left NaN).
BinaryMetrics binary_metrics_from_counts(std::int64_t tp, std::int64_t fp, std::int64_t tn,
                                         std::int64_t fn);

/// Eye-state classifier metrics: predicted closed iff score >= threshold.
/// Requires: scores [N] real in any range without NaN, labels [N] 0/1, N >= 1.
BinaryMetrics eye_state_metrics(const torch::Tensor& scores, const torch::Tensor& labels,
                                double threshold = 0.5);

/// A hysteresis pair of eye-state thresholds on P(eyes closed) and its error rates on the
/// frames it was chosen on.
struct EyeStateThresholds {
  double open_threshold = 0;       ///< a frame is open iff P(closed) <= this
  double closed_threshold = 1;     ///< a frame is closed iff P(closed) >= this (> open_threshold)
  double false_closed_rate = 0;    ///< fraction of open frames read as closed
  double false_open_rate = 0;      ///< fraction of closed frames read as open
  double open_recall = 0;          ///< fraction of open frames read as open
  double closed_recall = 0;        ///< fraction of closed frames read as closed
  std::int64_t open_frames = 0;    ///< open frames the pair was chosen on
  std::int64_t closed_frames = 0;  ///< closed frames the pair was chosen on
};

/// Chooses the hysteresis pair on labelled frames so that at most `error` of the open frames
/// read as closed and at most `error` of the closed frames read as open (frames between the
/// two thresholds are undecided). With m = floor(error x open frames) and m' = floor(error x
/// closed frames), hi_open = the (m+1)-th highest open score and lo_closed = the (m'+1)-th
/// lowest closed score: when hi_open < lo_closed (the classes separate), open_threshold =
/// hi_open and closed_threshold = lo_closed (recall >= 1 - error for both); otherwise
/// closed_threshold is just above hi_open and open_threshold just below lo_closed (the
/// overlap is undecided). Either way open_threshold < closed_threshold.
/// Requires: scores [N] without NaN, labels [N] 0 (open) / 1 (closed) with both present,
/// 0 <= error < 0.5.
EyeStateThresholds choose_eye_state_thresholds(const torch::Tensor& scores,
                                               const torch::Tensor& labels, double error);

/// Which sequence of eye states counts as a blink.
enum class BlinkPattern {
  kOpenClosed,      ///< an open frame later followed by a closed one (the old service)
  kOpenClosedOpen,  ///< open, then closed, then open again (a complete blink)
};
WTP_ENUM_NAMES(BlinkPattern, {BlinkPattern::kOpenClosed, "open_closed"},
               {BlinkPattern::kOpenClosedOpen, "open_closed_open"})

struct BlinkRuleOptions {
  /// A frame is "closed" when its closed-eye probability is >= this (old service: 0.985).
  double closed_threshold = 0.985;
  /// A frame is "open" when its closed-eye probability is < this. Frames in between are
  /// neither and are skipped. Equal to closed_threshold by default (the old service).
  double open_threshold = 0.985;
  int frames = 15;  ///< frames of a sequence examined, from its start (0 = all; old: 15)
  BlinkPattern pattern = BlinkPattern::kOpenClosedOpen;  ///< what counts as a blink

  template <class V>
  void visit(V& v) {
    v("closed_threshold", closed_threshold, "closed iff probability >= this");
    v("open_threshold", open_threshold, "open iff probability < this");
    v("frames", frames, "frames examined from the start of a sequence (0 = all)");
    v("pattern", pattern, "open_closed (old service) or open_closed_open");
  }
  void validate() const {
    require(open_threshold <= closed_threshold,
            "blink.open_threshold must be <= blink.closed_threshold");
    require(frames >= 0, "blink.frames must be >= 0");
  }
};

/// True iff the first `frames` closed-eye probabilities contain the pattern (as a
/// subsequence of open/closed frames; undecided frames are skipped).
bool detect_blink(const std::vector<double>& closed_probability, const BlinkRuleOptions& options);

/// The blink rule as a binary classifier over sequences: label 1 = the sequence shows a
/// blink (a live person). Requires equal sizes and labels 0/1. auc is NaN (no scores).
BinaryMetrics evaluate_blink_rule(const std::vector<std::vector<double>>& sequences,
                                  const std::vector<std::int64_t>& has_blink,
                                  const BlinkRuleOptions& options);

}  // namespace wtp::eval
