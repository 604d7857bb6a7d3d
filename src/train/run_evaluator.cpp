#include "train/run_evaluator.h"

#include <algorithm>
#include <memory>

#include "core/error.h"
#include "core/progress.h"
#include "core/random.h"
#include "data/lfw.h"
#include "data/loader.h"
#include "eval/evaluate.h"
#include "eval/liveness.h"
#include "eval/verification.h"
#include "samplers/pairs.h"
#include "train/run_data.h"

namespace wtp::train {

data::Pipeline make_pipeline(std::vector<config::Component> transforms,
                             const models::InputSpec& spec, const std::string& split) {
  config::Node normalize = config::Node::map();
  normalize.set("preset", config::Node::scalar(config::enum_name(spec.normalization)));
  transforms.push_back({"normalize", normalize});
  data::Pipeline pipeline = data::build_pipeline(transforms);
  auto size = pipeline.output_size();
  if (!size || size->height != spec.height || size->width != spec.width)
    throw UsageError(
        "data.transforms." + split + " must produce " + std::to_string(spec.width) + "x" +
        std::to_string(spec.height) + " images for this model (end with " +
        "{name: resize, size: " + std::to_string(spec.height) + "} or a crop); " +
        (size ? "they produce " + std::to_string(size->width) + "x" + std::to_string(size->height)
              : std::string("they do not fix the size")));
  return pipeline;
}

EvalPass EvalPass::validation(const ValidationOptions& v) {
  EvalPass pass;
  pass.flip = v.flip;
  return pass;
}

EvalPass EvalPass::test(const ValidationOptions& v) {
  EvalPass pass;
  pass.split = "test";
  pass.test_protocol = true;
  pass.flip = v.flip;
  return pass;
}

RunEvaluator::RunEvaluator(models::EmbeddingModel model, const TrainConfig& cfg,
                           torch::Device device)
    : model_(std::move(model)),
      cfg_(cfg),
      device_(device),
      pipeline_(make_pipeline(cfg.data.transforms.eval, model_->input_spec(), "eval")) {}

Embedded RunEvaluator::embed(const data::Dataset& ds, const EvalPass& pass) {
  auto dataset = std::make_shared<const data::Dataset>(ds);
  auto pipeline = std::make_shared<const data::Pipeline>(pipeline_);
  const std::int64_t batch_size = cfg_.data.eval_batch_size;
  std::vector<data::IndexBatch> batches;
  for (std::int64_t start = 0; start < ds.size(); start += batch_size) {
    data::IndexBatch b;
    for (std::int64_t i = start; i < std::min(ds.size(), start + batch_size); ++i) b.push_back(i);
    batches.push_back(std::move(b));
  }
  data::LoaderOptions lo;
  lo.workers = cfg_.data.workers;
  lo.prefetch = cfg_.data.prefetch;
  const auto count = static_cast<std::int64_t>(batches.size());
  data::BatchLoader loader(dataset, pipeline, data::fixed_batches(std::move(batches)), lo);
  std::unique_ptr<Progress> bar;
  if (pass.progress) bar = std::make_unique<Progress>("embedding " + ds.name(), count, "batch");
  const bool keep_logits = pass.logits || cfg_.validation.kind == EvalKind::kClassification;
  const bool was_training = model_->is_training();
  model_->eval();
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> embeddings, all_logits;
  while (auto batch = loader.next()) {
    require(batch->skipped == 0, "evaluation lost " + std::to_string(batch->skipped) +
                                     " corrupt images of '" + ds.name() +
                                     "'; fix or remove them (on_corrupt: fail names them)");
    auto images = batch->images.to(device_);
    auto out = model_->forward(images);
    torch::Tensor emb = out.embedding, lg = out.logits;
    if (pass.flip) {
      // The mirror image of a normalised CHW batch is its width axis reversed.
      auto mirrored = model_->forward(images.flip({3}));
      emb = (emb + mirrored.embedding) / 2;
      if (lg.defined()) lg = (lg + mirrored.logits) / 2;
    }
    embeddings.push_back(emb.to(torch::kCPU));
    if (keep_logits && lg.defined()) all_logits.push_back(lg.to(torch::kCPU));
    if (bar) bar->advance();
  }
  if (bar) bar->finish();
  if (was_training) model_->train();
  Embedded out;
  out.embeddings = torch::cat(embeddings);
  if (!all_logits.empty()) out.logits = torch::cat(all_logits);
  return out;
}

eval::VerificationResult RunEvaluator::verify_pairs(const torch::Tensor& emb,
                                                    const std::vector<std::int64_t>& first,
                                                    const std::vector<std::int64_t>& second,
                                                    const std::vector<std::int64_t>& same,
                                                    const std::vector<std::int64_t>& folds) {
  auto ia = torch::tensor(first), ib = torch::tensor(second);
  torch::Tensor distances;
  if (model_->has_pair_head()) {
    const bool was_training = model_->is_training();
    model_->eval();
    torch::NoGradGuard no_grad;
    // Probability of "different": small = same person, like a distance.
    distances = torch::sigmoid(model_->pair_logits(emb.index_select(0, ia).to(device_),
                                                   emb.index_select(0, ib).to(device_)))
                    .to(torch::kCPU);
    if (was_training) model_->train();
  } else {
    auto n = eval::l2_normalize_rows(emb);
    distances = (n.index_select(0, ia) - n.index_select(0, ib)).norm(2, 1);
  }
  return eval::verification_protocol(distances.to(torch::kDouble), torch::tensor(same),
                                     torch::tensor(folds));
}

eval::Report RunEvaluator::evaluate(
    const data::Dataset& ds, const EvalPass& pass, const Embedded& embedded,
    std::map<std::string, eval::VerificationResult>* verifications) {
  const torch::Tensor& emb = embedded.embeddings;
  const bool test = pass.test_protocol;
  eval::Report report;
  const auto kind = cfg_.validation.kind;
  if (kind == EvalKind::kRetrieval) {
    eval::EvalOptions options;
    options.retrieval = cfg_.validation.retrieval;
    options.clustering = test && cfg_.validation.clustering;
    options.seed = cfg_.seed;
    report = eval::evaluate_embeddings(emb, torch::tensor(ds.labels()), options);
  } else if (kind == EvalKind::kVerification) {
    // Balanced random pairs of the split, fixed by the seed, in 10 folds.
    samplers::SamplerInput input;
    input.labels = ds.labels();
    input.seed = mix_seed(cfg_.seed, pass.split == "test" ? 2 : 1);
    samplers::PairsOptions po;
    po.batch_size = 2;
    po.pairs_per_epoch = cfg_.data.valid_pairs;
    samplers::PairsSampler sampler(po, input);
    std::vector<std::int64_t> first, second, same, folds;
    while (auto b = sampler.next())
      for (std::size_t i = 0; i < b->indices.size(); ++i) {
        folds.push_back(static_cast<std::int64_t>(first.size()) % 10);
        first.push_back(b->indices[i]);
        second.push_back(b->partners[i]);
        same.push_back(1 - b->pair_labels[i]);
      }
    auto result = verify_pairs(emb, first, second, same, folds);
    result.add_to(report);
    if (verifications) verifications->insert_or_assign("", std::move(result));
  } else {
    require(embedded.logits.defined(), "validation.kind classification needs a model with logits");
    auto scores = torch::sigmoid(embedded.logits.reshape({-1}).to(torch::kDouble));
    auto labels = torch::tensor(item_labels(ds, cfg_.data.label));
    eval::eye_state_metrics(scores, labels).add_to(report, "");
  }
  if (test && !cfg_.data.test_pairs.empty()) {
    auto protocol = data::read_lfw_pairs(cfg_.data.test_pairs, ds.root());
    std::vector<std::int64_t> first, second, same, folds;
    for (const auto& p : protocol.pairs) {
      auto i = ds.find(p.file1), j = ds.find(p.file2);
      if (!i || !j)
        throw UsageError(cfg_.data.test_pairs + ":" + std::to_string(p.line) + ": image '" +
                         (!i ? p.file1 : p.file2) + "' is not in the test dataset");
      first.push_back(*i);
      second.push_back(*j);
      same.push_back(p.same ? 1 : 0);
      folds.push_back(p.fold);
    }
    auto result = verify_pairs(emb, first, second, same, folds);
    eval::Report pairs;
    result.add_to(pairs);
    for (const auto& [k, v] : pairs) report["pairs_" + k] = v;
    if (verifications) verifications->insert_or_assign("pairs_", std::move(result));
  }
  return report;
}

eval::Report RunEvaluator::evaluate(const data::Dataset& ds, const EvalPass& pass) {
  return evaluate(ds, pass, embed(ds, pass));
}

}  // namespace wtp::train
