#include "train/train_config.h"

#include <algorithm>

#include "core/error.h"
#include "data/dataset_registry.h"
#include "eval/liveness.h"
#include "eval/verification.h"
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

void RunExportOptions::validate() const {
  require(!what.empty(), "export.what must list at least one of: embedding, siamese, liveness");
  for (const auto kind : what)
    require(models::is_trained_model_kind(kind),
            "export.what: '" + config::enum_name(kind) +
                "' is not an archive of a trained model (choose from: embedding, siamese, "
                "liveness; wtp-export --what detector exports MTCNN)");
  require(
      !file.empty() && file.find('/') == std::string::npos,
      "export.file must be a file name without a directory (e.g. liveness.ts), got '" + file + "'");
}

std::vector<std::string> ValidationOptions::metric_names() const {
  switch (kind) {
    case EvalKind::kRetrieval:
      return eval::RetrievalResult::metric_names(retrieval);
    case EvalKind::kVerification:
      return eval::VerificationResult::metric_names();
    case EvalKind::kClassification:
      return eval::BinaryMetrics::metric_names();
  }
  return {};
}

void ValidationOptions::validate() const {
  const auto names = metric_names();
  if (std::find(names.begin(), names.end(), metric) != names.end()) return;
  std::string known;
  for (const auto& name : names) known += (known.empty() ? "" : ", ") + name;
  throw UsageError("validation.metric '" + metric + "' is not reported by validation.kind '" +
                   config::enum_name(kind) + "' (choose from: " + known + ")");
}

void TrainConfig::validate() const {
  require(!out.empty(), "out must name the run directory");
  require(!stages.empty(), "stages must list at least one training stage");
  require(!model.name.empty(), "model needs a name");
}

namespace {

/// Replaces every `num_classes: auto` under `node` with `classes`.
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

/// `component` resolved by `registry`, named by `path` in messages when the config left it
/// at its default (a component read from the file already knows its path).
template <class Registry>
config::Component resolve_at(const Registry& registry, config::Component component,
                             const std::string& path) {
  if (component.path.empty()) component.path = path;
  return registry.resolve(component);
}

}  // namespace

TrainConfig decode_train_config(const config::Node& node) {
  auto cfg = config::decode<TrainConfig>(node);
  if (cfg.synth && cfg.synth->out.empty())
    throw ConfigError("synth.out must name the folder of the synthetic data");
  if (cfg.align) cfg.align->validate();
  // Every component decodes strictly now, once, so a misspelt option fails before any data
  // is read or any step is trained; the resolved config gets their defaults filled in.
  const auto& datasets = data::dataset_registry();
  cfg.data.dataset = resolve_at(datasets, cfg.data.dataset, "data.dataset");
  if (cfg.data.valid) cfg.data.valid = resolve_at(datasets, *cfg.data.valid, "data.valid");
  if (cfg.data.test) cfg.data.test = resolve_at(datasets, *cfg.data.test, "data.test");
  for (auto* list : {&cfg.data.transforms.train, &cfg.data.transforms.eval}) {
    const std::string at = list == &cfg.data.transforms.train ? "train" : "eval";
    for (std::size_t i = 0; i < list->size(); ++i)
      (*list)[i] = resolve_at(data::transform_registry(), (*list)[i],
                              "data.transforms." + at + "[" + std::to_string(i) + "]");
    data::build_pipeline(*list);  // the list as a whole (order, sizes)
  }
  // The model is checked with `num_classes: auto` read as 2 and resolved by resolve_model()
  // once the class count is known.
  config::Component model = cfg.model;
  resolve_auto_classes(model.options, 2);
  resolve_at(models::model_registry(), model, "model");
  for (std::size_t s = 0; s < cfg.stages.size(); ++s) {
    auto& stage = cfg.stages[s];
    const std::string at = "stages[" + std::to_string(s) + "].";
    stage.loss = resolve_at(losses::loss_registry(), stage.loss, at + "loss");
    stage.sampler = resolve_at(samplers::sampler_registry(), stage.sampler, at + "sampler");
    stage.optimizer = resolve_at(optimizer_registry(), stage.optimizer, at + "optimizer");
    stage.scheduler = resolve_at(schedule_registry(), stage.scheduler, at + "scheduler");
  }
  return cfg;
}

void resolve_model(TrainConfig& cfg, std::int64_t classes) {
  resolve_auto_classes(cfg.model.options, classes);
  cfg.model = resolve_at(models::model_registry(), cfg.model, "model");
}

}  // namespace wtp::train
