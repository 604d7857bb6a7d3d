#include "models/layers.h"

namespace wtp::models {

torch::nn::Conv2d conv2d(std::int64_t in, std::int64_t out, std::int64_t kernel,
                         std::int64_t stride, std::int64_t padding, std::int64_t groups) {
  torch::nn::Conv2d conv(torch::nn::Conv2dOptions(in, out, kernel)
                             .stride(stride)
                             .padding(padding)
                             .groups(groups)
                             .bias(false));
  conv->weight.set_data(conv->weight.data().contiguous(torch::MemoryFormat::ChannelsLast));
  return conv;
}

FreezableBatchNorm2d batch_norm2d(std::int64_t channels) {
  return FreezableBatchNorm2d(torch::nn::BatchNormOptions(channels).eps(1e-5).momentum(0.1));
}

torch::nn::PReLU prelu(std::int64_t channels) {
  return torch::nn::PReLU(torch::nn::PReLUOptions().num_parameters(channels));
}

LayersImpl::LayersImpl(torch::nn::Sequential layers, bool residual)
    : layers_(register_module("layers", std::move(layers))), residual_(residual) {}

torch::Tensor LayersImpl::forward(const torch::Tensor& x) {
  const torch::Tensor y = layers_->forward(x);
  return residual_ ? x + y : y;
}

}  // namespace wtp::models
