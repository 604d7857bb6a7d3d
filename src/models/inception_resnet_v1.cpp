#include "models/inception_resnet_v1.h"

#include "core/error.h"

namespace wtp::models {

void InceptionResnetV1Options::validate() const {
  require(embedding_dim >= 0, "inception_resnet_v1.embedding_dim must be >= 0 (0 = pooled)");
  require(num_classes >= 0, "inception_resnet_v1.num_classes must be >= 0 (0 = none)");
  require(dropout >= 0 && dropout < 1, "inception_resnet_v1.dropout must be in [0, 1)");
  require(input_size >= 75, "inception_resnet_v1.input_size must be >= 75");
}

BasicConv2dImpl::BasicConv2dImpl(std::int64_t in, std::int64_t out, torch::ExpandingArray<2> kernel,
                                 torch::ExpandingArray<2> stride,
                                 torch::ExpandingArray<2> padding) {
  conv_ = register_module(
      "conv",
      torch::nn::Conv2d(
          torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(false)));
  bn_ = register_module(
      "bn", FreezableBatchNorm2d(torch::nn::BatchNormOptions(out).eps(1e-3).momentum(0.1)));
}

torch::Tensor BasicConv2dImpl::forward(const torch::Tensor& x) {
  return torch::relu(bn_->forward(conv_->forward(x)));
}

namespace {

/// Non-template factory so braced kernel sizes like {1, 7} work.
BasicConv2d bconv(std::int64_t in, std::int64_t out, torch::ExpandingArray<2> kernel,
                  torch::ExpandingArray<2> stride = 1, torch::ExpandingArray<2> padding = 0) {
  return BasicConv2d(in, out, kernel, stride, padding);
}

torch::nn::Sequential chain(std::initializer_list<BasicConv2d> convs) {
  torch::nn::Sequential seq;
  for (const auto& c : convs) seq->push_back(c);
  return seq;
}

torch::nn::Conv2d conv1x1(std::int64_t in, std::int64_t out) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1));  // with bias
}

torch::Tensor max_pool_3s2(const torch::Tensor& x) { return torch::max_pool2d(x, {3, 3}, {2, 2}); }

}  // namespace

/// 35x35 residual block (256 channels).
class Block35Impl : public torch::nn::Module {
 public:
  explicit Block35Impl(double scale) : scale_(scale) {
    branch0_ = register_module("branch0", bconv(256, 32, 1));
    branch1_ = register_module("branch1", chain({bconv(256, 32, 1), bconv(32, 32, 3, 1, 1)}));
    branch2_ = register_module(
        "branch2", chain({bconv(256, 32, 1), bconv(32, 32, 3, 1, 1), bconv(32, 32, 3, 1, 1)}));
    conv2d_ = register_module("conv2d", conv1x1(96, 256));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto out = torch::cat({branch0_->forward(x), branch1_->forward(x), branch2_->forward(x)}, 1);
    return torch::relu(conv2d_->forward(out) * scale_ + x);
  }

 private:
  double scale_;
  BasicConv2d branch0_{nullptr};
  torch::nn::Sequential branch1_{nullptr}, branch2_{nullptr};
  torch::nn::Conv2d conv2d_{nullptr};
};
TORCH_MODULE(Block35);

/// 17x17 residual block (896 channels).
class Block17Impl : public torch::nn::Module {
 public:
  explicit Block17Impl(double scale) : scale_(scale) {
    branch0_ = register_module("branch0", bconv(896, 128, 1));
    branch1_ =
        register_module("branch1", chain({bconv(896, 128, 1), bconv(128, 128, {1, 7}, 1, {0, 3}),
                                          bconv(128, 128, {7, 1}, 1, {3, 0})}));
    conv2d_ = register_module("conv2d", conv1x1(256, 896));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto out = torch::cat({branch0_->forward(x), branch1_->forward(x)}, 1);
    return torch::relu(conv2d_->forward(out) * scale_ + x);
  }

 private:
  double scale_;
  BasicConv2d branch0_{nullptr};
  torch::nn::Sequential branch1_{nullptr};
  torch::nn::Conv2d conv2d_{nullptr};
};
TORCH_MODULE(Block17);

/// 8x8 residual block (1792 channels); the last one has no ReLU.
class Block8Impl : public torch::nn::Module {
 public:
  explicit Block8Impl(double scale, bool relu = true) : scale_(scale), relu_(relu) {
    branch0_ = register_module("branch0", bconv(1792, 192, 1));
    branch1_ =
        register_module("branch1", chain({bconv(1792, 192, 1), bconv(192, 192, {1, 3}, 1, {0, 1}),
                                          bconv(192, 192, {3, 1}, 1, {1, 0})}));
    conv2d_ = register_module("conv2d", conv1x1(384, 1792));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto out = torch::cat({branch0_->forward(x), branch1_->forward(x)}, 1);
    out = conv2d_->forward(out) * scale_ + x;
    return relu_ ? torch::relu(out) : out;
  }

 private:
  double scale_;
  bool relu_;
  BasicConv2d branch0_{nullptr};
  torch::nn::Sequential branch1_{nullptr};
  torch::nn::Conv2d conv2d_{nullptr};
};
TORCH_MODULE(Block8);

/// Reduction 35 -> 17: 256 -> 384 + 256 + 256 = 896 channels.
class Mixed6aImpl : public torch::nn::Module {
 public:
  Mixed6aImpl() {
    branch0_ = register_module("branch0", bconv(256, 384, 3, 2));
    branch1_ = register_module(
        "branch1", chain({bconv(256, 192, 1), bconv(192, 192, 3, 1, 1), bconv(192, 256, 3, 2)}));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return torch::cat({branch0_->forward(x), branch1_->forward(x), max_pool_3s2(x)}, 1);
  }

 private:
  BasicConv2d branch0_{nullptr};
  torch::nn::Sequential branch1_{nullptr};
};

/// Reduction 17 -> 8: 896 -> 384 + 256 + 256 + 896 = 1792 channels.
class Mixed7aImpl : public torch::nn::Module {
 public:
  Mixed7aImpl() {
    branch0_ = register_module("branch0", chain({bconv(896, 256, 1), bconv(256, 384, 3, 2)}));
    branch1_ = register_module("branch1", chain({bconv(896, 256, 1), bconv(256, 256, 3, 2)}));
    branch2_ = register_module(
        "branch2", chain({bconv(896, 256, 1), bconv(256, 256, 3, 1, 1), bconv(256, 256, 3, 2)}));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    return torch::cat(
        {branch0_->forward(x), branch1_->forward(x), branch2_->forward(x), max_pool_3s2(x)}, 1);
  }

 private:
  torch::nn::Sequential branch0_{nullptr}, branch1_{nullptr}, branch2_{nullptr};
};

InceptionResnetV1Impl::InceptionResnetV1Impl(const InceptionResnetV1Options& options)
    : options_(options) {
  options_.validate();
  conv2d_1a_ = register_module("conv2d_1a", bconv(3, 32, 3, 2));
  conv2d_2a_ = register_module("conv2d_2a", bconv(32, 32, 3, 1));
  conv2d_2b_ = register_module("conv2d_2b", bconv(32, 64, 3, 1, 1));
  conv2d_3b_ = register_module("conv2d_3b", bconv(64, 80, 1));
  conv2d_4a_ = register_module("conv2d_4a", bconv(80, 192, 3, 1));
  conv2d_4b_ = register_module("conv2d_4b", bconv(192, 256, 3, 2));
  repeat_1_ = torch::nn::Sequential();
  for (int i = 0; i < 5; ++i) repeat_1_->push_back(Block35(0.17));
  register_module("repeat_1", repeat_1_);
  mixed_6a_ = register_module("mixed_6a", std::make_shared<Mixed6aImpl>());
  repeat_2_ = torch::nn::Sequential();
  for (int i = 0; i < 10; ++i) repeat_2_->push_back(Block17(0.10));
  register_module("repeat_2", repeat_2_);
  mixed_7a_ = register_module("mixed_7a", std::make_shared<Mixed7aImpl>());
  repeat_3_ = torch::nn::Sequential();
  for (int i = 0; i < 5; ++i) repeat_3_->push_back(Block8(0.20));
  register_module("repeat_3", repeat_3_);
  block8_ = register_module("block8", std::make_shared<Block8Impl>(1.0, /*relu=*/false));
  dropout_ =
      register_module("dropout", FreezableDropout(torch::nn::DropoutOptions(options_.dropout)));
  std::int64_t width = 1792;
  if (options_.embedding_dim > 0) {
    last_linear_ = register_module(
        "last_linear",
        torch::nn::Linear(torch::nn::LinearOptions(1792, options_.embedding_dim).bias(false)));
    last_bn_ = register_module(
        "last_bn",
        FreezableBatchNorm1d(
            torch::nn::BatchNormOptions(options_.embedding_dim).eps(1e-3).momentum(0.1)));
    width = options_.embedding_dim;
  }
  if (options_.num_classes > 0)
    logits_ = register_module("logits", torch::nn::Linear(width, options_.num_classes));
  init_default(*this, static_cast<std::uint64_t>(options_.seed));
}

torch::Tensor InceptionResnetV1Impl::features(const torch::Tensor& images) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == 3,
              "inception_resnet_v1 expects images [N, 3, H, W], got ", images.sizes());
  auto x = conv2d_1a_->forward(images);
  x = conv2d_2a_->forward(x);
  x = conv2d_2b_->forward(x);
  x = max_pool_3s2(x);
  x = conv2d_3b_->forward(x);
  x = conv2d_4a_->forward(x);
  x = conv2d_4b_->forward(x);
  x = repeat_1_->forward(x);
  x = mixed_6a_->forward(x);
  x = repeat_2_->forward(x);
  x = mixed_7a_->forward(x);
  x = repeat_3_->forward(x);
  x = block8_->forward(x);
  return x.mean({2, 3});
}

ModelOutput InceptionResnetV1Impl::forward(const torch::Tensor& images) {
  auto x = features(images);
  if (options_.embedding_dim > 0)
    x = last_bn_->forward(last_linear_->forward(dropout_->forward(x)));
  ModelOutput out;
  if (logits_) out.logits = logits_->forward(x);
  out.embedding = options_.normalize ? l2_normalize(x) : x;
  return out;
}

InputSpec InceptionResnetV1Impl::input_spec() const {
  return {options_.input_size, options_.input_size, options_.normalization};
}

std::int64_t InceptionResnetV1Impl::embedding_dim() const {
  return options_.embedding_dim > 0 ? options_.embedding_dim : 1792;
}

}  // namespace wtp::models
