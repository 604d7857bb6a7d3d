#pragma once
/// The server's blink liveness decision over a log-in's frames, and the timing checks that
/// come before it.
///
/// Eye state of a frame from its closed-eye probability p (the liveness archive's output),
/// with hysteresis: open iff p <= open_threshold, closed iff p >= closed_threshold,
/// undecided in between (such frames neither start, extend nor break a run).
///
/// A blink is open -> closed -> open among the frames captured at or after the cue
/// (t_ms >= cue_ms): at least `min_open_before` open frames, then at least `min_closed`
/// closed frames, then at least `min_open_after` open frames, each a run of consecutive
/// decided frames of one state. The defaults (2, 1, 2) accept a blink seen in a single
/// frame (a blink lasts 100-400 ms: one to four frames at 10 fps) but not a single open
/// frame on either side, so one misclassified frame (a flicker) inside closed eyes or a
/// clip that starts or ends with closed eyes is no blink. Unlike the old service (any open
/// frame followed by a closed one, one fixed threshold, no cue), a blink recorded before
/// the cue does not count.
#include <cstdint>
#include <string>
#include <vector>

namespace wtp::serve {

enum class EyeState { kOpen, kClosed, kUndecided };

struct BlinkRule {
  double open_threshold = 0.3;    ///< open iff P(closed) <= this
  double closed_threshold = 0.7;  ///< closed iff P(closed) >= this
  int min_open_before = 2;        ///< open frames after the cue before the closed ones
  int min_closed = 1;             ///< closed frames in a row
  int min_open_after = 2;         ///< open frames after the closed ones

  /// Throws UsageError unless 0 <= open_threshold < closed_threshold <= 1 and every
  /// minimum is >= 1.
  void validate() const;
  /// The state of a frame with closed-eye probability `p`.
  EyeState state(double p) const;
};

/// Whether the frames show a blink after the cue, and where.
struct BlinkVerdict {
  bool blink = false;
  int closed_frame = -1;  ///< index of the first closed frame of the blink (-1 = none)
  std::string detail;     ///< why not, in words (empty when blink)
};

/// Applies `rule` (see the top of this file) to frames with closed-eye probabilities
/// `p_closed` captured at `t_ms`. Requires equal sizes.
BlinkVerdict detect_blink(const std::vector<double>& p_closed, const std::vector<double>& t_ms,
                          double cue_ms, const BlinkRule& rule);

/// The timing limits of a log-in's frames.
struct FrameTiming {
  int min_frames = 10;
  int max_frames = 40;
  double min_fps = 8.0;
};

/// Empty when the capture times `t_ms` (ms since the challenge) are acceptable, else why
/// not: fewer than min_frames or more than max_frames frames; a time that is negative,
/// not finite or not greater than the previous one; a mean rate (frames - 1) / span under
/// min_fps; or a span (last - first) longer than `elapsed_ms`, the server's own time since
/// it issued the challenge (a clip recorded before the challenge cannot fit).
std::string check_frame_timing(const std::vector<double>& t_ms, double elapsed_ms,
                               const FrameTiming& timing);

}  // namespace wtp::serve
