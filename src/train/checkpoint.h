#pragma once
/// Training checkpoints: model, optimizer, schedule position, sampler and RNG state and the
/// resolved config in one file (a LibTorch archive, readable from Python with
/// torch.jit.load). Model tensors are stored flat under "model" by their dotted names
/// (`backbone.conv1.weight`), so any of them can be read back by name. Written atomically: a
/// temporary file in the same directory, then a rename, so a crash mid-write never loses the
/// previous checkpoint.
#include <cstdint>
#include <string>
#include <torch/nn/module.h>
#include <torch/optim/optimizer.h>
#include <vector>

#include "train/meters.h"

namespace wtp::train {

/// Everything besides the weights and the optimizer that a resumed run needs.
struct TrainState {
  std::int64_t format_version = 1;    ///< bumped when the layout changes
  std::int64_t stage = 0;             ///< index of the stage in the config
  std::int64_t epoch = 0;             ///< epochs completed in this stage
  std::int64_t step = 0;              ///< optimizer steps completed in this stage
  std::int64_t global_step = 0;       ///< optimizer steps over all stages
  bool stage_done = false;            ///< the stage finished (epochs or early stop)
  double best_metric = 0.0;           ///< best validation value so far in this stage
  bool has_best = false;              ///< best_metric is set
  std::int64_t bad_epochs = 0;        ///< epochs without improvement (early stopping)
  std::vector<std::int64_t> sampler;  ///< the training sampler's state
  torch::Tensor torch_rng;            ///< LibTorch default CPU generator state (dropout, ...)
  AverageMeter epoch_loss;            ///< training loss of the current epoch so far
  std::string config_yaml;            ///< resolved configuration of the run

  /// Every field but torch_rng (a tensor, stored as a buffer), by its checkpoint key.
  template <class V>
  void visit(V& v) {
    v("format_version", format_version);
    v("stage", stage);
    v("epoch", epoch);
    v("step", step);
    v("global_step", global_step);
    v("stage_done", stage_done);
    v("best_metric", best_metric);
    v("has_best", has_best);
    v("bad_epochs", bad_epochs);
    v("sampler", sampler);
    v("config_yaml", config_yaml);
    v("loss_sum", epoch_loss.sum);
    v("loss_count", epoch_loss.count);
  }
};

/// Writes model parameters and buffers, optimizer state (if given) and `state` to `path`
/// atomically. Throws std::runtime_error naming the path on failure (the previous file, if
/// any, is left untouched).
void save_checkpoint(const std::string& path, const torch::nn::Module& model,
                     const torch::optim::Optimizer* optimizer, const TrainState& state);

/// Reads a checkpoint written by save_checkpoint into `model` (and `optimizer`, if given,
/// and the checkpoint has one) and returns its state. Tensors are loaded onto each
/// parameter's current device. Throws std::runtime_error naming the path and what is
/// wrong (missing file, not a wtp checkpoint, a parameter missing or of another shape).
TrainState load_checkpoint(const std::string& path, torch::nn::Module& model,
                           torch::optim::Optimizer* optimizer);

/// Reads only the state (e.g. to find the config of a run).
TrainState read_checkpoint_state(const std::string& path);

/// The model tensors (parameters and buffers) of a checkpoint by their dotted names, e.g.
/// to initialise another model's backbone from it.
std::vector<std::pair<std::string, torch::Tensor>> read_checkpoint_tensors(const std::string& path);

}  // namespace wtp::train
