#include "train/step.h"

#include <cmath>

#include "train/optim.h"

namespace wtp::train {

StepResult train_step(models::EmbeddingModelImpl& model, losses::Loss& loss,
                      torch::optim::Optimizer& optimizer, const TrainBatch& batch,
                      DistContext& dist, const StepOptions& options) {
  auto images = batch.images.to(options.device);
  losses::LossInputs in;
  auto out = model.forward(images);
  if (batch.pairs) {
    const auto n = batch.targets.size(0);
    in.embeddings = out.embedding.narrow(0, 0, n);
    in.embeddings2 = out.embedding.narrow(0, n, n);
    if (loss.requirements().logits) in.logits = model.pair_logits(in.embeddings, in.embeddings2);
  } else {
    in.embeddings = out.embedding;
    in.logits = out.logits;
  }
  in.labels = batch.targets.to(options.device);
  auto result = loss.forward(in);

  StepResult r;
  r.loss = result.total.item<double>();
  for (const auto& [name, part] : result.parts) r.parts[name] = part.item<double>();
  r.stop = dist.agree_on_step(r.loss, r.parts, options.stop_requested && options.stop_requested());
  if (!std::isfinite(r.loss)) throw NonFiniteLossError(r.loss);

  optimizer.zero_grad();
  dist.before_backward();
  result.total.backward();
  dist.after_backward();  // gradients = their mean over the ranks
  if (options.clip_grad_norm > 0) clip_gradients(options.trainable, options.clip_grad_norm);
  optimizer.step();
  return r;
}

}  // namespace wtp::train
