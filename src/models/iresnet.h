#pragma once
/// IResNet, the improved ResNet of insightface's `arcface_torch` (the backbone of its
/// ArcFace recipes), with its parameter names so its checkpoints import unchanged:
/// `conv1.weight`, `bn1.*`, `prelu.weight`, `layer1.0.bn1.*`, `layer1.0.conv1.weight`,
/// `layer1.0.prelu.weight`, `layer1.0.downsample.0.weight`, `bn2.*`, `fc.weight`,
/// `features.*`.
///
/// Input [N, 3, 112, 112], (x - 0.5) / 0.5 (the `arcface` normalisation).
/// conv1 3x3 -> bn1 -> PReLU -> layer1..4 (64, 128, 256, 512 channels, each starting
/// with stride 2) -> bn2 -> flatten (512 x 7 x 7) -> dropout -> fc -> `features`
/// BatchNorm1d (its scale fixed at 1, as upstream) = embedding, L2-normalised if asked.
/// A block: BN -> conv 3x3 -> BN -> PReLU -> conv 3x3 (stride) -> BN, plus the shortcut.
#include <cstdint>

#include "models/embedding_model.h"
#include "models/freeze.h"

namespace wtp::models {

struct IResNetOptions {
  std::int64_t depth = 50;           ///< 18, 34, 50, 100 (blocks as insightface's)
  std::int64_t embedding_dim = 512;  ///< size of fc and features (insightface's num_features)
  double dropout = 0.0;              ///< dropout before fc
  bool normalize = true;             ///< L2-normalise the embedding
  Normalization normalization = Normalization::kArcface;  ///< expected input preprocessing
  std::int64_t input_size = 112;  ///< square input side, a multiple of 16 (fc sees side/16)
  std::int64_t seed = 0;          ///< seed of the weight initialisation

  template <class V>
  void visit(V& v) {
    v("depth", depth, "18, 34, 50 or 100");
    v("embedding_dim", embedding_dim, "embedding size (fc and features)");
    v("dropout", dropout, "dropout before fc");
    v("normalize", normalize, "L2-normalise the embedding");
    v("normalization", normalization, "expected input preprocessing");
    v("input_size", input_size, "square input side in pixels (multiple of 16)");
    v("seed", seed, "seed of the weight initialisation");
  }
  void validate() const;
};

class IResNetImpl : public EmbeddingModelImpl {
 public:
  explicit IResNetImpl(const IResNetOptions& options = {});
  /// images [N, 3, S, S] -> embedding [N, embedding_dim]; no logits (put a cosine
  /// classifier around it: embedding_head with classifier: cosine).
  ModelOutput forward(const torch::Tensor& images) override;
  std::string name() const override { return "iresnet"; }
  InputSpec input_spec() const override;
  std::int64_t embedding_dim() const override { return options_.embedding_dim; }

 private:
  IResNetOptions options_;
  torch::nn::Conv2d conv1_{nullptr};
  FreezableBatchNorm2d bn1_{nullptr}, bn2_{nullptr};
  torch::nn::PReLU prelu_{nullptr};
  torch::nn::Sequential layers_[4];
  FreezableDropout dropout_{nullptr};
  torch::nn::Linear fc_{nullptr};
  FreezableBatchNorm1d features_{nullptr};
};
TORCH_MODULE(IResNet);

}  // namespace wtp::models
