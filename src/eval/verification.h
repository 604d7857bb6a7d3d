#pragma once
/// Face verification on pairs: the k-fold protocol of LFW (threshold chosen on the other
/// folds, never on the tested one), ROC over all pairs, and the old leaky fixed sweep.
///
/// Convention: a pair has a distance (smaller = same person, e.g. the Euclidean distance
/// between L2-normalised embeddings); the decision at threshold t is "same" iff
/// distance <= t ("different" iff distance > t).
#include <cstdint>
#include <optional>
#include <string>
#include <torch/torch.h>
#include <vector>

#include "core/error.h"
#include "eval/report.h"
#include "eval/roc.h"

namespace wtp::eval {

struct VerificationOptions {
  /// Also report the old system's fixed sweep (chosen on the test pairs: a leak).
  bool old_sweep = false;
  double old_sweep_start = 0.85;  ///< first threshold of the old sweep
  double old_sweep_stop = 0.99;   ///< last threshold of the old sweep (inclusive)
  double old_sweep_step = 0.01;   ///< step of the old sweep

  template <class V>
  void visit(V& v) {
    v("old_sweep", old_sweep, "also report the old leaky fixed-sweep accuracy");
    v("old_sweep_start", old_sweep_start, "first threshold of the old sweep");
    v("old_sweep_stop", old_sweep_stop, "last threshold of the old sweep (inclusive)");
    v("old_sweep_step", old_sweep_step, "step of the old sweep");
  }
  void validate() const {
    require(old_sweep_step > 0, "old_sweep_step must be > 0");
    require(old_sweep_stop >= old_sweep_start, "old_sweep_stop must be >= old_sweep_start");
  }
};

/// The threshold that maximises accuracy on a set of pairs.
struct ThresholdChoice {
  double threshold = 0.0;    ///< chosen threshold (same iff distance <= threshold)
  std::int64_t correct = 0;  ///< pairs classified correctly at that threshold
  std::int64_t pairs = 0;    ///< pairs in the set
  double accuracy() const { return pairs ? static_cast<double>(correct) / pairs : 0.0; }
};

/// Accuracy as a function of the threshold over one set of pairs (for plots).
struct ThresholdCurve {
  std::vector<double> threshold;  ///< candidate thresholds, increasing
  std::vector<double> accuracy;   ///< accuracy at each threshold
};

/// The candidate thresholds of a set of pairs with sorted distinct distances u_1 < ... <
/// u_m: u_1 - delta (everything "different"), every midpoint (u_i + u_{i+1}) / 2, and
/// u_m + delta (everything "same"), where delta is half the mean gap (u_m - u_1) /
/// (2 (m - 1)), or 0.5 when m = 1. Accuracy is evaluated at each.
/// Requires: distances finite, same 0/1, equal sizes, at least one pair.
ThresholdCurve threshold_accuracy_curve(const std::vector<double>& distances,
                                        const std::vector<std::int64_t>& same);

/// The accuracy-maximising candidate threshold (candidates as in threshold_accuracy_curve).
/// Tie-break: among equally accurate candidates (equal counts of correct pairs), the
/// smallest threshold wins.
ThresholdChoice best_threshold(const std::vector<double>& distances,
                               const std::vector<std::int64_t>& same);

/// One held-out fold of the protocol.
struct FoldResult {
  std::int64_t fold = 0;      ///< fold id as given
  std::int64_t pairs = 0;     ///< pairs in the fold
  double threshold = 0.0;     ///< threshold chosen on the other folds
  double accuracy = 0.0;      ///< accuracy on this fold at that threshold
  double train_accuracy = 0;  ///< accuracy of that threshold on the other folds
};

struct VerificationResult {
  std::vector<FoldResult> folds;  ///< in increasing fold id
  double accuracy_mean = 0.0;     ///< mean of the per-fold accuracies
  /// Sample standard deviation of the per-fold accuracies (ddof = 1, as in the LFW
  /// README: sigma = sqrt(sum (p_i - mu)^2 / (folds - 1))).
  double accuracy_std = 0.0;
  double accuracy_se = 0.0;        ///< standard error accuracy_std / sqrt(folds), LFW's figure
  double threshold_mean = 0.0;     ///< mean of the per-fold thresholds
  RocCurve roc;                    ///< ROC over all pairs (thresholds are distances)
  double eer = 0.0;                ///< equal error rate of `roc`
  double tar_at_far_1e3 = 0.0;     ///< TAR at FAR <= 1e-3
  double tar_at_far_1e2 = 0.0;     ///< TAR at FAR <= 1e-2
  ThresholdCurve all_pairs_curve;  ///< accuracy vs threshold over all pairs (for plots)
  /// The old fixed sweep, chosen on all (test) pairs: a leak, for comparison only.
  std::optional<ThresholdChoice> old_sweep;

  /// Adds the flat keys: verification_folds, verification_pairs, accuracy_mean,
  /// accuracy_std, accuracy_se, threshold_mean, auc, eer, tar_at_far_1e-3,
  /// tar_at_far_1e-2, fold_<id>_accuracy, fold_<id>_threshold, and when requested
  /// leaky_old_sweep_accuracy, leaky_old_sweep_threshold.
  void add_to(Report& report) const;
  /// The quality metrics of add_to() a validation may select: accuracy_mean, auc, eer,
  /// tar_at_far_1e-2, tar_at_far_1e-3.
  static std::vector<std::string> metric_names();
};

/// The k-fold verification protocol. For each fold f, the threshold is chosen by
/// best_threshold() on the pairs of all other folds and applied to fold f's pairs.
/// Requires: distances [P] real finite, same [P] 0/1 (integer or bool), folds [P]
/// integer with at least 2 distinct ids, at least one same and one different pair.
/// Throws UsageError (naming the problem) otherwise.
VerificationResult verification_protocol(const torch::Tensor& distances, const torch::Tensor& same,
                                         const torch::Tensor& folds,
                                         const VerificationOptions& options = {});
/// As above on plain vectors.
VerificationResult verification_protocol(const std::vector<double>& distances,
                                         const std::vector<std::int64_t>& same,
                                         const std::vector<std::int64_t>& folds,
                                         const VerificationOptions& options = {});

/// The old fixed sweep: thresholds start, start + step, ..., stop (computed as start +
/// i * step), accuracy over all given pairs; the best (smallest on ties) is returned.
/// Choosing it on the evaluated pairs is a test-set leak; kept to compare with old numbers.
ThresholdChoice old_fixed_sweep(const std::vector<double>& distances,
                                const std::vector<std::int64_t>& same,
                                const VerificationOptions& options);

}  // namespace wtp::eval
