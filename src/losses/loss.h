#pragma once
/// The loss interface the trainer uses, and the registry of built-in losses.
///
/// Losses take different inputs (pairs of embeddings, one pair logit, class logits, a batch
/// of embeddings with logits and labels), so the trainer fills a LossInputs with what the
/// model produced and asks the loss which fields it needs (requirements()).
///
///     const auto& registry = wtp::losses::loss_registry();
///     std::shared_ptr<Loss> loss = registry.create(config::decode_component(node, "loss"));
///     LossInputs in;  in.embeddings = emb;  in.logits = logits;  in.labels = labels;
///     LossOutput out = loss->forward(in);
///     out.total.backward();  // parts: {"group", ...}, {"ce", ...}, detached, for logging
#include <memory>
#include <string>
#include <torch/torch.h>
#include <utility>
#include <vector>

#include "core/registry.h"

namespace wtp::losses {

/// What a model produced for one batch. Unused fields stay undefined.
struct LossInputs {
  torch::Tensor embeddings;   ///< [B, D]: the batch (group_loss) or the first item of each pair
  torch::Tensor embeddings2;  ///< [B, D]: the second item of each pair (contrastive)
  torch::Tensor logits;       ///< [B, C] class logits, or [B] / [B, 1] pair logits (bce_pair)
  torch::Tensor labels;       ///< [B] class labels (int64), or pair labels (1 = different)
};

/// What a loss needs of the trainer: logits (the model's classifier, or its pair head on
/// pairs), and whether it works on pairs. Embeddings and labels are always given.
struct LossRequirements {
  bool logits = false;
  /// True: batches are pairs (a pairs sampler; labels are 1 = different, 0 = same).
  /// False: batches are items with class labels.
  bool pairs = false;
};

/// A loss's result: `total` is what to back-propagate (a 0-d tensor); `parts` are the named
/// terms it is made of, detached, for logging (empty for single-term losses).
struct LossOutput {
  torch::Tensor total;
  std::vector<std::pair<std::string, torch::Tensor>> parts;
};

/// A loss chosen by name from the config.
class Loss {
 public:
  virtual ~Loss() = default;
  /// Computes the loss. Throws UsageError naming the missing or mis-shaped input.
  virtual LossOutput forward(const LossInputs& inputs) = 0;
  virtual LossRequirements requirements() const = 0;
  /// The registry name ("contrastive", ...).
  virtual std::string name() const = 0;
};

using LossRegistry = Registry<std::shared_ptr<Loss>>;

/// The losses: contrastive, bce_pair, bce (single images), cross_entropy, group_loss, the
/// margin softmax losses arcface and cosface and proxy_anchor (on a cosine head's logits),
/// triplet and multi_similarity (on the embeddings). Losses made through the registry are
/// for training, so `reduction: none` is rejected (the total must be a scalar).
const LossRegistry& loss_registry();

}  // namespace wtp::losses
