#include "train/checkpoint_eval.h"

#include <filesystem>
#include <map>

#include "core/device.h"
#include "core/error.h"
#include "core/log.h"
#include "data/dataset_registry.h"
#include "eval/evaluate.h"
#include "train/run_data.h"
#include "train/run_evaluator.h"
#include "train/trained_model.h"

namespace wtp::train {
namespace fs = std::filesystem;

namespace {

/// The run's configuration with `flags` merged in: wtp-eval's flat `retrieval` and
/// `clustering` keys go under `validation`, `out` and `model` are not the run's.
config::Node merged_config(const config::Node& run, config::Node flags) {
  // Keys of the eval-only inputs that a checkpoint evaluation does not use.
  for (const char* key : {"embeddings", "labels", "pair_scores", "kmeans", "verification", "ami"})
    if (flags.find(key))
      throw UsageError(std::string("--checkpoint evaluates as the run's configuration says; '") +
                       key + "' (and --restarts/--clusters/--old-sweep) apply only to " +
                       "--embeddings or --pair-scores");
  flags.erase("out");  // the report path here, the run directory in a train config
  flags.erase("plots");
  if (flags.find("model")) {
    log::warn("--checkpoint: the model comes from the checkpoint; 'model' of --config is ignored");
    flags.erase("model");
  }
  config::Node validation = config::Node::map();
  for (const char* key : {"retrieval", "clustering"})
    if (const config::Node* v = flags.find(key)) {
      validation.set(key, *v);
      flags.erase(key);
    }
  config::Node node = run;
  config::merge(node, flags);
  if (!validation.entries().empty()) {
    config::Node v = config::Node::map();
    v.set("validation", validation);
    config::merge(node, v);
  }
  return node;
}

/// The split to evaluate: a separate valid/test dataset, else the run's recorded split.
data::Dataset split_dataset(const TrainConfig& cfg, const fs::path& run_dir,
                            const std::string& split) {
  require(split == "test" || split == "valid" || split == "train",
          "--split must be test, valid or train, got '" + split + "'");
  if (split == "test" && cfg.data.test) return data::dataset_registry().create(*cfg.data.test);
  if (split == "valid" && cfg.data.valid) return data::dataset_registry().create(*cfg.data.valid);
  const fs::path split_file = run_dir / "splits.txt";
  require(fs::exists(split_file),
          "--checkpoint: " + split_file.string() + " is missing: the " + split +
              " split of this run cannot be recovered (wtp-eval never redraws a split; "
              "restore the file, or name a separate dataset with --config, e.g. "
              "data: {test: {name: lfw, root: ...}})");
  auto run = load_run_data(cfg, split_file, /*reuse_split=*/true);
  return split == "test" ? run.test : split == "valid" ? run.valid : run.train;
}

}  // namespace

eval::Report run_checkpoint_eval(const config::Node& overrides,
                                 const CheckpointEvalOptions& options) {
  auto trained = load_trained_model(options.checkpoint, options.device);
  TrainConfig cfg = decode_train_config(merged_config(trained.config_node, overrides));
  if (!options.device.empty()) cfg.device = options.device;
  if (!options.ks.empty()) {
    cfg.validation.retrieval.ks = options.ks;
    cfg.validation.retrieval.validate();
    cfg.validation.validate();
  }
  const data::Dataset ds = split_dataset(cfg, trained.run_dir, options.split);
  require(ds.size() >= 2, "--checkpoint: the " + options.split + " split has " +
                              std::to_string(ds.size()) + " images; at least 2 are needed");

  RunEvaluator evaluator(trained.model, cfg, parse_device(cfg.device));
  EvalPass pass;
  pass.split = options.split;
  pass.test_protocol = options.split == "test";
  pass.flip = options.flip;
  pass.progress = true;
  const Embedded embedded = evaluator.embed(ds, pass);
  if (!options.save_embeddings.empty()) {
    eval::save_embeddings(options.save_embeddings, embedded.embeddings,
                          torch::tensor(item_labels(ds, cfg.data.label)));
    log::info("embeddings: ", options.save_embeddings, " and ",
              eval::labels_path_for(options.save_embeddings).string());
  }
  std::map<std::string, eval::VerificationResult> verifications;
  const eval::Report report = evaluator.evaluate(ds, pass, embedded, &verifications);

  const fs::path out = eval::report_path(options.out.empty() ? "report.json" : options.out);
  const fs::path dir = out.has_parent_path() ? out.parent_path() : ".";
  eval::write_report_files(out, report,
                           "wtp-eval: " + options.checkpoint + ", " + options.split + " split (" +
                               ds.name() + ", " + std::to_string(ds.size()) + " images)" +
                               (options.flip ? ", flip-averaged" : ""));
  if (options.plots)
    for (const auto& [prefix, v] : verifications)
      // roc.png for one set of pairs; prefixed names (pairs_roc.png) when there are two.
      eval::write_verification_plots(v, dir, verifications.size() == 1 ? "" : prefix);
  return report;
}

}  // namespace wtp::train
