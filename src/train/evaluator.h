#pragma once
/// Evaluation of a model on a dataset exactly as the trainer validates and tests: embed
/// with the run's eval pipeline (multi-threaded loader), then retrieval (+ clustering),
/// verification on pairs, or eye-state classification, and the LFW pairs protocol.
/// `wtp-train` (validation/test) and `wtp-eval --checkpoint` share it, so a reported test
/// number is reproducible from a checkpoint.
#include <cstdint>
#include <map>
#include <string>
#include <torch/torch.h>
#include <vector>

#include "data/dataset.h"
#include "data/transforms.h"
#include "eval/report.h"
#include "eval/verification.h"
#include "models/embedding_model.h"
#include "train/train_config.h"

namespace wtp::train {

/// A device from its name (cpu, cuda, cuda:1). UsageError for an unknown name or a CUDA
/// device this LibTorch cannot use.
torch::Device parse_device(const std::string& name);

/// `transforms` with the model's normalisation appended. UsageError (naming
/// data.transforms.<split>) unless the pipeline produces the model's input size.
data::Pipeline make_pipeline(std::vector<config::Component> transforms,
                             const models::InputSpec& spec, const std::string& split);

class Evaluator {
 public:
  /// `model` is used as given (on `device`); `cfg` supplies the loader settings
  /// (data.workers, prefetch, eval_batch_size, valid_pairs, label, test_pairs), the
  /// validation options and the seed.
  Evaluator(models::EmbeddingModel model, const TrainConfig& cfg, torch::Device device);

  /// Embeddings [N, D] (float, CPU) of every image of `ds`, in order, with the model in eval
  /// mode (restored to train mode afterwards). `logits` (if given and the model has a
  /// classifier) receives the logits [N, C]. With `flip`, each embedding is the mean of the
  /// image's and its mirror image's (facenet-style test-time augmentation).
  torch::Tensor embed(const data::Dataset& ds, torch::Tensor* logits = nullptr, bool flip = false,
                      bool progress = false);

  /// The metrics of validation.kind on `ds` from its embeddings. `split` seeds the pairs
  /// drawn for verification ("valid" and "test" draw different pairs); with `test`,
  /// clustering (k-means + NMI) is added for retrieval, and data.test_pairs (if set) is
  /// evaluated with keys prefixed "pairs_".
  /// `verifications` (if given) receives the verification results behind the report, by
  /// key prefix ("" = pairs drawn from the split, "pairs_" = data.test_pairs), e.g. for
  /// ROC plots.
  eval::Report evaluate(const data::Dataset& ds, const std::string& split, bool test,
                        const torch::Tensor& embeddings, const torch::Tensor& logits,
                        std::map<std::string, eval::VerificationResult>* verifications = nullptr);

  /// embed() then evaluate().
  eval::Report evaluate(const data::Dataset& ds, const std::string& split, bool test,
                        bool flip = false, bool progress = false);

 private:
  eval::VerificationResult verify_pairs(const torch::Tensor& emb,
                                        const std::vector<std::int64_t>& first,
                                        const std::vector<std::int64_t>& second,
                                        const std::vector<std::int64_t>& same,
                                        const std::vector<std::int64_t>& folds);

  models::EmbeddingModel model_;
  const TrainConfig& cfg_;
  torch::Device device_;
  data::Pipeline pipeline_;
};

}  // namespace wtp::train
