#include "data/transforms.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "data/builtin_transforms.h"

namespace wtp::data {

namespace {

std::uint8_t saturate_round(double v) {
  if (!(v > 0.0)) return 0;  // also NaN
  if (v >= 255.0) return 255;
  return static_cast<std::uint8_t>(std::lround(v));
}

void require_unit_interval(double p, const std::string& who) {
  require(p >= 0.0 && p <= 1.0, who + ": p must be in [0, 1], got " + std::to_string(p));
}

void require_image(const cv::Mat& image, const std::string& who) {
  if (image.empty() || image.type() != CV_8UC3)
    throw std::invalid_argument(who + ": expects a non-empty 8-bit 3-channel image");
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Normalisation, record, pixel ops
// ---------------------------------------------------------------------------------------

std::string TransformRecord::str() const {
  std::string out;
  char buffer[64];
  for (const auto& [key, value] : entries_) {
    std::snprintf(buffer, sizeof buffer, "%.6g", value);
    out += (out.empty() ? "" : ";") + key + "=" + buffer;
  }
  return out;
}

PixelOps::PixelOps(const cv::Mat& image) : image_(&image) {
  for (int v = 0; v < 256; ++v) lut_[static_cast<std::size_t>(v)] = static_cast<std::uint8_t>(v);
}

void PixelOps::then(const std::array<std::uint8_t, 256>& op) {
  for (auto& v : lut_) v = op[v];
}

double PixelOps::mean_gray() {
  if (!have_histogram_) {
    for (auto& h : histogram_) h.fill(0.0);
    for (int y = 0; y < image_->rows; ++y) {
      const std::uint8_t* row = image_->ptr<std::uint8_t>(y);
      for (int x = 0; x < image_->cols; ++x)
        for (int c = 0; c < 3; ++c) histogram_[static_cast<std::size_t>(c)][row[3 * x + c]] += 1.0;
    }
    have_histogram_ = true;
  }
  const double n = static_cast<double>(image_->rows) * image_->cols;
  if (n == 0) return 0.0;
  static constexpr double kWeights[3] = {0.114, 0.587, 0.299};  // B, G, R
  double total = 0.0;
  for (std::size_t c = 0; c < 3; ++c) {
    double sum = 0.0;
    for (std::size_t v = 0; v < 256; ++v) sum += histogram_[c][v] * lut_[v];
    total += kWeights[c] * sum;
  }
  return total / n;
}

void PixelOps::apply(cv::Mat& image) const {
  bool identity = true;
  for (std::size_t v = 0; v < 256; ++v) identity = identity && lut_[v] == v;
  if (!identity) {
    cv::Mat table(1, 256, CV_8U, const_cast<std::uint8_t*>(lut_.data()));
    cv::Mat out;
    cv::LUT(image, table, out);
    image = out;
  }
  if (flip_) {
    cv::Mat out;
    cv::flip(image, out, 1);
    image = out;
  }
}

void Transform::fuse(PixelOps&, Rng&, TransformRecord*) const {
  throw std::logic_error("transform '" + name() + "' is not pixel-wise and cannot be fused");
}

void PixelTransform::apply(cv::Mat& image, Rng& rng, TransformRecord* record) const {
  require_image(image, name());
  PixelOps ops(image);
  fuse(ops, rng, record);
  ops.apply(image);
}

// ---------------------------------------------------------------------------------------
// Geometry helpers
// ---------------------------------------------------------------------------------------

int cv_interpolation(Interpolation interpolation) {
  switch (interpolation) {
    case Interpolation::kNearest:
      return cv::INTER_NEAREST;
    case Interpolation::kLinear:
      return cv::INTER_LINEAR;
    case Interpolation::kArea:
      return cv::INTER_AREA;
    case Interpolation::kCubic:
      return cv::INTER_CUBIC;
  }
  return cv::INTER_LINEAR;
}

cv::Mat letterbox(const cv::Mat& image, int size, LetterboxGeometry* geometry,
                  Interpolation interpolation) {
  if (image.empty() || size <= 0)
    throw std::invalid_argument("letterbox: requires a non-empty image and size > 0");
  const double scale = static_cast<double>(size) / std::max(image.cols, image.rows);
  const int w = std::clamp(static_cast<int>(std::lround(image.cols * scale)), 1, size);
  const int h = std::clamp(static_cast<int>(std::lround(image.rows * scale)), 1, size);
  cv::Mat canvas(size, size, image.type(), cv::Scalar::all(0));
  const int x0 = (size - w) / 2, y0 = (size - h) / 2;
  cv::Mat roi = canvas(cv::Rect(x0, y0, w, h));
  if (w == image.cols && h == image.rows)
    image.copyTo(roi);
  else
    cv::resize(image, roi, cv::Size(w, h), 0, 0, cv_interpolation(interpolation));
  if (geometry) *geometry = {scale, x0, y0, w, h};
  return canvas;
}

cv::Mat rotate_image(const cv::Mat& image, double degrees, cv::Point2d center) {
  const cv::Mat m = cv::getRotationMatrix2D(
      cv::Point2f(static_cast<float>(center.x), static_cast<float>(center.y)), degrees, 1.0);
  cv::Mat out;
  cv::warpAffine(image, out, m, image.size(), cv::INTER_LINEAR, cv::BORDER_CONSTANT,
                 cv::Scalar::all(0));
  return out;
}

cv::Point2d rotate_point(cv::Point2d p, double degrees, cv::Point2d center) {
  // Same matrix as cv::getRotationMatrix2D(center, degrees, 1).
  const double a = std::cos(degrees * CV_PI / 180.0), b = std::sin(degrees * CV_PI / 180.0);
  const double dx = p.x - center.x, dy = p.y - center.y;
  return {center.x + a * dx + b * dy, center.y - b * dx + a * dy};
}

cv::Point2d image_center(const cv::Mat& image) {
  return {(image.cols - 1) / 2.0, (image.rows - 1) / 2.0};
}

// ---------------------------------------------------------------------------------------
// Built-in transforms
// ---------------------------------------------------------------------------------------

cv::Size SizeOptions::resolve(const std::string& who) const {
  const int h = height > 0 ? height : size;
  const int w = width > 0 ? width : size;
  require(h > 0 && w > 0, who + ": set size (or height and width) to a positive value");
  return {w, h};
}

void ResizeOptions::validate() const {
  require(size >= 0 && height >= 0 && width >= 0 && shorter_side >= 0,
          "resize: sizes must be >= 0");
  if (shorter_side > 0)
    require(size == 0 && height == 0 && width == 0,
            "resize: give either shorter_side or size/height/width, not both");
  else
    resolve("resize");
}

Resize::Resize(ResizeOptions options) : options_(std::move(options)) { options_.validate(); }

void Resize::apply(cv::Mat& image, Rng&, TransformRecord*) const {
  require_image(image, name());
  cv::Size target;
  if (options_.shorter_side > 0) {
    const double s = static_cast<double>(options_.shorter_side) / std::min(image.cols, image.rows);
    target = {std::max(1, static_cast<int>(std::lround(image.cols * s))),
              std::max(1, static_cast<int>(std::lround(image.rows * s)))};
  } else {
    target = options_.resolve("resize");
  }
  if (target == image.size()) return;
  cv::Mat out;
  cv::resize(image, out, target, 0, 0, cv_interpolation(options_.interpolation));
  image = out;
}

std::optional<cv::Size> Resize::fixed_size() const {
  if (options_.shorter_side > 0) return std::nullopt;
  return options_.resolve("resize");
}

void LetterboxOptions::validate() const { require(size > 0, "letterbox: size must be > 0"); }

Letterbox::Letterbox(LetterboxOptions options) : options_(options) { options_.validate(); }

void Letterbox::apply(cv::Mat& image, Rng&, TransformRecord*) const {
  require_image(image, name());
  image = letterbox(image, options_.size, nullptr, options_.interpolation);
}

std::optional<cv::Size> Letterbox::fixed_size() const {
  return cv::Size(options_.size, options_.size);
}

void CenterCropOptions::validate() const { resolve("center_crop"); }

CenterCrop::CenterCrop(CenterCropOptions options) : options_(options) { options_.validate(); }

void CenterCrop::apply(cv::Mat& image, Rng&, TransformRecord*) const {
  require_image(image, name());
  const cv::Size target = options_.resolve("center_crop");
  if (target == image.size()) return;
  cv::Mat out(target, image.type(), cv::Scalar::all(0));
  const int top = (image.rows - target.height) / 2;  // negative: the image is smaller (pad)
  const int left = (image.cols - target.width) / 2;
  const cv::Rect src =
      cv::Rect(left, top, target.width, target.height) & cv::Rect(0, 0, image.cols, image.rows);
  if (src.area() > 0)
    image(src).copyTo(out(cv::Rect(src.x - left, src.y - top, src.width, src.height)));
  image = out;
}

std::optional<cv::Size> CenterCrop::fixed_size() const { return options_.resolve("center_crop"); }

void RandomResizedCropOptions::validate() const {
  resolve("random_resized_crop");
  require(scale.size() == 2 && scale[0] > 0 && scale[0] <= scale[1] && scale[1] <= 1.0,
          "random_resized_crop: scale must be [min, max] with 0 < min <= max <= 1");
  require(ratio.size() == 2 && ratio[0] > 0 && ratio[0] <= ratio[1],
          "random_resized_crop: ratio must be [min, max] with 0 < min <= max");
}

RandomResizedCrop::RandomResizedCrop(RandomResizedCropOptions options)
    : options_(std::move(options)) {
  options_.validate();
}

cv::Rect RandomResizedCrop::sample(cv::Size size, Rng& rng) const {
  const double area = static_cast<double>(size.width) * size.height;
  const double log_lo = std::log(options_.ratio[0]), log_hi = std::log(options_.ratio[1]);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * rng.uniform(options_.scale[0], options_.scale[1]);
    const double aspect = std::exp(rng.uniform(log_lo, log_hi));
    const int w = static_cast<int>(std::lround(std::sqrt(target * aspect)));
    const int h = static_cast<int>(std::lround(std::sqrt(target / aspect)));
    if (w > 0 && w <= size.width && h > 0 && h <= size.height) {
      const int top = static_cast<int>(rng.integer(0, size.height - h));
      const int left = static_cast<int>(rng.integer(0, size.width - w));
      return {left, top, w, h};
    }
  }
  const double in_ratio = static_cast<double>(size.width) / size.height;
  int w = size.width, h = size.height;
  if (in_ratio < options_.ratio[0])
    h = static_cast<int>(std::lround(w / options_.ratio[0]));
  else if (in_ratio > options_.ratio[1])
    w = static_cast<int>(std::lround(h * options_.ratio[1]));
  return {(size.width - w) / 2, (size.height - h) / 2, w, h};
}

void RandomResizedCrop::apply(cv::Mat& image, Rng& rng, TransformRecord* record) const {
  require_image(image, name());
  const cv::Rect r = sample(image.size(), rng);
  if (record) {
    record->add("random_resized_crop.x", r.x);
    record->add("random_resized_crop.y", r.y);
    record->add("random_resized_crop.w", r.width);
    record->add("random_resized_crop.h", r.height);
  }
  cv::Mat out;
  cv::resize(image(r), out, options_.resolve(name()), 0, 0,
             cv_interpolation(options_.interpolation));
  image = out;
}

std::optional<cv::Size> RandomResizedCrop::fixed_size() const {
  return options_.resolve("random_resized_crop");
}

void FlipOptions::validate() const { require_unit_interval(p, "horizontal_flip"); }

HorizontalFlip::HorizontalFlip(FlipOptions options) : options_(options) { options_.validate(); }

void HorizontalFlip::fuse(PixelOps& ops, Rng& rng, TransformRecord* record) const {
  const bool flip = rng.uniform() < options_.p;
  if (flip) ops.toggle_flip();
  if (record) record->add("horizontal_flip.flip", flip ? 1 : 0);
}

void RotationOptions::validate() const {
  require(min_degrees <= max_degrees, "rotation: min_degrees must be <= max_degrees");
  require_unit_interval(p, "rotation");
}

Rotation::Rotation(RotationOptions options) : options_(options) { options_.validate(); }

void Rotation::apply(cv::Mat& image, Rng& rng, TransformRecord* record) const {
  require_image(image, name());
  const bool rotate = rng.uniform() < options_.p;
  const double degrees = rng.uniform(options_.min_degrees, options_.max_degrees);
  if (record) record->add("rotation.degrees", rotate ? degrees : 0.0);
  if (!rotate || degrees == 0.0) return;
  image = rotate_image(image, degrees, image_center(image));
}

void ColorJitterOptions::validate() const {
  require(brightness >= 0 && brightness < 1, "color_jitter: brightness must be in [0, 1)");
  require(contrast >= 0 && contrast < 1, "color_jitter: contrast must be in [0, 1)");
}

ColorJitter::ColorJitter(ColorJitterOptions options) : options_(options) { options_.validate(); }

void ColorJitter::fuse(PixelOps& ops, Rng& rng, TransformRecord* record) const {
  std::array<std::uint8_t, 256> op;
  if (options_.brightness > 0) {
    const double f = rng.uniform(1.0 - options_.brightness, 1.0 + options_.brightness);
    for (int v = 0; v < 256; ++v) op[static_cast<std::size_t>(v)] = saturate_round(v * f);
    ops.then(op);
    if (record) record->add("color_jitter.brightness", f);
  }
  if (options_.contrast > 0) {
    const double f = rng.uniform(1.0 - options_.contrast, 1.0 + options_.contrast);
    const double mean = ops.mean_gray();
    for (int v = 0; v < 256; ++v)
      op[static_cast<std::size_t>(v)] = saturate_round(v * f + (1.0 - f) * mean);
    ops.then(op);
    if (record) record->add("color_jitter.contrast", f);
  }
}

void BrightnessShiftOptions::validate() const {
  require(max_delta >= 0 && max_delta <= 255, "brightness_shift: max_delta must be in [0, 255]");
}

BrightnessShift::BrightnessShift(BrightnessShiftOptions options) : options_(options) {
  options_.validate();
}

void BrightnessShift::fuse(PixelOps& ops, Rng& rng, TransformRecord* record) const {
  const double delta = rng.uniform(-options_.max_delta, options_.max_delta);
  std::array<std::uint8_t, 256> op;
  for (int v = 0; v < 256; ++v) op[static_cast<std::size_t>(v)] = saturate_round(v + delta);
  ops.then(op);
  if (record) record->add("brightness_shift.delta", delta);
}

void GaussianBlurOptions::validate() const {
  require(min_sigma >= 0 && min_sigma <= max_sigma,
          "gaussian_blur: need 0 <= min_sigma <= max_sigma");
  require_unit_interval(p, "gaussian_blur");
}

GaussianBlur::GaussianBlur(GaussianBlurOptions options) : options_(options) { options_.validate(); }

void GaussianBlur::apply(cv::Mat& image, Rng& rng, TransformRecord* record) const {
  require_image(image, name());
  const bool blur = rng.uniform() < options_.p;
  const double sigma = rng.uniform(options_.min_sigma, options_.max_sigma);
  if (record) record->add("gaussian_blur.sigma", blur ? sigma : 0.0);
  if (!blur || sigma < 0.01) return;
  cv::Mat out;
  cv::GaussianBlur(image, out, cv::Size(0, 0), sigma, sigma, cv::BORDER_REFLECT_101);
  image = out;
}

namespace {

void register_builtin_transforms(TransformRegistry& registry) {
  registry.add<ResizeOptions>("resize", "resize to height x width (or by shorter side)",
                              [](const ResizeOptions& o) { return std::make_shared<Resize>(o); });
  registry.add<LetterboxOptions>(
      "letterbox", "keep aspect, longer side S, centred on black S x S",
      [](const LetterboxOptions& o) { return std::make_shared<Letterbox>(o); });
  registry.add<CenterCropOptions>(
      "center_crop", "crop about the centre (pad black if smaller)",
      [](const CenterCropOptions& o) { return std::make_shared<CenterCrop>(o); });
  registry.add<RandomResizedCropOptions>(
      "random_resized_crop", "random area/aspect crop resized to the output size",
      [](const RandomResizedCropOptions& o) { return std::make_shared<RandomResizedCrop>(o); });
  registry.add<FlipOptions>(
      "horizontal_flip", "mirror left-right with probability p",
      [](const FlipOptions& o) { return std::make_shared<HorizontalFlip>(o); });
  registry.add<RotationOptions>(
      "rotation", "rotate by a uniform angle about the centre",
      [](const RotationOptions& o) { return std::make_shared<Rotation>(o); });
  registry.add<ColorJitterOptions>(
      "color_jitter", "random brightness and contrast factors",
      [](const ColorJitterOptions& o) { return std::make_shared<ColorJitter>(o); });
  registry.add<BrightnessShiftOptions>(
      "brightness_shift", "add a uniform shift in [-d, d] to every value",
      [](const BrightnessShiftOptions& o) { return std::make_shared<BrightnessShift>(o); });
  registry.add<GaussianBlurOptions>(
      "gaussian_blur", "Gaussian blur with a uniform sigma",
      [](const GaussianBlurOptions& o) { return std::make_shared<GaussianBlur>(o); });
  registry.add<NormalizeOptions>(
      "normalize", "normalisation preset (last entry)",
      [](const NormalizeOptions& o) { return std::make_shared<Normalize>(o); });
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Pipeline
// ---------------------------------------------------------------------------------------

void to_chw(const cv::Mat& image, const Normalization& normalization, float* out,
            const PixelOps* ops) {
  require_image(image, "to_chw");
  float table[3][256];
  int source[3];  // BGR source channel of each output channel
  for (int c = 0; c < 3; ++c) {
    source[c] = normalization.order == ChannelOrder::kBgr ? c : 2 - c;
    for (int v = 0; v < 256; ++v)
      table[c][v] = normalization.value(c, ops ? ops->lut()[static_cast<std::size_t>(v)] : v);
  }
  const bool flip = ops && ops->flip();
  const int rows = image.rows, cols = image.cols;
  const std::size_t plane = static_cast<std::size_t>(rows) * cols;
  const float* t0 = table[0];
  const float* t1 = table[1];
  const float* t2 = table[2];
  const int s0 = source[0], s1 = source[1], s2 = source[2];
  for (int y = 0; y < rows; ++y) {
    const std::uint8_t* row = image.ptr<std::uint8_t>(y);
    float* o0 = out + static_cast<std::size_t>(y) * cols;
    float* o1 = o0 + plane;
    float* o2 = o1 + plane;
    if (!flip) {
      for (int x = 0; x < cols; ++x) {
        const std::uint8_t* px = row + 3 * x;
        o0[x] = t0[px[s0]];
        o1[x] = t1[px[s1]];
        o2[x] = t2[px[s2]];
      }
    } else {
      for (int x = 0; x < cols; ++x) {
        const std::uint8_t* px = row + 3 * (cols - 1 - x);
        o0[x] = t0[px[s0]];
        o1[x] = t1[px[s1]];
        o2[x] = t2[px[s2]];
      }
    }
  }
}

torch::Tensor to_tensor(const cv::Mat& image, const Normalization& normalization) {
  require_image(image, "to_tensor");
  auto t = torch::empty({3, image.rows, image.cols}, torch::kFloat32);
  to_chw(image, normalization, t.data_ptr<float>());
  return t;
}

Pipeline::Pipeline(std::vector<TransformPtr> transforms) : transforms_(std::move(transforms)) {
  for (std::size_t i = 0; i < transforms_.size(); ++i) {
    if (!transforms_[i]) throw std::invalid_argument("Pipeline: null transform");
    if (auto* n = dynamic_cast<const Normalize*>(transforms_[i].get())) {
      if (i + 1 != transforms_.size())
        throw UsageError(
            "transforms: 'normalize' must be the last entry of the list (found at position " +
            std::to_string(i + 1) + " of " + std::to_string(transforms_.size()) + ")");
      normalization_ = n->normalization();
      normalization_name_ = config::enum_name(n->preset());
    }
  }
  if (!transforms_.empty() && dynamic_cast<const Normalize*>(transforms_.back().get()))
    transforms_.pop_back();
}

std::optional<cv::Size> Pipeline::output_size() const {
  for (auto it = transforms_.rbegin(); it != transforms_.rend(); ++it) {
    if (auto size = (*it)->fixed_size()) return size;
    if (!(*it)->preserves_size()) return std::nullopt;
  }
  return std::nullopt;
}

std::size_t Pipeline::fused_from() const {
  std::size_t start = transforms_.size();
  while (start > 0 && transforms_[start - 1]->pixelwise()) --start;
  return start;
}

void Pipeline::run(cv::Mat image, Rng& rng, float* out, cv::Size expected,
                   TransformRecord* record) const {
  require_image(image, "Pipeline::run");
  const std::size_t fused = fused_from();
  for (std::size_t i = 0; i < fused; ++i) transforms_[i]->apply(image, rng, record);
  if (image.size() != expected)
    throw UsageError(
        "transforms produced a " + std::to_string(image.cols) + "x" + std::to_string(image.rows) +
        " image but " + std::to_string(expected.width) + "x" + std::to_string(expected.height) +
        " is expected: end the pipeline with resize, letterbox or a crop of that size");
  PixelOps ops(image);
  for (std::size_t i = fused; i < transforms_.size(); ++i) transforms_[i]->fuse(ops, rng, record);
  to_chw(image, normalization_, out, &ops);
}

torch::Tensor Pipeline::operator()(cv::Mat image, Rng& rng, TransformRecord* record) const {
  cv::Mat result = apply(std::move(image), rng, record);
  return to_tensor(result, normalization_);
}

cv::Mat Pipeline::apply(cv::Mat image, Rng& rng, TransformRecord* record) const {
  require_image(image, "Pipeline::apply");
  for (const auto& t : transforms_) t->apply(image, rng, record);
  return image;
}

std::string Pipeline::describe() const {
  std::string out;
  for (const auto& t : transforms_) out += t->name() + " -> ";
  return out + "normalize(" + normalization_name_ + ")";
}

const TransformRegistry& transform_registry() {
  static const TransformRegistry registry("transform", register_builtin_transforms);
  return registry;
}

Pipeline build_pipeline(const std::vector<config::Component>& components) {
  std::vector<TransformPtr> transforms;
  for (const auto& c : components) transforms.push_back(transform_registry().create(c));
  return Pipeline(std::move(transforms));
}

}  // namespace wtp::data
