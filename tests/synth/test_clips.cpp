#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "catch_torch.h"
#include "core/error.h"
#include "synth/clips.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace wtp;
using namespace wtp::synth;

namespace {

ClipOptions small_clip() {
  ClipOptions o;
  o.seed = 5;
  o.identity = 3;
  o.frames = 12;
  o.size = 128;
  o.blink_at = 4;
  o.blink_frames = 4;
  return o;
}

/// Mean absolute grey-level difference of two frames within `radius` of the eye centres
/// (`inside` true) or farther than `radius` from both (`inside` false).
double eye_diff(const ClipFrame& a, const ClipFrame& b, double radius, bool inside) {
  cv::Mat ga, gb, diff;
  cv::cvtColor(a.image, ga, cv::COLOR_BGR2GRAY);
  cv::cvtColor(b.image, gb, cv::COLOR_BGR2GRAY);
  cv::absdiff(ga, gb, diff);
  double sum = 0;
  int n = 0;
  for (int r = 0; r < diff.rows; ++r)
    for (int c = 0; c < diff.cols; ++c) {
      const double d = std::min(cv::norm(cv::Point2d(c, r) - a.left_eye),
                                cv::norm(cv::Point2d(c, r) - a.right_eye));
      if ((d <= radius) == inside) sum += diff.at<unsigned char>(r, c), ++n;
    }
  return sum / std::max(n, 1);
}

bool same_pixels(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

}  // namespace

TEST_CASE("render_clip: the eye schedule of a blink and of a clip that never blinks",
          "[synth][clip]") {
  Clip clip = render_clip(small_clip());
  REQUIRE(clip.frames.size() == 12);
  const std::vector<EyePhase> expected{EyePhase::kOpen,   EyePhase::kOpen,       EyePhase::kOpen,
                                       EyePhase::kOpen,   EyePhase::kHalfClosed, EyePhase::kClosed,
                                       EyePhase::kClosed, EyePhase::kHalfClosed, EyePhase::kOpen,
                                       EyePhase::kOpen,   EyePhase::kOpen,       EyePhase::kOpen};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO("frame " << i);
    CHECK(clip.frames[i].phase == expected[i]);
    CHECK(clip.frames[i].openness == (expected[i] == EyePhase::kOpen     ? 1.0
                                      : expected[i] == EyePhase::kClosed ? 0.0
                                                                         : 0.4));
    CHECK(clip.frames[i].image.size() == cv::Size(128, 128));
  }
  CHECK(clip.blink_frames() == std::vector<int>{4, 5, 6, 7});

  ClipOptions two = small_clip();
  two.blink_frames = 2;  // too short for transition frames: all closed
  clip = render_clip(two);
  CHECK(clip.blink_frames() == std::vector<int>{4, 5});
  CHECK(clip.frames[4].phase == EyePhase::kClosed);

  ClipOptions never = small_clip();
  never.eyes = EyeSchedule::kOpen;
  never.blink_at = 100;  // ignored without a blink
  clip = render_clip(never);
  CHECK(clip.blink_frames().empty());
  for (const auto& f : clip.frames) CHECK(f.phase == EyePhase::kOpen);
}

TEST_CASE("render_clip: blink frames change the eye region, and only it", "[synth][clip]") {
  for (int identity : {0, 1, 2, 3, 4, 5}) {
    ClipOptions o = small_clip();
    o.identity = identity;
    o.motion = 0;  // a still head: frames differ by the eyes and the sensor noise only
    o.size = 256;
    const Clip clip = render_clip(o);
    const FaceIdentity person = dataset_identity(o.seed, identity);
    const double radius = person.eye_h * o.size / 128.0 * 0.9;
    const double open_open = eye_diff(clip.frames[0], clip.frames[1], radius, true);
    const double half = eye_diff(clip.frames[0], clip.frames[4], radius, true);
    const double closed = eye_diff(clip.frames[0], clip.frames[5], radius, true);
    const double far_closed = eye_diff(clip.frames[0], clip.frames[5], 3 * radius, false);
    const double far_open = eye_diff(clip.frames[0], clip.frames[1], 3 * radius, false);
    INFO("identity " << identity << ": open/open " << open_open << ", open/half " << half
                     << ", open/closed " << closed << ", far " << far_closed << " vs " << far_open);
    CHECK(closed > open_open + 15);                // the closed lid is clearly visible
    CHECK(half > open_open + 5);                   // the half-closed lid too
    CHECK(half < closed);                          // and less so
    CHECK(std::abs(far_closed - far_open) < 0.5);  // elsewhere: noise alone
  }
}

TEST_CASE("render_clip: the head moves smoothly", "[synth][clip]") {
  ClipOptions o = small_clip();
  o.frames = 30;
  o.eyes = EyeSchedule::kOpen;
  const Clip clip = render_clip(o);
  double largest_step = 0, span = 0;
  for (std::size_t i = 1; i < clip.frames.size(); ++i) {
    largest_step =
        std::max(largest_step, cv::norm(clip.frames[i].left_eye - clip.frames[i - 1].left_eye));
    span = std::max(span, cv::norm(clip.frames[i].left_eye - clip.frames[0].left_eye));
  }
  INFO("largest step " << largest_step << " px, largest excursion " << span << " px");
  CHECK(span > 0.5);          // it moves
  CHECK(largest_step < 2.0);  // by a little per frame at 15 fps (a 128-pixel frame)
  o.motion = 0;
  const Clip still = render_clip(o);
  CHECK(still.frames.back().left_eye == still.frames.front().left_eye);
}

TEST_CASE("render_clip: deterministic; identities and takes differ", "[synth][clip]") {
  const Clip a = render_clip(small_clip());
  const Clip b = render_clip(small_clip());
  for (std::size_t i = 0; i < a.frames.size(); ++i)
    CHECK(same_pixels(a.frames[i].image, b.frames[i].image));
  ClipOptions other = small_clip();
  other.identity = 4;
  const Clip c = render_clip(other);
  CHECK(!same_pixels(a.frames[0].image, c.frames[0].image));
  CHECK(cv::norm(a.frames[0].left_eye - c.frames[0].left_eye) +
            cv::norm(a.frames[0].right_eye - c.frames[0].right_eye) >
        0.5);
  const FaceIdentity p3 = dataset_identity(5, 3), p4 = dataset_identity(5, 4);
  CHECK(p3.face_a != p4.face_a);
  ClipOptions take = small_clip();
  take.take = 1;
  const Clip d = render_clip(take);
  CHECK(!same_pixels(a.frames[0].image, d.frames[0].image));
  // Consecutive frames differ (sensor noise changes every frame, even with a still head).
  ClipOptions still = small_clip();
  still.motion = 0;
  const Clip s = render_clip(still);
  CHECK(!same_pixels(s.frames[0].image, s.frames[1].image));
}

TEST_CASE("encode_y4m: header and frame sizes parse, frames decode back", "[synth][clip]") {
  ClipOptions o = small_clip();
  o.size = 96;
  const Clip clip = render_clip(o);
  std::vector<cv::Mat> images;
  for (const auto& f : clip.frames) images.push_back(f.image);
  const std::string y4m = encode_y4m(images, 15);
  const std::string header = "YUV4MPEG2 W96 H96 F15:1 Ip A1:1 C420jpeg\n";
  REQUIRE(y4m.compare(0, header.size(), header) == 0);
  const std::size_t plane = 96 * 96 * 3 / 2;
  REQUIRE(y4m.size() == header.size() + clip.frames.size() * (6 + plane));
  for (std::size_t i = 0; i < clip.frames.size(); ++i) {
    const std::size_t at = header.size() + i * (6 + plane);
    REQUIRE(y4m.compare(at, 6, "FRAME\n") == 0);
    cv::Mat i420(96 * 3 / 2, 96, CV_8UC1, const_cast<char*>(y4m.data() + at + 6));
    cv::Mat bgr;
    cv::cvtColor(i420, bgr, cv::COLOR_YUV2BGR_I420);
    cv::Mat diff;
    cv::absdiff(bgr, clip.frames[i].image, diff);
    INFO("frame " << i);
    CHECK(cv::mean(diff)[0] < 6);  // 4:2:0 chroma subsampling loses little
  }
  CHECK_THROWS_AS(encode_y4m({cv::Mat(95, 96, CV_8UC3)}, 15), UsageError);
  CHECK_THROWS_AS(encode_y4m({}, 15), UsageError);
}

TEST_CASE("ClipOptions and EnrolOptions name the field to fix", "[synth][clip]") {
  auto message = [](auto options) {
    try {
      options.validate();
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("(accepted)");
  };
  ClipOptions late = small_clip();
  late.blink_at = 10;  // frames 10..13 of 12
  CHECK_THAT(message(late), Catch::Contains("blink_at"));
  ClipOptions odd = small_clip();
  odd.size = 129;
  CHECK_THAT(message(odd), Catch::Contains("size"));
  ClipOptions fps = small_clip();
  fps.fps = 0;
  CHECK_THAT(message(fps), Catch::Contains("fps"));
  ClipOptions never = small_clip();
  never.eyes = EyeSchedule::kOpen;
  never.blink_at = 100;
  CHECK(message(never) == "(accepted)");
  EnrolOptions none;
  none.images = 0;
  CHECK_THAT(message(none), Catch::Contains("images"));
}

TEST_CASE("write_clip and run_enrolment: files, clip.json, byte-identical reruns",
          "[synth][clip]") {
  test::TempDir tmp;
  ClipOptions o = small_clip();
  o.out = (tmp / "a").string();
  run_clip(o);
  CHECK_THROWS_AS(run_clip(o), UsageError);  // an existing clip without overwrite
  o.overwrite = true;
  o.frames = 10;  // a shorter clip replaces every frame of the longer one
  run_clip(o);
  CHECK(!fs::exists(tmp / "a" / "frame_0010.png"));
  o.out = (tmp / "b").string();
  o.overwrite = false;
  const Clip clip = run_clip(o);
  for (const char* file : {"clip.json", "clip.y4m", "frame_0000.png", "frame_0009.png"}) {
    INFO(file);
    CHECK(test::read_file(tmp / "a" / file) == test::read_file(tmp / "b" / file));
  }
  const cv::Mat frame = cv::imread((tmp / "b" / "frame_0005.png").string(), cv::IMREAD_COLOR);
  CHECK(same_pixels(frame, clip.frames[5].image));
  const auto meta = nlohmann::json::parse(test::read_file(tmp / "b" / "clip.json"));
  CHECK(meta["identity"] == 3);
  CHECK(meta["fps"] == 15);
  CHECK(meta["blink"]["at"] == 4);
  CHECK(meta["blink_frame_indices"] == std::vector<int>{4, 5, 6, 7});
  REQUIRE(meta["frame"].size() == 10);
  CHECK(meta["frame"][5]["eye_state"] == "closed");
  CHECK(meta["frame"][4]["eye_state"] == "half_closed");
  CHECK(meta["frame"][0]["eye_state"] == "open");
  CHECK(meta["frame"][5]["left_eye"][0].get<double>() ==
        Approx(clip.frames[5].left_eye.x).margin(1e-4));

  EnrolOptions e;
  e.out = (tmp / "enrol").string();
  e.seed = 5;
  e.identity = 3;
  e.images = 4;
  e.size = 128;
  const auto stills = run_enrolment(e);
  REQUIRE(stills.size() == 4);
  for (int i = 0; i < 4; ++i) {
    CHECK(stills[static_cast<std::size_t>(i)].eye_state == EyeState::kOpen);
    CHECK(fs::is_regular_file(tmp / "enrol" / ("still_" + std::to_string(i) + ".png")));
  }
  CHECK(!same_pixels(stills[0].image, stills[1].image));
  const auto again = render_enrolment(e);
  CHECK(same_pixels(again[3].image, stills[3].image));
  const auto enrol_meta = nlohmann::json::parse(test::read_file(tmp / "enrol" / "enrol.json"));
  CHECK(enrol_meta["stills"].size() == 4);
}

TEST_CASE("wtp-synth clip and enrol", "[synth][clip][cli]") {
  const fs::path tool = test::bin_dir() / "wtp-synth";
  REQUIRE(fs::is_regular_file(tool));
  test::TempDir tmp;
  const std::string clip_args =
      " clip --identity 2 --seed 7 --frames 12 --blink-at 3 "
      "--blink-frames 3 --fps 10 --size 64 --log-level warn --out ";
  const auto blink = test::run_command(tool.string() + clip_args + (tmp / "blink").string());
  INFO(blink.output);
  REQUIRE(blink.status == 0);
  CHECK_THAT(blink.output, Catch::Contains("blink frames: 3 4 5"));
  auto meta = nlohmann::json::parse(test::read_file(tmp / "blink" / "clip.json"));
  CHECK(meta["identity"] == 2);
  CHECK(meta["seed"] == 7);
  CHECK(meta["fps"] == 10);
  CHECK(test::read_file(tmp / "blink" / "clip.y4m").rfind("YUV4MPEG2 W64 H64 F10:1 ", 0) == 0);
  const auto photo =
      test::run_command(tool.string() + clip_args + (tmp / "photo").string() + " --no-blink");
  REQUIRE(photo.status == 0);
  CHECK_THAT(photo.output, Catch::Contains("blink frames: none"));
  meta = nlohmann::json::parse(test::read_file(tmp / "photo" / "clip.json"));
  CHECK(meta["eyes"] == "open");
  CHECK(meta["blink"].is_null());
  const auto enrol = test::run_command(tool.string() + " enrol --identity 2 --seed 7 --images 3 " +
                                       "--size 64 --out " + (tmp / "enrol").string());
  REQUIRE(enrol.status == 0);
  CHECK(fs::is_regular_file(tmp / "enrol" / "still_2.png"));
  CHECK(!fs::exists(tmp / "enrol" / "still_3.png"));
  // Dataset flags are not clip options (the strict decoder names the key), and the reverse.
  const auto mixed =
      test::run_command(tool.string() + " clip --identities 12 --out " + (tmp / "x").string());
  CHECK(mixed.status == 2);
  CHECK_THAT(mixed.output, Catch::Contains("identities"));
  const auto reverse =
      test::run_command(tool.string() + " --frames 12 --out " + (tmp / "y").string());
  CHECK(reverse.status == 2);
  CHECK_THAT(reverse.output, Catch::Contains("frames"));
  const auto late = test::run_command(tool.string() + " clip --frames 5 --blink-at 4 --out " +
                                      (tmp / "z").string());
  CHECK(late.status == 2);
  CHECK_THAT(late.output, Catch::Contains("blink_at"));
}
