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
#include "data/normalization.h"

namespace wtp::data {

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

using TransformPtr = std::shared_ptr<const Transform>;
using TransformRegistry = Registry<TransformPtr>;

/// The transforms: resize, letterbox, center_crop, random_resized_crop, horizontal_flip,
/// rotation, color_jitter, brightness_shift, gaussian_blur and normalize (their options and
/// classes are private to src/data, in builtin_transforms.h).
const TransformRegistry& transform_registry();

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
