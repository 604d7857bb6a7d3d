// Haar detector: cascade lookup, the eye-pair choice, and the shared portraits.
#include <filesystem>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "align/detector.h"
#include "align/haar_detector.h"
#include "catch_torch.h"
#include "core/error.h"
#include "test_support.h"

using namespace wtp::align;

namespace {

// A shared portrait scaled so its longer side is `side` (keeps the tests fast).
cv::Mat portrait(const std::string& name, int side) {
  const cv::Mat full = cv::imread((*wtp::test::shared_dir() / "faces" / name).string());
  REQUIRE(!full.empty());
  const double s = static_cast<double>(side) / std::max(full.cols, full.rows);
  cv::Mat small;
  cv::resize(full, small, cv::Size(), s, s, cv::INTER_AREA);
  return small;
}

}  // namespace

TEST_CASE("Haar cascades are found on OpenCV's data path or in haar_dir", "[align][haar]") {
  const std::string face = find_cascade("haarcascade_frontalface_default.xml");
  CHECK(std::filesystem::is_regular_file(face));
  const std::string dir = std::filesystem::path(face).parent_path().string();
  CHECK(find_cascade("haarcascade_eye.xml", dir) == dir + "/haarcascade_eye.xml");
  CHECK_THROWS_AS(find_cascade("haarcascade_eye.xml", "/nonexistent-wtp-dir"), wtp::UsageError);
  CHECK_THROWS_AS(find_cascade("no_such_cascade.xml"), wtp::UsageError);
  HaarOptions bad;
  bad.haar_dir = "/nonexistent-wtp-dir";
  CHECK_THROWS_AS(HaarDetector(bad), wtp::UsageError);
}

TEST_CASE("Haar options are validated and created through the registry", "[align][haar]") {
  const auto& registry = detector_registry();
  CHECK(registry.names() == std::vector<std::string>{"haar", "mtcnn"});
  auto detector = registry.create({"haar", wtp::config::Node()});
  CHECK(detector->name() == "haar");
  HaarOptions o;
  o.scale_factor = 1.0;
  CHECK_THROWS_AS(o.validate(), wtp::UsageError);
  CHECK_THROWS_AS(registry.create({"haarr", wtp::config::Node()}), wtp::UsageError);
  // A blank image has no face; a grey image is not BGR.
  CHECK(detector->detect(cv::Mat(120, 160, CV_8UC3, cv::Scalar::all(128))).empty());
  CHECK_THROWS_AS(detector->detect(cv::Mat(120, 160, CV_8UC1, cv::Scalar::all(128))),
                  std::invalid_argument);
}

TEST_CASE("choose_eyes picks the plausible pair, mirrors one eye, or falls back", "[align][haar]") {
  const Box face{100, 100, 200, 200};  // canonical eyes (128, 138) and (172, 138)
  bool estimated = false;

  SECTION("the pair closest to the canonical positions wins; the mouth and a far blob do not") {
    const std::vector<cv::Point2d> candidates{
        {130, 140},
        {171, 137},   // eyes
        {150, 185},   // mouth (lower half: ignored)
        {104, 103},   // corner blob: worse cost
        {190, 141}};  // plausible but farther from (172, 138) than 171
    const auto eyes = choose_eyes(face, candidates, &estimated);
    CHECK_FALSE(estimated);
    CHECK(eyes[0] == cv::Point2d(130, 140));
    CHECK(eyes[1] == cv::Point2d(171, 137));
  }
  SECTION("one eye is mirrored about the box's vertical centre line") {
    const auto eyes = choose_eyes(face, {{135, 141}}, &estimated);
    CHECK(estimated);
    CHECK(eyes[0] == cv::Point2d(135, 141));
    CHECK(eyes[1] == cv::Point2d(165, 141));
  }
  SECTION("no eye: canonical positions") {
    const auto eyes = choose_eyes(face, {{150, 190}}, &estimated);
    CHECK(estimated);
    CHECK(eyes[0].x == Approx(100 + kCanonicalLeftEyeX * 100));
    CHECK(eyes[1].x == Approx(100 + kCanonicalRightEyeX * 100));
    CHECK(eyes[0].y == Approx(100 + kCanonicalEyeY * 100));
  }
  SECTION("a pair with eyes too close together is rejected") {
    const auto eyes = choose_eyes(face, {{145, 138}, {152, 138}}, &estimated);
    CHECK(estimated);
  }
}

TEST_CASE("Haar finds the single face and both eyes in each shared portrait",
          "[align][haar][shared]") {
  WTP_REQUIRE_SHARED();
  HaarDetector detector;
  int detected_pairs = 0;
  for (const std::string name : {"angelina_jolie.jpg", "kate_siegel.jpg", "paul_rudd.jpg"}) {
    CAPTURE(name);
    const cv::Mat image = portrait(name, 400);
    const auto faces = detector.detect(image);
    REQUIRE(faces.size() == 1);
    const Face& f = faces[0];
    CHECK(f.box.width() > 0.15 * image.cols);
    CHECK(f.box.contains(f.left_eye()));
    CHECK(f.box.contains(f.right_eye()));
    CHECK(f.right_eye().x > f.left_eye().x);
    // Eyes in the upper half, roughly level.
    CHECK(f.left_eye().y < f.box.center().y);
    CHECK(std::abs(f.right_eye().y - f.left_eye().y) < 0.2 * f.box.width());
    CHECK(f.confidence >= 5);
    detected_pairs += !f.eyes_estimated;
  }
  // Kate Siegel's image-left eye is half hidden by hair: the eye cascade finds only the
  // other one, which is mirrored (eyes_estimated). The two other portraits have both.
  CHECK(detected_pairs == 2);
}
