#pragma once
/// Face alignment: the crop around a detected face, optionally rotated so the eyes are
/// level, letterboxed to S x S (the old FaceAlignTransform, with its rotation-centre bug
/// fixed).
///
/// Geometry (image pixels, pixel (c, r) centred at (c, r), box corners as detected):
/// - `simple`: the crop is the face box expanded by margin x width on the left and right and
///   margin x height at the top and bottom (margin 1/3 by default), corners rounded to the
///   nearest integer and clamped to the image: [x0, x1) x [y0, y1) with
///   x0 = clamp(round(x1_box - m w), 0, W - 1), x1 = clamp(round(x2_box + m w), x0 + 1, W),
///   likewise y. The crop is letterboxed (data::letterbox: aspect kept, longer side S,
///   centred on black).
/// - `rotation`: angle = atan2(y_right - y_left, x_right - x_left) (degrees, from the eye
///   landmarks). The source image is rotated by that angle counter-clockwise on screen
///   (cv::getRotationMatrix2D, the same matrix as data::rotate_image) about the centre of
///   the face box *in the source image*, which is the image being rotated (the old code took
///   the centre from another image). That centre is the rotation's fixed point, so the
///   upright face sits in the box with the same centre, width and height in the rotated
///   image: that box (not the bounding box of the rotated corners) is expanded, clamped to
///   the rotated image (same size as the source; areas rotated in from outside are black)
///   and letterboxed as in `simple`. Only the crop is warped, not the whole image.
/// - `similarity`: insightface's `norm_crop` (python-package/insightface/utils/face_align.py):
///   the similarity transform (rotation, uniform scale, translation) that maps the face's
///   landmarks onto `template` scaled by size / template_size in the least-squares sense
///   (Umeyama 1991, Eigen::umeyama; the same estimate as skimage's SimilarityTransform that
///   insightface calls), and the image warped by it into S x S (bilinear, black outside).
///   The default template is ArcFace's `arcface_dst` for 112 x 112 (left eye, right eye,
///   nose, left and right mouth corners: MTCNN's 5 landmarks); with S = 112 the output is what
///   insightface's recipes train on. A face with fewer landmarks than the template (Haar: the
///   2 eyes) is fitted on the template's first points; at least 2 are needed.
/// - no face: the whole image is letterboxed (NoFace::kWhole) or nothing is written
///   (NoFace::kSkip); either way the result is recorded as not found.
/// AlignedFace::transform maps source pixel coordinates to output pixel coordinates exactly
/// (rotation, crop offset, then cv::resize's per-axis scale with pixel-centre alignment and
/// the letterbox offset), so landmarks can be carried into the aligned image.
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "align/face.h"
#include "core/config.h"
#include "data/transforms.h"

namespace wtp::align {

enum class AlignKind {
  kSimple,      ///< expand, clamp, letterbox
  kRotation,    ///< additionally level the eyes (rotate about the face centre)
  kSimilarity,  ///< landmarks onto a template by a similarity transform (insightface)
};
WTP_ENUM_NAMES(AlignKind, {AlignKind::kSimple, "simple"}, {AlignKind::kRotation, "rotation"},
               {AlignKind::kSimilarity, "similarity"})

/// ArcFace's 5-point template for 112 x 112 faces (insightface's `arcface_dst`): left eye,
/// right eye, nose tip, left and right mouth corners, in output pixels.
inline const std::vector<std::vector<double>> kArcfaceTemplate{{38.2946, 51.6963},
                                                               {73.5318, 51.5014},
                                                               {56.0252, 71.7366},
                                                               {41.5493, 92.3655},
                                                               {70.7299, 92.2041}};

/// What to do with an image in which no face is found.
enum class NoFace {
  kWhole,  ///< letterbox the whole image
  kSkip,   ///< write nothing (still recorded)
};
WTP_ENUM_NAMES(NoFace, {NoFace::kWhole, "whole"}, {NoFace::kSkip, "skip"})

struct AlignOptions {
  AlignKind kind = AlignKind::kRotation;  ///< simple or rotation
  int size = 224;                         ///< output side S
  double margin = 1.0 / 3.0;  ///< box expansion per side, as a fraction of its width/height
  data::Interpolation interpolation = data::Interpolation::kArea;  ///< letterbox resampling
  /// similarity: landmark positions [x, y] in a template_size x template_size output
  std::vector<std::vector<double>> landmark_template = kArcfaceTemplate;
  double template_size = 112;  ///< similarity: the side the template is given for

  template <class V>
  void visit(V& v) {
    v("kind", kind, "simple | rotation (level the eyes) | similarity (landmarks onto a template)");
    v("size", size, "output side S in pixels");
    v("margin", margin, "box expansion on each side, fraction of the box width/height");
    v("interpolation", interpolation, "letterbox resampling: nearest | linear | area | cubic");
    v("template", landmark_template,
      "similarity: landmark positions [[x, y], ...] (default ArcFace's 5 for 112 x 112)");
    v("template_size", template_size, "similarity: output side the template is given for");
  }
  /// Throws UsageError naming the field.
  void validate() const;
};

/// The result of aligning one face (or the whole image).
struct AlignedFace {
  cv::Mat image;       ///< size x size, same type as the source
  bool found = false;  ///< false when the whole image was letterboxed (no face)
  Face face;           ///< the face used, in source coordinates (empty if !found)
  double angle = 0.0;  ///< rotation applied, degrees counter-clockwise (0 unless rotation)
  cv::Rect crop;       ///< crop rectangle in the (rotated) source image
  cv::Matx23d transform = cv::Matx23d(1, 0, 0, 0, 1, 0);  ///< source pixel -> output pixel
};

/// The crop rectangle of `box` expanded by `margin` and clamped to `image` (see the top).
/// Requires a non-empty image and margin >= 0.
cv::Rect expand_box(const Box& box, double margin, cv::Size image);

/// The eye-line angle in degrees, atan2(right.y - left.y, right.x - left.x).
double eye_angle(cv::Point2d left, cv::Point2d right);

/// Maps a point with an affine transform.
cv::Point2d apply_transform(const cv::Matx23d& transform, cv::Point2d p);

/// The similarity transform (2 x 3: [s R | t], R a rotation, s > 0) minimising
/// sum_i |s R src_i + t - dst_i|^2 (Eigen::umeyama). Requires src.size() == dst.size() >= 2
/// and src not all one point; throws std::invalid_argument otherwise.
cv::Matx23d similarity_transform(const std::vector<cv::Point2d>& src,
                                 const std::vector<cv::Point2d>& dst);

/// Aligns `face` of `image` as `options.kind` says. kRotation and kSimilarity require
/// face.landmarks.size() >= 2 (the eyes); throws std::invalid_argument otherwise. `image` may have
/// any type cv::warpAffine and cv::resize accept (the tools use CV_8UC3 BGR).
AlignedFace align_face(const cv::Mat& image, const Face& face, const AlignOptions& options);

/// The whole image letterboxed (the no-face case): found = false.
AlignedFace align_whole(const cv::Mat& image, const AlignOptions& options);

}  // namespace wtp::align
