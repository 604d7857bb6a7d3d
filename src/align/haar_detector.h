#pragma once
/// Face detection with OpenCV's Haar cascades (frontal face + eyes), the detector that needs
/// nothing but Debian packages (`opencv-data` installs the cascades).
///
/// The cascade files are found, in order: in `haar_dir` when set; else through OpenCV's
/// data path (cv::samples::findFile("haarcascades/<file>"), which honours the
/// OPENCV_SAMPLES_DATA_PATH environment variable and then looks in share/opencv4 under the
/// prefix OpenCV was installed to, found at run time from the location of libopencv_core).
///
/// Eyes: the eye cascade runs inside the top 60 % of each face box; only detections whose
/// centre lies in the upper half of the box count. Among candidates left of the box's
/// vertical centre line and candidates right of it, the pair with the smallest cost is
/// chosen, where cost = distance of each eye from its canonical position + half the
/// vertical offset between the eyes (all in units of the box width), subject to a
/// horizontal eye distance of 0.2 to 0.75 box widths and a vertical offset of at most 0.2.
/// Fallback: with one plausible eye, the other is its mirror image about the box's
/// vertical centre line; with none, both sit at the canonical positions
/// (kCanonicalLeftEye / kCanonicalRightEye); either way Face::eyes_estimated is true.
#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "align/detector.h"
#include "core/error.h"

namespace cv {
class CascadeClassifier;
}

namespace wtp::align {

/// Canonical eye centres as fractions (x / width, y / height) of a frontal-face cascade box:
/// the eye detections in the boxes of the shared portraits lie at x 0.23-0.28 and 0.68-0.70,
/// y 0.36-0.40 of the box; the constants are their symmetric rounding.
constexpr double kCanonicalLeftEyeX = 0.28, kCanonicalRightEyeX = 0.72, kCanonicalEyeY = 0.38;

struct HaarOptions {
  std::string haar_dir;  ///< directory holding the cascade files ("" = OpenCV's data path)
  std::string face_cascade = "haarcascade_frontalface_default.xml";  ///< face cascade file
  std::string eye_cascade = "haarcascade_eye.xml";                   ///< eye cascade file
  double scale_factor = 1.1;  ///< pyramid step of detectMultiScale (> 1)
  int min_neighbors = 5;      ///< face detections merged into one to accept it (>= 1)
  int min_face = 20;          ///< smallest face side in pixels (>= 8)
  int eye_min_neighbors = 3;  ///< eye detections merged into one to accept it (>= 1)
  /// Detect faces on a copy scaled so its longer side is at most this (0 = full size);
  /// eyes are always searched at full resolution. Speeds up large photos.
  int detect_max_side = 0;

  template <class V>
  void visit(V& v) {
    v("haar_dir", haar_dir, "directory with the Haar cascade XML files (default: OpenCV's)");
    v("face_cascade", face_cascade, "face cascade file name");
    v("eye_cascade", eye_cascade, "eye cascade file name");
    v("scale_factor", scale_factor, "detectMultiScale pyramid step, > 1");
    v("min_neighbors", min_neighbors, "merged face detections needed, >= 1");
    v("min_face", min_face, "smallest face side in pixels, >= 8");
    v("eye_min_neighbors", eye_min_neighbors, "merged eye detections needed, >= 1");
    v("detect_max_side", detect_max_side,
      "detect faces on a copy with this longer side at most (0 = full size)");
  }
  /// Throws UsageError naming the field and the accepted range.
  void validate() const;
};

/// The path of cascade `file`: inside `haar_dir` if it is not empty, else from OpenCV's
/// data path. Throws UsageError saying how to fix it (install opencv-data or set
/// haar_dir) when the file is not there.
std::string find_cascade(const std::string& file, const std::string& haar_dir = "");

/// Chooses the eye pair from eye-cascade detections as described at the top of this file.
/// `candidates` are eye-box centres in image pixels. Returns {left, right}; sets
/// `*estimated` when at least one eye is a fallback position.
std::vector<cv::Point2d> choose_eyes(const Box& face, const std::vector<cv::Point2d>& candidates,
                                     bool* estimated);

class HaarDetector : public FaceDetector {
 public:
  /// Loads both cascades. Throws UsageError if a file is missing or unreadable.
  explicit HaarDetector(HaarOptions options = {});
  ~HaarDetector() override;
  std::string name() const override { return "haar"; }
  /// Faces with box, confidence = OpenCV's neighbour count (the number of raw detections
  /// merged into the face) and 2 landmarks (eyes). Order: OpenCV's.
  std::vector<Face> detect(const cv::Mat& bgr) override;
  const HaarOptions& options() const { return options_; }

 private:
  HaarOptions options_;
  std::unique_ptr<cv::CascadeClassifier> face_;
  std::unique_ptr<cv::CascadeClassifier> eyes_;
};

}  // namespace wtp::align
