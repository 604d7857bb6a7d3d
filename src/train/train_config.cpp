#include "train/train_config.h"

#include "core/error.h"
#include "data/dataset_registry.h"
#include "losses/loss.h"
#include "models/model_registry.h"
#include "samplers/sampler.h"
#include "train/optim.h"

namespace wtp::train {

void DataOptions::validate() const {
  require(!dataset.name.empty(), "data.dataset needs a name (lfw, celeba, cew, image_folder)");
  require(min_images >= 1, "min_images must be >= 1");
  require(workers >= 0, "workers must be >= 0");
  require(prefetch >= 1, "prefetch must be >= 1");
  require(eval_batch_size >= 2, "eval_batch_size must be >= 2");
  require(valid_pairs >= 20, "valid_pairs must be >= 20");
  for (const auto* list : {&transforms.train, &transforms.eval})
    for (const auto& t : *list)
      require(t.name != "normalize",
              "transforms must not contain normalize: the trainer appends the model's own "
              "normalisation (models declare it in their input spec)");
}

void StageOptions::validate() const {
  require(!name.empty(), "a stage needs a name");
  require(epochs >= 1, "epochs must be >= 1");
  require(clip_grad_norm >= 0, "clip_grad_norm must be >= 0");
  require(max_steps_per_epoch >= 0, "max_steps_per_epoch must be >= 0");
  require(early_stopping.patience >= 0, "early_stopping.patience must be >= 0");
}

void ExportOptions::validate() const {
  require(!what.empty(), "export.what must list at least one of: embedding, siamese, liveness");
  for (const auto& w : what)  // the kinds of wtp::exporter::ExportKind a trained model offers
    require(w == "embedding" || w == "siamese" || w == "liveness",
            "export.what: unknown kind '" + w + "' (choose from: embedding, siamese, liveness)");
  require(
      !file.empty() && file.find('/') == std::string::npos,
      "export.file must be a file name without a directory (e.g. liveness.ts), got '" + file + "'");
}

void TrainConfig::validate() const {
  require(!out.empty(), "out must name the run directory");
  require(!stages.empty(), "stages must list at least one training stage");
  require(!model.name.empty(), "model needs a name");
  const auto& m = validation.metric;
  bool known = false;
  switch (validation.kind) {
    case EvalKind::kRetrieval:
      known = m == "map_at_r" || m == "r_precision";
      for (auto k : validation.retrieval.ks) known = known || m == "recall_at_" + std::to_string(k);
      break;
    case EvalKind::kVerification:
      known = m == "accuracy_mean" || m == "auc" || m == "eer" || m == "tar_at_far_1e-2" ||
              m == "tar_at_far_1e-3";
      break;
    case EvalKind::kClassification:
      known = m == "accuracy" || m == "precision" || m == "recall" || m == "f1" || m == "auc";
      break;
  }
  require(known, "validation.metric '" + m + "' is not produced by validation.kind '" +
                     config::enum_name(validation.kind) +
                     "' (retrieval: recall_at_<K in retrieval.ks>, map_at_r, r_precision; "
                     "verification: accuracy_mean, auc, eer, tar_at_far_1e-2, tar_at_far_1e-3; "
                     "classification: accuracy, precision, recall, f1, auc)");
}

TrainConfig decode_train_config(const config::Node& node) {
  auto cfg = config::decode<TrainConfig>(node);
  if (cfg.synth && cfg.synth->out.empty())
    throw ConfigError("synth.out must name the folder of the synthetic data");
  if (cfg.align) cfg.align->validate();
  // Every component decodes strictly now, so a misspelt option fails before any data is
  // read or any step is trained. The resolved config gets their defaults filled in.
  data::DatasetRegistry datasets("dataset");
  data::register_builtin_datasets(datasets);
  cfg.data.dataset = datasets.resolve(cfg.data.dataset);
  if (cfg.data.valid) cfg.data.valid = datasets.resolve(*cfg.data.valid);
  if (cfg.data.test) cfg.data.test = datasets.resolve(*cfg.data.test);
  data::build_pipeline(cfg.data.transforms.train);
  data::build_pipeline(cfg.data.transforms.eval);
  config::Component model = cfg.model;
  resolve_auto_classes(model.options, 2);
  models::resolve_model(model);
  for (auto& stage : cfg.stages) {
    stage.loss = losses::builtin_losses().resolve(stage.loss);
    stage.sampler = samplers::builtin_samplers().resolve(stage.sampler);
    stage.optimizer = optimizers().resolve(stage.optimizer);
    stage.scheduler = schedules().resolve(stage.scheduler);
  }
  return cfg;
}

void resolve_auto_classes(config::Node& node, std::int64_t classes) {
  if (!node.is_map()) return;
  for (const auto& [key, child] : node.entries()) {
    config::Node* c = node.find(key);
    if (key == "num_classes" && child.is_scalar() && child.text() == "auto") {
      *c = config::Node::scalar(std::to_string(classes), child.origin());
    } else {
      resolve_auto_classes(*c, classes);
    }
  }
}

}  // namespace wtp::train
