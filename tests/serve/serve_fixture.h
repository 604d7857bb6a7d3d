#pragma once
/// The archives the service tests run on: a small embedding model and an eye-state model
/// trained by wtp-train from tests/serve/fixture_{embedding,liveness}.yaml on wtp-synth
/// people aligned as the service aligns them (the recipes' synth: and align: steps), built
/// once per build tree (build/serve_fixture) and rebuilt when a recipe changes.
/// Concurrent test processes wait for the first one to finish (a file lock).
#include <cstdint>
#include <filesystem>
#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <vector>

#include "synth/face_renderer.h"

namespace wtp::test {

/// wtp-synth people (seed kPeopleSeed, 128 px) whom the fixture models never saw and whom
/// OpenCV's Haar cascade finds in every enrolment still (it misses others, e.g. 0, 5 and 8).
constexpr std::uint64_t kPeopleSeed = 1000;
constexpr int kPeople[] = {1, 6, 7, 9, 10, 11, 12, 13};
constexpr int kFrameSize = 128;     ///< side of the rendered stills and frames, pixels
constexpr double kFrameMs = 100.0;  ///< log-in frames at 10 fps

/// `frames` log-in frames (BGR, kFrameSize px, 10 fps) of person `identity` of kPeopleSeed in
/// recording `take`: a 4-frame blink (half-closed, closed, closed, half-closed) from frame
/// `blink_at` when `blink`, else eyes open throughout (a photo held up).
std::vector<cv::Mat> login_clip(int identity, int take, bool blink, int blink_at = 7,
                                int frames = 15);

/// `images` enrolment stills (BGR, kFrameSize px, eyes open, small poses) of `identity`,
/// with their eye centres.
std::vector<synth::RenderedFace> enrolment_stills(int identity, int images = 4);

struct ServeArchives {
  std::filesystem::path model;     ///< embedding archive (model.ts)
  std::filesystem::path liveness;  ///< liveness archive
};

/// The archives, training them first when needed. Empty with `why` set when wtp-train is
/// not built; throws std::runtime_error with wtp-train's output when training fails.
std::optional<ServeArchives> serve_archives(std::string& why);

}  // namespace wtp::test
