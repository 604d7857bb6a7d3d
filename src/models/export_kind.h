#pragma once
/// What a TorchScript archive computes (wtp-export; the methods of each are listed at the
/// top of export/export_model.h). One list for the training config's `export.what`, the
/// exporter and their help texts.
#include <string>

#include "core/config.h"

namespace wtp::models {

enum class ExportKind {
  kEmbedding,  ///< images -> L2-normalised embeddings
  kSiamese,    ///< two images -> the pair head's "different" logit
  kLiveness,   ///< images -> P(eyes closed)
  kDetector,   ///< MTCNN's three networks (not a trained model)
};
WTP_ENUM_NAMES(ExportKind, {ExportKind::kEmbedding, "embedding"}, {ExportKind::kSiamese, "siamese"},
               {ExportKind::kLiveness, "liveness"}, {ExportKind::kDetector, "detector"})

/// Whether a training run's model can be exported as `kind` (every kind but the detector).
inline bool is_trained_model_kind(ExportKind kind) { return kind != ExportKind::kDetector; }

}  // namespace wtp::models
