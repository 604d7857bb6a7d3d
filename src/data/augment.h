#pragma once
/// Offline augmentation: enlarges an image tree by a factor by writing transformed copies
/// next to the originals, with a provenance CSV so every copy can be traced and
/// reproduced. The default recipe is the old liveness model's x2: Gaussian blur with sigma
/// in [0, 1], horizontal flip (p = 0.5), brightness shift in [-30, 30].
#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"

namespace wtp::data {

struct AugmentOptions {
  std::string input;   ///< source tree (any depth; image files by extension)
  std::string output;  ///< destination tree (mirrors input)
  int factor = 2;      ///< images per source image in the output (original + factor-1 copies)
  bool keep_originals = true;  ///< also copy each original (byte for byte)
  int jpeg_quality = 95;       ///< quality of written JPEG copies
  std::uint64_t seed = 0;      ///< base seed; each copy uses mix_seed(seed, hash(file), copy)
  std::vector<config::Component> transforms = default_transforms();  ///< applied to each copy

  template <class V>
  void visit(V& v) {
    v("input", input, "source image tree");
    v("output", output, "destination tree (mirrors the input)");
    v("factor", factor, "images per source image (original + factor-1 augmented copies)");
    v("keep_originals", keep_originals, "copy the originals into the output too");
    v("jpeg_quality", jpeg_quality, "JPEG quality of the copies");
    v("seed", seed, "base seed");
    v("transforms", transforms, "transforms applied to each copy: list of {name: ..., options}");
  }
  void validate() const;
  /// blur sigma 0-1, horizontal flip, brightness shift +-30.
  static std::vector<config::Component> default_transforms();
};

struct AugmentSummary {
  std::int64_t sources = 0;  ///< source images found
  std::int64_t written = 0;  ///< files written (originals + copies)
  std::string provenance;    ///< path of the provenance CSV
};

/// Writes `output/<rel>` (original) and `output/<dir>/<stem>_aug<k><ext>` for k in
/// 1..factor-1, plus `output/augment_provenance.csv` with columns
/// `file,source,copy,seed,params` (params as "key=value;..."; copy 0 = the original).
/// Throws UsageError for a missing input, an input without images, or output == input.
AugmentSummary run_augment(const AugmentOptions& options);

}  // namespace wtp::data
