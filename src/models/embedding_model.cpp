#include "models/embedding_model.h"

#include <ATen/CPUGeneratorImpl.h>
#include <cmath>

#include "core/error.h"

namespace wtp::models {

ColorOrder color_order(Normalization normalization) {
  return data::Normalization::preset(normalization).order;
}

torch::Tensor preprocess(const torch::Tensor& rgb01, Normalization normalization) {
  const auto dims = rgb01.dim();
  require((dims == 4 || dims == 3) && rgb01.size(dims - 3) == 3,
          "preprocess: expected images [N, 3, H, W] or [3, H, W], got " +
              std::string(c10::str(rgb01.sizes())));
  require(rgb01.is_floating_point(), "preprocess: expected a floating-point image tensor");
  // The pipeline's constants: out[c] = (v * scale - mean[c]) / std[c] for the 0-255 value v
  // of output channel c, here with v = 255 x.
  const data::Normalization n = data::Normalization::preset(normalization);
  const torch::Tensor x = n.order == ColorOrder::kBgr ? rgb01.flip({dims - 3}) : rgb01;
  const double gain = 255.0 * n.scale;
  const bool identity = gain == 1.0 && n.mean == std::array<double, 3>{0, 0, 0} &&
                        n.std == std::array<double, 3>{1, 1, 1};
  if (identity) return x;
  auto opts = torch::TensorOptions().dtype(rgb01.dtype()).device(rgb01.device());
  std::vector<std::int64_t> shape(static_cast<std::size_t>(dims), 1);
  shape[static_cast<std::size_t>(dims - 3)] = 3;
  auto mean = torch::tensor(std::vector<double>(n.mean.begin(), n.mean.end()), torch::kDouble)
                  .to(opts)
                  .view(shape);
  auto stddev = torch::tensor(std::vector<double>(n.std.begin(), n.std.end()), torch::kDouble)
                    .to(opts)
                    .view(shape);
  return (x * gain - mean) / stddev;
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

torch::Tensor l2_normalize(const torch::Tensor& x) {
  return torch::nn::functional::normalize(
      x, torch::nn::functional::NormalizeFuncOptions().p(2).dim(1));
}

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

void init_kaiming_conv(torch::nn::Module& module, std::uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto visit = [&](torch::nn::Module& m) {
    if (auto* conv = m.as<torch::nn::Conv2dImpl>()) {
      const double std = std::sqrt(2.0 / fans(conv->weight).second);
      fill_from(conv->weight,
                torch::empty(conv->weight.sizes(), torch::kFloat).normal_(0.0, std, gen));
    }
  };
  visit(module);
  for (auto& m : module.modules(/*include_self=*/false)) visit(*m);
}

}  // namespace wtp::models
