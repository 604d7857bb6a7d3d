#pragma once
/// A run's model evaluated on its data exactly as the trainer validates and tests: embed
/// with the run's eval pipeline (multi-threaded loader), then retrieval (+ clustering),
/// verification on pairs, or eye-state classification, and the LFW pairs protocol.
/// `wtp-train` (validation/test), `wtp-eval --checkpoint` and the exporter's threshold
/// choices share it, so a reported test number is reproducible from a checkpoint.
///
///     RunEvaluator evaluator(model, cfg, device);
///     eval::Report valid = evaluator.evaluate(data.valid, EvalPass::validation(cfg.validation));
///     eval::Report test = evaluator.evaluate(data.test, EvalPass::test(cfg.validation));
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

/// `transforms` with the model's normalisation appended. UsageError (naming
/// data.transforms.<split>) unless the pipeline produces the model's input size.
data::Pipeline make_pipeline(std::vector<config::Component> transforms,
                             const models::InputSpec& spec, const std::string& split);

/// What one evaluation of a split does.
struct EvalPass {
  /// The split's name: "valid", "test" or "train". The verification pairs drawn from the
  /// split depend on it ("test" draws other pairs than the rest).
  std::string split = "valid";
  /// The test protocol: adds clustering (k-means + NMI, when validation.clustering) to
  /// retrieval, and data.test_pairs (keys prefixed "pairs_").
  bool test_protocol = false;
  bool flip = false;      ///< each embedding the mean of the image's and its mirror image's
  bool logits = false;    ///< keep the logits even when validation.kind does not read them
  bool progress = false;  ///< a progress bar while embedding

  /// Validation as the trainer runs it after every epoch.
  static EvalPass validation(const ValidationOptions& v);
  /// The test the trainer runs once at the end.
  static EvalPass test(const ValidationOptions& v);
};

/// A split's embeddings (and logits) in dataset order, on the CPU.
struct Embedded {
  torch::Tensor embeddings;  ///< [N, D] float
  torch::Tensor logits;      ///< [N, C] when kept (classification or EvalPass::logits)
};

class RunEvaluator {
 public:
  /// `model` is used as given (on `device`); `cfg` supplies the loader settings
  /// (data.workers, prefetch, eval_batch_size, valid_pairs, label, test_pairs), the
  /// validation options and the seed.
  RunEvaluator(models::EmbeddingModel model, const TrainConfig& cfg, torch::Device device);

  /// Embeddings of every image of `ds`, in order, with the model in eval mode (restored to
  /// train mode afterwards).
  Embedded embed(const data::Dataset& ds, const EvalPass& pass);

  /// The metrics of validation.kind on `ds` from its embeddings (see EvalPass).
  /// `verifications` (if given) receives the verification results behind the report, by
  /// key prefix ("" = pairs drawn from the split, "pairs_" = data.test_pairs), e.g. for
  /// ROC plots.
  eval::Report evaluate(const data::Dataset& ds, const EvalPass& pass, const Embedded& embedded,
                        std::map<std::string, eval::VerificationResult>* verifications = nullptr);

  /// embed() then evaluate().
  eval::Report evaluate(const data::Dataset& ds, const EvalPass& pass);

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
