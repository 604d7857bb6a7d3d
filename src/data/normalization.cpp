#include "data/normalization.h"

namespace wtp::data {

Normalization Normalization::preset(NormalizePreset preset) {
  Normalization n;
  switch (preset) {
    case NormalizePreset::kUnit:
      break;
    case NormalizePreset::kImagenet:
      n.mean = {0.485, 0.456, 0.406};
      n.std = {0.229, 0.224, 0.225};
      break;
    case NormalizePreset::kFacenet:
      n.scale = 1.0;
      n.mean = {127.5, 127.5, 127.5};
      n.std = {128.0, 128.0, 128.0};
      break;
    case NormalizePreset::kCaffe:
      n.order = ChannelOrder::kBgr;
      n.scale = 1.0;
      n.mean = {104.0, 117.0, 128.0};
      break;
    case NormalizePreset::kArcface:
      n.mean = {0.5, 0.5, 0.5};
      n.std = {0.5, 0.5, 0.5};
      break;
  }
  return n;
}

}  // namespace wtp::data
