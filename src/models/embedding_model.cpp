#include "models/embedding_model.h"

#include <ATen/CPUGeneratorImpl.h>
#include <cmath>

#include "core/error.h"

namespace wtp::models {

ColorOrder color_order(Normalization normalization) {
  return normalization == Normalization::kCaffe ? ColorOrder::kBgr : ColorOrder::kRgb;
}

torch::Tensor preprocess(const torch::Tensor& rgb01, Normalization normalization) {
  const auto dims = rgb01.dim();
  require((dims == 4 || dims == 3) && rgb01.size(dims - 3) == 3,
          "preprocess: expected images [N, 3, H, W] or [3, H, W], got " +
              std::string(c10::str(rgb01.sizes())));
  require(rgb01.is_floating_point(), "preprocess: expected a floating-point image tensor");
  std::vector<double> mean, scale;  // out = (x - mean) * scale, per RGB channel
  switch (normalization) {
    case Normalization::kUnit:
      return rgb01;
    case Normalization::kImagenet:
      mean = {0.485, 0.456, 0.406};
      scale = {1 / 0.229, 1 / 0.224, 1 / 0.225};
      break;
    case Normalization::kFacenet:
      mean = {127.5 / 255, 127.5 / 255, 127.5 / 255};
      scale = {255.0 / 128, 255.0 / 128, 255.0 / 128};
      break;
    case Normalization::kCaffe:
      mean = {128.0 / 255, 117.0 / 255, 104.0 / 255};  // R, G, B
      scale = {255, 255, 255};
      break;
  }
  auto opts = torch::TensorOptions().dtype(rgb01.dtype()).device(rgb01.device());
  std::vector<std::int64_t> shape(dims, 1);
  shape[dims - 3] = 3;
  auto m = torch::tensor(mean, torch::kDouble).to(opts).view(shape);
  auto s = torch::tensor(scale, torch::kDouble).to(opts).view(shape);
  auto out = (rgb01 - m) * s;
  if (color_order(normalization) == ColorOrder::kBgr) out = out.flip({dims - 3});
  return out;
}

torch::Tensor EmbeddingModelImpl::pair_logits(const torch::Tensor&, const torch::Tensor&) {
  throw UsageError("model '" + name() +
                   "' has no pair head; use siamese_bce for pair (same/different) training");
}

namespace {

/// fan_in, fan_out of a Conv/Linear weight [out, in, k...].
std::pair<double, double> fans(const torch::Tensor& weight) {
  double receptive = 1;
  for (std::int64_t d = 2; d < weight.dim(); ++d) receptive *= static_cast<double>(weight.size(d));
  return {static_cast<double>(weight.size(1)) * receptive,
          static_cast<double>(weight.size(0)) * receptive};
}

template <class Fn>
void for_each_conv_linear(torch::nn::Module& module, Fn&& fn) {
  auto visit = [&](torch::nn::Module& m) {
    if (auto* conv = m.as<torch::nn::Conv2dImpl>())
      fn(conv->weight, conv->bias);
    else if (auto* linear = m.as<torch::nn::LinearImpl>())
      fn(linear->weight, linear->bias);
  };
  visit(module);
  for (auto& m : module.modules(/*include_self=*/false)) visit(*m);
}

void fill_from(torch::Tensor& target, const torch::Tensor& cpu_values) {
  torch::NoGradGuard no_grad;
  target.copy_(cpu_values);
}

}  // namespace

void init_default(torch::nn::Module& module, std::uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  for_each_conv_linear(module, [&](torch::Tensor& weight, torch::Tensor& bias) {
    const double bound = 1.0 / std::sqrt(fans(weight).first);
    fill_from(weight, torch::empty(weight.sizes(), torch::kFloat).uniform_(-bound, bound, gen));
    if (bias.defined())
      fill_from(bias, torch::empty(bias.sizes(), torch::kFloat).uniform_(-bound, bound, gen));
  });
}

void init_xavier_normal(torch::nn::Module& module, double gain, std::uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  for_each_conv_linear(module, [&](torch::Tensor& weight, torch::Tensor& bias) {
    const auto [fan_in, fan_out] = fans(weight);
    const double std = gain * std::sqrt(2.0 / (fan_in + fan_out));
    fill_from(weight, torch::empty(weight.sizes(), torch::kFloat).normal_(0.0, std, gen));
    if (bias.defined()) {
      torch::NoGradGuard no_grad;
      bias.zero_();
    }
  });
}

}  // namespace wtp::models
