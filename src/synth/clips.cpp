#include "synth/clips.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>

#include "core/error.h"
#include "core/random.h"
#include "synth/synth_faces.h"

namespace wtp::synth {
namespace fs = std::filesystem;

namespace {

// Stream tags for mix_seed, distinct from run_synth's (small integers).
constexpr std::uint64_t kTakeStream = 0x636c6970'74616b65;    // "cliptake"
constexpr std::uint64_t kMotionStream = 0x636c6970'6d6f7465;  // "clipmote"
constexpr std::uint64_t kNoiseStream = 0x636c6970'6e6f6973;   // "clipnois"
constexpr std::uint64_t kStillStream = 0x656e726f'6c737469;   // "enrolsti"

constexpr double kPi = 3.14159265358979323846;
constexpr double kHalfClosedOpenness = 0.4;

/// A webcam-like variation: the random appearance of sample_variation() with the person
/// facing the camera (small pose) and milder lighting, blur and noise.
FaceVariation facing_variation(std::uint64_t seed, double max_rotation) {
  FaceVariation v = sample_variation(seed, EyeState::kOpen);
  Rng rng(mix_seed(seed, 1));
  v.rotation = rng.uniform(-max_rotation, max_rotation);
  v.scale = rng.uniform(0.9, 1.05);
  v.shift_x = rng.uniform(-4, 4);
  v.shift_y = rng.uniform(-4, 4);
  v.gain = rng.uniform(0.75, 1.15);
  v.light_strength = rng.uniform(0, 0.3);
  v.blur_sigma = rng.uniform(0, 0.6);
  v.noise_sigma = rng.uniform(1, 4);
  return v;
}

/// A smooth signal: two sinusoids with random frequencies (0.15-0.6 Hz) and phases, peak
/// amplitude at most `amplitude`.
struct Wobble {
  double amplitude[2], hz[2], phase[2];
  Wobble(Rng& rng, double peak) {
    for (int k = 0; k < 2; ++k) {
      amplitude[k] = peak * rng.uniform(0.2, 0.5);
      hz[k] = rng.uniform(0.15, 0.6);
      phase[k] = rng.uniform(0, 2 * kPi);
    }
  }
  double at(double seconds) const {
    return amplitude[0] * std::sin(2 * kPi * hz[0] * seconds + phase[0]) +
           amplitude[1] * std::sin(2 * kPi * hz[1] * seconds + phase[1]);
  }
};

void prepare_dir(const std::string& dir, const char* marker, bool overwrite,
                 const std::string& prefix) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir))
    throw UsageError("out: cannot create the output directory '" + dir + "' (" +
                     (ec ? ec.message() : "not a directory") + "); choose a writable --out");
  if (!fs::exists(fs::path(dir) / marker)) return;
  if (!overwrite)
    throw UsageError("out: '" + dir + "' already holds " + marker +
                     "; pass --overwrite to replace it, or choose another --out");
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.rfind(prefix, 0) == 0) fs::remove(entry.path());
  }
}

std::string png(const cv::Mat& image) {
  std::vector<uchar> bytes;
  if (!cv::imencode(".png", image, bytes))
    throw std::runtime_error("wtp-synth: PNG encoding failed");
  return std::string(bytes.begin(), bytes.end());
}

nlohmann::json point(cv::Point2d p) {
  return {std::round(p.x * 1e4) / 1e4, std::round(p.y * 1e4) / 1e4};
}

}  // namespace

void ClipOptions::validate() const {
  require(identity >= 0, "identity: must be >= 0, got " + std::to_string(identity));
  require(take >= 0, "take: must be >= 0, got " + std::to_string(take));
  require(frames >= 1 && frames <= 10000,
          "frames: must be in [1, 10000], got " + std::to_string(frames));
  require(fps >= 1 && fps <= 120, "fps: must be in [1, 120], got " + std::to_string(fps));
  require(size >= 64 && size <= 1024 && size % 2 == 0,
          "size: must be even and in [64, 1024] (Y4M 4:2:0 needs even sides), got " +
              std::to_string(size));
  require(motion >= 0 && motion <= 4, "motion: must be in [0, 4], got " + std::to_string(motion));
  if (eyes == EyeSchedule::kBlink) {
    require(blink_frames >= 1, "blink_frames: must be >= 1, got " + std::to_string(blink_frames));
    require(blink_at >= 0 && blink_at + blink_frames <= frames,
            "blink_at: the blink (frames " + std::to_string(blink_at) + ".." +
                std::to_string(blink_at + blink_frames - 1) + ") must lie within the " +
                std::to_string(frames) + " frames; lower blink_at or blink_frames or raise frames");
  }
}

void EnrolOptions::validate() const {
  require(identity >= 0, "identity: must be >= 0, got " + std::to_string(identity));
  require(images >= 1 && images <= 20, "images: must be in [1, 20], got " + std::to_string(images));
  require(size >= 64 && size <= 1024, "size: must be in [64, 1024], got " + std::to_string(size));
}

std::vector<int> Clip::blink_frames() const {
  std::vector<int> out;
  for (std::size_t i = 0; i < frames.size(); ++i)
    if (frames[i].phase != EyePhase::kOpen) out.push_back(static_cast<int>(i));
  return out;
}

Clip render_clip(const ClipOptions& options) {
  options.validate();
  const FaceIdentity identity = dataset_identity(options.seed, options.identity);
  const auto person = static_cast<std::uint64_t>(options.identity);
  const auto take = static_cast<std::uint64_t>(options.take);
  const FaceVariation base = facing_variation(mix_seed(options.seed, kTakeStream, person, take), 6);
  Rng motion_rng(mix_seed(options.seed, kMotionStream, person, take));
  const double m = options.motion;
  const Wobble rotation(motion_rng, 3 * m), shift_x(motion_rng, 2.5 * m),
      shift_y(motion_rng, 1.5 * m), scale(motion_rng, 0.03 * m);

  Clip clip;
  clip.options = options;
  for (int i = 0; i < options.frames; ++i) {
    ClipFrame frame;
    if (options.eyes == EyeSchedule::kBlink && i >= options.blink_at &&
        i < options.blink_at + options.blink_frames) {
      const bool edge = i == options.blink_at || i == options.blink_at + options.blink_frames - 1;
      frame.phase = options.blink_frames >= 3 && edge ? EyePhase::kHalfClosed : EyePhase::kClosed;
    }
    frame.openness = frame.phase == EyePhase::kOpen         ? 1.0
                     : frame.phase == EyePhase::kHalfClosed ? kHalfClosedOpenness
                                                            : 0.0;
    const double t = static_cast<double>(i) / options.fps;
    FaceVariation v = base;
    v.rotation += rotation.at(t);
    v.shift_x += shift_x.at(t);
    v.shift_y += shift_y.at(t);
    v.scale *= 1 + scale.at(t);
    v.eye_state = frame.phase == EyePhase::kClosed ? EyeState::kClosed : EyeState::kOpen;
    v.eye_openness = frame.openness;
    v.noise_seed =
        mix_seed(options.seed, kNoiseStream, mix_seed(person, take), static_cast<std::uint64_t>(i));
    RenderedFace face = render_face(identity, v, options.size);
    frame.image = face.image;
    frame.left_eye = face.left_eye;
    frame.right_eye = face.right_eye;
    clip.frames.push_back(std::move(frame));
  }
  return clip;
}

std::string encode_y4m(const std::vector<cv::Mat>& frames, int fps) {
  require(!frames.empty(), "encode_y4m: no frames");
  require(fps >= 1, "encode_y4m: fps must be >= 1");
  const cv::Size size = frames[0].size();
  require(size.width % 2 == 0 && size.height % 2 == 0,
          "encode_y4m: 4:2:0 needs even width and height");
  std::string out = "YUV4MPEG2 W" + std::to_string(size.width) + " H" +
                    std::to_string(size.height) + " F" + std::to_string(fps) +
                    ":1 Ip A1:1 C420jpeg\n";
  cv::Mat i420;
  for (const auto& frame : frames) {
    require(frame.type() == CV_8UC3 && frame.size() == size,
            "encode_y4m: every frame must be CV_8UC3 of the first frame's size");
    cv::cvtColor(frame, i420, cv::COLOR_BGR2YUV_I420);  // Y, then U, then V planes
    out += "FRAME\n";
    out.append(reinterpret_cast<const char*>(i420.data), i420.total() * i420.elemSize());
  }
  return out;
}

void write_clip(const Clip& clip, const std::string& dir) {
  fs::create_directories(dir);
  const ClipOptions& o = clip.options;
  nlohmann::json meta = {{"seed", o.seed},
                         {"identity", o.identity},
                         {"take", o.take},
                         {"fps", o.fps},
                         {"size", o.size},
                         {"frames", clip.frames.size()},
                         {"eyes", config::enum_name(o.eyes)},
                         {"motion", o.motion}};
  meta["blink"] = o.eyes == EyeSchedule::kBlink
                      ? nlohmann::json{{"at", o.blink_at}, {"frames", o.blink_frames}}
                      : nlohmann::json(nullptr);
  meta["blink_frame_indices"] = clip.blink_frames();
  std::vector<cv::Mat> images;
  for (std::size_t i = 0; i < clip.frames.size(); ++i) {
    const ClipFrame& f = clip.frames[i];
    char name[32];
    std::snprintf(name, sizeof name, "frame_%04zu.png", i);
    write_bytes(fs::path(dir) / name, png(f.image));
    meta["frame"].push_back({{"file", name},
                             {"eye_state", config::enum_name(f.phase)},
                             {"openness", f.openness},
                             {"left_eye", point(f.left_eye)},
                             {"right_eye", point(f.right_eye)}});
    images.push_back(f.image);
  }
  write_bytes(fs::path(dir) / "clip.y4m", encode_y4m(images, o.fps));
  write_bytes(fs::path(dir) / "clip.json", meta.dump(1) + "\n");
}

Clip run_clip(const ClipOptions& options) {
  require(!options.out.empty(), "out: the output directory is required (--out DIR)");
  options.validate();
  prepare_dir(options.out, "clip.json", options.overwrite, "frame_");
  Clip clip = render_clip(options);
  write_clip(clip, options.out);
  return clip;
}

std::vector<RenderedFace> render_enrolment(const EnrolOptions& options) {
  options.validate();
  const FaceIdentity identity = dataset_identity(options.seed, options.identity);
  std::vector<RenderedFace> stills;
  for (int i = 0; i < options.images; ++i) {
    const FaceVariation v = facing_variation(
        mix_seed(options.seed, kStillStream, static_cast<std::uint64_t>(options.identity),
                 static_cast<std::uint64_t>(i)),
        8);
    stills.push_back(render_face(identity, v, options.size));
  }
  return stills;
}

std::vector<RenderedFace> run_enrolment(const EnrolOptions& options) {
  require(!options.out.empty(), "out: the output directory is required (--out DIR)");
  options.validate();
  prepare_dir(options.out, "enrol.json", options.overwrite, "still_");
  const auto stills = render_enrolment(options);
  nlohmann::json meta = {{"seed", options.seed},
                         {"identity", options.identity},
                         {"size", options.size},
                         {"stills", nlohmann::json::array()}};
  for (std::size_t i = 0; i < stills.size(); ++i) {
    const std::string name = "still_" + std::to_string(i) + ".png";
    write_bytes(fs::path(options.out) / name, png(stills[i].image));
    meta["stills"].push_back({{"file", name},
                              {"left_eye", point(stills[i].left_eye)},
                              {"right_eye", point(stills[i].right_eye)}});
  }
  write_bytes(fs::path(options.out) / "enrol.json", meta.dump(1) + "\n");
  return stills;
}

}  // namespace wtp::synth
