// Alignment geometry: box expansion, clamping, letterbox pixels, the rotation that levels
// the eyes (measured on the output pixels), and face selection.
#include <cmath>
#include <opencv2/imgproc.hpp>

#include "align/alignment.h"
#include "align/face.h"
#include "catch_torch.h"
#include "core/config.h"
#include "core/error.h"

using namespace wtp::align;

namespace {

// A 3-channel image whose pixel (x, y) is (x, y, (x + 2 y) % 256): every pixel is unique in
// a 200 x 200 image, so a crop can be checked pixel by pixel.
cv::Mat ramp(int width, int height) {
  cv::Mat m(height, width, CV_8UC3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      m.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>(x), static_cast<uchar>(y),
                                        static_cast<uchar>((x + 2 * y) % 256));
  return m;
}

bool equal(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}

bool black(const cv::Mat& m) { return cv::countNonZero(m.reshape(1)) == 0; }

Face face_with_box(double x1, double y1, double x2, double y2) {
  Face f;
  f.box = {x1, y1, x2, y2};
  f.landmarks = {{x1 + 0.3 * (x2 - x1), y1 + 0.4 * (y2 - y1)},
                 {x1 + 0.7 * (x2 - x1), y1 + 0.4 * (y2 - y1)}};
  return f;
}

// Centroids of the connected blobs of `mask`, largest first.
std::vector<cv::Point2d> blobs(const cv::Mat& mask) {
  cv::Mat labels, stats, centroids;
  const int n = cv::connectedComponentsWithStats(mask, labels, stats, centroids);
  std::vector<std::pair<int, cv::Point2d>> found;
  for (int i = 1; i < n; ++i)
    found.emplace_back(stats.at<int>(i, cv::CC_STAT_AREA),
                       cv::Point2d(centroids.at<double>(i, 0), centroids.at<double>(i, 1)));
  std::sort(found.begin(), found.end(), [](auto& a, auto& b) { return a.first > b.first; });
  std::vector<cv::Point2d> out;
  for (auto& f : found) out.push_back(f.second);
  return out;
}

// A simple drawn face tilted by `tilt` degrees (eye line angle, y down) centred at `c`:
// skin ellipse, pure blue eyes (radius 6) and a pure green nose dot at the face centre.
struct DrawnFace {
  cv::Mat image;
  cv::Point2d left, right, center;
};
DrawnFace draw_face(double tilt, cv::Point2d c, cv::Size size) {
  DrawnFace d;
  d.image = cv::Mat(size, CV_8UC3, cv::Scalar(90, 90, 90));
  d.center = c;
  const double t = tilt * CV_PI / 180.0;
  auto at = [&](double dx, double dy) {  // upright offset -> tilted image point
    return cv::Point2d(c.x + std::cos(t) * dx - std::sin(t) * dy,
                       c.y + std::sin(t) * dx + std::cos(t) * dy);
  };
  d.left = at(-32, -18);
  d.right = at(32, -18);
  constexpr int kShift = 4;  // sub-pixel drawing: coordinates in 1/16 px
  auto fixed = [](cv::Point2d p) {
    return cv::Point(static_cast<int>(std::lround(p.x * 16)),
                     static_cast<int>(std::lround(p.y * 16)));
  };
  cv::ellipse(d.image, fixed(c), cv::Size(60 * 16, 75 * 16), tilt, 0, 360,
              cv::Scalar(150, 180, 210), cv::FILLED, cv::LINE_AA, kShift);
  cv::circle(d.image, fixed(d.left), 6 * 16, cv::Scalar(255, 0, 0), cv::FILLED, cv::LINE_AA,
             kShift);
  cv::circle(d.image, fixed(d.right), 6 * 16, cv::Scalar(255, 0, 0), cv::FILLED, cv::LINE_AA,
             kShift);
  cv::circle(d.image, fixed(c), 5 * 16, cv::Scalar(0, 255, 0), cv::FILLED, cv::LINE_AA, kShift);
  return d;
}

}  // namespace

TEST_CASE("expand_box grows the box by a third of its size and clamps it", "[align][geometry]") {
  // 30 x 30 box: 10 px on each side.
  CHECK(expand_box({30, 20, 60, 50}, 1.0 / 3.0, {100, 80}) == cv::Rect(20, 10, 50, 50));
  // Clamped on the left and bottom: [-5, 45) x [30, 80) -> [0, 45) x [30, 80).
  CHECK(expand_box({5, 40, 35, 70}, 1.0 / 3.0, {100, 80}) == cv::Rect(0, 30, 45, 50));
  // Non-square box, margin 0.5: 20 x 40 -> +10 / +20.
  CHECK(expand_box({40, 30, 60, 70}, 0.5, {200, 200}) == cv::Rect(30, 10, 40, 80));
  // Corners are rounded to the nearest integer: 10.4 -> 10, 20.6 -> 21.
  CHECK(expand_box({10.4, 10.4, 20.6, 20.6}, 0.0, {50, 50}) == cv::Rect(10, 10, 11, 11));
  // A box outside the image still gives a 1-pixel crop inside it.
  const cv::Rect outside = expand_box({120, 120, 130, 130}, 0.0, {100, 100});
  CHECK(outside == cv::Rect(99, 99, 1, 1));
  CHECK_THROWS_AS(expand_box({0, 0, 1, 1}, -0.1, {10, 10}), std::invalid_argument);
}

TEST_CASE("eye_angle is atan2 of the eye line in degrees", "[align][geometry]") {
  CHECK(eye_angle({0, 0}, {10, 0}) == Approx(0.0));
  CHECK(eye_angle({0, 0}, {10, 10}) == Approx(45.0));
  CHECK(eye_angle({10, 10}, {20, 0}) == Approx(-45.0));
  CHECK(eye_angle({0, 0}, {0, 5}) == Approx(90.0));
}

TEST_CASE("simple alignment crops the expanded box and letterboxes it", "[align][simple]") {
  const cv::Mat image = ramp(100, 80);
  AlignOptions o;
  o.kind = AlignKind::kSimple;
  o.interpolation = wtp::data::Interpolation::kNearest;

  SECTION("no resampling: the output is the crop itself") {
    o.size = 50;
    const auto a = align_face(image, face_with_box(30, 20, 60, 50), o);
    CHECK(a.found);
    CHECK(a.angle == 0.0);
    CHECK(a.crop == cv::Rect(20, 10, 50, 50));
    CHECK(equal(a.image, image(cv::Rect(20, 10, 50, 50))));
    const cv::Point2d p = apply_transform(a.transform, {33, 41});
    CHECK(p.x == Approx(13));
    CHECK(p.y == Approx(31));
  }
  SECTION("a clamped crop is centred on black") {
    o.size = 50;
    const auto a = align_face(image, face_with_box(5, 40, 35, 70), o);
    REQUIRE(a.crop == cv::Rect(0, 30, 45, 50));
    // 45 x 50 on a 50 x 50 canvas: offset x = floor(5 / 2) = 2.
    CHECK(black(a.image(cv::Rect(0, 0, 2, 50))));
    CHECK(black(a.image(cv::Rect(47, 0, 3, 50))));
    CHECK(equal(a.image(cv::Rect(2, 0, 45, 50)), image(cv::Rect(0, 30, 45, 50))));
    CHECK(apply_transform(a.transform, {0, 30}).x == Approx(2));
    CHECK(apply_transform(a.transform, {0, 30}).y == Approx(0).margin(1e-12));
  }
  SECTION("upscaling by 2 with nearest neighbour repeats every crop pixel") {
    o.size = 100;
    const auto a = align_face(image, face_with_box(30, 20, 60, 50), o);
    const cv::Mat crop = image(cv::Rect(20, 10, 50, 50));
    bool all = true;
    for (int y = 0; y < 100; ++y)
      for (int x = 0; x < 100; ++x)
        all = all && a.image.at<cv::Vec3b>(y, x) == crop.at<cv::Vec3b>(y / 2, x / 2);
    CHECK(all);
    // Pixel centres: crop pixel 0 covers output 0..1, centre 0.5.
    CHECK(apply_transform(a.transform, {20, 10}).x == Approx(0.5));
    CHECK(apply_transform(a.transform, {21, 11}).y == Approx(2.5));
  }
}

TEST_CASE("align_whole letterboxes the whole image (no face)", "[align][simple]") {
  const cv::Mat image(50, 100, CV_8UC3, cv::Scalar(200, 100, 50));
  AlignOptions o;
  o.size = 40;
  const auto a = align_whole(image, o);
  CHECK_FALSE(a.found);
  REQUIRE(a.image.size() == cv::Size(40, 40));
  // 100 x 50 -> 40 x 20 at y offset 10.
  CHECK(black(a.image(cv::Rect(0, 0, 40, 10))));
  CHECK(black(a.image(cv::Rect(0, 30, 40, 10))));
  CHECK(cv::norm(a.image(cv::Rect(0, 10, 40, 20)),
                 cv::Mat(20, 40, CV_8UC3, cv::Scalar(200, 100, 50)), cv::NORM_INF) == 0);
}

TEST_CASE("rotation alignment levels the eye line and keeps the face centred",
          "[align][rotation]") {
  for (double tilt : {-30.0, -12.5, 0.0, 7.0, 24.0}) {
    CAPTURE(tilt);
    // The face is off the image centre, so a rotation about the wrong centre would show.
    const cv::Point2d c(230, 190);
    const DrawnFace d = draw_face(tilt, c, {420, 400});
    Face face;
    face.box = {c.x - 60, c.y - 75, c.x + 60, c.y + 75};  // ground truth, as a detector would
    face.landmarks = {d.left, d.right};
    AlignOptions o;  // rotation, 224, margin 1/3
    const auto a = align_face(d.image, face, o);
    REQUIRE(a.image.size() == cv::Size(224, 224));
    CHECK(a.angle == Approx(tilt).margin(1e-9));

    cv::Mat blue, green;
    cv::inRange(a.image, cv::Scalar(170, 0, 0), cv::Scalar(255, 90, 90), blue);
    cv::inRange(a.image, cv::Scalar(0, 170, 0), cv::Scalar(90, 255, 90), green);
    auto eyes = blobs(blue);
    REQUIRE(eyes.size() >= 2);
    eyes.resize(2);
    if (eyes[0].x > eyes[1].x) std::swap(eyes[0], eyes[1]);
    // Measured on the output pixels: the eye line is level within 1 degree ...
    CHECK(std::abs(eye_angle(eyes[0], eyes[1])) < 1.0);
    // ... the eyes are where the transform sends them ...
    CHECK(cv::norm(eyes[0] - apply_transform(a.transform, d.left)) < 1.0);
    CHECK(cv::norm(eyes[1] - apply_transform(a.transform, d.right)) < 1.0);
    // ... and the face centre (the rotation's fixed point) is the output centre.
    const auto nose = blobs(green);
    REQUIRE(!nose.empty());
    CHECK(cv::norm(nose[0] - cv::Point2d(111.5, 111.5)) < 1.0);
  }
}

TEST_CASE("rotation alignment needs the eyes", "[align][rotation]") {
  Face face;
  face.box = {10, 10, 50, 50};
  CHECK_THROWS_AS(align_face(cv::Mat(60, 60, CV_8UC3, cv::Scalar::all(0)), face, AlignOptions{}),
                  std::invalid_argument);
}

TEST_CASE("faces are ranked by size, confidence or centre-weighted size", "[align][select]") {
  Face small_centered = face_with_box(45, 45, 55, 55);  // 10 x 10 at the centre of 100 x 100
  small_centered.confidence = 0.99;
  Face big_corner = face_with_box(0, 0, 30, 30);  // 30 x 30, centre (15, 15)
  big_corner.confidence = 0.90;
  const std::vector<Face> faces{small_centered, big_corner};
  const cv::Size image(100, 100);

  CHECK(rank_faces(faces, FaceSelect::kLargest, image)[0].box.x1 == 0);
  CHECK(rank_faces(faces, FaceSelect::kConfidence, image)[0].box.x1 == 45);
  // Centre-weighted: 100 - 2 * 0 = 100 versus 900 - 2 * (35^2 + 35^2) = -4000.
  CHECK(selection_score(small_centered, FaceSelect::kCenter, image) == Approx(100));
  CHECK(selection_score(big_corner, FaceSelect::kCenter, image) == Approx(-4000));
  CHECK(rank_faces(faces, FaceSelect::kCenter, image)[0].box.x1 == 45);
  // A zero weight is plain size.
  CHECK(rank_faces(faces, FaceSelect::kCenter, image, 0.0)[0].box.x1 == 0);
  // Ties keep the detector's order.
  CHECK(rank_faces({big_corner, big_corner}, FaceSelect::kLargest, image).size() == 2);
}

TEST_CASE("similarity_transform recovers hand-computed transforms (Eigen::umeyama)",
          "[align][similarity]") {
  // Two points: (0,0) -> (10,10) and (1,0) -> (10,12) is scale 2, a quarter turn, shift 10.
  const cv::Matx23d quarter = similarity_transform({{0, 0}, {1, 0}}, {{10, 10}, {10, 12}});
  const cv::Matx23d expected_quarter(0, -2, 10, 2, 0, 10);
  CHECK(cv::norm(quarter - expected_quarter) < 1e-12);
  // Five points: the ArcFace template seen through x -> R(-20 deg) (x - t) / 0.8, so the
  // transform back is s = 0.8, rotation +20 deg, t = (12, -5): [s cos, -s sin, 12; s sin,
  // s cos, -5].
  const double s = 0.8, a = 20 * CV_PI / 180, c = std::cos(a), n = std::sin(a);
  std::vector<cv::Point2d> src, dst;
  for (const auto& p : kArcfaceTemplate) {
    dst.emplace_back(p[0], p[1]);
    const double x = (p[0] - 12) / s, y = (p[1] + 5) / s;
    src.emplace_back(c * x + n * y, -n * x + c * y);
  }
  const cv::Matx23d m = similarity_transform(src, dst);
  const cv::Matx23d expected(s * c, -s * n, 12, s * n, s * c, -5);
  CHECK(cv::norm(m - expected) < 1e-9);
  CHECK_THROWS_AS(similarity_transform({{1, 1}}, {{2, 2}}), std::invalid_argument);
  CHECK_THROWS_AS(similarity_transform({{1, 1}, {1, 1}}, {{2, 2}, {3, 3}}), std::invalid_argument);
}

TEST_CASE("similarity alignment puts the 5 landmarks on ArcFace's template within 0.5 px",
          "[align][similarity]") {
  for (const int size : {112, 224}) {
    for (const double tilt : {-25.0, 0.0, 15.0}) {
      CAPTURE(size, tilt);
      // Landmarks: the template scaled by 2.3, tilted and moved into a 400 x 360 image, drawn
      // as white dots (radius 8, sub-pixel) on grey.
      const double t = tilt * CV_PI / 180.0;
      Face face;
      face.box = {100, 60, 320, 330};
      cv::Mat image(360, 400, CV_8UC3, cv::Scalar::all(40));
      for (const auto& q : kArcfaceTemplate) {
        const double dx = (q[0] - 56) * 2.3, dy = (q[1] - 56) * 2.3;
        const cv::Point2d p(210 + std::cos(t) * dx - std::sin(t) * dy,
                            190 + std::sin(t) * dx + std::cos(t) * dy);
        face.landmarks.push_back(p);
        cv::circle(image,
                   cv::Point(static_cast<int>(std::lround(p.x * 16)),
                             static_cast<int>(std::lround(p.y * 16))),
                   8 * 16, cv::Scalar::all(255), cv::FILLED, cv::LINE_AA, 4);
      }
      AlignOptions o;
      o.kind = AlignKind::kSimilarity;
      o.size = size;
      const auto aligned = align_face(image, face, o);
      REQUIRE(aligned.image.size() == cv::Size(size, size));
      CHECK(aligned.angle == Approx(tilt).margin(1e-6));  // the tilt it levelled
      // Measured on the output pixels: brightness-weighted centre of each dot.
      cv::Mat gray, mask, labels;
      cv::cvtColor(aligned.image, gray, cv::COLOR_BGR2GRAY);
      cv::threshold(gray, mask, 50, 255, cv::THRESH_BINARY);
      const int n = cv::connectedComponents(mask, labels);
      REQUIRE(n == 6);  // background + 5 dots
      std::vector<cv::Point3d> sums(static_cast<std::size_t>(n));
      for (int y = 0; y < size; ++y)
        for (int x = 0; x < size; ++x) {
          const int label = labels.at<int>(y, x);
          const double w = std::max(0.0, gray.at<uchar>(y, x) - 40.0);
          if (label > 0) sums[static_cast<std::size_t>(label)] += cv::Point3d(w * x, w * y, w);
        }
      const double scale = size / 112.0;
      for (std::size_t i = 0; i < 5; ++i) {
        const cv::Point2d target(kArcfaceTemplate[i][0] * scale, kArcfaceTemplate[i][1] * scale);
        double nearest = 1e9;
        for (int label = 1; label < n; ++label) {
          const auto& c = sums[static_cast<std::size_t>(label)];
          nearest = std::min(nearest, cv::norm(cv::Point2d(c.x / c.z, c.y / c.z) - target));
        }
        INFO("landmark " << i);
        CHECK(nearest < 0.5);
        CHECK(cv::norm(apply_transform(aligned.transform, face.landmarks[i]) - target) < 1e-6);
      }
    }
  }
}

TEST_CASE("similarity alignment: options and too few landmarks", "[align][similarity]") {
  AlignOptions o;
  o.kind = AlignKind::kSimilarity;
  o.landmark_template = {{1, 2}, {3, 4, 5}};
  CHECK_THROWS_AS(o.validate(), wtp::UsageError);
  o.landmark_template = {{1, 2}};
  CHECK_THROWS_AS(o.validate(), wtp::UsageError);
  o.landmark_template = kArcfaceTemplate;
  CHECK_NOTHROW(o.validate());
  Face face;
  face.box = {10, 10, 50, 50};
  face.landmarks = {{20, 25}};
  CHECK_THROWS_AS(align_face(cv::Mat(60, 60, CV_8UC3, cv::Scalar::all(0)), face, o),
                  std::invalid_argument);
  // Haar gives the two eyes: they are fitted on the template's eyes.
  face.landmarks = {{20, 25}, {40, 25}};
  o.size = 112;
  const auto two = align_face(cv::Mat(60, 60, CV_8UC3, cv::Scalar::all(0)), face, o);
  CHECK(cv::norm(apply_transform(two.transform, {20, 25}) -
                 cv::Point2d(kArcfaceTemplate[0][0], kArcfaceTemplate[0][1])) < 0.05);
  // From a config: kind and template by name.
  const auto decoded = wtp::config::decode<AlignOptions>(
      wtp::config::parse("kind: similarity\nsize: 96\ntemplate: [[30, 40], [66, 40]]\n"
                         "template_size: 96\n",
                         "align.yaml"));
  CHECK(decoded.kind == AlignKind::kSimilarity);
  CHECK(decoded.landmark_template == std::vector<std::vector<double>>{{30, 40}, {66, 40}});
}
