#include "eval/verification.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "eval/tensors.h"

namespace wtp::eval {

namespace {

void check_pairs(const std::vector<double>& distances, const std::vector<std::int64_t>& same,
                 const char* what) {
  require(distances.size() == same.size(),
          std::string(what) + ": " + std::to_string(distances.size()) + " distances but " +
              std::to_string(same.size()) + " same/different labels");
  require(!distances.empty(), std::string(what) + ": no pairs");
  for (std::size_t i = 0; i < distances.size(); ++i) {
    require(std::isfinite(distances[i]),
            std::string(what) + ": distance of pair " + std::to_string(i) + " is not finite");
    require(same[i] == 0 || same[i] == 1, std::string(what) + ": 'same' of pair " +
                                              std::to_string(i) + " is " + std::to_string(same[i]) +
                                              " (expected 0 or 1)");
  }
}

std::int64_t count_correct(const std::vector<double>& distances,
                           const std::vector<std::int64_t>& same, double threshold) {
  std::int64_t correct = 0;
  for (std::size_t i = 0; i < distances.size(); ++i)
    correct += (distances[i] <= threshold) == (same[i] == 1);
  return correct;
}

/// Candidate thresholds with their counts of correct pairs, thresholds increasing.
void sweep_candidates(const std::vector<double>& distances, const std::vector<std::int64_t>& same,
                      std::vector<double>& thresholds, std::vector<std::int64_t>& correct) {
  const std::size_t n = distances.size();
  std::vector<std::size_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(),
            [&](std::size_t a, std::size_t b) { return distances[a] < distances[b]; });
  std::int64_t total_same = 0;
  for (auto s : same) total_same += s;
  const std::int64_t total_diff = static_cast<std::int64_t>(n) - total_same;

  std::vector<double> unique;
  for (std::size_t i : idx)
    if (unique.empty() || distances[i] != unique.back()) unique.push_back(distances[i]);
  const std::size_t m = unique.size();
  const double delta =
      m > 1 ? (unique.back() - unique.front()) / (2.0 * static_cast<double>(m - 1)) : 0.5;

  thresholds.clear();
  correct.clear();
  thresholds.reserve(m + 1);
  correct.reserve(m + 1);
  // Below the minimum: every pair "different".
  thresholds.push_back(unique.front() - delta);
  correct.push_back(total_diff);
  std::int64_t same_below = 0, diff_below = 0;  // pairs with distance <= current group
  std::size_t i = 0;
  for (std::size_t g = 0; g < m; ++g) {
    for (; i < n && distances[idx[i]] == unique[g]; ++i) (same[idx[i]] ? same_below : diff_below)++;
    thresholds.push_back(g + 1 < m ? 0.5 * (unique[g] + unique[g + 1]) : unique.back() + delta);
    correct.push_back(same_below + (total_diff - diff_below));
  }
}

double mean(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

}  // namespace

ThresholdCurve threshold_accuracy_curve(const std::vector<double>& distances,
                                        const std::vector<std::int64_t>& same) {
  check_pairs(distances, same, "threshold_accuracy_curve");
  std::vector<std::int64_t> correct;
  ThresholdCurve curve;
  sweep_candidates(distances, same, curve.threshold, correct);
  curve.accuracy.reserve(correct.size());
  for (auto c : correct) curve.accuracy.push_back(static_cast<double>(c) / distances.size());
  return curve;
}

ThresholdChoice best_threshold(const std::vector<double>& distances,
                               const std::vector<std::int64_t>& same) {
  check_pairs(distances, same, "best_threshold");
  std::vector<double> thresholds;
  std::vector<std::int64_t> correct;
  sweep_candidates(distances, same, thresholds, correct);
  ThresholdChoice best;
  best.pairs = static_cast<std::int64_t>(distances.size());
  best.correct = -1;
  for (std::size_t i = 0; i < thresholds.size(); ++i) {
    if (correct[i] > best.correct) {  // strict: the smallest threshold wins ties
      best.correct = correct[i];
      best.threshold = thresholds[i];
    }
  }
  return best;
}

ThresholdChoice old_fixed_sweep(const std::vector<double>& distances,
                                const std::vector<std::int64_t>& same,
                                const VerificationOptions& options) {
  check_pairs(distances, same, "old_fixed_sweep");
  options.validate();
  const auto steps = static_cast<std::int64_t>(std::floor(
      (options.old_sweep_stop - options.old_sweep_start) / options.old_sweep_step + 1e-9));
  ThresholdChoice best;
  best.pairs = static_cast<std::int64_t>(distances.size());
  best.correct = -1;
  for (std::int64_t i = 0; i <= steps; ++i) {
    const double t = options.old_sweep_start + static_cast<double>(i) * options.old_sweep_step;
    const std::int64_t c = count_correct(distances, same, t);
    if (c > best.correct) {
      best.correct = c;
      best.threshold = t;
    }
  }
  return best;
}

VerificationResult verification_protocol(const torch::Tensor& distances, const torch::Tensor& same,
                                         const torch::Tensor& folds,
                                         const VerificationOptions& options) {
  return verification_protocol(to_doubles(distances, "verification distances"),
                               to_int64s(same, "verification 'same' labels"),
                               to_int64s(folds, "verification folds"), options);
}

VerificationResult verification_protocol(const std::vector<double>& distances,
                                         const std::vector<std::int64_t>& same,
                                         const std::vector<std::int64_t>& folds,
                                         const VerificationOptions& options) {
  options.validate();
  check_pairs(distances, same, "verification_protocol");
  require(folds.size() == distances.size(),
          "verification_protocol: " + std::to_string(distances.size()) + " pairs but " +
              std::to_string(folds.size()) + " fold ids");
  std::map<std::int64_t, std::vector<std::size_t>> by_fold;
  for (std::size_t i = 0; i < folds.size(); ++i) by_fold[folds[i]].push_back(i);
  require(by_fold.size() >= 2, "verification_protocol: needs at least 2 folds, got " +
                                   std::to_string(by_fold.size()) +
                                   " (the threshold of a fold is chosen on the other folds)");

  VerificationResult result;
  std::vector<double> train_d, test_d;
  std::vector<std::int64_t> train_s, test_s;
  for (const auto& [fold, members] : by_fold) {
    train_d.clear();
    train_s.clear();
    test_d.clear();
    test_s.clear();
    for (std::size_t i = 0; i < distances.size(); ++i) {
      auto& d = folds[i] == fold ? test_d : train_d;
      auto& s = folds[i] == fold ? test_s : train_s;
      d.push_back(distances[i]);
      s.push_back(same[i]);
    }
    const ThresholdChoice choice = best_threshold(train_d, train_s);
    FoldResult fr;
    fr.fold = fold;
    fr.pairs = static_cast<std::int64_t>(members.size());
    fr.threshold = choice.threshold;
    fr.train_accuracy = choice.accuracy();
    fr.accuracy = static_cast<double>(count_correct(test_d, test_s, choice.threshold)) /
                  static_cast<double>(test_d.size());
    result.folds.push_back(fr);
  }

  std::vector<double> accuracies, thresholds;
  for (const auto& f : result.folds) {
    accuracies.push_back(f.accuracy);
    thresholds.push_back(f.threshold);
  }
  const double k = static_cast<double>(accuracies.size());
  result.accuracy_mean = mean(accuracies);
  double ss = 0.0;
  for (double a : accuracies) ss += (a - result.accuracy_mean) * (a - result.accuracy_mean);
  result.accuracy_std = std::sqrt(ss / (k - 1.0));
  result.accuracy_se = result.accuracy_std / std::sqrt(k);
  result.threshold_mean = mean(thresholds);

  result.roc = roc_curve(distances, same, ScoreOrder::kLowerIsPositive);
  result.eer = equal_error_rate(result.roc);
  result.tar_at_far_1e3 = tar_at_far(result.roc, 1e-3);
  result.tar_at_far_1e2 = tar_at_far(result.roc, 1e-2);
  result.all_pairs_curve = threshold_accuracy_curve(distances, same);
  if (options.old_sweep) result.old_sweep = old_fixed_sweep(distances, same, options);
  return result;
}

std::vector<std::string> VerificationResult::metric_names() {
  return {"accuracy_mean", "auc", "eer", "tar_at_far_1e-2", "tar_at_far_1e-3"};
}

void VerificationResult::add_to(Report& report) const {
  std::int64_t pairs = 0;
  for (const auto& f : folds) {
    pairs += f.pairs;
    report["fold_" + std::to_string(f.fold) + "_accuracy"] = f.accuracy;
    report["fold_" + std::to_string(f.fold) + "_threshold"] = f.threshold;
  }
  report["verification_folds"] = static_cast<double>(folds.size());
  report["verification_pairs"] = static_cast<double>(pairs);
  report["accuracy_mean"] = accuracy_mean;
  report["accuracy_std"] = accuracy_std;
  report["accuracy_se"] = accuracy_se;
  report["threshold_mean"] = threshold_mean;
  report["auc"] = roc.auc;
  report["eer"] = eer;
  report["tar_at_far_1e-3"] = tar_at_far_1e3;
  report["tar_at_far_1e-2"] = tar_at_far_1e2;
  if (old_sweep) {
    report["leaky_old_sweep_accuracy"] = old_sweep->accuracy();
    report["leaky_old_sweep_threshold"] = old_sweep->threshold;
  }
}

}  // namespace wtp::eval
