#pragma once
/// MTCNN (Zhang et al. 2016) in LibTorch, as facenet-pytorch implements it
/// (`models/mtcnn.py`, `models/utils/detect_face.py`), loading its weight files
/// (pnet.pt, rnet.pt, onet.pt: state dicts in the legacy torch.save format).
///
/// The cascade, for a batch of equal-size RGB images with values 0..255 (float32):
///  1. Pyramid: scales s_k = (12 / min_face) * factor^k while min(H, W) * s_k >= 12. Each
///     level is the image resized to (int(H s + 1), int(W s + 1)) with area interpolation
///     (torch's interpolate(mode='area') = adaptive average pooling), normalised as
///     (x - 127.5) * 0.0078125, and run through P-Net (all images of the batch at once).
///     Cells with face probability >= thresholds[0] become boxes
///     [floor((2 c + 1) / s), floor((2 c + 12) / s)] (c = cell x, y). NMS (IoU, nms_scale)
///     within each level and image, then NMS (IoU, nms_pyramid) within each image.
///  2. P-Net regression (offsets times the box's x2 - x1 / y2 - y1), squared about the
///     centre (side = the longer side), truncated to integers and clamped to the image
///     (1-based as facenet-pytorch), each crop resized to 24 x 24 (area) and run through
///     R-Net in batches of crop_batch; probability > thresholds[1] kept; NMS (IoU,
///     nms_refine); R-Net regression (offsets times width + 1); squared.
///  3. The same crops at 48 x 48 through O-Net; probability > thresholds[2] kept;
///     landmarks = box corner - 1 + offset * (side + 1); O-Net regression; NMS with the
///     "Min" overlap (intersection / smaller area, areas with +1) at nms_output.
/// R-Net and O-Net flatten their last feature map in Caffe's column-major order (see
/// caffe_flatten). NMS "IoU" is torchvision.ops.nms (areas (x2 - x1)(y2 - y1), a box is
/// suppressed when its IoU with a kept box is > threshold); ties in score keep the earlier box.
///
/// Agreement: on the four photos of ../shared/faces, the same faces as facenet-pytorch's own
/// code (../shared/reference/mtcnn), boxes and landmarks within 1e-3 px, probabilities within
/// 1e-6 (tests/align/test_mtcnn.cpp). The arithmetic differs only in rounding: area resizes
/// read a summed-area table in double (exact sums; LibTorch sums in float), convolutions always
/// run on oneDNN and dense layers sum in a fixed order, so that the result does not depend on
/// the thread count (LibTorch's own choice of kernels does).
/// Differences from facenet-pytorch, both only in degenerate cases: a box lying entirely
/// outside the image after clamping is dropped (facenet-pytorch skips its crop but keeps the
/// box, misaligning boxes and scores); batched NMS runs per group instead of offsetting
/// coordinates by group (which rounds float coordinates of groups other than the first).
#include <opencv2/core.hpp>
#include <string>
#include <torch/torch.h>
#include <tuple>
#include <utility>
#include <vector>

#include "align/detector.h"
#include "core/error.h"

namespace wtp::align {

/// The last feature map of R-Net or O-Net, [N, C, H, W], flattened to [N, W * H * C] in the
/// order their dense layers were trained on: facenet-pytorch's x.permute(0, 3, 2, 1) (N, W, H,
/// C: the column-major layout of the original Caffe weights). Traceable (reads no size).
torch::Tensor caffe_flatten(const torch::Tensor& x);

/// P-Net: fully convolutional proposal network (12 x 12 receptive field, stride 2).
struct PNetImpl : torch::nn::Module {
  PNetImpl();
  /// x: [N, 3, H, W] float32 normalised, H, W >= 12. Returns {regression [N, 4, H', W'],
  /// probabilities [N, 2, H', W'] (softmax over dim 1; channel 1 = face)} with
  /// H' = ceil((H - 2) / 2) - 4, likewise W'.
  std::pair<torch::Tensor, torch::Tensor> forward(torch::Tensor x);

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr}, conv4_1{nullptr},
      conv4_2{nullptr};
  torch::nn::PReLU prelu1{nullptr}, prelu2{nullptr}, prelu3{nullptr};
  torch::nn::MaxPool2d pool1{nullptr};
};
TORCH_MODULE(PNet);

/// R-Net: refines 24 x 24 crops. Its dense layers sum in a fixed order (not BLAS), so the
/// output is the same whatever the batch size and thread count (as for O-Net).
struct RNetImpl : torch::nn::Module {
  RNetImpl();
  /// x: [N, 3, 24, 24] float32 normalised. Returns {regression [N, 4], probabilities [N, 2]}.
  std::pair<torch::Tensor, torch::Tensor> forward(torch::Tensor x);

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  torch::nn::PReLU prelu1{nullptr}, prelu2{nullptr}, prelu3{nullptr}, prelu4{nullptr};
  torch::nn::MaxPool2d pool1{nullptr}, pool2{nullptr};
  torch::nn::Linear dense4{nullptr}, dense5_1{nullptr}, dense5_2{nullptr};
};
TORCH_MODULE(RNet);

/// O-Net: final 48 x 48 stage with landmarks.
struct ONetImpl : torch::nn::Module {
  ONetImpl();
  /// x: [N, 3, 48, 48] float32 normalised. Returns {regression [N, 4], landmarks [N, 10]
  /// (5 x offsets then 5 y offsets, as fractions of the box), probabilities [N, 2]}.
  std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> forward(torch::Tensor x);

  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr}, conv4{nullptr};
  torch::nn::PReLU prelu1{nullptr}, prelu2{nullptr}, prelu3{nullptr}, prelu4{nullptr},
      prelu5{nullptr};
  torch::nn::MaxPool2d pool1{nullptr}, pool2{nullptr}, pool3{nullptr};
  torch::nn::Linear dense5{nullptr}, dense6_1{nullptr}, dense6_2{nullptr}, dense6_3{nullptr};
};
TORCH_MODULE(ONet);

/// Overlap measure of nms().
enum class NmsMode {
  kUnion,  ///< torchvision.ops.nms: intersection / union, areas (x2 - x1)(y2 - y1)
  kMin,    ///< facenet-pytorch "Min": intersection / smaller area, areas (x2 - x1 + 1)(...)
};

/// Greedy non-maximum suppression. `boxes` [N, >= 4] float (x1, y1, x2, y2 first), `scores`
/// [N]. Returns the kept row indices (int64 [K]) in order of decreasing score (ties: lower
/// index first for kUnion as torchvision, higher index first for kMin as facenet-pytorch's
/// nms_numpy). A box is dropped when its overlap with an already kept box is > threshold.
torch::Tensor nms(const torch::Tensor& boxes, const torch::Tensor& scores, double threshold,
                  NmsMode mode);
/// nms() within each group (`groups` int64 [N]); the union of the kept indices in order of
/// decreasing score (ties: lower index first).
torch::Tensor batched_nms(const torch::Tensor& boxes, const torch::Tensor& scores,
                          const torch::Tensor& groups, double threshold, NmsMode mode);

/// The pyramid scales for an image of `height` x `width` (see the top of this file).
std::vector<double> pyramid_scales(int height, int width, int min_face, double factor);

struct MtcnnOptions {
  std::string weights;    ///< directory with facenet-pytorch's pnet.pt, rnet.pt, onet.pt
  int min_face = 20;      ///< smallest face side searched, pixels (>= 12)
  double factor = 0.709;  ///< pyramid scale step, in (0, 1)
  std::vector<double> thresholds{0.6, 0.7, 0.7};  ///< P-, R-, O-Net probability thresholds
  double nms_scale = 0.5;    ///< IoU NMS within each pyramid level (facenet-pytorch: 0.5)
  double nms_pyramid = 0.7;  ///< IoU NMS across the levels of an image
  double nms_refine = 0.7;   ///< IoU NMS after R-Net
  double nms_output = 0.7;   ///< "Min" NMS after O-Net
  int crop_batch = 512;      ///< R-/O-Net crops per forward pass (bounds memory)

  template <class V>
  void visit(V& v) {
    v("weights", weights, "directory with pnet.pt, rnet.pt, onet.pt (facenet-pytorch)");
    v("min_face", min_face, "smallest face side in pixels, >= 12");
    v("factor", factor, "pyramid scale step, in (0, 1)");
    v("thresholds", thresholds, "P-, R-, O-Net probability thresholds, 3 values in [0, 1]");
    v("nms_scale", nms_scale, "IoU NMS threshold within each pyramid level");
    v("nms_pyramid", nms_pyramid, "IoU NMS threshold across pyramid levels");
    v("nms_refine", nms_refine, "IoU NMS threshold after R-Net");
    v("nms_output", nms_output, "Min-overlap NMS threshold after O-Net");
    v("crop_batch", crop_batch, "R-/O-Net crops per forward pass, >= 1");
  }
  /// Throws UsageError naming the field (weights not checked here: see load_mtcnn).
  void validate() const;
};

/// The three networks.
struct MtcnnNets {
  PNet pnet;
  RNet rnet;
  ONet onet;
};

/// Builds the networks (eval mode, no gradients) and loads `dir`/{pnet,rnet,onet}.pt with
/// strict name and shape checks. Throws UsageError when `dir` is empty or a file is
/// missing (saying where the weights come from), std::runtime_error on a corrupt file.
MtcnnNets load_mtcnn(const std::string& dir);

/// Where run_mtcnn()'s time went, seconds (for benchmarks).
struct MtcnnTimes {
  double table = 0;            ///< summed-area table of the input (the area resizes read it)
  std::vector<double> resize;  ///< area resize of each pyramid level
  std::vector<double> pnet;    ///< P-Net and box generation, per pyramid level
  double nms = 0;              ///< every NMS, box regression and squaring
  double rnet_crops = 0;       ///< cropping and resizing the 24 x 24 R-Net inputs
  double rnet = 0;             ///< R-Net
  double onet_crops = 0;       ///< cropping and resizing the 48 x 48 O-Net inputs
  double onet = 0;             ///< O-Net
};

/// Runs the cascade on `images`: [B, 3, H, W] float32 RGB values 0..255 (not normalised).
/// Returns, per image, its faces in order of decreasing confidence, each with 5 landmarks.
/// Deterministic: the same input gives the same output whatever the LibTorch thread count.
/// When `times` is given, it receives the time of each step.
std::vector<std::vector<Face>> run_mtcnn(MtcnnNets& nets, const torch::Tensor& images,
                                         const MtcnnOptions& options, MtcnnTimes* times = nullptr);

/// A BGR CV_8UC3 image as the [1, 3, H, W] float32 RGB tensor run_mtcnn() takes.
torch::Tensor mtcnn_input(const cv::Mat& bgr);

class MtcnnDetector : public FaceDetector {
 public:
  /// Loads the weights from options.weights (see load_mtcnn).
  explicit MtcnnDetector(MtcnnOptions options);
  /// Uses already built networks (e.g. shared or randomly initialised in tests).
  MtcnnDetector(MtcnnOptions options, MtcnnNets nets);
  std::string name() const override { return "mtcnn"; }
  /// Faces in decreasing confidence with 5 landmarks (see run_mtcnn).
  std::vector<Face> detect(const cv::Mat& bgr) override;
  /// Several images of equal size in one pass (P-Net levels and R-/O-Net crops batched).
  /// Throws std::invalid_argument if sizes differ.
  std::vector<std::vector<Face>> detect_batch(const std::vector<cv::Mat>& bgr);
  const MtcnnOptions& options() const { return options_; }

 private:
  MtcnnOptions options_;
  MtcnnNets nets_;
};

}  // namespace wtp::align
