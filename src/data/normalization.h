#pragma once
/// Channel order and pixel normalisation presets: how 8-bit images become a model's input.
/// A small header on its own (no OpenCV), so that models can declare their input without
/// the image pipeline.
#include <array>
#include <cstddef>

#include "core/config.h"

namespace wtp::data {

enum class ChannelOrder { kRgb, kBgr };
WTP_ENUM_NAMES(ChannelOrder, {ChannelOrder::kRgb, "rgb"}, {ChannelOrder::kBgr, "bgr"})

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

}  // namespace wtp::data
