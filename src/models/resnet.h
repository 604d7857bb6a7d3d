#pragma once
/// ResNet (He et al. 2016) exactly as torchvision builds it (v1.5: the stride of a
/// bottleneck sits on its 3x3 convolution), with torchvision's parameter names, so
/// `torch.save(torchvision.models.resnet50().state_dict())` imports unchanged:
/// `conv1.weight`, `bn1.*`, `layer1.0.conv1.weight`, `layer2.0.downsample.0.weight`,
/// `layer4.2.bn3.running_var`, `fc.weight`, `fc.bias`.
///
/// Input [N, 3, S, S] (ImageNet normalisation; any S >= 32, 224 for the ImageNet weights).
/// conv1 7x7/2 -> bn1 -> ReLU -> max pool 3x3/2 -> layer1..4 -> global average pool
/// = embedding (512 for depth 18/34, 2048 for 50/101/152), L2-normalised if asked;
/// logits = `fc` Linear(embedding -> num_classes) on the pooled features.
#include <cstdint>

#include "models/embedding_model.h"
#include "models/freeze.h"

namespace wtp::models {

struct ResNetOptions {
  std::int64_t depth = 50;       ///< 18, 34 (basic blocks), 50, 101, 152 (bottlenecks)
  std::int64_t num_classes = 0;  ///< classes of `fc`; 0 = none (1000 for ImageNet weights)
  bool normalize = false;        ///< L2-normalise the embedding
  Normalization normalization = Normalization::kImagenet;  ///< expected input preprocessing
  std::int64_t input_size = 224;                           ///< square input side in pixels
  std::int64_t seed = 0;                                   ///< seed of the initialisation

  template <class V>
  void visit(V& v) {
    v("depth", depth, "18, 34, 50, 101 or 152");
    v("num_classes", num_classes, "classes of fc; 0 = no classifier");
    v("normalize", normalize, "L2-normalise the embedding");
    v("normalization", normalization, "expected input preprocessing");
    v("input_size", input_size, "square input side in pixels");
    v("seed", seed, "seed of the weight initialisation");
  }
  void validate() const;
};

class ResNetImpl : public EmbeddingModelImpl {
 public:
  explicit ResNetImpl(const ResNetOptions& options = {});
  /// images [N, 3, S, S] -> embedding [N, 512 or 2048], logits [N, num_classes] or undefined.
  ModelOutput forward(const torch::Tensor& images) override;
  std::string name() const override { return "resnet"; }
  InputSpec input_spec() const override;
  std::int64_t embedding_dim() const override;
  std::int64_t num_classes() const override { return options_.num_classes; }

 private:
  ResNetOptions options_;
  torch::nn::Conv2d conv1_{nullptr};
  FreezableBatchNorm2d bn1_{nullptr};
  torch::nn::Sequential layers_[4];
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(ResNet);

}  // namespace wtp::models
