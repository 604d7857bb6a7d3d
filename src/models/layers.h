#pragma once
/// Layers the backbones (ResNet, IResNet, MobileFaceNet) build from: bias-free
/// convolutions with channels-last (NHWC) weights, freezable BatchNorm with PyTorch's
/// defaults, per-channel PReLU, and a module that names its children `layers.N` as the
/// insightface code does.
#include <cstdint>
#include <torch/torch.h>

#include "models/freeze.h"

namespace wtp::models {

/// Conv2d without bias, weights stored channels-last (values loaded or initialised later
/// keep the layout).
torch::nn::Conv2d conv2d(std::int64_t in, std::int64_t out, std::int64_t kernel,
                         std::int64_t stride = 1, std::int64_t padding = 0,
                         std::int64_t groups = 1);
/// BatchNorm2d (eps 1e-5, momentum 0.1), freezable.
FreezableBatchNorm2d batch_norm2d(std::int64_t channels);
/// PReLU with one slope per channel (initial 0.25).
torch::nn::PReLU prelu(std::int64_t channels);

/// A Sequential registered as `layers` (state-dict names `layers.0.*`, `layers.1.*`, ...),
/// optionally with an identity shortcut around it.
class LayersImpl : public torch::nn::Module {
 public:
  explicit LayersImpl(torch::nn::Sequential layers, bool residual = false);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential layers_;
  bool residual_;
};
TORCH_MODULE(Layers);

}  // namespace wtp::models
