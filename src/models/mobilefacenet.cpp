#include "models/mobilefacenet.h"

#include "core/error.h"
#include "models/freeze.h"

namespace wtp::models {
namespace {

/// Conv (no bias) -> BN -> PReLU, or without the PReLU (insightface's LinearBlock).
Layers conv_block(std::int64_t in, std::int64_t out, std::int64_t kernel, std::int64_t stride,
                  std::int64_t padding, std::int64_t groups = 1, bool activation = true) {
  torch::nn::Sequential s(conv2d(in, out, kernel, stride, padding, groups), batch_norm2d(out));
  if (activation) s->push_back(prelu(out));
  return Layers(s);
}

/// Depthwise-separable block: 1x1 expand to `groups` channels -> depthwise kernel x kernel
/// (stride) -> 1x1 linear projection to `out`; with the input added when `residual`.
Layers depth_wise(std::int64_t in, std::int64_t out, std::int64_t stride, std::int64_t groups,
                  bool residual) {
  return Layers(torch::nn::Sequential(conv_block(in, groups, 1, 1, 0),
                                      conv_block(groups, groups, 3, stride, 1, groups),
                                      conv_block(groups, out, 1, 1, 0, 1, false)),
                residual);
}

/// `blocks` residual depthwise blocks of width `channels`.
Layers residual(std::int64_t channels, std::int64_t blocks, std::int64_t groups) {
  torch::nn::Sequential s;
  for (std::int64_t b = 0; b < blocks; ++b)
    s->push_back(depth_wise(channels, channels, 1, groups, true));
  return Layers(s);
}

}  // namespace

void MobileFaceNetOptions::validate() const {
  require(blocks.size() == 4, "mobilefacenet.blocks must list 4 stages (e.g. [1, 4, 6, 2])");
  for (auto b : blocks) require(b >= 1, "mobilefacenet.blocks must be >= 1");
  require(scale >= 1, "mobilefacenet.scale must be >= 1");
  require(embedding_dim > 0, "mobilefacenet.embedding_dim must be > 0");
  require(input_size >= 16 && input_size % 16 == 0,
          "mobilefacenet.input_size must be a positive multiple of 16 (112 for insightface's)");
}

MobileFaceNetImpl::MobileFaceNetImpl(const MobileFaceNetOptions& options) : options_(options) {
  options_.validate();
  const std::int64_t c1 = 64 * options_.scale, c2 = 128 * options_.scale;
  const auto& b = options_.blocks;
  layers_ = register_module("layers", torch::nn::ModuleList());
  layers_->push_back(conv_block(3, c1, 3, 2, 1));
  layers_->push_back(b[0] == 1 ? conv_block(c1, c1, 3, 1, 1, 64) : residual(c1, b[0], 128));
  layers_->push_back(depth_wise(c1, c1, 2, 128, false));
  layers_->push_back(residual(c1, b[1], 128));
  layers_->push_back(depth_wise(c1, c2, 2, 256, false));
  layers_->push_back(residual(c2, b[2], 256));
  layers_->push_back(depth_wise(c2, c2, 2, 512, false));
  layers_->push_back(residual(c2, b[3], 256));
  conv_sep_ = register_module("conv_sep", conv_block(c2, 512, 1, 1, 0));
  const std::int64_t side = options_.input_size / 16;
  features_ = register_module(
      "features",
      Layers(torch::nn::Sequential(
          conv_block(512, 512, side, 1, 0, 512, false), torch::nn::Flatten(),
          torch::nn::Linear(torch::nn::LinearOptions(512, options_.embedding_dim).bias(false)),
          FreezableBatchNorm1d(torch::nn::BatchNormOptions(options_.embedding_dim)))));
  init_default(*this, static_cast<std::uint64_t>(options_.seed));
  init_kaiming_conv(*this, static_cast<std::uint64_t>(options_.seed));
}

InputSpec MobileFaceNetImpl::input_spec() const {
  return {options_.input_size, options_.input_size, options_.normalization};
}

ModelOutput MobileFaceNetImpl::forward(const torch::Tensor& images) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == 3 && images.size(2) == options_.input_size &&
                  images.size(3) == options_.input_size,
              "mobilefacenet expects images [N, 3, ", options_.input_size, ", ",
              options_.input_size, "], got ", images.sizes());
  auto x = images.contiguous(torch::MemoryFormat::ChannelsLast);
  for (const auto& layer : *layers_) x = layer->as<LayersImpl>()->forward(x);
  x = features_->forward(conv_sep_->forward(x));
  return {options_.normalize ? l2_normalize(x) : x, torch::Tensor()};
}

}  // namespace wtp::models
