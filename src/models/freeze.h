#pragma once
/// Freezing parts of a network: a frozen part has `requires_grad` off *and* behaves as in
/// eval mode even while the model trains (BatchNorm uses and keeps its running statistics,
/// Dropout is the identity). `model->train()` cannot undo it: the layers below override
/// `train(bool)` and stay in eval mode while frozen.
///
/// Every network in wtp::models builds its BatchNorm and Dropout layers from these freezable
/// types: they take the LibTorch options and have the same parameter and buffer names and
/// numerics (tested against torch::nn::BatchNorm2d), so state dicts are unchanged.
///
///     SiameseCnn model(options);
///     freeze(*model, {"cnn"});   // conv blocks: no gradients, BN statistics fixed
///     model->train();            // cnn.* BatchNorm layers stay in eval mode
#include <cstdint>
#include <ostream>
#include <string>
#include <torch/torch.h>
#include <vector>

namespace wtp::models {

/// A layer whose training-mode behaviour can be switched off by freezing.
class Freezable {
 public:
  virtual ~Freezable() = default;
  /// Freezing puts the layer in eval mode at once and keeps it there; unfreezing allows
  /// train() again (the layer keeps its current mode until the next train()/eval()).
  virtual void set_frozen(bool frozen) = 0;
  bool frozen() const { return frozen_; }

 protected:
  bool frozen_ = false;
};

/// Batch normalisation with PyTorch's semantics and state-dict names (`weight`, `bias`,
/// `running_mean`, `running_var`, `num_batches_tracked`) that stays in eval mode while
/// frozen. (A subclass of torch::nn::BatchNorm2dImpl cannot be linked against Debian's
/// libtorch, whose BatchNormImplBase symbols are hidden, hence this small reimplementation
/// over torch::batch_norm.)
class FreezableBatchNormImpl : public torch::nn::Module, public Freezable {
 public:
  /// `input_dims` lists the accepted input ranks: {2, 3} for 1d, {4} for 2d.
  FreezableBatchNormImpl(const torch::nn::BatchNormOptions& options,
                         std::vector<std::int64_t> input_dims, std::string kind);
  /// Normalises over every dimension but 1 (the channels). In training mode (and not
  /// frozen) uses batch statistics and updates the running ones with `momentum` (or a
  /// cumulative average when momentum is unset); otherwise uses the running statistics.
  torch::Tensor forward(const torch::Tensor& input);
  void train(bool on = true) override { torch::nn::Module::train(on && !frozen_); }
  void set_frozen(bool frozen) override;
  void pretty_print(std::ostream& stream) const override;

  torch::nn::BatchNormOptions options;
  torch::Tensor weight, bias;                                    ///< [C] when affine
  torch::Tensor running_mean, running_var, num_batches_tracked;  ///< when tracking

 private:
  std::vector<std::int64_t> input_dims_;
  std::string kind_;
};

/// BatchNorm1d (inputs [N, C] or [N, C, L]) that stays in eval mode while frozen.
class FreezableBatchNorm1dImpl : public FreezableBatchNormImpl {
 public:
  explicit FreezableBatchNorm1dImpl(const torch::nn::BatchNormOptions& options)
      : FreezableBatchNormImpl(options, {2, 3}, "FreezableBatchNorm1d") {}
};
TORCH_MODULE(FreezableBatchNorm1d);

/// BatchNorm2d (inputs [N, C, H, W]) that stays in eval mode while frozen.
class FreezableBatchNorm2dImpl : public FreezableBatchNormImpl {
 public:
  explicit FreezableBatchNorm2dImpl(const torch::nn::BatchNormOptions& options)
      : FreezableBatchNormImpl(options, {4}, "FreezableBatchNorm2d") {}
};
TORCH_MODULE(FreezableBatchNorm2d);

/// torch::nn::Dropout that is the identity while frozen.
class FreezableDropoutImpl : public torch::nn::DropoutImpl, public Freezable {
 public:
  explicit FreezableDropoutImpl(const torch::nn::DropoutOptions& options)
      : torch::nn::DropoutImpl(options) {}
  void train(bool on = true) override { torch::nn::DropoutImpl::train(on && !frozen_); }
  void set_frozen(bool frozen) override;
};
TORCH_MODULE(FreezableDropout);

/// Freezes the named parts of `module`.
/// A part is a dotted submodule path as in the state dict ("backbone", "repeat_1.0",
/// "cnn"); it covers that submodule and everything below it. "*" means the whole module.
/// Ensures: every parameter under a part has requires_grad == false; every Freezable layer
/// under a part is frozen (eval mode, and stays so through module.train()).
/// Throws UsageError when a part names no submodule (the message lists the top-level
/// parts), std::logic_error when a part contains a plain (non-freezable) BatchNorm or
/// Dropout, which could not be kept in eval mode. Returns the number of parameter
/// tensors frozen.
int freeze(torch::nn::Module& module, const std::vector<std::string>& parts);

/// Undoes freeze() for the named parts: requires_grad back on, freezable layers released
/// and put in the training mode of `module`. Same part syntax and errors as freeze().
/// Returns the number of parameter tensors unfrozen.
int unfreeze(torch::nn::Module& module, const std::vector<std::string>& parts);

/// The parameters that still require gradients (what an optimiser should receive).
std::vector<torch::Tensor> trainable_parameters(const torch::nn::Module& module);

/// Number of scalar values in the module's parameters (buffers not counted).
/// `trainable_only` counts only parameters with requires_grad.
std::int64_t parameter_count(const torch::nn::Module& module, bool trainable_only = false);

}  // namespace wtp::models
