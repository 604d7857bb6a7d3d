#pragma once
/// The face detector interface and its registry (`haar`, `mtcnn`).
///
///     auto detector =
///         detector_registry().create(config::decode_component(node, "detector"));
///     std::vector<Face> faces = detector->detect(cv::imread(path));  // BGR
#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "align/face.h"
#include "core/registry.h"

namespace wtp::align {

/// Finds faces in an image.
///
/// Thread safety: a detector instance is used by one thread at a time (OpenCV cascades and
/// the MTCNN scratch state are not shared); create one instance per worker thread.
class FaceDetector {
 public:
  virtual ~FaceDetector() = default;
  /// The registry name ("haar", "mtcnn").
  virtual std::string name() const = 0;
  /// Every face found in `bgr`, in the detector's own order (use rank_faces() to choose).
  /// Requires: `bgr` is a non-empty CV_8UC3 image in OpenCV's BGR channel order (as
  /// cv::imread returns it). Throws std::invalid_argument otherwise.
  /// Ensures: every face has >= 2 landmarks, the first two being the image-left and
  /// image-right eye centres, and a box with x1 < x2, y1 < y2.
  virtual std::vector<Face> detect(const cv::Mat& bgr) = 0;
};

using DetectorPtr = std::shared_ptr<FaceDetector>;
using DetectorRegistry = Registry<DetectorPtr>;

/// The detectors: `haar` (HaarOptions, OpenCV cascades from opencv-data) and `mtcnn`
/// (MtcnnOptions, facenet-pytorch weights).
const DetectorRegistry& detector_registry();

/// Throws std::invalid_argument naming `who` unless `image` is a non-empty CV_8UC3 image.
void require_bgr_image(const cv::Mat& image, const std::string& who);

}  // namespace wtp::align
