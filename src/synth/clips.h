#pragma once
/// Clips and enrolment stills of one synthetic person, for the face log-in service's tests
/// and a browser's fake camera (`wtp-synth clip`, `wtp-synth enrol`).
///
/// Identity: person `identity` of a wtp-synth dataset with seed `seed` (dataset_identity():
/// LFW person `identity` in sorted-name order), so a clip's person can be enrolled from
/// other renders of the same identity (enrolment stills, or the dataset's own images).
///
/// A clip is one recording (`take`: background, lighting, clothing, head motion) of the
/// person facing the camera with small smooth head motion (each of rotation, shift and scale
/// a sum of two slow sinusoids, 0.15-0.6 Hz) and an eye-state schedule: eyes open
/// throughout (EyeSchedule::kOpen: a photo held up never blinks), or a blink of
/// `blink_frames` frames starting at frame `blink_at`. A blink of n >= 3 frames has a
/// half-closed first and last frame (openness 0.4, as the lid moves) and closed frames
/// between; n <= 2 frames are all closed. Sensor noise changes every frame.
///
/// Output of write_clip() in DIR:
///   frame_0000.png ...   the frames, 0-based, PNG (lossless)
///   clip.y4m             YUV4MPEG2 4:2:0 video, header "YUV4MPEG2 W<size> H<size> F<fps>:1 Ip
///                        A1:1 C420jpeg", each frame "FRAME\n" + Y, U, V planes (what
///                        Chromium's --use-file-for-fake-video-capture reads; it loops)
///   clip.json            {seed, identity, take, fps, size, frames, eyes, blink: {at,
///                        frames} or null, blink_frame_indices: [frames not open],
///                        frame: [{file, eye_state: open|half_closed|closed, openness,
///                        left_eye: [x, y], right_eye: [x, y]}]}
/// Output of write_enrolment() in DIR: still_0.png ... and enrol.json {seed, identity,
/// size, stills: [{file, left_eye, right_eye}]}.
///
/// Determinism: the same options give byte-identical files on every machine with the same
/// OpenCV build (rendering is single-threaded and seeded per frame).
#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"
#include "synth/face_renderer.h"

namespace wtp::synth {

/// Whether a clip contains a blink.
enum class EyeSchedule {
  kBlink,  ///< open, a blink at blink_at for blink_frames frames, open
  kOpen,   ///< never blinking (a photo held up to the camera)
};
WTP_ENUM_NAMES(EyeSchedule, {EyeSchedule::kBlink, "blink"}, {EyeSchedule::kOpen, "open"})

/// The eyes in one clip frame.
enum class EyePhase { kOpen, kHalfClosed, kClosed };
WTP_ENUM_NAMES(EyePhase, {EyePhase::kOpen, "open"}, {EyePhase::kHalfClosed, "half_closed"},
               {EyePhase::kClosed, "closed"})

/// Options of render_clip() (the config keys of `wtp-synth clip`).
struct ClipOptions {
  std::string out;         ///< output directory of run_clip() (unused by render_clip)
  std::uint64_t seed = 0;  ///< dataset seed: the person is dataset_identity(seed, identity)
  int identity = 0;        ///< person index, >= 0
  int take = 0;            ///< recording: background, lighting, clothing, motion; >= 0
  int frames = 30;         ///< frame count, 1..10000
  int fps = 15;            ///< frames per second, 1..120 (an integer: the Y4M F<fps>:1)
  int size = 256;          ///< frame side in pixels, even, 64..1024
  EyeSchedule eyes = EyeSchedule::kBlink;  ///< blink or never
  int blink_at = 12;                       ///< first frame of the blink (0-based)
  int blink_frames = 4;                    ///< frames of the blink, >= 1
  double motion = 1;                       ///< head motion amplitude factor, 0 (still)..4
  bool overwrite = false;                  ///< replace an earlier clip in `out`

  template <class V>
  void visit(V& v) {
    v("out", out, "output directory (created if missing)");
    v("seed", seed, "dataset seed: the person is identity N of wtp-synth --seed S");
    v("identity", identity, "person index (LFW person N of the dataset with this seed), >= 0");
    v("take", take, "recording number: background, lighting, clothing and head motion");
    v("frames", frames, "number of frames, 1..10000");
    v("fps", fps, "frames per second (integer), 1..120");
    v("size", size, "frame side in pixels, even, 64..1024");
    v("eyes", eyes, "blink (a blink at blink_at) or open (never blinks)");
    v("blink_at", blink_at, "first frame of the blink, 0-based");
    v("blink_frames", blink_frames, "frames of the blink (half-closed ends when >= 3)");
    v("motion", motion, "head motion amplitude factor, 0 (still) .. 4");
    v("overwrite", overwrite, "replace an earlier clip in `out`");
  }
  /// Throws UsageError naming the field and the accepted range.
  void validate() const;
};

/// One frame of a clip and its ground truth.
struct ClipFrame {
  cv::Mat image;                     ///< size x size, CV_8UC3, BGR
  EyePhase phase = EyePhase::kOpen;  ///< eye state drawn
  double openness = 1;               ///< 1 open, 0.4 half closed, 0 closed
  cv::Point2d left_eye, right_eye;   ///< exact eye centres (see RenderedFace)
};

/// A rendered clip.
struct Clip {
  ClipOptions options;            ///< what was rendered
  std::vector<ClipFrame> frames;  ///< options.frames frames
  /// Indices of the frames whose eyes are not open (empty for EyeSchedule::kOpen).
  std::vector<int> blink_frames() const;
};

/// Renders a clip in memory (see the file comment). Validates `options` (UsageError).
Clip render_clip(const ClipOptions& options);

/// The clip as YUV4MPEG2 bytes (C420jpeg, progressive, square pixels) at `fps` frames per
/// second. Requires at least one frame, all CV_8UC3 BGR of one even width and height.
std::string encode_y4m(const std::vector<cv::Mat>& frames, int fps);

/// Writes frame_NNNN.png, clip.y4m and clip.json into `dir` (created if missing).
/// Throws std::runtime_error when a file cannot be written.
void write_clip(const Clip& clip, const std::string& dir);

/// Renders and writes options.out. Throws UsageError for invalid options or when `out`
/// already holds a clip (clip.json) and `overwrite` is false.
Clip run_clip(const ClipOptions& options);

/// Options of render_enrolment() (the config keys of `wtp-synth enrol`).
struct EnrolOptions {
  std::string out;         ///< output directory of run_enrolment()
  std::uint64_t seed = 0;  ///< dataset seed (as ClipOptions::seed)
  int identity = 0;        ///< person index, >= 0
  int images = 4;          ///< stills, 1..20 (the service enrols 3-5)
  int size = 256;          ///< image side in pixels, 64..1024
  bool overwrite = false;  ///< replace earlier stills in `out`

  template <class V>
  void visit(V& v) {
    v("out", out, "output directory (created if missing)");
    v("seed", seed, "dataset seed: the person is identity N of wtp-synth --seed S");
    v("identity", identity, "person index, >= 0");
    v("images", images, "number of stills, 1..20");
    v("size", size, "image side in pixels, 64..1024");
    v("overwrite", overwrite, "replace earlier stills in `out`");
  }
  /// Throws UsageError naming the field and the accepted range.
  void validate() const;
};

/// Enrolment stills: the person with eyes open, each still its own photo (small pose
/// within +-8 degrees and +-4 face units, its own background and lighting). Deterministic.
std::vector<RenderedFace> render_enrolment(const EnrolOptions& options);

/// Renders and writes still_N.png and enrol.json into options.out. Throws UsageError for
/// invalid options or existing stills (enrol.json) without `overwrite`.
std::vector<RenderedFace> run_enrolment(const EnrolOptions& options);

}  // namespace wtp::synth
