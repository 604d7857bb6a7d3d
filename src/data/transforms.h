#pragma once
/// Seeded image transforms and the pipeline that turns a decoded image into a normalised
/// float tensor.
///
/// Contract shared by every transform: it works in place on a CV_8UC3 image in BGR order
/// and draws all its randomness from the `Rng` it is given (the loader derives one stream
/// per item with `mix_seed`, so results never depend on threads). Pixel-wise transforms
/// (flip, colour jitter, brightness shift) are *fused*: at the end of a pipeline they only
/// accumulate a 256-entry lookup table and a flip flag that the HWC -> CHW float conversion
/// applies in the same pass; the result is bit-identical to applying them one by one.
///
/// A pipeline from YAML (one list per split, decoded through the transform registry):
///
///     transforms:
///       train:
///         - {name: random_resized_crop, size: 224}
///         - {name: horizontal_flip}
///         - {name: color_jitter, brightness: 0.2, contrast: 0.2}
///         - {name: normalize, preset: imagenet}
///       eval:
///         - {name: letterbox, size: 224}
///         - {name: normalize, preset: imagenet}
#include <array>
#include <cstdint>
#include <memory>
#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <torch/torch.h>
#include <utility>
#include <vector>

#include "core/config.h"
#include "core/random.h"
#include "core/registry.h"
#include "data/image.h"

namespace wtp::data {

// ---------------------------------------------------------------------------------------
// Normalisation
// ---------------------------------------------------------------------------------------

enum class NormalizePreset {
  kUnit,      ///< RGB, x / 255 in [0, 1] (what the old models used)
  kImagenet,  ///< RGB, (x / 255 - [0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225]
  kFacenet,   ///< RGB, (x - 127.5) / 128 (facenet-pytorch's fixed_image_standardization)
  kCaffe,     ///< BGR, x - [104, 117, 128] on the 0-255 scale (Caffe BN-Inception)
  kArcface,   ///< RGB, (x / 255 - 0.5) / 0.5 in [-1, 1] (insightface's arcface_torch)
};
WTP_ENUM_NAMES(NormalizePreset, {NormalizePreset::kUnit, "unit"},
               {NormalizePreset::kImagenet, "imagenet"}, {NormalizePreset::kFacenet, "facenet"},
               {NormalizePreset::kCaffe, "caffe"}, {NormalizePreset::kArcface, "arcface"})

/// out[c] = (v * scale - mean[c]) / std[c] for the 8-bit value v of output channel c, the
/// output channels being in `order`.
struct Normalization {
  ChannelOrder order = ChannelOrder::kRgb;
  double scale = 1.0 / 255.0;
  std::array<double, 3> mean{0, 0, 0};
  std::array<double, 3> std{1, 1, 1};

  static Normalization preset(NormalizePreset preset);
  /// The normalised value of 8-bit value `v` in output channel `c`.
  float value(int c, int v) const {
    return static_cast<float>((v * scale - mean[static_cast<std::size_t>(c)]) /
                              std[static_cast<std::size_t>(c)]);
  }
};

// ---------------------------------------------------------------------------------------
// Transform interface
// ---------------------------------------------------------------------------------------

/// The parameters a transform drew for one image (for provenance files).
class TransformRecord {
 public:
  void add(const std::string& key, double value) { entries_.emplace_back(key, value); }
  const std::vector<std::pair<std::string, double>>& entries() const { return entries_; }
  /// "key=value;key=value" with values printed with up to 6 significant digits.
  std::string str() const;

 private:
  std::vector<std::pair<std::string, double>> entries_;
};

/// Pixel-wise operations accumulated for one image: an 8-bit lookup table (the composition
/// of every point operation so far) and a horizontal flip flag.
class PixelOps {
 public:
  /// `image` (CV_8UC3, BGR) is the image the ops will be applied to; it must outlive this
  /// object and stay unchanged.
  explicit PixelOps(const cv::Mat& image);
  /// Composes a point operation after the current table: lut[v] <- op[lut[v]].
  void then(const std::array<std::uint8_t, 256>& op);
  void toggle_flip() { flip_ = !flip_; }
  bool flip() const { return flip_; }
  const std::array<std::uint8_t, 256>& lut() const { return lut_; }
  /// Mean of the grey image (0.299 R + 0.587 G + 0.114 B) after the current table, from
  /// per-channel histograms of the source image (computed once, on first use).
  double mean_gray();
  /// Applies table and flip to `image` (in place; `image` may be the source).
  void apply(cv::Mat& image) const;

 private:
  const cv::Mat* image_;
  std::array<std::uint8_t, 256> lut_;
  bool flip_ = false;
  bool have_histogram_ = false;
  std::array<std::array<double, 256>, 3> histogram_{};
};

class Transform {
 public:
  virtual ~Transform() = default;
  /// The registry name ("resize", ...).
  virtual std::string name() const = 0;
  /// Transforms `image` (CV_8UC3, BGR) in place, drawing randomness from `rng` only;
  /// records the drawn parameters in `record` when it is not null.
  virtual void apply(cv::Mat& image, Rng& rng, TransformRecord* record) const = 0;
  /// The size every output has whatever the input (nullopt when it depends on the input).
  virtual std::optional<cv::Size> fixed_size() const { return std::nullopt; }
  /// True when the output always has the input's size.
  virtual bool preserves_size() const { return false; }
  /// True for pixel-wise transforms, which implement fuse().
  virtual bool pixelwise() const { return false; }
  /// Pixel-wise transforms: draws the same numbers as apply() and accumulates the effect
  /// into `ops` instead of touching pixels.
  virtual void fuse(PixelOps& ops, Rng& rng, TransformRecord* record) const;
};

/// Base of the pixel-wise transforms: apply() = fuse() then PixelOps::apply().
class PixelTransform : public Transform {
 public:
  void apply(cv::Mat& image, Rng& rng, TransformRecord* record) const override;
  bool preserves_size() const override { return true; }
  bool pixelwise() const override { return true; }
};

// ---------------------------------------------------------------------------------------
// Geometry helpers (also used by face alignment)
// ---------------------------------------------------------------------------------------

enum class Interpolation { kNearest, kLinear, kArea, kCubic };
WTP_ENUM_NAMES(Interpolation, {Interpolation::kNearest, "nearest"},
               {Interpolation::kLinear, "linear"}, {Interpolation::kArea, "area"},
               {Interpolation::kCubic, "cubic"})
/// The OpenCV flag (cv::INTER_*).
int cv_interpolation(Interpolation interpolation);

/// Where a letterboxed image landed: canvas = source * scale + offset.
struct LetterboxGeometry {
  double scale = 1.0;
  int offset_x = 0, offset_y = 0;  ///< top-left of the pasted image on the canvas
  int width = 0, height = 0;       ///< size of the pasted (scaled) image
};
/// Scales `image` so that its longer side is `size` (aspect kept, sides rounded), and
/// pastes it centred (offset = floor of half the free space) on a black size x size
/// canvas. Requires a non-empty image and size > 0.
cv::Mat letterbox(const cv::Mat& image, int size, LetterboxGeometry* geometry = nullptr,
                  Interpolation interpolation = Interpolation::kLinear);
/// Rotates `image` by `degrees` counter-clockwise (as seen on screen) about `center`,
/// keeping its size, bilinear, black outside.
cv::Mat rotate_image(const cv::Mat& image, double degrees, cv::Point2d center);
/// Where the rotation of rotate_image() sends point `p`.
cv::Point2d rotate_point(cv::Point2d p, double degrees, cv::Point2d center);
/// The centre used by the rotation transform: ((w - 1) / 2, (h - 1) / 2).
cv::Point2d image_center(const cv::Mat& image);

// ---------------------------------------------------------------------------------------
// Built-in transforms (options structs decode from YAML; see register_builtin_transforms)
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

using TransformPtr = std::shared_ptr<const Transform>;
using TransformRegistry = Registry<TransformPtr>;

/// Adds resize, letterbox, center_crop, random_resized_crop, horizontal_flip, rotation,
/// color_jitter, brightness_shift, gaussian_blur and normalize.
void register_builtin_transforms(TransformRegistry& registry);

// ---------------------------------------------------------------------------------------
// Pipeline
// ---------------------------------------------------------------------------------------

/// Writes `image` (CV_8UC3, BGR) as planar floats [3, H, W] into `out` with
/// `normalization`, applying `ops` (lookup table and flip) on the way when given.
/// Requires room for 3 * rows * cols floats at `out`.
void to_chw(const cv::Mat& image, const Normalization& normalization, float* out,
            const PixelOps* ops = nullptr);
/// to_chw() into a new float tensor [3, H, W].
torch::Tensor to_tensor(const cv::Mat& image, const Normalization& normalization);

/// A sequence of transforms followed by a normalisation.
class Pipeline {
 public:
  /// No transform, unit normalisation.
  Pipeline() = default;
  /// A trailing Normalize entry sets the normalisation (default unit). Throws UsageError if
  /// a Normalize is anywhere but last.
  explicit Pipeline(std::vector<TransformPtr> transforms);

  const std::vector<TransformPtr>& transforms() const { return transforms_; }
  const Normalization& normalization() const { return normalization_; }
  /// The output size when the pipeline fixes it (its last size-changing transform has a
  /// fixed size), else nullopt.
  std::optional<cv::Size> output_size() const;

  /// Runs every transform on `image` (CV_8UC3, BGR; consumed) and writes [3, H, W]
  /// normalised floats to `out`. Throws UsageError if the result is not `expected`.
  void run(cv::Mat image, Rng& rng, float* out, cv::Size expected,
           TransformRecord* record = nullptr) const;
  /// Runs every transform and returns a float tensor [3, H, W].
  torch::Tensor operator()(cv::Mat image, Rng& rng, TransformRecord* record = nullptr) const;
  /// Runs every transform and returns the 8-bit BGR image (no normalisation), e.g. for
  /// offline augmentation.
  cv::Mat apply(cv::Mat image, Rng& rng, TransformRecord* record = nullptr) const;
  /// "resize -> horizontal_flip -> normalize(imagenet)".
  std::string describe() const;

 private:
  std::size_t fused_from() const;

  std::vector<TransformPtr> transforms_;
  Normalization normalization_;
  std::string normalization_name_ = "unit";
};

/// Builds a pipeline from config components (`{name: resize, size: 224}`, ...).
Pipeline build_pipeline(const std::vector<config::Component>& components);

/// Transforms per split, as read from a config's `transforms:` section.
struct PipelineOptions {
  std::vector<config::Component> train;  ///< training transforms, in order
  std::vector<config::Component> eval;   ///< evaluation transforms, in order
  template <class V>
  void visit(V& v) {
    v("train", train, "training transforms: list of {name: ..., options}");
    v("eval", eval, "evaluation transforms: list of {name: ..., options}");
  }
};

}  // namespace wtp::data
