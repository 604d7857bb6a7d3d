#include "align/detector.h"

#include <stdexcept>

#include "align/haar_detector.h"
#include "align/mtcnn.h"

namespace wtp::align {

void require_bgr_image(const cv::Mat& image, const std::string& who) {
  if (image.empty() || image.type() != CV_8UC3)
    throw std::invalid_argument(who + ": expects a non-empty 8-bit 3-channel BGR image");
}

namespace {

void register_builtin_detectors(DetectorRegistry& registry) {
  registry.add<HaarOptions>(
      "haar", "OpenCV Haar cascades (frontal face + eyes) from the opencv-data package",
      [](const HaarOptions& o) -> DetectorPtr { return std::make_shared<HaarDetector>(o); });
  registry.add<MtcnnOptions>(
      "mtcnn", "MTCNN (P-, R-, O-Net) with facenet-pytorch weights, 5 landmarks",
      [](const MtcnnOptions& o) -> DetectorPtr { return std::make_shared<MtcnnDetector>(o); });
}

}  // namespace

const DetectorRegistry& detector_registry() {
  static const DetectorRegistry registry("detector", register_builtin_detectors);
  return registry;
}

}  // namespace wtp::align
