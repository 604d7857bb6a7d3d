#pragma once
/// The interface every network in wtp::models offers to the trainer, evaluation and export:
/// images in, an embedding (and logits when the model has a classifier) out, plus the
/// input size and preprocessing the model expects.
#include <cstdint>
#include <string>
#include <torch/torch.h>

#include "core/config.h"
#include "data/normalization.h"

namespace wtp::models {

/// What a model returns for a batch of N images.
struct ModelOutput {
  /// [N, D] float embedding (L2-normalised when the model says so in its doc).
  torch::Tensor embedding;
  /// [N, C] class logits, [N] for single-logit heads, or undefined when the model has no
  /// classifier.
  torch::Tensor logits;
};

/// Pixel normalisation presets: the data pipeline's (data/transforms.h: unit, imagenet,
/// facenet, caffe, arcface), so a model's input spec and the transforms that feed it name the same
/// thing. Every preset starts from RGB images.
using Normalization = data::NormalizePreset;
/// Channel order of the tensor the network consumes.
using ColorOrder = data::ChannelOrder;

/// The channel order a normalisation preset implies (kBgr for kCaffe, else kRgb).
ColorOrder color_order(Normalization normalization);

/// What a model expects as input.
struct InputSpec {
  std::int64_t height = 0;                             ///< input height in pixels
  std::int64_t width = 0;                              ///< input width in pixels
  Normalization normalization = Normalization::kUnit;  ///< pixel normalisation preset
  ColorOrder color() const { return color_order(normalization); }
};

/// Turns RGB images in [0, 1] into what a model with `spec` consumes (normalisation and
/// channel order; no resizing).
/// Requires: `rgb01` is a floating tensor [N, 3, H, W] or [3, H, W] on any device.
/// Ensures: same shape, dtype and device; channels reordered to spec.color().
torch::Tensor preprocess(const torch::Tensor& rgb01, Normalization normalization);

/// Base of every model: a torch::nn::Module with a uniform forward.
class EmbeddingModelImpl : public torch::nn::Module {
 public:
  /// Requires: `images` [N, 3, H, W] float, already preprocessed for input_spec(), on the
  /// module's device; N >= 2 in training mode when the model has BatchNorm1d layers.
  virtual ModelOutput forward(const torch::Tensor& images) = 0;
  /// The registry name of the model ("bn_inception", "siamese_bce", ...).
  virtual std::string name() const = 0;
  /// Input size and preprocessing the model expects.
  virtual InputSpec input_spec() const = 0;
  /// Size D of ModelOutput::embedding.
  virtual std::int64_t embedding_dim() const = 0;
  /// Number of classes of ModelOutput::logits; 0 when there are no logits, 1 for a
  /// single-logit head (output [N]).
  virtual std::int64_t num_classes() const { return 0; }
  /// True when pair_logits() is available (Siamese pair heads).
  virtual bool has_pair_head() const { return false; }
  /// Pair logits from the embeddings of the two sides of N pairs ([N, D] each) -> [N].
  /// Throws UsageError on models without a pair head.
  virtual torch::Tensor pair_logits(const torch::Tensor& a, const torch::Tensor& b);
};
TORCH_MODULE(EmbeddingModel);

/// Type-erases a concrete model holder (SiameseCnn, BnInception, ...) to EmbeddingModel,
/// sharing the same module.
template <class Holder>
EmbeddingModel as_embedding_model(const Holder& holder) {
  return EmbeddingModel(std::static_pointer_cast<EmbeddingModelImpl>(holder.ptr()));
}

/// The rows of `x` [N, D] scaled to unit L2 norm (rows of zeros stay zero).
torch::Tensor l2_normalize(const torch::Tensor& x);

/// Re-initialises every Conv2d and Linear under `module` as PyTorch's default
/// reset_parameters does (weight and bias uniform in +-1/sqrt(fan_in)), but from a
/// generator seeded with `seed`, so the same seed gives the same weights everywhere.
/// BatchNorm and PReLU keep their deterministic defaults.
void init_default(torch::nn::Module& module, std::uint64_t seed);

/// Re-initialises every Conv2d and Linear weight under `module` with Xavier-normal
/// (std = gain * sqrt(2 / (fan_in + fan_out))) from a generator seeded with `seed`;
/// biases are set to 0.
void init_xavier_normal(torch::nn::Module& module, double gain, std::uint64_t seed);

/// Re-initialises every Conv2d weight under `module` with Kaiming-normal for ReLU networks,
/// fan-out mode (std = sqrt(2 / fan_out)), as torchvision's ResNet does, from a generator
/// seeded with `seed`; Linear layers and conv biases are left as they are.
void init_kaiming_conv(torch::nn::Module& module, std::uint64_t seed);

}  // namespace wtp::models
