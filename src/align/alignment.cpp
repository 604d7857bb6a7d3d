#include "align/alignment.h"

#include <Eigen/Geometry>
#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <stdexcept>

#include "core/error.h"

namespace wtp::align {

void AlignOptions::validate() const {
  require(size >= 8 && size <= 8192,
          "align: size must be in [8, 8192], got " + std::to_string(size));
  require(margin >= 0.0 && margin <= 4.0,
          "align: margin must be in [0, 4] (fraction of the box per side)");
  require(template_size > 0, "align: template_size must be > 0");
  require(landmark_template.size() >= 2,
          "align: template needs at least 2 points [x, y] (default: ArcFace's 5)");
  for (const auto& point : landmark_template)
    require(point.size() == 2, "align: every template point is [x, y], got " +
                                   std::to_string(point.size()) + " numbers");
}

cv::Matx23d similarity_transform(const std::vector<cv::Point2d>& src,
                                 const std::vector<cv::Point2d>& dst) {
  if (src.size() != dst.size() || src.size() < 2)
    throw std::invalid_argument(
        "similarity_transform: needs as many source as target points, "
        "at least 2");
  // Dynamic-size matrices: with Matrix2Xd GCC 12 reports a false stringop-overread inside
  // Eigen's fixed-size packet copies of umeyama (-Werror in CI).
  const Eigen::Index n = static_cast<Eigen::Index>(src.size());
  Eigen::MatrixXd from(2, n), to(2, n);
  for (Eigen::Index i = 0; i < n; ++i) {
    from.col(i) << src[i].x, src[i].y;
    to.col(i) << dst[i].x, dst[i].y;
  }
  const Eigen::VectorXd spread = (from.colwise() - from.rowwise().mean()).rowwise().norm();
  if (spread.norm() < 1e-9)
    throw std::invalid_argument("similarity_transform: the source points all coincide");
  const Eigen::MatrixXd t = Eigen::umeyama(from, to, true);
  return {t(0, 0), t(0, 1), t(0, 2), t(1, 0), t(1, 1), t(1, 2)};
}

cv::Rect expand_box(const Box& box, double margin, cv::Size image) {
  if (image.width <= 0 || image.height <= 0 || margin < 0)
    throw std::invalid_argument("expand_box: requires a non-empty image and margin >= 0");
  const double mw = margin * box.width(), mh = margin * box.height();
  const auto round_to = [](double v, long lo, long hi) {
    return static_cast<int>(std::clamp(std::lround(v), lo, hi));
  };
  const int x0 = round_to(box.x1 - mw, 0, image.width - 1);
  const int x1 = round_to(box.x2 + mw, x0 + 1, image.width);
  const int y0 = round_to(box.y1 - mh, 0, image.height - 1);
  const int y1 = round_to(box.y2 + mh, y0 + 1, image.height);
  return {x0, y0, x1 - x0, y1 - y0};
}

double eye_angle(cv::Point2d left, cv::Point2d right) {
  return std::atan2(right.y - left.y, right.x - left.x) * 180.0 / CV_PI;
}

cv::Point2d apply_transform(const cv::Matx23d& t, cv::Point2d p) {
  return {t(0, 0) * p.x + t(0, 1) * p.y + t(0, 2), t(1, 0) * p.x + t(1, 1) * p.y + t(1, 2)};
}

namespace {

// Letterboxes `crop` and completes `out`: `to_crop` maps source pixels to crop pixels.
void finish(const cv::Mat& crop, const cv::Matx23d& to_crop, const AlignOptions& options,
            AlignedFace& out) {
  data::LetterboxGeometry g;
  out.image = data::letterbox(crop, options.size, &g, options.interpolation);
  // cv::resize maps crop pixel x to (x + 0.5) * sx - 0.5 with sx = new width / old width.
  const double sx = static_cast<double>(g.width) / crop.cols;
  const double sy = static_cast<double>(g.height) / crop.rows;
  const cv::Matx33d a(to_crop(0, 0), to_crop(0, 1), to_crop(0, 2), to_crop(1, 0), to_crop(1, 1),
                      to_crop(1, 2), 0, 0, 1);
  const cv::Matx33d s(sx, 0, 0.5 * sx - 0.5 + g.offset_x, 0, sy, 0.5 * sy - 0.5 + g.offset_y, 0, 0,
                      1);
  const cv::Matx33d t = s * a;
  out.transform = cv::Matx23d(t(0, 0), t(0, 1), t(0, 2), t(1, 0), t(1, 1), t(1, 2));
}

}  // namespace

AlignedFace align_face(const cv::Mat& image, const Face& face, const AlignOptions& options) {
  if (image.empty()) throw std::invalid_argument("align_face: empty image");
  options.validate();
  AlignedFace out;
  out.found = true;
  out.face = face;
  out.crop = expand_box(face.box, options.margin, image.size());
  if (options.kind == AlignKind::kSimple) {
    finish(image(out.crop), cv::Matx23d(1, 0, -out.crop.x, 0, 1, -out.crop.y), options, out);
    return out;
  }
  if (face.landmarks.size() < 2)
    throw std::invalid_argument("align_face: " + config::enum_name(options.kind) +
                                " alignment needs at least the two eye landmarks");
  if (options.kind == AlignKind::kSimilarity) {
    const double scale = options.size / options.template_size;
    const std::size_t n = std::min(face.landmarks.size(), options.landmark_template.size());
    std::vector<cv::Point2d> src(face.landmarks.begin(), face.landmarks.begin() + n), dst;
    for (std::size_t i = 0; i < n; ++i)
      dst.emplace_back(options.landmark_template[i][0] * scale,
                       options.landmark_template[i][1] * scale);
    out.transform = similarity_transform(src, dst);
    out.angle = std::atan2(-out.transform(1, 0), out.transform(0, 0)) * 180.0 / CV_PI;
    cv::warpAffine(image, out.image, cv::Mat(out.transform), cv::Size(options.size, options.size),
                   cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar::all(0));
    // The source region the output shows: the output square mapped back, within the image.
    cv::Matx23d back;
    cv::invertAffineTransform(out.transform, back);
    std::vector<cv::Point2f> corners;
    for (double x : {0.0, options.size - 1.0})
      for (double y : {0.0, options.size - 1.0}) {
        const cv::Point2d p = apply_transform(back, {x, y});
        corners.emplace_back(static_cast<float>(p.x), static_cast<float>(p.y));
      }
    out.crop = cv::boundingRect(corners) & cv::Rect(0, 0, image.cols, image.rows);
    return out;
  }
  out.angle = eye_angle(face.left_eye(), face.right_eye());
  const cv::Point2d c = face.box.center();
  // Same matrix as data::rotate_image (cv::getRotationMatrix2D(c, angle, 1)), then the
  // crop offset: only the crop is warped.
  const double a = std::cos(out.angle * CV_PI / 180.0), b = std::sin(out.angle * CV_PI / 180.0);
  const cv::Matx23d to_crop(a, b, (1 - a) * c.x - b * c.y - out.crop.x,  //
                            -b, a, b * c.x + (1 - a) * c.y - out.crop.y);
  cv::Mat crop;
  cv::warpAffine(image, crop, cv::Mat(to_crop), out.crop.size(), cv::INTER_LINEAR,
                 cv::BORDER_CONSTANT, cv::Scalar::all(0));
  finish(crop, to_crop, options, out);
  return out;
}

AlignedFace align_whole(const cv::Mat& image, const AlignOptions& options) {
  if (image.empty()) throw std::invalid_argument("align_whole: empty image");
  options.validate();
  AlignedFace out;
  out.crop = cv::Rect(0, 0, image.cols, image.rows);
  finish(image, cv::Matx23d(1, 0, 0, 0, 1, 0), options, out);
  return out;
}

}  // namespace wtp::align
