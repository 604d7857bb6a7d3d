#include "models/bn_inception.h"

#include "core/error.h"

namespace wtp::models {

void BnInceptionOptions::validate() const {
  require(embedding_dim > 0, "bn_inception.embedding_dim must be > 0");
  require(num_classes >= 0, "bn_inception.num_classes must be >= 0 (0 = none)");
  require(bn_momentum > 0 && bn_momentum <= 1, "bn_inception.bn_momentum must be in (0, 1]");
  require(input_size >= 33, "bn_inception.input_size must be >= 33");
}

torch::Tensor BnInceptionImpl::ConvBn::operator()(const torch::Tensor& x) {
  return torch::relu(bn->forward(conv->forward(x)));
}

torch::Tensor BnInceptionImpl::Block::forward(const torch::Tensor& x) {
  std::vector<torch::Tensor> parts;
  if (b1x1.conv) parts.push_back(b1x1(x));
  parts.push_back(b3x3(b3x3_reduce(x)));
  parts.push_back(d2(d1(d_reduce(x))));
  torch::Tensor pooled;
  if (pool == Pool::kAvg) {
    pooled = torch::avg_pool2d(x, {3, 3}, {1, 1}, {1, 1}, /*ceil_mode=*/true,
                               /*count_include_pad=*/true);
  } else {
    const std::int64_t pad = pool_stride == 1 ? 1 : 0;
    pooled = torch::max_pool2d(x, {3, 3}, {pool_stride, pool_stride}, {pad, pad}, {1, 1},
                               /*ceil_mode=*/true);
  }
  parts.push_back(pool_proj.conv ? pool_proj(pooled) : pooled);
  return torch::cat(parts, 1);
}

BnInceptionImpl::ConvBn BnInceptionImpl::add_unit(const std::string& name, std::int64_t in,
                                                  std::int64_t out, std::int64_t kernel,
                                                  std::int64_t stride, std::int64_t padding) {
  ConvBn unit;
  unit.conv = register_module(
      name,
      torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding)));
  // NHWC weights (see features()); values written later (init, load_weights) keep the layout.
  unit.conv->weight.set_data(
      unit.conv->weight.data().contiguous(torch::MemoryFormat::ChannelsLast));
  unit.bn = register_module(
      name + "_bn", FreezableBatchNorm2d(
                        torch::nn::BatchNormOptions(out).eps(1e-5).momentum(options_.bn_momentum)));
  return unit;
}

namespace {

/// Channel table of one inception block; 0 means "absent".
struct BlockSpec {
  const char* name;
  std::int64_t in, c1x1, c3x3_reduce, c3x3, stride3x3, d_reduce, d1, d2, stride_d;
  BnInceptionImpl::Block::Pool pool;
  std::int64_t pool_stride, pool_proj;
};

using Pool = BnInceptionImpl::Block::Pool;
// clang-format off
const BlockSpec kBlocks[] = {
  // name  in    1x1  3x3r 3x3 s  dr   d1   d2  s  pool        ps proj
  {"3a",  192,  64,  64,  64, 1, 64,  96,  96, 1, Pool::kAvg, 1, 32},
  {"3b",  256,  64,  64,  96, 1, 64,  96,  96, 1, Pool::kAvg, 1, 64},
  {"3c",  320,   0, 128, 160, 2, 64,  96,  96, 2, Pool::kMax, 2, 0},
  {"4a",  576, 224,  64,  96, 1, 96, 128, 128, 1, Pool::kAvg, 1, 128},
  {"4b",  576, 192,  96, 128, 1, 96, 128, 128, 1, Pool::kAvg, 1, 128},
  {"4c",  576, 160, 128, 160, 1, 128, 160, 160, 1, Pool::kAvg, 1, 128},
  {"4d",  608,  96, 128, 192, 1, 160, 192, 192, 1, Pool::kAvg, 1, 128},
  {"4e",  608,   0, 128, 192, 2, 192, 256, 256, 2, Pool::kMax, 2, 0},
  {"5a", 1056, 352, 192, 320, 1, 160, 224, 224, 1, Pool::kAvg, 1, 128},
  {"5b", 1024, 352, 192, 320, 1, 192, 224, 224, 1, Pool::kMax, 1, 128},
};
// clang-format on

}  // namespace

BnInceptionImpl::BnInceptionImpl(const BnInceptionOptions& options) : options_(options) {
  options_.validate();
  conv1_ = add_unit("conv1_7x7_s2", 3, 64, 7, 2, 3);
  conv2_reduce_ = add_unit("conv2_3x3_reduce", 64, 64, 1, 1, 0);
  conv2_ = add_unit("conv2_3x3", 64, 192, 3, 1, 1);
  for (const auto& s : kBlocks) {
    const std::string p = std::string("inception_") + s.name + "_";
    Block b;
    if (s.c1x1) b.b1x1 = add_unit(p + "1x1", s.in, s.c1x1, 1, 1, 0);
    b.b3x3_reduce = add_unit(p + "3x3_reduce", s.in, s.c3x3_reduce, 1, 1, 0);
    b.b3x3 = add_unit(p + "3x3", s.c3x3_reduce, s.c3x3, 3, s.stride3x3, 1);
    b.d_reduce = add_unit(p + "double_3x3_reduce", s.in, s.d_reduce, 1, 1, 0);
    b.d1 = add_unit(p + "double_3x3_1", s.d_reduce, s.d1, 3, 1, 1);
    b.d2 = add_unit(p + "double_3x3_2", s.d1, s.d2, 3, s.stride_d, 1);
    if (s.pool_proj) b.pool_proj = add_unit(p + "pool_proj", s.in, s.pool_proj, 1, 1, 0);
    b.pool = s.pool;
    b.pool_stride = s.pool_stride;
    blocks_.push_back(b);
  }
  if (options_.embedding_dim != 1024)
    projection_ = register_module("projection", torch::nn::Linear(1024, options_.embedding_dim));
  if (options_.num_classes > 0)
    last_linear_ = register_module("last_linear",
                                   torch::nn::Linear(options_.embedding_dim, options_.num_classes));
  init_default(*this, static_cast<std::uint64_t>(options_.seed));
}

torch::Tensor BnInceptionImpl::features(const torch::Tensor& images) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == 3,
              "bn_inception expects images [N, 3, H, W], got ", images.sizes());
  auto pool = [](const torch::Tensor& x) {
    return torch::max_pool2d(x, {3, 3}, {2, 2}, {0, 0}, {1, 1}, /*ceil_mode=*/true);
  };
  // Channels-last (NHWC) activations: oneDNN convolves them without the NCHW <-> blocked
  // reorders around every convolution, and BatchNorm, ReLU, pooling and the channel
  // concatenation all keep the layout (about 25 % less CPU per training image).
  auto x = pool(conv1_(images.contiguous(torch::MemoryFormat::ChannelsLast)));
  x = pool(conv2_(conv2_reduce_(x)));
  for (auto& b : blocks_) x = b.forward(x);
  return x.mean({2, 3});
}

ModelOutput BnInceptionImpl::forward(const torch::Tensor& images) {
  auto x = features(images);
  if (projection_) x = projection_->forward(x);
  ModelOutput out;
  if (last_linear_) out.logits = last_linear_->forward(x);
  out.embedding = options_.normalize ? l2_normalize(x) : x;
  return out;
}

InputSpec BnInceptionImpl::input_spec() const {
  return {options_.input_size, options_.input_size, options_.normalization};
}

}  // namespace wtp::models
