#pragma once
/// A run's initial weights (`init:` in a training config): another run's checkpoint or a
/// PyTorch file such as the pretrained backbones of wtp-download's catalogue.
#include <torch/torch.h>

#include "models/weights.h"
#include "train/train_config.h"

namespace wtp::train {

/// Requires init.checkpoint (when set) to exist. Otherwise throws UsageError naming the key
/// and, when the file is one of wtp-download's catalogue, the command that installs it:
/// "init.checkpoint 'data/weights/bn_inception-52deb4733.pth' does not exist: run
/// `wtp-download bn-inception-imagenet --root data`". Called before any data is read.
void check_init_file(const InitOptions& init);

/// Loads init.checkpoint into `model`: the tensors under init.source_prefix (removed), less
/// those whose remaining name matches an init.ignore regex, renamed to init.target_prefix +
/// name. With init.strict, every model tensor under target_prefix must be loaded and every
/// selected tensor used (UsageError naming the first that is not). Requires a non-empty
/// init.checkpoint that check_init_file accepts.
models::LoadReport load_init_weights(const InitOptions& init, torch::nn::Module& model);

}  // namespace wtp::train
