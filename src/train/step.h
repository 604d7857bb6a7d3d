#pragma once
/// One optimizer step, the same for the trainer and the training benchmark: forward, the
/// loss, agreement with the other ranks (DistContext; nothing on one process), a finite
/// check, backward with the gradient all-reduce, optional clipping, the optimizer's step.
///
///     StepResult r = train_step(model, *loss, *optimizer, batch, dist, options);
///     log(r.loss, r.parts);
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <torch/torch.h>
#include <vector>

#include "losses/loss.h"
#include "models/embedding_model.h"
#include "train/batch_stream.h"
#include "train/dist_context.h"

namespace wtp::train {

struct StepOptions {
  torch::Device device = torch::kCPU;    ///< where the batch goes (the model's device)
  double clip_grad_norm = 0;             ///< max gradient L2 norm over `trainable` (0 = off)
  std::vector<torch::Tensor> trainable;  ///< the parameters clip_grad_norm measures
  /// Read after the loss, before the ranks agree: true asks every rank to stop after this
  /// step (an interrupt).
  std::function<bool()> stop_requested;
};

struct StepResult {
  double loss = 0;                      ///< the loss (averaged over the ranks)
  std::map<std::string, double> parts;  ///< its named parts (averaged over the ranks)
  bool stop = false;                    ///< some rank asked to stop after this step
};

/// The loss was NaN or infinite (on some rank): nothing was stepped.
class NonFiniteLossError : public std::runtime_error {
 public:
  explicit NonFiniteLossError(double value)
      : std::runtime_error("non-finite loss (" + std::to_string(value) + ")"), value_(value) {}
  double value() const { return value_; }

 private:
  double value_;
};

/// One step on `batch` (the model in training mode; the learning rate set by the caller).
/// Throws NonFiniteLossError, before any gradient is computed, when the loss is not finite.
StepResult train_step(models::EmbeddingModelImpl& model, losses::Loss& loss,
                      torch::optim::Optimizer& optimizer, const TrainBatch& batch,
                      DistContext& dist, const StepOptions& options);

}  // namespace wtp::train
