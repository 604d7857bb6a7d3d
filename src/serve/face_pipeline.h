#pragma once
/// The service's face pipeline, on exported archives only: image bytes -> decoded image
/// (image_intake.h) -> exactly one detected face -> quality checks -> alignment -> the
/// embedding archive's forward_uint8 (L2-normalised embeddings) and the liveness archive's
/// forward_uint8 (P(eyes closed)). Enrolment, log-in and verification all use the same
/// alignment (the old system aligned only at enrolment).
///
/// Alignment: align::AlignKind::kRotation (eyes levelled), margin 1/3, letterboxed to each
/// archive's input size from its meta.json.
///
/// Detector (ServiceOptions::detector): "haar" (OpenCV cascades), a directory with MTCNN's
/// pnet.pt/rnet.pt/onet.pt, or an MTCNN detector archive (wtp-export --what detector), whose
/// weights are loaded into wtp's MTCNN. Detectors are not thread-safe: the pipeline keeps
/// one per concurrent caller (created on demand, reused).
///
/// Thread safety: every member may be called concurrently (TorchScript modules run under
/// torch::NoGradGuard from several threads).
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <torch/script.h>
#include <vector>

#include "align/detector.h"
#include "serve/service.h"

namespace wtp::serve {

/// One image through detection, quality and alignment.
struct PreparedFace {
  QualityResult quality;            ///< refusal kNone = the face passed every check
  std::optional<align::Face> face;  ///< the face used (detected, or the tracked one)
  bool tracked = false;             ///< no face was detected: `track` was used
  cv::Mat embed_face;               ///< aligned RGB face at the embedding archive's input size
  cv::Mat live_face;                ///< aligned RGB face at the liveness archive's input size
};

/// Sharpness (variance of the Laplacian) and brightness (mean grey level) of `bgr` inside
/// `box` (clamped to the image). Requires a non-empty CV_8UC3 image.
void measure_quality(const cv::Mat& bgr, const cv::Rect& box, QualityResult& quality);

/// A detector made from ServiceOptions::detector ("haar", an MTCNN weights directory or an
/// MTCNN detector archive); UsageError naming the value when it is none of these.
std::function<align::DetectorPtr()> detector_factory(const std::string& detector);

class FacePipeline {
 public:
  /// Loads both archives (UsageError naming a missing or damaged file, or an archive of the
  /// wrong kind) and checks the detector can be made.
  explicit FacePipeline(const ServiceOptions& options);

  /// Decodes, detects, checks and aligns one image (the faces are empty when refused).
  /// When the detector finds no face and `track` is given (the face of the previous frame
  /// of a sequence), that face is used instead (tracked = true).
  PreparedFace prepare(const std::string& bytes, const align::Face* track = nullptr);
  /// L2-normalised embeddings float [N, D] of aligned faces (one forward).
  torch::Tensor embed(const std::vector<const cv::Mat*>& faces);
  /// P(eyes closed) float [N] of aligned faces (one forward).
  torch::Tensor closed_probability(const std::vector<const cv::Mat*>& faces);

  const nlohmann::json& embedding_meta() const { return embedding_meta_; }
  const nlohmann::json& liveness_meta() const { return liveness_meta_; }
  std::int64_t embedding_dim() const { return embedding_dim_; }

 private:
  align::DetectorPtr acquire_detector();
  void release_detector(align::DetectorPtr detector);

  ServiceOptions options_;
  torch::jit::Module embedding_, liveness_;
  nlohmann::json embedding_meta_, liveness_meta_;
  int embed_size_ = 0, live_size_ = 0;
  std::int64_t embedding_dim_ = 0;
  std::function<align::DetectorPtr()> make_detector_;
  std::mutex detectors_mutex_;
  std::vector<align::DetectorPtr> idle_detectors_;
};

}  // namespace wtp::serve
