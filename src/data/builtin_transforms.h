#pragma once
/// The built-in transforms' options and classes. Private to src/data: the transform registry
/// (transforms.cpp) builds them and data's own tests check them one by one; every other
/// component reaches a transform by name through data::transform_registry().
#include <optional>
#include <string>

#include "data/transforms.h"

namespace wtp::data {

// ---------------------------------------------------------------------------------------
// Built-in transforms (options structs decode from YAML; see transform_registry())
// ---------------------------------------------------------------------------------------

/// Target size: `size` sets both sides; `height`/`width` override it.
struct SizeOptions {
  int size = 0;    ///< square side (0 = unset)
  int height = 0;  ///< output height (0 = from size)
  int width = 0;   ///< output width (0 = from size)
  cv::Size resolve(const std::string& who) const;
};

struct ResizeOptions : SizeOptions {
  int shorter_side = 0;  ///< instead of a size: scale so the shorter side is this, keep aspect
  Interpolation interpolation = Interpolation::kLinear;  ///< resampling
  template <class V>
  void visit(V& v) {
    v("size", size, "square output side");
    v("height", height, "output height (overrides size)");
    v("width", width, "output width (overrides size)");
    v("shorter_side", shorter_side, "scale so the shorter side has this length (aspect kept)");
    v("interpolation", interpolation, "nearest | linear | area | cubic");
  }
  void validate() const;
};

/// Resizes to height x width, or by shorter side.
class Resize : public Transform {
 public:
  explicit Resize(ResizeOptions options);
  std::string name() const override { return "resize"; }
  void apply(cv::Mat& image, Rng& rng, TransformRecord* record) const override;
  std::optional<cv::Size> fixed_size() const override;

 private:
  ResizeOptions options_;
};

struct LetterboxOptions {
  int size = 224;                                        ///< canvas side
  Interpolation interpolation = Interpolation::kLinear;  ///< resampling
  template <class V>
  void visit(V& v) {
    v("size", size, "output side S (longer image side scaled to S, centred on black)");
    v("interpolation", interpolation, "nearest | linear | area | cubic");
  }
  void validate() const;
};

/// letterbox() to size x size.
class Letterbox : public Transform {
 public:
  explicit Letterbox(LetterboxOptions options);
  std::string name() const override { return "letterbox"; }
  void apply(cv::Mat& image, Rng& rng, TransformRecord* record) const override;
  std::optional<cv::Size> fixed_size() const override;

 private:
  LetterboxOptions options_;
};

struct CenterCropOptions : SizeOptions {
  template <class V>
  void visit(V& v) {
    v("size", size, "square crop side");
    v("height", height, "crop height (overrides size)");
    v("width", width, "crop width (overrides size)");
  }
  void validate() const;
};

/// Crops height x width about the centre (top = floor((H - h) / 2)); pads with black where
/// the image is smaller.
class CenterCrop : public Transform {
 public:
  explicit CenterCrop(CenterCropOptions options);
  std::string name() const override { return "center_crop"; }
  void apply(cv::Mat& image, Rng& rng, TransformRecord* record) const override;
  std::optional<cv::Size> fixed_size() const override;

 private:
  CenterCropOptions options_;
};

struct RandomResizedCropOptions : SizeOptions {
  std::vector<double> scale{0.08, 1.0};                  ///< area fraction range
  std::vector<double> ratio{3.0 / 4.0, 4.0 / 3.0};       ///< aspect ratio (w/h) range, log-uniform
  Interpolation interpolation = Interpolation::kLinear;  ///< resampling
  template <class V>
  void visit(V& v) {
    v("size", size, "square output side");
    v("height", height, "output height (overrides size)");
    v("width", width, "output width (overrides size)");
    v("scale", scale, "[min, max] fraction of the image area");
    v("ratio", ratio, "[min, max] aspect ratio w/h (sampled log-uniformly)");
    v("interpolation", interpolation, "nearest | linear | area | cubic");
  }
  void validate() const;
};

/// torchvision's RandomResizedCrop: up to 10 tries of a random area/aspect crop that fits,
/// else a centre crop with the aspect clamped to the range; then resize.
class RandomResizedCrop : public Transform {
 public:
  explicit RandomResizedCrop(RandomResizedCropOptions options);
  std::string name() const override { return "random_resized_crop"; }
  void apply(cv::Mat& image, Rng& rng, TransformRecord* record) const override;
  std::optional<cv::Size> fixed_size() const override;
  /// The crop rectangle for an image of `size` (exposed for tests).
  cv::Rect sample(cv::Size size, Rng& rng) const;

 private:
  RandomResizedCropOptions options_;
};

struct FlipOptions {
  double p = 0.5;  ///< probability of flipping
  template <class V>
  void visit(V& v) {
    v("p", p, "probability of a horizontal flip");
  }
  void validate() const;
};

/// Mirrors left-right with probability p (always draws one number).
class HorizontalFlip : public PixelTransform {
 public:
  explicit HorizontalFlip(FlipOptions options);
  std::string name() const override { return "horizontal_flip"; }
  void fuse(PixelOps& ops, Rng& rng, TransformRecord* record) const override;

 private:
  FlipOptions options_;
};

struct RotationOptions {
  double min_degrees = -10;  ///< smallest angle (counter-clockwise positive)
  double max_degrees = 10;   ///< largest angle
  double p = 1.0;            ///< probability of rotating at all
  template <class V>
  void visit(V& v) {
    v("min_degrees", min_degrees, "smallest angle in degrees (counter-clockwise positive)");
    v("max_degrees", max_degrees, "largest angle in degrees");
    v("p", p, "probability of rotating");
  }
  void validate() const;
};

/// Rotates by a uniform angle about image_center(), same size, black corners.
class Rotation : public Transform {
 public:
  explicit Rotation(RotationOptions options);
  std::string name() const override { return "rotation"; }
  void apply(cv::Mat& image, Rng& rng, TransformRecord* record) const override;
  bool preserves_size() const override { return true; }

 private:
  RotationOptions options_;
};

struct ColorJitterOptions {
  double brightness = 0.2;  ///< factor drawn from [1 - b, 1 + b]; 0 = off
  double contrast = 0.2;    ///< factor drawn from [1 - c, 1 + c]; 0 = off
  template <class V>
  void visit(V& v) {
    v("brightness", brightness, "brightness factor range 1 +- b (0 = off)");
    v("contrast", contrast, "contrast factor range 1 +- c (0 = off)");
  }
  void validate() const;
};

/// Brightness then contrast, as torchvision defines them on 8-bit values:
/// v <- sat(round(v * fb)); v <- sat(round(v * fc + (1 - fc) * mean_grey)), mean_grey
/// taken after the brightness step.
class ColorJitter : public PixelTransform {
 public:
  explicit ColorJitter(ColorJitterOptions options);
  std::string name() const override { return "color_jitter"; }
  void fuse(PixelOps& ops, Rng& rng, TransformRecord* record) const override;

 private:
  ColorJitterOptions options_;
};

struct BrightnessShiftOptions {
  double max_delta = 30;  ///< shift drawn uniformly from [-max_delta, max_delta] (0-255 scale)
  template <class V>
  void visit(V& v) {
    v("max_delta", max_delta, "add a uniform shift in [-d, d] to every value (0-255 scale)");
  }
  void validate() const;
};

/// v <- sat(round(v + delta)): the old liveness recipe's "brightness +-30".
class BrightnessShift : public PixelTransform {
 public:
  explicit BrightnessShift(BrightnessShiftOptions options);
  std::string name() const override { return "brightness_shift"; }
  void fuse(PixelOps& ops, Rng& rng, TransformRecord* record) const override;

 private:
  BrightnessShiftOptions options_;
};

struct GaussianBlurOptions {
  double min_sigma = 0.0;  ///< smallest sigma (pixels); sigma < 0.01 leaves the image as is
  double max_sigma = 1.0;  ///< largest sigma
  double p = 1.0;          ///< probability of blurring
  template <class V>
  void visit(V& v) {
    v("min_sigma", min_sigma, "smallest sigma in pixels");
    v("max_sigma", max_sigma, "largest sigma in pixels");
    v("p", p, "probability of blurring");
  }
  void validate() const;
};

/// Gaussian blur with a uniform sigma (OpenCV kernel size for that sigma, reflect-101
/// borders).
class GaussianBlur : public Transform {
 public:
  explicit GaussianBlur(GaussianBlurOptions options);
  std::string name() const override { return "gaussian_blur"; }
  void apply(cv::Mat& image, Rng& rng, TransformRecord* record) const override;
  bool preserves_size() const override { return true; }

 private:
  GaussianBlurOptions options_;
};

struct NormalizeOptions {
  NormalizePreset preset = NormalizePreset::kUnit;  ///< which normalisation
  template <class V>
  void visit(V& v) {
    v("preset", preset, "unit | imagenet | facenet | caffe | arcface");
  }
};

/// Marks the normalisation of a pipeline; must be its last entry. apply() leaves the image
/// unchanged: the values are normalised when the pipeline writes the tensor.
class Normalize : public Transform {
 public:
  explicit Normalize(NormalizeOptions options) : options_(options) {}
  std::string name() const override { return "normalize"; }
  void apply(cv::Mat&, Rng&, TransformRecord*) const override {}
  bool preserves_size() const override { return true; }
  Normalization normalization() const { return Normalization::preset(options_.preset); }
  NormalizePreset preset() const { return options_.preset; }

 private:
  NormalizeOptions options_;
};

}  // namespace wtp::data
