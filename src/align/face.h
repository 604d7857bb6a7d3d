#pragma once
/// What a face detector returns, and how one face is chosen among several.
///
/// Coordinates are image pixels, x to the right and y down, in OpenCV's convention (pixel
/// (c, r) is centred at (c, r)). "Left" and "right" are as seen in the image of the upright
/// face: the left eye is the person's right eye, the one with the smaller x when the face
/// is upright (MTCNN keeps this meaning for tilted faces; Haar assumes upright faces).
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "core/config.h"

namespace wtp::align {

/// An axis-aligned box by its corners, x1 <= x2 and y1 <= y2 (MTCNN's [x1, y1, x2, y2]).
struct Box {
  double x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  double width() const { return x2 - x1; }
  double height() const { return y2 - y1; }
  double area() const { return width() * height(); }
  cv::Point2d center() const { return {(x1 + x2) / 2.0, (y1 + y2) / 2.0}; }
  bool contains(cv::Point2d p) const { return p.x >= x1 && p.x <= x2 && p.y >= y1 && p.y <= y2; }
};

/// One detected face.
struct Face {
  Box box;                ///< face box in image pixels
  double confidence = 0;  ///< detector score (MTCNN: O-Net probability; Haar: neighbour count)
  /// Landmarks in image pixels; the first two are always the eyes (left, right as above).
  /// MTCNN gives 5: left eye, right eye, nose, left mouth corner, right mouth corner.
  /// Haar gives the 2 eyes.
  std::vector<cv::Point2d> landmarks;
  /// True when at least one eye is not a detection but a canonical position in the box.
  bool eyes_estimated = false;

  /// The image-left eye. Requires landmarks.size() >= 2.
  cv::Point2d left_eye() const;
  /// The image-right eye. Requires landmarks.size() >= 2.
  cv::Point2d right_eye() const;
};

/// How one face is chosen when a detector finds several.
enum class FaceSelect {
  kLargest,     ///< largest box area (what the old code did)
  kConfidence,  ///< highest detector confidence
  kCenter,      ///< box area minus center_weight x squared distance of its centre from the
                ///< image centre (facenet-pytorch's "center_weighted_size")
};
WTP_ENUM_NAMES(FaceSelect, {FaceSelect::kLargest, "largest"},
               {FaceSelect::kConfidence, "confidence"}, {FaceSelect::kCenter, "center"})

/// The score that `select` ranks faces by (higher is better). `image_size` is needed by
/// kCenter, whose image centre is (width / 2, height / 2) as in facenet-pytorch.
double selection_score(const Face& face, FaceSelect select, cv::Size image_size,
                       double center_weight = 2.0);

/// `faces` sorted by selection_score(), best first; ties keep the detector's order.
std::vector<Face> rank_faces(std::vector<Face> faces, FaceSelect select, cv::Size image_size,
                             double center_weight = 2.0);

}  // namespace wtp::align
