#pragma once
/// Running meters for what the trainer reports (after flashlight's meters: add values, read
/// the summary, reset). Plain values, so a checkpoint saves them and a resumed epoch
/// continues where it stopped.
///
///     AverageMeter loss;
///     for (...) loss.add(step_loss);
///     log("epoch loss ", loss.mean());
///     loss.reset();
#include <algorithm>
#include <cstdint>

namespace wtp::train {

/// The running mean of one value per step (e.g. the training loss of an epoch).
struct AverageMeter {
  double sum = 0.0;        ///< sum of the values added since reset()
  std::int64_t count = 0;  ///< values added since reset()

  void add(double value) {
    sum += value;
    ++count;
  }
  /// sum / count; 0 before the first value.
  double mean() const { return sum / static_cast<double>(std::max<std::int64_t>(1, count)); }
  void reset() { *this = AverageMeter{}; }
};

}  // namespace wtp::train
