#pragma once
/// The configuration of a training run (`wtp-train --config FILE`): data, model, initial
/// weights, stages, validation. Decoded strictly (unknown keys and bad values fail with
/// file:line before any data is read); see configs/ for every recipe.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "align/align_folder.h"
#include "core/config.h"
#include "data/split.h"
#include "data/transforms.h"
#include "eval/retrieval.h"
#include "models/export_kind.h"
#include "synth/synth_faces.h"

namespace wtp::train {

/// What validation and test measure.
enum class EvalKind {
  kRetrieval,       ///< embeddings of the split: Recall@K, MAP@R, R-precision (+ NMI at test)
  kVerification,    ///< pairs of the split: distance or pair-head score -> accuracy, AUC
  kClassification,  ///< binary label (eye state): accuracy, precision, recall, F1, AUC
};
WTP_ENUM_NAMES(EvalKind, {EvalKind::kRetrieval, "retrieval"},
               {EvalKind::kVerification, "verification"},
               {EvalKind::kClassification, "classification"})

/// Whether a larger metric value is better.
enum class Goal { kMax, kMin };
WTP_ENUM_NAMES(Goal, {Goal::kMax, "max"}, {Goal::kMin, "min"})

/// Which attribute of an item is its training label.
enum class LabelKind {
  kIdentity,  ///< the identity (class) label
  kEyeState,  ///< 1 = eyes closed, 0 = open (CEW)
};
WTP_ENUM_NAMES(LabelKind, {LabelKind::kIdentity, "identity"}, {LabelKind::kEyeState, "eye_state"})

struct DataOptions {
  config::Component dataset;               ///< the source dataset (registry name + options)
  std::optional<config::Component> valid;  ///< separate validation dataset (else a split)
  std::optional<config::Component> test;   ///< separate test dataset (else a split)
  std::string test_pairs;                  ///< LFW-format pairs file on the test dataset
  data::SplitOptions split;                ///< split of `dataset` into train/valid/test
  std::int64_t min_images = 1;             ///< training identities need this many images
  LabelKind label = LabelKind::kIdentity;  ///< training label
  data::PipelineOptions transforms;        ///< per-split transforms (no normalize: the
                                           ///< model's preset is appended)
  int workers = 2;                         ///< loader threads
  int prefetch = 4;                        ///< batches decoded ahead
  std::int64_t eval_batch_size = 64;       ///< batch size when embedding for evaluation
  std::int64_t valid_pairs = 1000;         ///< verification: pairs drawn from the split

  template <class V>
  void visit(V& v) {
    v("dataset", dataset, "source dataset: {name: lfw|celeba|cew|image_folder, ...}");
    v("valid", valid, "separate validation dataset (default: a split of dataset)");
    v("test", test, "separate test dataset (default: a split of dataset)");
    v("test_pairs", test_pairs, "LFW-format pairs file evaluated on the test dataset");
    v("split", split, "train/valid/test split of dataset (identity-disjoint by default)");
    v("min_images", min_images, "training identities need at least this many images");
    v("label", label, "training label: identity | eye_state");
    v("transforms", transforms, "transforms per split (the model's normalisation is added)");
    v("workers", workers, "loader threads");
    v("prefetch", prefetch, "batches decoded ahead");
    v("eval_batch_size", eval_batch_size, "batch size for evaluation passes");
    v("valid_pairs", valid_pairs, "verification: pairs drawn from a split");
  }
  void validate() const;
};

struct EarlyStoppingOptions {
  std::int64_t patience = 0;  ///< epochs without improvement before stopping (0 = never)
  double min_delta = 0.0;     ///< smallest change that counts as an improvement
  template <class V>
  void visit(V& v) {
    v("patience", patience, "epochs without improvement before stopping (0 = off)");
    v("min_delta", min_delta, "smallest change that counts as an improvement");
  }
};

struct StageOptions {
  std::string name = "train";                       ///< shown in logs and metrics.csv
  std::int64_t epochs = 1;                          ///< epochs of this stage
  config::Component loss{"cross_entropy", {}};      ///< loss (registry)
  config::Component sampler{"class_balanced", {}};  ///< training sampler (registry)
  config::Component optimizer{"adam", {}};          ///< optimizer (registry)
  config::Component scheduler{"constant", {}};      ///< learning-rate schedule (registry)
  double clip_grad_norm = 0.0;                      ///< max gradient L2 norm (0 = off)
  std::int64_t max_steps_per_epoch = 0;             ///< cap on steps per epoch (0 = all)
  EarlyStoppingOptions early_stopping;              ///< on the validation metric
  std::vector<std::string> freeze;                  ///< model parts frozen in this stage
  std::vector<std::string> unfreeze;                ///< model parts unfrozen in this stage

  template <class V>
  void visit(V& v) {
    v("name", name, "stage name");
    v("epochs", epochs, "epochs of this stage");
    v("loss", loss, "loss: contrastive | bce_pair | cross_entropy | group_loss");
    v("sampler", sampler, "sampler: class_balanced | pairs | random | sequential");
    v("optimizer", optimizer, "optimizer: adam | adamw | sgd");
    v("scheduler", scheduler, "schedule: constant | step | multistep | cosine");
    v("clip_grad_norm", clip_grad_norm, "max gradient L2 norm (0 = off)");
    v("max_steps_per_epoch", max_steps_per_epoch, "cap on steps per epoch (0 = all)");
    v("early_stopping", early_stopping, "early stopping on the validation metric");
    v("freeze", freeze, "model parts (name prefixes) frozen in this stage");
    v("unfreeze", unfreeze, "model parts unfrozen in this stage");
  }
  void validate() const;
};

struct ValidationOptions {
  EvalKind kind = EvalKind::kRetrieval;  ///< what to measure
  std::string metric = "recall_at_1";    ///< validation metric choosing the best checkpoint
  Goal goal = Goal::kMax;                ///< larger is better (max) or smaller (min)
  eval::RetrievalOptions retrieval;      ///< Recall@K options
  bool clustering = true;                ///< test: k-means + NMI on the embeddings
  bool flip = false;                     ///< embeddings averaged with the mirror image's
  template <class V>
  void visit(V& v) {
    v("kind", kind, "retrieval | verification | classification");
    v("metric", metric, "validation metric that chooses the best checkpoint");
    v("goal", goal, "max (larger is better) | min");
    v("retrieval", retrieval, "retrieval metric options");
    v("clustering", clustering, "at test: k-means + NMI on the embeddings");
    v("flip", flip, "average each embedding with its mirror image's (test-time augmentation)");
  }
  /// The metrics a validation of `kind` reports that `metric` may name (the one list that
  /// validation, the trainer's log and error messages use; from the eval reports).
  std::vector<std::string> metric_names() const;
  void validate() const;
};

/// Initial weights from another run's checkpoint or a PyTorch file.
struct InitOptions {
  std::string checkpoint;           ///< wtp checkpoint or torch.save file ("" = none)
  std::string source_prefix;        ///< only tensors under this prefix, with it removed
  std::string target_prefix;        ///< prepended to every name before loading
  std::vector<std::string> ignore;  ///< regexes of source names (source_prefix removed) left out
  bool strict = true;               ///< every target parameter must be found
  template <class V>
  void visit(V& v) {
    v("checkpoint", checkpoint, "wtp checkpoint or torch.save file to start from");
    v("source_prefix", source_prefix, "take only tensors under this prefix (removed)");
    v("target_prefix", target_prefix, "prefix added to every name (e.g. backbone.)");
    v("ignore", ignore, "regexes of source names to leave out (e.g. a pretrained classifier)");
    v("strict", strict, "fail when a parameter under target_prefix is not found");
  }
};

/// TorchScript export of the run's best model when the run finishes (wtp-train; the archives
/// are written by wtp::exporter::export_run, see src/export/export_checkpoint.h).
struct RunExportOptions {
  bool enabled = false;  ///< export RUN_DIR/checkpoints/best.pt at the end
  /// Archives: embedding | siamese | liveness; one kind -> RUN_DIR/<file>, several ->
  /// RUN_DIR/model_<kind>.ts
  std::vector<models::ExportKind> what{models::ExportKind::kEmbedding};
  std::string file = "model.ts";  ///< archive file name in RUN_DIR when `what` has one kind
  template <class V>
  void visit(V& v) {
    v("enabled", enabled, "export the best model as TorchScript when the run finishes");
    v("what", what, "archives to write: embedding | siamese | liveness (one: RUN_DIR/<file>)");
    v("file", file, "archive file name in the run directory when `what` has one kind");
  }
  void validate() const;
};

struct TrainConfig {
  std::uint64_t seed = 0;                    ///< seed of everything random
  std::string device = "cpu";                ///< cpu | cuda | cuda:N
  std::string out = "runs/run";              ///< run directory
  std::optional<synth::SynthOptions> synth;  ///< generate synthetic data first if absent
  /// Align a folder tree first (after synth), as wtp-align does; resumes an earlier run.
  std::optional<align::AlignRunOptions> align;
  DataOptions data;                  ///< datasets, splits, transforms, loader
  config::Component model;           ///< model (registry name + options)
  InitOptions init;                  ///< initial weights
  std::vector<StageOptions> stages;  ///< training stages, in order
  ValidationOptions validation;      ///< validation (and test) evaluation
  bool test = true;                  ///< evaluate the test split at the end
  RunExportOptions export_;          ///< TorchScript export at the end (`export`)

  template <class V>
  void visit(V& v) {
    v("seed", seed, "seed of everything random");
    v("device", device, "cpu | cuda | cuda:N");
    v("out", out, "run directory");
    v("synth", synth, "generate wtp-synth data first when synth.out has none");
    v("align", align,
      "align a folder tree first, after synth (wtp-align's options; resumes an earlier run)");
    v("data", data, "datasets, splits, transforms and loader");
    v("model", model, "model: registry name and options (num_classes: auto = train classes)");
    v("init", init, "initial weights from a checkpoint");
    v("stages", stages, "training stages, in order");
    v("validation", validation, "validation and test evaluation");
    v("test", test, "evaluate the test split once at the end");
    v("export", export_, "TorchScript export of the best model at the end (wtp-export)");
  }
  void validate() const;
};

/// Decodes and validates a configuration node (strict; errors name key, file and line, and
/// a component's options its full path, e.g. `stages[1].loss.temperature`). Every component
/// but the model (datasets, transforms, losses, samplers, optimizers, schedules) is resolved
/// through its registry: decoded once, defaults filled in. The model is checked here (with
/// `num_classes: auto` read as 2) and resolved by resolve_model() once the class count is
/// known.
TrainConfig decode_train_config(const config::Node& node);

/// Replaces every `num_classes: auto` of cfg.model with `classes` and resolves the model
/// (decoded once, every default filled in, its backbone's too). After this, config::encode(cfg)
/// is the run's resolved config (config.yaml).
void resolve_model(TrainConfig& cfg, std::int64_t classes);

}  // namespace wtp::train
