#include "serve/face_pipeline.h"

#include <filesystem>
#include <opencv2/imgproc.hpp>

#include "align/alignment.h"
#include "align/haar_detector.h"
#include "align/mtcnn.h"
#include "core/error.h"
#include "export/export_model.h"
#include "serve/image_intake.h"

namespace wtp::serve {

namespace fs = std::filesystem;

namespace {

/// An archive of kind `what` (UsageError naming `role` and the file otherwise).
exporter::LoadedModel load_archive(const std::string& path, const std::string& what,
                                   const std::string& role) {
  require(!path.empty(), "service: no " + role + " archive given");
  exporter::LoadedModel loaded = exporter::load_exported(path);
  const std::string kind = loaded.meta.value("what", "");
  require(kind == what, role + " archive '" + path + "' is a " + kind + " archive; export a " +
                            what + " archive (wtp-export --what " + what + ")");
  return loaded;
}

/// The networks of an MTCNN detector archive (wtp-export --what detector) as wtp's MTCNN.
align::MtcnnNets mtcnn_from_archive(const std::string& path) {
  exporter::LoadedModel archive = load_archive(path, "detector", "detector");
  align::MtcnnNets nets{align::PNet(), align::RNet(), align::ONet()};
  std::map<std::string, torch::Tensor> weights;
  for (const auto& p : archive.module.named_parameters(/*recurse=*/true)) weights[p.name] = p.value;
  torch::NoGradGuard no_grad;
  const std::vector<std::pair<std::string, torch::nn::Module*>> parts{
      {"pnet_layers.", nets.pnet.get()},
      {"rnet_layers.", nets.rnet.get()},
      {"onet_layers.", nets.onet.get()}};
  for (const auto& [prefix, module] : parts)
    for (auto& p : module->named_parameters(/*recurse=*/true)) {
      auto it = weights.find(prefix + p.key());
      require(it != weights.end() && it->second.sizes() == p.value().sizes(),
              "detector archive '" + path + "' has no weight " + prefix + p.key() +
                  " of the expected shape; export it again with wtp-export --what detector");
      p.value().copy_(it->second);
    }
  return nets;
}

/// The aligned face as a contiguous RGB image.
cv::Mat aligned_rgb(const cv::Mat& bgr, const align::Face& face, int size) {
  align::AlignOptions options;
  options.kind = align::AlignKind::kRotation;
  options.size = size;
  cv::Mat rgb;
  cv::cvtColor(align::align_face(bgr, face, options).image, rgb, cv::COLOR_BGR2RGB);
  return rgb;
}

/// uint8 [N, S, S, 3] of equal-size RGB images.
torch::Tensor batch(const std::vector<const cv::Mat*>& faces) {
  TORCH_CHECK(!faces.empty(), "face pipeline: no faces");
  const int rows = faces.front()->rows, cols = faces.front()->cols;
  torch::Tensor out =
      torch::empty({static_cast<std::int64_t>(faces.size()), rows, cols, 3}, torch::kUInt8);
  for (std::size_t i = 0; i < faces.size(); ++i) {
    const cv::Mat& face = *faces[i];
    TORCH_CHECK(face.rows == rows && face.cols == cols && face.type() == CV_8UC3,
                "face pipeline: faces differ in size or type");
    cv::Mat dst(rows, cols, CV_8UC3, out[static_cast<std::int64_t>(i)].data_ptr());
    face.copyTo(dst);
  }
  return out;
}

int square_size(const nlohmann::json& meta, const std::string& path) {
  const models::InputSpec spec = exporter::input_spec_from_meta(meta);
  require(spec.height == spec.width,
          "archive '" + path + "' takes non-square input; the service aligns square faces");
  return static_cast<int>(spec.height);
}

}  // namespace

void measure_quality(const cv::Mat& bgr, const cv::Rect& box, QualityResult& quality) {
  align::require_bgr_image(bgr, "measure_quality");
  const cv::Rect roi = box & cv::Rect(0, 0, bgr.cols, bgr.rows);
  cv::Mat grey, laplacian;
  cv::cvtColor(bgr(roi.area() > 0 ? roi : cv::Rect(0, 0, bgr.cols, bgr.rows)), grey,
               cv::COLOR_BGR2GRAY);
  cv::Laplacian(grey, laplacian, CV_64F);
  cv::Scalar mean, stddev;
  cv::meanStdDev(laplacian, mean, stddev);
  quality.sharpness = stddev[0] * stddev[0];
  quality.brightness = cv::mean(grey)[0];
}

std::function<align::DetectorPtr()> detector_factory(const std::string& detector) {
  if (detector == "haar") {
    align::HaarDetector probe;  // fails now (UsageError) when the cascades are missing
    return [] { return std::make_shared<align::HaarDetector>(); };
  }
  require(fs::exists(detector), "detector '" + detector +
                                    "' is neither \"haar\", an MTCNN weights directory nor an "
                                    "MTCNN detector archive");
  const align::MtcnnNets nets =
      fs::is_directory(detector) ? align::load_mtcnn(detector) : mtcnn_from_archive(detector);
  return [nets] {
    // The networks are shared (read-only at inference); each detector has its own state.
    return std::make_shared<align::MtcnnDetector>(align::MtcnnOptions{}, nets);
  };
}

FacePipeline::FacePipeline(const ServiceOptions& options) : options_(options) {
  auto embedding = load_archive(options.model, "embedding", "embedding model");
  auto liveness = load_archive(options.liveness, "liveness", "liveness");
  embedding_ = embedding.module;
  liveness_ = liveness.module;
  embedding_meta_ = embedding.meta;
  liveness_meta_ = liveness.meta;
  embed_size_ = square_size(embedding_meta_, options.model);
  live_size_ = square_size(liveness_meta_, options.liveness);
  embedding_dim_ = embedding_meta_.value("embedding_size", std::int64_t{0});
  require(embedding_dim_ >= 1, "embedding model '" + options.model + "' has no embedding_size");
  make_detector_ = detector_factory(options.detector);
}

align::DetectorPtr FacePipeline::acquire_detector() {
  {
    std::lock_guard<std::mutex> lock(detectors_mutex_);
    if (!idle_detectors_.empty()) {
      auto detector = idle_detectors_.back();
      idle_detectors_.pop_back();
      return detector;
    }
  }
  return make_detector_();
}

void FacePipeline::release_detector(align::DetectorPtr detector) {
  std::lock_guard<std::mutex> lock(detectors_mutex_);
  idle_detectors_.push_back(std::move(detector));
}

PreparedFace FacePipeline::prepare(const std::string& bytes, const align::Face* track) {
  PreparedFace out;
  auto refuse = [&out](Refusal refusal, std::string detail) {
    out.quality.refusal = refusal;
    out.quality.detail = std::move(detail);
    return out;
  };
  cv::Mat bgr;
  try {
    bgr = decode_image(bytes, options_.max_pixels);
  } catch (const BadImage& e) {
    return refuse(Refusal::kBadImage, e.what());
  }
  std::vector<align::Face> faces;
  {
    align::DetectorPtr detector = acquire_detector();
    try {
      faces = detector->detect(bgr);
    } catch (...) {
      release_detector(detector);
      throw;
    }
    release_detector(detector);
  }
  if (faces.empty() && track) {
    faces.push_back(*track);
    out.tracked = true;
  }
  if (faces.empty()) return refuse(Refusal::kNoFace, "no face found");
  if (faces.size() > 1)
    return refuse(Refusal::kSeveralFaces, std::to_string(faces.size()) + " faces found");
  const align::Face& face = faces.front();
  out.face = face;
  const cv::Rect box(cv::Point(static_cast<int>(std::lround(face.box.x1)),
                               static_cast<int>(std::lround(face.box.y1))),
                     cv::Point(static_cast<int>(std::lround(face.box.x2)),
                               static_cast<int>(std::lround(face.box.y2))));
  out.quality.face_px = std::min(box.width, box.height);
  out.quality.box = FaceBox{box.x, box.y, box.width, box.height};
  measure_quality(bgr, box, out.quality);
  if (out.quality.face_px < options_.min_face_px)
    return refuse(Refusal::kFaceTooSmall, "face of " + std::to_string(out.quality.face_px) +
                                              " pixels, at least " +
                                              std::to_string(options_.min_face_px) + " needed");
  if (out.quality.sharpness < options_.min_sharpness)
    return refuse(Refusal::kTooBlurry, "sharpness " + std::to_string(out.quality.sharpness) +
                                           ", at least " + std::to_string(options_.min_sharpness) +
                                           " needed");
  if (out.quality.brightness < options_.min_brightness)
    return refuse(Refusal::kTooDark, "brightness " + std::to_string(out.quality.brightness) +
                                         ", at least " + std::to_string(options_.min_brightness) +
                                         " needed");
  out.embed_face = aligned_rgb(bgr, face, embed_size_);
  out.live_face = live_size_ == embed_size_ ? out.embed_face : aligned_rgb(bgr, face, live_size_);
  return out;
}

torch::Tensor FacePipeline::embed(const std::vector<const cv::Mat*>& faces) {
  torch::NoGradGuard no_grad;
  return embedding_.get_method("forward_uint8")({batch(faces)}).toTensor().contiguous();
}

torch::Tensor FacePipeline::closed_probability(const std::vector<const cv::Mat*>& faces) {
  torch::NoGradGuard no_grad;
  return liveness_.get_method("forward_uint8")({batch(faces)}).toTensor().flatten().contiguous();
}

}  // namespace wtp::serve
