#include "serve/blink.h"

#include <cmath>
#include <stdexcept>

#include "core/error.h"

namespace wtp::serve {

void BlinkRule::validate() const {
  require(open_threshold >= 0.0 && open_threshold < closed_threshold && closed_threshold <= 1.0,
          "blink thresholds: need 0 <= open_threshold < closed_threshold <= 1 (got " +
              std::to_string(open_threshold) + " and " + std::to_string(closed_threshold) + ")");
  require(min_open_before >= 1 && min_closed >= 1 && min_open_after >= 1,
          "blink: the minimum open/closed frame counts must be >= 1");
}

EyeState BlinkRule::state(double p) const {
  if (p <= open_threshold) return EyeState::kOpen;
  if (p >= closed_threshold) return EyeState::kClosed;
  return EyeState::kUndecided;
}

BlinkVerdict detect_blink(const std::vector<double>& p_closed, const std::vector<double>& t_ms,
                          double cue_ms, const BlinkRule& rule) {
  if (p_closed.size() != t_ms.size())
    throw std::invalid_argument("detect_blink: probabilities and times differ in size");
  // Runs of decided frames after the cue: (state, length, first frame).
  struct Run {
    EyeState state;
    int length;
    int first;
  };
  std::vector<Run> runs;
  for (std::size_t i = 0; i < p_closed.size(); ++i) {
    if (t_ms[i] < cue_ms) continue;
    const EyeState s = rule.state(p_closed[i]);
    if (s == EyeState::kUndecided) continue;
    if (!runs.empty() && runs.back().state == s)
      ++runs.back().length;
    else
      runs.push_back({s, 1, static_cast<int>(i)});
  }
  BlinkVerdict verdict;
  if (runs.empty()) {
    verdict.detail = "no frame after the cue shows clearly open or closed eyes";
    return verdict;
  }
  for (std::size_t r = 1; r + 1 < runs.size(); ++r) {
    if (runs[r].state == EyeState::kClosed && runs[r].length >= rule.min_closed &&
        runs[r - 1].length >= rule.min_open_before && runs[r + 1].length >= rule.min_open_after) {
      verdict.blink = true;
      verdict.closed_frame = runs[r].first;
      return verdict;
    }
  }
  bool any_closed = false;
  for (const auto& run : runs) any_closed = any_closed || run.state == EyeState::kClosed;
  verdict.detail = any_closed ? "the eyes did not open, close and open again after the cue"
                              : "no blink after the cue (the eyes stayed open)";
  return verdict;
}

std::string check_frame_timing(const std::vector<double>& t_ms, double elapsed_ms,
                               const FrameTiming& timing) {
  const auto n = static_cast<int>(t_ms.size());
  if (n < timing.min_frames || n > timing.max_frames)
    return std::to_string(n) + " frames sent; between " + std::to_string(timing.min_frames) +
           " and " + std::to_string(timing.max_frames) + " are needed";
  for (int i = 0; i < n; ++i) {
    if (!std::isfinite(t_ms[i]) || t_ms[i] < 0.0)
      return "frame " + std::to_string(i) + " has no valid capture time";
    if (i > 0 && t_ms[i] <= t_ms[i - 1])
      return "frame times must increase (frame " + std::to_string(i) + ")";
  }
  const double span = t_ms.back() - t_ms.front();
  if ((n - 1) * 1000.0 < timing.min_fps * span)
    return "frames too far apart: " + std::to_string((n - 1) * 1000.0 / span).substr(0, 4) +
           " frames per second, at least " + std::to_string(timing.min_fps).substr(0, 4) +
           " needed";
  if (span > elapsed_ms) return "the frames span more time than has passed since the challenge";
  return {};
}

}  // namespace wtp::serve
