#pragma once
/// MobileFaceNet (Chen et al. 2018), a small CPU-friendly face model, as insightface's
/// `arcface_torch` builds it (`mbf`), with its parameter names so its checkpoints import
/// unchanged: `layers.0.layers.0.weight` (conv), `layers.0.layers.1.*` (BN),
/// `layers.0.layers.2.weight` (PReLU), `layers.3.layers.1.layers.0.layers.0.weight`,
/// `conv_sep.layers.*`, `features.layers.0.layers.0.weight` (the 7x7 global depthwise
/// conv), `features.layers.2.weight` (linear), `features.layers.3.*` (BatchNorm1d).
///
/// Input [N, 3, 112, 112], (x - 0.5) / 0.5. Stem conv 3x3/2 -> grouped conv -> four
/// depthwise-separable stages (stride 2 between them, inverted residual blocks within)
/// -> 1x1 conv to 512 -> global depthwise conv -> linear -> BatchNorm1d = embedding,
/// L2-normalised if asked.
#include <cstdint>
#include <vector>

#include "models/embedding_model.h"
#include "models/layers.h"

namespace wtp::models {

struct MobileFaceNetOptions {
  std::vector<std::int64_t> blocks{1, 4, 6, 2};  ///< residual blocks per stage (mbf)
  std::int64_t scale = 2;                        ///< width multiplier (64 x scale channels)
  std::int64_t embedding_dim = 512;              ///< embedding size
  bool normalize = true;                         ///< L2-normalise the embedding
  Normalization normalization = Normalization::kArcface;  ///< expected input preprocessing
  std::int64_t input_size = 112;                          ///< square input side, a multiple of 16
  std::int64_t seed = 0;                                  ///< seed of the weight initialisation

  template <class V>
  void visit(V& v) {
    v("blocks", blocks, "residual blocks of the four stages");
    v("scale", scale, "width multiplier");
    v("embedding_dim", embedding_dim, "embedding size");
    v("normalize", normalize, "L2-normalise the embedding");
    v("normalization", normalization, "expected input preprocessing");
    v("input_size", input_size, "square input side in pixels (multiple of 16)");
    v("seed", seed, "seed of the weight initialisation");
  }
  void validate() const;
};

class MobileFaceNetImpl : public EmbeddingModelImpl {
 public:
  explicit MobileFaceNetImpl(const MobileFaceNetOptions& options = {});
  /// images [N, 3, S, S] -> embedding [N, embedding_dim]; no logits.
  ModelOutput forward(const torch::Tensor& images) override;
  std::string name() const override { return "mobilefacenet"; }
  InputSpec input_spec() const override;
  std::int64_t embedding_dim() const override { return options_.embedding_dim; }

 private:
  MobileFaceNetOptions options_;
  torch::nn::ModuleList layers_{nullptr};
  Layers conv_sep_{nullptr}, features_{nullptr};
};
TORCH_MODULE(MobileFaceNet);

}  // namespace wtp::models
