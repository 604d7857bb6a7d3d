#include "align/mtcnn.h"

#include <ATen/Parallel.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <opencv2/imgproc.hpp>

#include "core/log.h"
#include "io/torch_file.h"
#include "models/weights.h"

namespace wtp::align {

namespace nn = torch::nn;
using torch::indexing::Slice;

namespace {

nn::Conv2d conv(int in, int out, int kernel) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, kernel));
}
nn::PReLU prelu(int channels) { return nn::PReLU(nn::PReLUOptions().num_parameters(channels)); }
nn::MaxPool2d pool(int kernel, int stride) {
  return nn::MaxPool2d(nn::MaxPool2dOptions(kernel).stride(stride).ceil_mode(true));
}

// Every MTCNN convolution (stride 1, no padding) through oneDNN. LibTorch's conv2d chooses
// between oneDNN and its own im2col + BLAS path by batch size, input size and thread count,
// and the BLAS path sums in an order that changes with the thread count; oneDNN's forward
// convolution gives the same result on any thread count (and keeps channels-last inputs
// channels-last).
torch::Tensor convolve(const nn::Conv2d& layer, const torch::Tensor& x) {
  return torch::mkldnn_convolution(x, layer->weight, layer->bias, {0, 0}, {1, 1}, {1, 1}, 1);
}

// PReLU in place on a fresh contiguous or channels-last tensor ([N, C] or [N, C, H, W]), one
// weight per channel. LibTorch 1.13's prelu is slow on channels-last maps with few channels
// (P-Net's first layer: ~20x slower than this loop).
torch::Tensor prelu_(torch::Tensor x, const nn::PReLU& layer) {
  const auto weight = layer->weight.contiguous();
  const float* wp = weight.data_ptr<float>();
  const std::int64_t channels = x.size(1);
  TORCH_CHECK(weight.numel() == channels, "prelu_: expected ", weight.numel(), " channels");
  const bool last =
      x.dim() == 4 && !x.is_contiguous() && x.is_contiguous(torch::MemoryFormat::ChannelsLast);
  if (!last && !x.is_contiguous()) x = x.contiguous();
  float* p = x.data_ptr<float>();
  const std::int64_t inner = x.numel() / (x.size(0) * channels);  // H * W (1 for [N, C])
  // Channels-last: rows of `channels` values; contiguous: planes of `inner` values.
  const std::int64_t rows = last ? x.numel() / channels : x.size(0) * channels;
  at::parallel_for(0, rows, 2048 / std::max<std::int64_t>(1, last ? channels : inner) + 1,
                   [&](std::int64_t begin, std::int64_t end) {
                     for (std::int64_t r = begin; r < end; ++r) {
                       if (last) {
                         float* v = p + r * channels;
                         for (std::int64_t c = 0; c < channels; ++c)
                           v[c] = v[c] > 0.0f ? v[c] : wp[c] * v[c];
                       } else {
                         float* v = p + r * inner;
                         const float w = wp[r % channels];
                         for (std::int64_t i = 0; i < inner; ++i)
                           v[i] = v[i] > 0.0f ? v[i] : w * v[i];
                       }
                     }
                   });
  return x;
}

// y = x W^T + b with every output summed in one fixed order (k = 0, 1, ..., in double), so
// that the result depends neither on the batch size nor on the thread count: BLAS sgemm
// (what nn::Linear calls) changes its summation order with both, by a few ulps.
torch::Tensor fixed_order_linear(const torch::Tensor& x, const nn::Linear& layer) {
  const auto in = x.contiguous();
  const auto w = layer->weight.contiguous();
  const auto b = layer->bias.contiguous();
  const std::int64_t n = in.size(0), k = in.size(1), o = w.size(0);
  TORCH_CHECK(w.size(1) == k, "fixed_order_linear: expected ", w.size(1), " inputs, got ", k);
  auto out = torch::empty({n, o});
  const float* xp = in.data_ptr<float>();
  const float* wp = w.data_ptr<float>();
  const float* bp = b.data_ptr<float>();
  float* yp = out.data_ptr<float>();
  at::parallel_for(0, n * o, 64, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) {
      const float* row = xp + (i / o) * k;
      const float* weights = wp + (i % o) * k;
      double sum = 0.0;
      for (std::int64_t j = 0; j < k; ++j) sum += static_cast<double>(row[j]) * weights[j];
      yp[i] = static_cast<float>(sum + bp[i % o]);
    }
  });
  return out;
}

}  // namespace

torch::Tensor caffe_flatten(const torch::Tensor& x) {
  return x.permute({0, 3, 2, 1}).flatten(1);  // no size read into C++: traceable
}

// ---------------------------------------------------------------------------------------
// Networks (layer names are the state-dict names of facenet-pytorch's weight files)
// ---------------------------------------------------------------------------------------

PNetImpl::PNetImpl() {
  conv1 = register_module("conv1", conv(3, 10, 3));
  prelu1 = register_module("prelu1", prelu(10));
  pool1 = register_module("pool1", pool(2, 2));
  conv2 = register_module("conv2", conv(10, 16, 3));
  prelu2 = register_module("prelu2", prelu(16));
  conv3 = register_module("conv3", conv(16, 32, 3));
  prelu3 = register_module("prelu3", prelu(32));
  conv4_1 = register_module("conv4_1", conv(32, 2, 1));
  conv4_2 = register_module("conv4_2", conv(32, 4, 1));
}

std::pair<torch::Tensor, torch::Tensor> PNetImpl::forward(torch::Tensor x) {
  x = pool1(prelu_(convolve(conv1, x), prelu1));
  x = prelu_(convolve(conv2, x), prelu2);
  x = prelu_(convolve(conv3, x), prelu3);
  auto probs = torch::softmax(convolve(conv4_1, x), 1);
  return {convolve(conv4_2, x), probs};
}

RNetImpl::RNetImpl() {
  conv1 = register_module("conv1", conv(3, 28, 3));
  prelu1 = register_module("prelu1", prelu(28));
  pool1 = register_module("pool1", pool(3, 2));
  conv2 = register_module("conv2", conv(28, 48, 3));
  prelu2 = register_module("prelu2", prelu(48));
  pool2 = register_module("pool2", pool(3, 2));
  conv3 = register_module("conv3", conv(48, 64, 2));
  prelu3 = register_module("prelu3", prelu(64));
  dense4 = register_module("dense4", nn::Linear(576, 128));
  prelu4 = register_module("prelu4", prelu(128));
  dense5_1 = register_module("dense5_1", nn::Linear(128, 2));
  dense5_2 = register_module("dense5_2", nn::Linear(128, 4));
}

std::pair<torch::Tensor, torch::Tensor> RNetImpl::forward(torch::Tensor x) {
  x = pool1(prelu_(convolve(conv1, x), prelu1));
  x = pool2(prelu_(convolve(conv2, x), prelu2));
  x = prelu_(convolve(conv3, x), prelu3);
  x = prelu_(fixed_order_linear(caffe_flatten(x), dense4), prelu4);
  auto probs = torch::softmax(fixed_order_linear(x, dense5_1), 1);
  return {fixed_order_linear(x, dense5_2), probs};
}

ONetImpl::ONetImpl() {
  conv1 = register_module("conv1", conv(3, 32, 3));
  prelu1 = register_module("prelu1", prelu(32));
  pool1 = register_module("pool1", pool(3, 2));
  conv2 = register_module("conv2", conv(32, 64, 3));
  prelu2 = register_module("prelu2", prelu(64));
  pool2 = register_module("pool2", pool(3, 2));
  conv3 = register_module("conv3", conv(64, 64, 3));
  prelu3 = register_module("prelu3", prelu(64));
  pool3 = register_module("pool3", pool(2, 2));
  conv4 = register_module("conv4", conv(64, 128, 2));
  prelu4 = register_module("prelu4", prelu(128));
  dense5 = register_module("dense5", nn::Linear(1152, 256));
  prelu5 = register_module("prelu5", prelu(256));
  dense6_1 = register_module("dense6_1", nn::Linear(256, 2));
  dense6_2 = register_module("dense6_2", nn::Linear(256, 4));
  dense6_3 = register_module("dense6_3", nn::Linear(256, 10));
}

std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> ONetImpl::forward(torch::Tensor x) {
  x = pool1(prelu_(convolve(conv1, x), prelu1));
  x = pool2(prelu_(convolve(conv2, x), prelu2));
  x = pool3(prelu_(convolve(conv3, x), prelu3));
  x = prelu_(convolve(conv4, x), prelu4);
  x = prelu_(fixed_order_linear(caffe_flatten(x), dense5), prelu5);
  auto probs = torch::softmax(fixed_order_linear(x, dense6_1), 1);
  return {fixed_order_linear(x, dense6_2), fixed_order_linear(x, dense6_3), probs};
}

// ---------------------------------------------------------------------------------------
// NMS and box helpers
// ---------------------------------------------------------------------------------------

namespace {

// Indices of `scores` by decreasing score, ties by increasing index (torchvision's stable
// sort) or, with `later_first`, by decreasing index (facenet-pytorch's nms_numpy, which takes
// the last of a stable ascending argsort).
std::vector<std::int64_t> order_by_score(const float* scores, std::int64_t n, bool later_first) {
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  if (later_first) std::reverse(order.begin(), order.end());
  std::stable_sort(order.begin(), order.end(),
                   [&](std::int64_t a, std::int64_t b) { return scores[a] > scores[b]; });
  return order;
}

torch::Tensor to_index_tensor(const std::vector<std::int64_t>& v) {
  return torch::tensor(v, torch::kInt64);
}

}  // namespace

torch::Tensor nms(const torch::Tensor& boxes, const torch::Tensor& scores, double threshold,
                  NmsMode mode) {
  TORCH_CHECK(boxes.dim() == 2 && boxes.size(1) >= 4, "nms: boxes must be [N, >= 4]");
  TORCH_CHECK(scores.dim() == 1 && scores.size(0) == boxes.size(0),
              "nms: scores must be [N] with N = boxes.size(0)");
  const std::int64_t n = boxes.size(0);
  if (n == 0) return torch::empty({0}, torch::kInt64);
  const auto b = boxes.index({Slice(), Slice(0, 4)}).to(torch::kFloat).contiguous();
  const auto s = scores.to(torch::kFloat).contiguous();
  const float* p = b.data_ptr<float>();
  const float plus = mode == NmsMode::kMin ? 1.0f : 0.0f;
  std::vector<float> area(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    area[i] = (p[4 * i + 2] - p[4 * i] + plus) * (p[4 * i + 3] - p[4 * i + 1] + plus);
  const auto order = order_by_score(s.data_ptr<float>(), n, mode == NmsMode::kMin);
  std::vector<char> suppressed(static_cast<std::size_t>(n), 0);
  std::vector<std::int64_t> keep;
  const float min_threshold = static_cast<float>(threshold);
  for (std::size_t a = 0; a < order.size(); ++a) {
    const std::int64_t i = order[a];
    if (suppressed[i]) continue;
    keep.push_back(i);
    for (std::size_t c = a + 1; c < order.size(); ++c) {
      const std::int64_t j = order[c];
      if (suppressed[j]) continue;
      const float xx1 = std::max(p[4 * i], p[4 * j]), yy1 = std::max(p[4 * i + 1], p[4 * j + 1]);
      const float xx2 = std::min(p[4 * i + 2], p[4 * j + 2]);
      const float yy2 = std::min(p[4 * i + 3], p[4 * j + 3]);
      const float w = std::max(0.0f, xx2 - xx1 + plus), h = std::max(0.0f, yy2 - yy1 + plus);
      const float inter = w * h;
      if (mode == NmsMode::kUnion) {
        const float iou = inter / (area[i] + area[j] - inter);
        if (static_cast<double>(iou) > threshold) suppressed[j] = 1;
      } else {
        const float overlap = inter / std::min(area[i], area[j]);
        if (!(overlap <= min_threshold)) suppressed[j] = 1;
      }
    }
  }
  return to_index_tensor(keep);
}

torch::Tensor batched_nms(const torch::Tensor& boxes, const torch::Tensor& scores,
                          const torch::Tensor& groups, double threshold, NmsMode mode) {
  TORCH_CHECK(groups.dim() == 1 && groups.size(0) == boxes.size(0),
              "batched_nms: groups must be [N] with N = boxes.size(0)");
  const std::int64_t n = boxes.size(0);
  if (n == 0) return torch::empty({0}, torch::kInt64);
  const auto g = groups.to(torch::kInt64).contiguous();
  const std::int64_t* gp = g.data_ptr<std::int64_t>();
  std::vector<std::int64_t> ids(gp, gp + n);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  std::vector<std::int64_t> keep;
  for (std::int64_t id : ids) {
    const auto members = torch::nonzero(g == id).select(1, 0);
    const auto kept =
        nms(boxes.index_select(0, members), scores.index_select(0, members), threshold, mode);
    const auto global = members.index_select(0, kept);
    const std::int64_t* kp = global.data_ptr<std::int64_t>();
    keep.insert(keep.end(), kp, kp + global.size(0));
  }
  // Decreasing score over all groups, ties by index (what one NMS over all would give).
  const auto s = scores.to(torch::kFloat).contiguous();
  const float* sp = s.data_ptr<float>();
  std::stable_sort(keep.begin(), keep.end(), [&](std::int64_t a, std::int64_t b) {
    return sp[a] > sp[b] || (sp[a] == sp[b] && a < b);
  });
  return to_index_tensor(keep);
}

std::vector<double> pyramid_scales(int height, int width, int min_face, double factor) {
  const double m = 12.0 / min_face;
  double minl = std::min(height, width) * m;
  double scale = m;
  std::vector<double> scales;
  while (minl >= 12) {
    scales.push_back(scale);
    scale *= factor;
    minl *= factor;
  }
  return scales;
}

namespace {

// facenet-pytorch generateBoundingBox: rows [x1, y1, x2, y2, score, reg(4)] and the image
// index of each row.
std::pair<torch::Tensor, torch::Tensor> generate_boxes(const torch::Tensor& reg,
                                                       const torch::Tensor& probs, double scale,
                                                       double threshold) {
  const auto reg_t = reg.permute({1, 0, 2, 3});  // [4, N, H', W']
  const auto mask = probs >= threshold;          // [N, H', W']
  const auto inds = mask.nonzero();              // [K, 3]
  const auto image_inds = inds.select(1, 0);
  const auto score = probs.index({mask});
  const auto r = reg_t.index({Slice(), mask}).permute({1, 0});
  const auto bb = inds.index({Slice(), Slice(1, 3)}).to(reg.dtype()).flip(1);  // (x, y)
  const auto q1 = ((bb * 2 + 1) / scale).floor();
  const auto q2 = ((bb * 2 + 12) / scale).floor();
  return {torch::cat({q1, q2, score.unsqueeze(1), r}, 1), image_inds};
}

// Square boxes about their centre (side = the longer side). In place on columns 0..3.
torch::Tensor rerec(torch::Tensor boxes) {
  const auto h = boxes.select(1, 3) - boxes.select(1, 1);
  const auto w = boxes.select(1, 2) - boxes.select(1, 0);
  const auto l = torch::max(w, h);
  boxes.select(1, 0).copy_(boxes.select(1, 0) + w * 0.5 - l * 0.5);
  boxes.select(1, 1).copy_(boxes.select(1, 1) + h * 0.5 - l * 0.5);
  boxes.index_put_({Slice(), Slice(2, 4)},
                   boxes.index({Slice(), Slice(0, 2)}) + l.repeat({2, 1}).permute({1, 0}));
  return boxes;
}

// Box regression with offsets relative to (side + 1). In place on columns 0..3.
torch::Tensor bbreg(torch::Tensor boxes, const torch::Tensor& reg) {
  const auto w = boxes.select(1, 2) - boxes.select(1, 0) + 1;
  const auto h = boxes.select(1, 3) - boxes.select(1, 1) + 1;
  const auto b1 = boxes.select(1, 0) + reg.select(1, 0) * w;
  const auto b2 = boxes.select(1, 1) + reg.select(1, 1) * h;
  const auto b3 = boxes.select(1, 2) + reg.select(1, 2) * w;
  const auto b4 = boxes.select(1, 3) + reg.select(1, 3) * h;
  boxes.index_put_({Slice(), Slice(0, 4)}, torch::stack({b1, b2, b3, b4}).permute({1, 0}));
  return boxes;
}

// Area interpolation, torch's interpolate(mode="area") (adaptive average pooling: output cell
// o of n over an input span of length L averages the inputs [floor(o L / n), ceil((o + 1) L / n)),
// bounds computed in float as LibTorch does), read from a summed-area table in double: any
// region at any size costs O(output), and sums of 8-bit values are exact (the average then
// rounds once to float, where LibTorch sums in float).
class AreaSampler {
 public:
  /// images: [B, 3, H, W] float (any strides).
  explicit AreaSampler(const torch::Tensor& images)
      : h_(images.size(2)), w_(images.size(3)), plane_((h_ + 1) * (w_ + 1) * 3) {
    const auto nhwc = images.permute({0, 2, 3, 1}).contiguous();
    const float* src = nhwc.data_ptr<float>();
    const std::int64_t batch = images.size(0), stride = (w_ + 1) * 3;
    sat_.assign(static_cast<std::size_t>(batch * plane_), 0.0);
    // Row prefix sums (rows in parallel), then column prefix sums (blocks of columns in
    // parallel, row by row): each sum in a fixed order.
    at::parallel_for(0, batch * h_, 64, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t r = begin; r < end; ++r) {
        const std::int64_t b = r / h_, y = r % h_;
        const float* in = src + r * w_ * 3;
        double* out = sat_.data() + b * plane_ + (y + 1) * stride;
        for (std::int64_t x = 0; x < w_; ++x)
          for (int c = 0; c < 3; ++c) out[(x + 1) * 3 + c] = out[x * 3 + c] + in[x * 3 + c];
      }
    });
    constexpr std::int64_t kBlock = 1024;
    const std::int64_t blocks = (stride + kBlock - 1) / kBlock;
    at::parallel_for(0, batch * blocks, 1, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t k = begin; k < end; ++k) {
        double* plane = sat_.data() + (k / blocks) * plane_;
        const std::int64_t x0 = (k % blocks) * kBlock, x1 = std::min(stride, x0 + kBlock);
        for (std::int64_t y = 1; y <= h_; ++y) {
          double* row = plane + y * stride;
          const double* above = row - stride;
          for (std::int64_t x = x0; x < x1; ++x) row[x] += above[x];
        }
      }
    });
  }

  /// Writes rows [y0, y1) x columns [x0, x1) of image b (0-based, non-empty, inside the image)
  /// area-resized to out_h x out_w and normalised as (v - 127.5) * 0.0078125 to `out`,
  /// channels-last: out[(r * out_w + c) * 3 + channel].
  void sample(std::int64_t b, std::int64_t y0, std::int64_t y1, std::int64_t x0, std::int64_t x1,
              std::int64_t out_h, std::int64_t out_w, float* out) const {
    const auto ys = bins(y0, y1 - y0, out_h), xs = bins(x0, x1 - x0, out_w);
    const std::int64_t stride = (w_ + 1) * 3;
    const double* base = sat_.data() + b * plane_;
    at::parallel_for(0, out_h, 16, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t r = begin; r < end; ++r) {
        const double* top = base + ys[2 * r] * stride;
        const double* bottom = base + ys[2 * r + 1] * stride;
        const double rows = static_cast<double>(ys[2 * r + 1] - ys[2 * r]);
        float* o = out + r * out_w * 3;
        for (std::int64_t c = 0; c < out_w; ++c) {
          const std::int64_t l = xs[2 * c] * 3, rr = xs[2 * c + 1] * 3;
          const double count = rows * static_cast<double>(xs[2 * c + 1] - xs[2 * c]);
          for (int ch = 0; ch < 3; ++ch) {
            const double sum = bottom[rr + ch] - bottom[l + ch] - top[rr + ch] + top[l + ch];
            o[c * 3 + ch] = (static_cast<float>(sum / count) - 127.5f) * 0.0078125f;
          }
        }
      }
    });
  }

 private:
  // Table indices [start, end) of each of the n output cells over [offset, offset + length).
  static std::vector<std::int64_t> bins(std::int64_t offset, std::int64_t length, std::int64_t n) {
    std::vector<std::int64_t> out(static_cast<std::size_t>(2 * n));
    for (std::int64_t o = 0; o < n; ++o) {
      out[2 * o] = offset + static_cast<std::int64_t>(
                                std::floor(static_cast<float>(o * length) / static_cast<float>(n)));
      out[2 * o + 1] = offset + static_cast<std::int64_t>(std::ceil(
                                    static_cast<float>((o + 1) * length) / static_cast<float>(n)));
    }
    return out;
  }

  std::int64_t h_, w_, plane_;
  std::vector<double> sat_;  // [B, H + 1, W + 1, 3]: sums of the pixels above and left
};

// A channels-last [n, 3, h, w] float tensor (what AreaSampler::sample writes, per item).
torch::Tensor channels_last_batch(std::int64_t n, std::int64_t h, std::int64_t w) {
  return torch::empty({n, h, w, 3}).permute({0, 3, 1, 2});
}

// facenet-pytorch pad() + crop + area resize: the crops of `boxes` (truncated to integers,
// clamped to the 1-based image of h x w), resized to side x side and normalised. Boxes whose
// clamped crop is empty are dropped: `valid` receives the indices of the rows that were kept.
torch::Tensor crop_boxes(const AreaSampler& sampler, const torch::Tensor& boxes,
                         const torch::Tensor& image_inds, std::int64_t h, std::int64_t w, int side,
                         std::vector<std::int64_t>* valid) {
  const auto b = boxes.index({Slice(), Slice(0, 4)}).trunc().to(torch::kInt32).contiguous();
  const auto ids = image_inds.to(torch::kInt64).contiguous();
  const std::int32_t* p = b.data_ptr<std::int32_t>();
  const std::int64_t* ip = ids.data_ptr<std::int64_t>();
  struct Region {
    std::int64_t image, y0, y1, x0, x1;  // 0-based, [y0, y1) x [x0, x1)
  };
  std::vector<Region> regions;
  valid->clear();
  for (std::int64_t k = 0; k < b.size(0); ++k) {
    const std::int64_t x = std::max<std::int64_t>(p[4 * k], 1);
    const std::int64_t y = std::max<std::int64_t>(p[4 * k + 1], 1);
    const std::int64_t ex = std::min<std::int64_t>(p[4 * k + 2], w);
    const std::int64_t ey = std::min<std::int64_t>(p[4 * k + 3], h);
    if (!(ey > y - 1 && ex > x - 1)) continue;
    regions.push_back({ip[k], y - 1, ey, x - 1, ex});
    valid->push_back(k);
  }
  const auto n = static_cast<std::int64_t>(regions.size());
  auto crops = channels_last_batch(n, side, side);
  float* out = crops.data_ptr<float>();
  at::parallel_for(0, n, 1, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i) {
      const Region& r = regions[static_cast<std::size_t>(i)];
      sampler.sample(r.image, r.y0, r.y1, r.x0, r.x1, side, side, out + i * side * side * 3);
    }
  });
  return crops;
}

torch::Tensor take(const torch::Tensor& t, const std::vector<std::int64_t>& rows) {
  return t.index_select(0, torch::tensor(rows, torch::kInt64));
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Options, loading, the cascade
// ---------------------------------------------------------------------------------------

void MtcnnOptions::validate() const {
  require(min_face >= 12, "mtcnn: min_face must be >= 12 pixels, got " + std::to_string(min_face));
  require(factor > 0.0 && factor < 1.0, "mtcnn: factor must be in (0, 1)");
  require(thresholds.size() == 3, "mtcnn: thresholds must have 3 values (P-, R-, O-Net)");
  for (double t : thresholds) require(t >= 0.0 && t <= 1.0, "mtcnn: thresholds must be in [0, 1]");
  for (double t : {nms_scale, nms_pyramid, nms_refine, nms_output})
    require(t > 0.0 && t <= 1.0, "mtcnn: NMS thresholds must be in (0, 1]");
  require(crop_batch >= 1, "mtcnn: crop_batch must be >= 1");
}

MtcnnNets load_mtcnn(const std::string& dir) {
  namespace fs = std::filesystem;
  require(!dir.empty(),
          "mtcnn: no weight directory: set weights (--weights DIR) to a directory holding "
          "facenet-pytorch's pnet.pt, rnet.pt and onet.pt (facenet_pytorch/data/)");
  MtcnnNets nets{PNet(), RNet(), ONet()};
  const std::pair<const char*, nn::Module*> parts[] = {
      {"pnet.pt", nets.pnet.get()}, {"rnet.pt", nets.rnet.get()}, {"onet.pt", nets.onet.get()}};
  for (const auto& [file, module] : parts) {
    const fs::path path = fs::path(dir) / file;
    require(fs::is_regular_file(path), "mtcnn: " + path.string() +
                                           " does not exist: weights must name a directory "
                                           "with facenet-pytorch's pnet.pt, rnet.pt, onet.pt");
    const io::TorchFile file_content = io::load_torch_file(path);
    const auto tensors = io::named_tensors(file_content.root());
    models::LoadOptions options;
    options.auto_prefix = false;
    options.strictness = models::Strictness::kStrict;
    models::load_weights(*module, tensors, options);
  }
  for (nn::Module* m :
       {static_cast<nn::Module*>(nets.pnet.get()), static_cast<nn::Module*>(nets.rnet.get()),
        static_cast<nn::Module*>(nets.onet.get())}) {
    m->eval();
    for (auto& p : m->parameters()) p.set_requires_grad(false);
  }
  return nets;
}

torch::Tensor mtcnn_input(const cv::Mat& bgr) {
  require_bgr_image(bgr, "mtcnn_input");
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  // [1, H, W, 3] uint8 -> [1, 3, H, W] float (channels-last strides, as facenet-pytorch).
  return torch::from_blob(rgb.data, {1, rgb.rows, rgb.cols, 3}, torch::kUInt8)
      .permute({0, 3, 1, 2})
      .to(torch::kFloat);
}

std::vector<std::vector<Face>> run_mtcnn(MtcnnNets& nets, const torch::Tensor& images,
                                         const MtcnnOptions& options, MtcnnTimes* times) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == 3 && images.scalar_type() == torch::kFloat,
              "run_mtcnn: images must be float32 [B, 3, H, W]");
  torch::NoGradGuard no_grad;
  const std::int64_t batch = images.size(0), h = images.size(2), w = images.size(3);
  const auto& thr = options.thresholds;
  std::vector<std::vector<Face>> result(static_cast<std::size_t>(batch));
  using Clock = std::chrono::steady_clock;
  auto last = Clock::now();
  // Seconds since the previous call (only when timing).
  auto lap = [&]() {
    if (!times) return 0.0;
    const auto now = Clock::now();
    const double s = std::chrono::duration<double>(now - last).count();
    last = now;
    return s;
  };
  if (times) *times = MtcnnTimes{};
  const AreaSampler sampler(images);
  if (times) times->table = lap();

  // Stage 1: P-Net over the pyramid, all images of the batch per level.
  std::vector<torch::Tensor> level_boxes, level_inds;
  for (double scale :
       pyramid_scales(static_cast<int>(h), static_cast<int>(w), options.min_face, options.factor)) {
    const auto hs = static_cast<std::int64_t>(h * scale + 1);
    const auto ws = static_cast<std::int64_t>(w * scale + 1);
    auto level = channels_last_batch(batch, hs, ws);
    for (std::int64_t b = 0; b < batch; ++b)
      sampler.sample(b, 0, h, 0, w, hs, ws, level.data_ptr<float>() + b * hs * ws * 3);
    if (times) times->resize.push_back(lap());
    auto [reg, probs] = nets.pnet->forward(level);
    auto [boxes, inds] = generate_boxes(reg, probs.select(1, 1), scale, thr[0]);
    if (times) times->pnet.push_back(lap());
    const auto pick =
        batched_nms(boxes, boxes.select(1, 4), inds, options.nms_scale, NmsMode::kUnion);
    level_boxes.push_back(boxes.index_select(0, pick));
    level_inds.push_back(inds.index_select(0, pick));
    if (times) times->nms += lap();
  }
  if (level_boxes.empty()) return result;
  auto boxes = torch::cat(level_boxes, 0);
  auto inds = torch::cat(level_inds, 0);
  if (boxes.size(0) == 0) return result;
  auto pick = batched_nms(boxes, boxes.select(1, 4), inds, options.nms_pyramid, NmsMode::kUnion);
  boxes = boxes.index_select(0, pick);
  inds = inds.index_select(0, pick);
  {
    const auto regw = boxes.select(1, 2) - boxes.select(1, 0);
    const auto regh = boxes.select(1, 3) - boxes.select(1, 1);
    const auto qq1 = boxes.select(1, 0) + boxes.select(1, 5) * regw;
    const auto qq2 = boxes.select(1, 1) + boxes.select(1, 6) * regh;
    const auto qq3 = boxes.select(1, 2) + boxes.select(1, 7) * regw;
    const auto qq4 = boxes.select(1, 3) + boxes.select(1, 8) * regh;
    boxes = rerec(torch::stack({qq1, qq2, qq3, qq4, boxes.select(1, 4)}).permute({1, 0}));
  }
  if (times) times->nms += lap();

  // Runs `net` on the crops in chunks of crop_batch and concatenates each output.
  auto chunked = [&](const torch::Tensor& crops, auto&& forward) {
    std::vector<std::vector<torch::Tensor>> parts;
    for (std::int64_t start = 0; start < crops.size(0); start += options.crop_batch) {
      const auto out = forward(crops.slice(0, start, start + options.crop_batch));
      if (parts.empty()) parts.resize(out.size());
      for (std::size_t i = 0; i < out.size(); ++i) parts[i].push_back(out[i]);
    }
    std::vector<torch::Tensor> joined;
    for (auto& p : parts) joined.push_back(torch::cat(p, 0));
    return joined;
  };

  // Stage 2: R-Net on 24 x 24 crops.
  std::vector<std::int64_t> valid;
  auto crops = crop_boxes(sampler, boxes, inds, h, w, 24, &valid);
  if (valid.empty()) return result;
  boxes = take(boxes, valid);
  inds = take(inds, valid);
  if (times) times->rnet_crops = lap();
  {
    const auto out = chunked(crops, [&](const torch::Tensor& x) {
      auto [reg, probs] = nets.rnet->forward(x);
      return std::vector<torch::Tensor>{reg, probs};
    });
    if (times) times->rnet = lap();
    const auto score = out[1].select(1, 1);
    const auto pass = score > thr[1];
    boxes = torch::cat({boxes.index({pass, Slice(0, 4)}), score.index({pass}).unsqueeze(1)}, 1);
    inds = inds.index({pass});
    auto mv = out[0].index({pass});
    if (boxes.size(0) == 0) return result;
    pick = batched_nms(boxes, boxes.select(1, 4), inds, options.nms_refine, NmsMode::kUnion);
    boxes = boxes.index_select(0, pick);
    inds = inds.index_select(0, pick);
    mv = mv.index_select(0, pick);
    boxes = rerec(bbreg(boxes, mv));
    if (times) times->nms += lap();
  }

  // Stage 3: O-Net on 48 x 48 crops, landmarks.
  crops = crop_boxes(sampler, boxes, inds, h, w, 48, &valid);
  if (valid.empty()) return result;
  boxes = take(boxes, valid);
  inds = take(inds, valid);
  if (times) times->onet_crops = lap();
  torch::Tensor points;
  {
    const auto out = chunked(crops, [&](const torch::Tensor& x) {
      auto [reg, landmarks, probs] = nets.onet->forward(x);
      return std::vector<torch::Tensor>{reg, landmarks, probs};
    });
    if (times) times->onet = lap();
    const auto score = out[2].select(1, 1);
    const auto pass = score > thr[2];
    const auto lm = out[1].index({pass});
    boxes = torch::cat({boxes.index({pass, Slice(0, 4)}), score.index({pass}).unsqueeze(1)}, 1);
    inds = inds.index({pass});
    const auto mv = out[0].index({pass});
    if (boxes.size(0) == 0) return result;
    const auto wi = (boxes.select(1, 2) - boxes.select(1, 0) + 1).unsqueeze(1);
    const auto hi = (boxes.select(1, 3) - boxes.select(1, 1) + 1).unsqueeze(1);
    const auto px = wi * lm.index({Slice(), Slice(0, 5)}) + boxes.select(1, 0).unsqueeze(1) - 1;
    const auto py = hi * lm.index({Slice(), Slice(5, 10)}) + boxes.select(1, 1).unsqueeze(1) - 1;
    points = torch::stack({px, py}, 2);  // [K, 5, 2]
    boxes = bbreg(boxes, mv);
    pick = batched_nms(boxes, boxes.select(1, 4), inds, options.nms_output, NmsMode::kMin);
    boxes = boxes.index_select(0, pick).contiguous();
    inds = inds.index_select(0, pick).contiguous();
    points = points.index_select(0, pick).contiguous();
    if (times) times->nms += lap();
  }

  const float* bp = boxes.data_ptr<float>();
  const float* pp = points.data_ptr<float>();
  const std::int64_t* ip = inds.data_ptr<std::int64_t>();
  for (std::int64_t k = 0; k < boxes.size(0); ++k) {
    Face face;
    face.box = {bp[5 * k], bp[5 * k + 1], bp[5 * k + 2], bp[5 * k + 3]};
    face.confidence = bp[5 * k + 4];
    for (int j = 0; j < 5; ++j)
      face.landmarks.emplace_back(pp[10 * k + 2 * j], pp[10 * k + 2 * j + 1]);
    result[static_cast<std::size_t>(ip[k])].push_back(std::move(face));
  }
  return result;
}

namespace {
const MtcnnOptions& validated(const MtcnnOptions& options) {
  options.validate();
  return options;
}
}  // namespace

MtcnnDetector::MtcnnDetector(MtcnnOptions options)
    : MtcnnDetector(options, load_mtcnn(validated(options).weights)) {}

MtcnnDetector::MtcnnDetector(MtcnnOptions options, MtcnnNets nets)
    : options_(std::move(options)), nets_(std::move(nets)) {
  options_.validate();
}

std::vector<Face> MtcnnDetector::detect(const cv::Mat& bgr) {
  return run_mtcnn(nets_, mtcnn_input(bgr), options_).front();
}

std::vector<std::vector<Face>> MtcnnDetector::detect_batch(const std::vector<cv::Mat>& bgr) {
  if (bgr.empty()) return {};
  std::vector<torch::Tensor> inputs;
  for (const auto& image : bgr) {
    if (image.size() != bgr.front().size())
      throw std::invalid_argument(
          "MtcnnDetector::detect_batch: images must all have the same size");
    inputs.push_back(mtcnn_input(image));
  }
  return run_mtcnn(nets_, torch::cat(inputs, 0), options_);
}

}  // namespace wtp::align
