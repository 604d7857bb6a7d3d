#include "models/resnet.h"

#include "core/error.h"
#include "models/layers.h"

namespace wtp::models {
namespace {

bool bottleneck(std::int64_t depth) { return depth >= 50; }

std::vector<std::int64_t> blocks_per_layer(std::int64_t depth) {
  switch (depth) {
    case 18:
      return {2, 2, 2, 2};
    case 34:
    case 50:
      return {3, 4, 6, 3};
    case 101:
      return {3, 4, 23, 3};
    default:
      return {3, 8, 36, 3};
  }
}

/// torchvision's BasicBlock (conv1 3x3/stride, conv2 3x3) or Bottleneck (conv1 1x1,
/// conv2 3x3/stride, conv3 1x1 to 4 x planes), with `downsample` (1x1/stride + BN) when
/// the shape changes. ReLU after each BN but the last, and after the sum.
class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(std::int64_t in, std::int64_t planes, std::int64_t stride, bool bottleneck) {
    const std::int64_t out = bottleneck ? 4 * planes : planes;
    if (bottleneck) {
      convs_ = {conv2d(in, planes, 1), conv2d(planes, planes, 3, stride, 1),
                conv2d(planes, out, 1)};
    } else {
      convs_ = {conv2d(in, planes, 3, stride, 1), conv2d(planes, planes, 3, 1, 1)};
    }
    for (std::size_t i = 0; i < convs_.size(); ++i) {
      const std::string n = std::to_string(i + 1);
      register_module("conv" + n, convs_[i]);
      bns_.push_back(register_module("bn" + n, batch_norm2d(convs_[i]->options.out_channels())));
    }
    if (stride != 1 || in != out) {
      downsample_ = register_module(
          "downsample", torch::nn::Sequential(conv2d(in, out, 1, stride), batch_norm2d(out)));
    }
  }
  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor y = x;
    for (std::size_t i = 0; i < convs_.size(); ++i) {
      y = bns_[i]->forward(convs_[i]->forward(y));
      if (i + 1 < convs_.size()) y = torch::relu(y);
    }
    return torch::relu(y + (downsample_ ? downsample_->forward(x) : x));
  }

 private:
  std::vector<torch::nn::Conv2d> convs_;
  std::vector<FreezableBatchNorm2d> bns_;
  torch::nn::Sequential downsample_{nullptr};
};
TORCH_MODULE(Block);

}  // namespace

void ResNetOptions::validate() const {
  require(depth == 18 || depth == 34 || depth == 50 || depth == 101 || depth == 152,
          "resnet.depth must be 18, 34, 50, 101 or 152");
  require(num_classes >= 0, "resnet.num_classes must be >= 0 (0 = no classifier)");
  require(input_size >= 32, "resnet.input_size must be >= 32");
}

ResNetImpl::ResNetImpl(const ResNetOptions& options) : options_(options) {
  options_.validate();
  conv1_ = register_module("conv1", conv2d(3, 64, 7, 2, 3));
  bn1_ = register_module("bn1", batch_norm2d(64));
  const auto blocks = blocks_per_layer(options_.depth);
  const bool bottle = bottleneck(options_.depth);
  std::int64_t in = 64;
  for (std::size_t l = 0; l < 4; ++l) {
    const std::int64_t planes = 64 << l;
    layers_[l] = torch::nn::Sequential();
    for (std::int64_t b = 0; b < blocks[l]; ++b) {
      layers_[l]->push_back(Block(in, planes, b == 0 && l > 0 ? 2 : 1, bottle));
      in = bottle ? 4 * planes : planes;
    }
    register_module("layer" + std::to_string(l + 1), layers_[l]);
  }
  if (options_.num_classes > 0)
    fc_ = register_module("fc", torch::nn::Linear(embedding_dim(), options_.num_classes));
  init_default(*this, static_cast<std::uint64_t>(options_.seed));
  init_kaiming_conv(*this, static_cast<std::uint64_t>(options_.seed));
}

InputSpec ResNetImpl::input_spec() const {
  return {options_.input_size, options_.input_size, options_.normalization};
}

std::int64_t ResNetImpl::embedding_dim() const { return bottleneck(options_.depth) ? 2048 : 512; }

ModelOutput ResNetImpl::forward(const torch::Tensor& images) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == 3, "resnet expects images [N, 3, H, W], got ",
              images.sizes());
  auto x = torch::relu(
      bn1_->forward(conv1_->forward(images.contiguous(torch::MemoryFormat::ChannelsLast))));
  x = torch::max_pool2d(x, 3, 2, 1);
  for (auto& layer : layers_) x = layer->forward(x);
  const torch::Tensor pooled = x.mean({2, 3});
  ModelOutput out{options_.normalize ? l2_normalize(pooled) : pooled, torch::Tensor()};
  if (fc_) out.logits = fc_->forward(pooled);
  return out;
}

}  // namespace wtp::models
