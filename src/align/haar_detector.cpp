#include "align/haar_detector.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

namespace wtp::align {

namespace fs = std::filesystem;

void HaarOptions::validate() const {
  require(scale_factor > 1.0 && scale_factor < 2.0,
          "haar: scale_factor must be in (1, 2), got " + std::to_string(scale_factor));
  require(min_neighbors >= 1, "haar: min_neighbors must be >= 1");
  require(min_face >= 8, "haar: min_face must be >= 8 pixels, got " + std::to_string(min_face));
  require(eye_min_neighbors >= 1, "haar: eye_min_neighbors must be >= 1");
  require(detect_max_side == 0 || detect_max_side >= 64,
          "haar: detect_max_side must be 0 (full size) or >= 64");
  require(!face_cascade.empty() && !eye_cascade.empty(), "haar: cascade file names must be set");
}

std::string find_cascade(const std::string& file, const std::string& haar_dir) {
  if (!haar_dir.empty()) {
    const fs::path path = fs::path(haar_dir) / file;
    require(fs::is_regular_file(path), "haar: cascade " + path.string() +
                                           " does not exist (check haar_dir, or leave it empty "
                                           "to use OpenCV's data path)");
    return path.string();
  }
  std::string found = cv::samples::findFile("haarcascades/" + file, /*required=*/false,
                                            /*silentMode=*/true);
  if (found.empty()) found = cv::samples::findFile(file, false, true);
  require(!found.empty(), "haar: cascade " + file +
                              " not found on OpenCV's data path: install the Debian package "
                              "opencv-data, or set haar_dir to a directory holding it");
  return found;
}

namespace {

std::unique_ptr<cv::CascadeClassifier> load_cascade(const std::string& file,
                                                    const std::string& haar_dir) {
  const std::string path = find_cascade(file, haar_dir);
  auto cascade = std::make_unique<cv::CascadeClassifier>();
  require(cascade->load(path) && !cascade->empty(),
          "haar: " + path + " is not a readable OpenCV cascade file");
  return cascade;
}

}  // namespace

std::vector<cv::Point2d> choose_eyes(const Box& face, const std::vector<cv::Point2d>& candidates,
                                     bool* estimated) {
  const double w = face.width(), h = face.height();
  const cv::Point2d canon_left(face.x1 + kCanonicalLeftEyeX * w, face.y1 + kCanonicalEyeY * h);
  const cv::Point2d canon_right(face.x1 + kCanonicalRightEyeX * w, face.y1 + kCanonicalEyeY * h);
  const double mid_x = face.center().x, mid_y = face.y1 + h / 2.0;
  std::vector<cv::Point2d> left, right;
  for (const auto& c : candidates) {
    if (!face.contains(c) || c.y > mid_y) continue;
    (c.x < mid_x ? left : right).push_back(c);
  }
  double best = std::numeric_limits<double>::infinity();
  cv::Point2d best_l, best_r;
  for (const auto& l : left)
    for (const auto& r : right) {
      const double dx = (r.x - l.x) / w, dy = std::abs(r.y - l.y) / w;
      if (dx < 0.2 || dx > 0.75 || dy > 0.2) continue;
      const double cost = cv::norm(l - canon_left) / w + cv::norm(r - canon_right) / w + 0.5 * dy;
      if (cost < best) {
        best = cost;
        best_l = l;
        best_r = r;
      }
    }
  if (std::isfinite(best)) {
    if (estimated) *estimated = false;
    return {best_l, best_r};
  }
  if (estimated) *estimated = true;
  // One plausible eye: mirror it about the vertical centre line of the box.
  double best_single = 0.2;  // at most 0.2 box widths from its canonical position
  std::vector<cv::Point2d> eyes{canon_left, canon_right};
  for (const auto& l : left) {
    const double d = cv::norm(l - canon_left) / w;
    if (d < best_single) {
      best_single = d;
      eyes = {l, {2 * mid_x - l.x, l.y}};
    }
  }
  for (const auto& r : right) {
    const double d = cv::norm(r - canon_right) / w;
    if (d < best_single) {
      best_single = d;
      eyes = {{2 * mid_x - r.x, r.y}, r};
    }
  }
  return eyes;
}

HaarDetector::HaarDetector(HaarOptions options) : options_(std::move(options)) {
  options_.validate();
  face_ = load_cascade(options_.face_cascade, options_.haar_dir);
  eyes_ = load_cascade(options_.eye_cascade, options_.haar_dir);
}

HaarDetector::~HaarDetector() = default;

std::vector<Face> HaarDetector::detect(const cv::Mat& bgr) {
  require_bgr_image(bgr, "HaarDetector::detect");
  cv::Mat gray;
  cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
  cv::equalizeHist(gray, gray);

  double scale = 1.0;  // detection image = full image * scale
  cv::Mat small = gray;
  const int longer = std::max(gray.cols, gray.rows);
  if (options_.detect_max_side > 0 && longer > options_.detect_max_side) {
    scale = static_cast<double>(options_.detect_max_side) / longer;
    cv::resize(gray, small, cv::Size(), scale, scale, cv::INTER_AREA);
  }
  std::vector<cv::Rect> rects;
  std::vector<int> neighbours;
  const int min_side = std::max(8, static_cast<int>(std::lround(options_.min_face * scale)));
  face_->detectMultiScale(small, rects, neighbours, options_.scale_factor, options_.min_neighbors,
                          0, cv::Size(min_side, min_side));

  std::vector<Face> faces;
  for (std::size_t i = 0; i < rects.size(); ++i) {
    const cv::Rect& r = rects[i];
    Face face;
    face.box = {r.x / scale, r.y / scale, (r.x + r.width) / scale, (r.y + r.height) / scale};
    face.box.x2 = std::min<double>(face.box.x2, bgr.cols);
    face.box.y2 = std::min<double>(face.box.y2, bgr.rows);
    face.confidence = i < neighbours.size() ? neighbours[i] : 0;

    // Eyes: search the top 60 % of the box at full resolution.
    const int x0 = std::max(0, static_cast<int>(std::floor(face.box.x1)));
    const int y0 = std::max(0, static_cast<int>(std::floor(face.box.y1)));
    const int x1 = std::min(gray.cols, static_cast<int>(std::ceil(face.box.x2)));
    const int y1 =
        std::min(gray.rows, static_cast<int>(std::ceil(face.box.y1 + 0.6 * face.box.height())));
    std::vector<cv::Point2d> candidates;
    if (x1 - x0 >= 16 && y1 - y0 >= 8) {
      const cv::Rect roi(x0, y0, x1 - x0, y1 - y0);
      const int w = roi.width;
      std::vector<cv::Rect> eyes;
      eyes_->detectMultiScale(gray(roi), eyes, 1.1, options_.eye_min_neighbors, 0,
                              cv::Size(std::max(5, w / 9), std::max(5, w / 9)),
                              cv::Size(std::max(6, w / 2), std::max(6, w / 2)));
      for (const auto& e : eyes)
        candidates.emplace_back(x0 + e.x + (e.width - 1) / 2.0, y0 + e.y + (e.height - 1) / 2.0);
    }
    face.landmarks = choose_eyes(face.box, candidates, &face.eyes_estimated);
    faces.push_back(std::move(face));
  }
  return faces;
}

}  // namespace wtp::align
