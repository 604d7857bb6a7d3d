#pragma once
/// InceptionResnetV1 as in facenet-pytorch (Szegedy et al. 2016, the FaceNet variant), with
/// the same parameter names so its VGGFace2 / CASIA-WebFace state dicts import unchanged:
/// `conv2d_1a.conv.weight`, `conv2d_1a.bn.running_mean`, `repeat_1.0.branch1.1.conv.weight`,
/// `mixed_6a.branch0.conv.weight`, `repeat_3.4.conv2d.bias`, `block8.branch1.2.bn.weight`,
/// `last_linear.weight`, `last_bn.*`, `logits.*`.
///
/// Input [N, 3, 160, 160] with facenet standardisation ((255 x - 127.5) / 128).
/// Stem -> 5 x Block35 (scale 0.17) -> Mixed_6a -> 10 x Block17 (0.10) -> Mixed_7a
/// -> 5 x Block8 (0.20) -> Block8 (no ReLU) -> global average pool (1792)
/// -> Dropout(0.6) -> last_linear (1792 -> 512, no bias) -> last_bn (BatchNorm1d, eps 1e-3)
/// -> embedding = L2-normalised; logits = `logits` Linear(512 -> classes) applied to the
/// un-normalised last_bn output (facenet-pytorch's classify mode).
/// BasicConv2d = Conv (no bias) -> BatchNorm2d(eps 1e-3, momentum 0.1) -> ReLU.
#include <cstdint>

#include "models/embedding_model.h"
#include "models/freeze.h"

namespace wtp::models {

struct InceptionResnetV1Options {
  /// Size of the embedding layer (`last_linear` + `last_bn`); 512 for the pretrained
  /// weights. 0 removes both and returns the 1792-d average-pooled features (the cut the
  /// old BCE Siamese model used).
  std::int64_t embedding_dim = 512;
  /// Classes of the `logits` layer; 0 = no classifier (8631 for VGGFace2, 10575 for CASIA).
  std::int64_t num_classes = 0;
  double dropout = 0.6;   ///< dropout before last_linear (as facenet-pytorch)
  bool normalize = true;  ///< L2-normalise ModelOutput::embedding
  Normalization normalization = Normalization::kFacenet;  ///< expected input preprocessing
  std::int64_t input_size = 160;  ///< square input side (>= 75 for the stride chain)
  std::int64_t seed = 0;          ///< seed of the weight initialisation

  template <class V>
  void visit(V& v) {
    v("embedding_dim", embedding_dim, "embedding size (512 pretrained; 0 = pooled 1792-d)");
    v("num_classes", num_classes, "classes of the logits layer; 0 = no classifier");
    v("dropout", dropout, "dropout before last_linear");
    v("normalize", normalize, "L2-normalise the embedding");
    v("normalization", normalization, "expected input preprocessing");
    v("input_size", input_size, "square input side in pixels");
    v("seed", seed, "seed of the weight initialisation");
  }
  void validate() const;
};

/// Conv2d (no bias) -> BatchNorm2d(eps 1e-3) -> ReLU; parameters `conv.*`, `bn.*`.
class BasicConv2dImpl : public torch::nn::Module {
 public:
  BasicConv2dImpl(std::int64_t in, std::int64_t out, torch::ExpandingArray<2> kernel,
                  torch::ExpandingArray<2> stride = 1, torch::ExpandingArray<2> padding = 0);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Conv2d conv_{nullptr};
  FreezableBatchNorm2d bn_{nullptr};
};
TORCH_MODULE(BasicConv2d);

class Mixed6aImpl;
class Mixed7aImpl;
class Block8Impl;

class InceptionResnetV1Impl : public EmbeddingModelImpl {
 public:
  explicit InceptionResnetV1Impl(const InceptionResnetV1Options& options = {});
  /// images [N, 3, S, S] -> embedding [N, embedding_dim or 1792], logits [N, num_classes]
  /// (undefined when num_classes == 0).
  ModelOutput forward(const torch::Tensor& images) override;
  std::string name() const override { return "inception_resnet_v1"; }
  InputSpec input_spec() const override;
  std::int64_t embedding_dim() const override;
  std::int64_t num_classes() const override { return options_.num_classes; }
  const InceptionResnetV1Options& options() const { return options_; }

  /// The 1792-d globally pooled features (before dropout) for images [N, 3, S, S].
  torch::Tensor features(const torch::Tensor& images);

 private:
  InceptionResnetV1Options options_;
  BasicConv2d conv2d_1a_{nullptr}, conv2d_2a_{nullptr}, conv2d_2b_{nullptr}, conv2d_3b_{nullptr},
      conv2d_4a_{nullptr}, conv2d_4b_{nullptr};
  torch::nn::Sequential repeat_1_{nullptr}, repeat_2_{nullptr}, repeat_3_{nullptr};
  std::shared_ptr<Mixed6aImpl> mixed_6a_;
  std::shared_ptr<Mixed7aImpl> mixed_7a_;
  std::shared_ptr<Block8Impl> block8_;
  FreezableDropout dropout_{nullptr};
  torch::nn::Linear last_linear_{nullptr};
  FreezableBatchNorm1d last_bn_{nullptr};
  torch::nn::Linear logits_{nullptr};
};
TORCH_MODULE(InceptionResnetV1);

}  // namespace wtp::models
