#include "models/iresnet.h"

#include "core/error.h"
#include "models/layers.h"

namespace wtp::models {
namespace {

std::vector<std::int64_t> blocks_per_layer(std::int64_t depth) {
  switch (depth) {
    case 18:
      return {2, 2, 2, 2};
    case 34:
      return {3, 4, 6, 3};
    case 50:
      return {3, 4, 14, 3};
    default:
      return {3, 13, 30, 3};
  }
}

/// insightface's IBasicBlock: bn1 -> conv1 3x3 -> bn2 -> prelu -> conv2 3x3/stride -> bn3,
/// plus the input (through `downsample`, 1x1/stride + BN, when the shape changes).
class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(std::int64_t in, std::int64_t planes, std::int64_t stride)
      : bn1_(register_module("bn1", batch_norm2d(in))),
        conv1_(register_module("conv1", conv2d(in, planes, 3, 1, 1))),
        bn2_(register_module("bn2", batch_norm2d(planes))),
        prelu_(register_module("prelu", prelu(planes))),
        conv2_(register_module("conv2", conv2d(planes, planes, 3, stride, 1))),
        bn3_(register_module("bn3", batch_norm2d(planes))) {
    if (stride != 1 || in != planes)
      downsample_ = register_module(
          "downsample", torch::nn::Sequential(conv2d(in, planes, 1, stride), batch_norm2d(planes)));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = prelu_->forward(bn2_->forward(conv1_->forward(bn1_->forward(x))));
    y = bn3_->forward(conv2_->forward(y));
    return y + (downsample_ ? downsample_->forward(x) : x);
  }

 private:
  FreezableBatchNorm2d bn1_;
  torch::nn::Conv2d conv1_;
  FreezableBatchNorm2d bn2_;
  torch::nn::PReLU prelu_;
  torch::nn::Conv2d conv2_;
  FreezableBatchNorm2d bn3_;
  torch::nn::Sequential downsample_{nullptr};
};
TORCH_MODULE(Block);

}  // namespace

void IResNetOptions::validate() const {
  require(depth == 18 || depth == 34 || depth == 50 || depth == 100,
          "iresnet.depth must be 18, 34, 50 or 100");
  require(embedding_dim > 0, "iresnet.embedding_dim must be > 0 (e.g. 512)");
  require(dropout >= 0 && dropout < 1, "iresnet.dropout must be in [0, 1)");
  require(input_size >= 16 && input_size % 16 == 0,
          "iresnet.input_size must be a positive multiple of 16 (112 for insightface's)");
}

IResNetImpl::IResNetImpl(const IResNetOptions& options) : options_(options) {
  options_.validate();
  conv1_ = register_module("conv1", conv2d(3, 64, 3, 1, 1));
  bn1_ = register_module("bn1", batch_norm2d(64));
  prelu_ = register_module("prelu", prelu(64));
  const auto blocks = blocks_per_layer(options_.depth);
  std::int64_t in = 64;
  for (std::size_t l = 0; l < 4; ++l) {
    const std::int64_t planes = 64 << l;
    layers_[l] = torch::nn::Sequential();
    for (std::int64_t b = 0; b < blocks[l]; ++b) {
      layers_[l]->push_back(Block(in, planes, b == 0 ? 2 : 1));
      in = planes;
    }
    register_module("layer" + std::to_string(l + 1), layers_[l]);
  }
  bn2_ = register_module("bn2", batch_norm2d(512));
  dropout_ =
      register_module("dropout", FreezableDropout(torch::nn::DropoutOptions(options_.dropout)));
  const std::int64_t side = options_.input_size / 16;
  fc_ = register_module("fc", torch::nn::Linear(512 * side * side, options_.embedding_dim));
  features_ = register_module(
      "features", FreezableBatchNorm1d(torch::nn::BatchNormOptions(options_.embedding_dim)));
  features_->weight.set_requires_grad(false);  // fixed at 1, as upstream
  init_default(*this, static_cast<std::uint64_t>(options_.seed));
  init_kaiming_conv(*this, static_cast<std::uint64_t>(options_.seed));
}

InputSpec IResNetImpl::input_spec() const {
  return {options_.input_size, options_.input_size, options_.normalization};
}

ModelOutput IResNetImpl::forward(const torch::Tensor& images) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == 3 && images.size(2) == options_.input_size &&
                  images.size(3) == options_.input_size,
              "iresnet expects images [N, 3, ", options_.input_size, ", ", options_.input_size,
              "], got ", images.sizes());
  auto x = prelu_->forward(
      bn1_->forward(conv1_->forward(images.contiguous(torch::MemoryFormat::ChannelsLast))));
  for (auto& layer : layers_) x = layer->forward(x);
  x = dropout_->forward(torch::flatten(bn2_->forward(x), 1));
  x = features_->forward(fc_->forward(x));
  return {options_.normalize ? l2_normalize(x) : x, torch::Tensor()};
}

}  // namespace wtp::models
