#pragma once
/// The old project's small Siamese CNN (trained with the contrastive loss).
///
/// Architecture (defaults): input [N, 3, 128, 128]; three blocks
/// Conv3x3(pad 1) -> MaxPool2 -> PReLU -> BatchNorm2d with channels 3 -> 4 -> 8 -> 16;
/// flatten (16 x 16 x 16 = 4096) -> [Linear 4096, PReLU, BN1d, Dropout 0.02]
/// -> [Linear 2048, PReLU, BN1d] -> Linear 128. Conv/Linear weights Xavier-normal with
/// gain 2, biases 0. The embedding is not L2-normalised. Conv weights and activations are
/// channels-last (NHWC strides; shapes and names unchanged).
///
/// Parameter names: `cnn.<i>.*` (4 layers per block: conv, pool, prelu, bn) and
/// `fc.<i>.*` (Linear, PReLU, BN1d[, Dropout] per hidden block, then the output Linear).
#include <cstdint>
#include <vector>

#include "models/embedding_model.h"

namespace wtp::models {

struct SiameseCnnOptions {
  std::vector<std::int64_t> channels = {4, 8, 16};  ///< output channels of each conv block
  std::int64_t input_size = 128;                    ///< square input side in pixels
  std::vector<std::int64_t> hidden = {4096, 2048};  ///< widths of the hidden FC blocks
  std::int64_t embedding_dim = 128;                 ///< output embedding size
  double dropout = 0.02;   ///< dropout after every hidden FC block but the last
  double init_gain = 2.0;  ///< Xavier-normal gain of Conv/Linear weights
  Normalization normalization = Normalization::kUnit;  ///< expected input preprocessing
  std::int64_t seed = 0;                               ///< seed of the weight initialisation

  template <class V>
  void visit(V& v) {
    v("channels", channels, "output channels of each conv block");
    v("input_size", input_size, "square input side in pixels");
    v("hidden", hidden, "widths of the hidden FC blocks");
    v("embedding_dim", embedding_dim, "output embedding size");
    v("dropout", dropout, "dropout after every hidden FC block but the last");
    v("init_gain", init_gain, "Xavier-normal gain of Conv/Linear weights");
    v("normalization", normalization, "expected input preprocessing");
    v("seed", seed, "seed of the weight initialisation");
  }
  /// Throws UsageError unless sizes are positive, dropout is in [0, 1) and input_size is
  /// divisible by 2^blocks.
  void validate() const;
  /// Flattened feature size after the conv blocks.
  std::int64_t flat_size() const;
};

class SiameseCnnImpl : public EmbeddingModelImpl {
 public:
  explicit SiameseCnnImpl(const SiameseCnnOptions& options = {});
  /// images [N, 3, S, S] -> embedding [N, embedding_dim]; logits undefined.
  ModelOutput forward(const torch::Tensor& images) override;
  std::string name() const override { return "siamese_cnn"; }
  InputSpec input_spec() const override;
  std::int64_t embedding_dim() const override { return options_.embedding_dim; }
  const SiameseCnnOptions& options() const { return options_; }

 private:
  SiameseCnnOptions options_;
  torch::nn::Sequential cnn_{nullptr};
  torch::nn::Sequential fc_{nullptr};
};
TORCH_MODULE(SiameseCnn);

}  // namespace wtp::models
