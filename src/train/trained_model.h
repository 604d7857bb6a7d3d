#pragma once
/// A trained model back from a wtp checkpoint (`RUN_DIR/checkpoints/best.pt` or `last.pt`):
/// the run's resolved configuration, the model built from it with the checkpoint's weights,
/// and the run's state. Used by `wtp-eval --checkpoint` and `wtp-export`.
#include <filesystem>
#include <string>
#include <torch/torch.h>

#include "core/config.h"
#include "models/embedding_model.h"
#include "train/checkpoint.h"
#include "train/train_config.h"

namespace wtp::train {

struct TrainedModel {
  TrainConfig config;                     ///< the run's configuration (decoded, resolved)
  config::Node config_node;               ///< the same as a config node (e.g. to hash or print)
  models::EmbeddingModel model{nullptr};  ///< built from config.model, weights loaded, eval mode
  TrainState state;                       ///< stage, epoch, step, best metric of the checkpoint
  std::filesystem::path run_dir;          ///< the run directory (the checkpoint's grandparent)
};

/// Loads `checkpoint` onto `device` ("" = the run's device). Throws UsageError when the
/// file is missing or is not a wtp checkpoint (e.g. a plain torch.save file: import it with
/// init.checkpoint in a config instead), std::runtime_error when its weights do not fit the
/// configured model.
TrainedModel load_trained_model(const std::string& checkpoint, const std::string& device = "");

}  // namespace wtp::train
