// wtp-eval: evaluation reports (verification protocol, ROC, retrieval, clustering).
//
//   wtp-eval --embeddings E.npy --labels L.npy --out report.json   retrieval + clustering
//   wtp-eval --pair-scores S.csv --out report.json                  10-fold protocol + ROC
//   wtp-eval --model model.ts [--images DIR --out report.json]      an exported archive
//   wtp-eval --checkpoint RUN/checkpoints/best.pt [--config F] [--split test] [--flip]
//            [--save-embeddings E.npy] --out DIR_OR_report.json   a trained model on the
//            run's data, evaluated as the trainer tests (train::Evaluator)
//
// The work is wtp::eval::run_eval() (train::Evaluator for --checkpoint); this file maps
// flags to their options.
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "common/cli.h"
#include "core/config.h"
#include "core/log.h"
#include "data/dataset_registry.h"
#include "data/image_folder.h"
#include "eval/evaluate.h"
#include "export/export_model.h"
#include "export/exported_eval.h"
#include "train/evaluator.h"
#include "train/run_data.h"
#include "train/trained_model.h"

namespace {

namespace config = wtp::config;
namespace fs = std::filesystem;

struct CheckpointArgs {
  std::string checkpoint;        ///< RUN_DIR/checkpoints/best.pt
  std::string split = "test";    ///< test | valid | train
  std::string device;            ///< "" = the run's device
  std::string save_embeddings;   ///< .npy path or ""
  std::string out;               ///< --out, "" = report.json
  bool flip = false;             ///< flip-averaged embeddings
  std::vector<std::int64_t> ks;  ///< --k
};

struct PlotsFlag {
  bool plots = true;
  template <class V>
  void visit(V& v) {
    v("plots", plots, "write roc.png and threshold_accuracy.png");
  }
};

/// wtp-eval --checkpoint: the run's configuration (with --config / --set overriding its
/// keys), the run's own split (RUN_DIR/splits.txt, never redrawn), the trained model, then
/// train::Evaluator exactly as the trainer's test, and the report files.
wtp::eval::Report run_checkpoint(const config::Node& flags, const CheckpointArgs& a) {
  // Keys of the eval-only inputs that a checkpoint evaluation does not use.
  for (const char* key : {"embeddings", "labels", "pair_scores", "kmeans", "verification", "ami"})
    if (flags.find(key))
      throw wtp::UsageError(
          std::string("--checkpoint evaluates as the run's configuration says; '") + key +
          "' (and --restarts/--clusters/--old-sweep) apply only to " +
          "--embeddings or --pair-scores");
  auto trained = wtp::train::load_trained_model(a.checkpoint, a.device);
  config::Node node = trained.config_node;
  config::Node over = flags;
  over.erase("out");  // the report path here (--out), the run directory in a train config
  PlotsFlag plots;
  if (const config::Node* p = over.find("plots")) {
    config::Node m = config::Node::map();
    m.set("plots", *p);
    plots = config::decode<PlotsFlag>(m);
    over.erase("plots");
  }
  if (over.find("model")) {
    wtp::log::warn(
        "--checkpoint: the model comes from the checkpoint; 'model' of --config is "
        "ignored");
    over.erase("model");
  }
  // Retrieval flags (--block-size, --old-batch-size, --clustering) tune validation.
  config::Node validation = config::Node::map();
  if (const config::Node* r = over.find("retrieval")) validation.set("retrieval", *r);
  if (const config::Node* c = over.find("clustering")) validation.set("clustering", *c);
  over.erase("retrieval");
  over.erase("clustering");
  config::merge(node, over);
  if (!validation.entries().empty()) {
    config::Node v = config::Node::map();
    v.set("validation", validation);
    config::merge(node, v);
  }
  wtp::train::TrainConfig cfg = wtp::train::decode_train_config(node);
  if (!a.device.empty()) cfg.device = a.device;
  if (!a.ks.empty()) {
    cfg.validation.retrieval.ks = a.ks;
    cfg.validation.retrieval.validate();
  }

  // The split's dataset: a separate valid/test dataset, else the run's recorded split.
  wtp::data::Dataset ds;
  if (a.split == "test" && cfg.data.test) {
    ds = wtp::data::load_dataset(*cfg.data.test);
  } else if (a.split == "valid" && cfg.data.valid) {
    ds = wtp::data::load_dataset(*cfg.data.valid);
  } else {
    const fs::path split_file = trained.run_dir / "splits.txt";
    wtp::require(fs::exists(split_file),
                 "--checkpoint: " + split_file.string() + " is missing: the " + a.split +
                     " split of this run cannot be recovered (wtp-eval never redraws a split; "
                     "restore the file, or name a separate dataset with --config, e.g. "
                     "data: {test: {name: lfw, root: ...}})");
    auto run = wtp::train::load_run_data(cfg, split_file, /*reuse_split=*/true);
    ds = a.split == "test" ? run.test : a.split == "valid" ? run.valid : run.train;
  }
  wtp::require(ds.size() >= 2, "--checkpoint: the " + a.split + " split has " +
                                   std::to_string(ds.size()) + " images; at least 2 are needed");

  wtp::train::Evaluator evaluator(trained.model, cfg, wtp::train::parse_device(cfg.device));
  const bool classification = cfg.validation.kind == wtp::train::EvalKind::kClassification;
  torch::Tensor logits;
  const torch::Tensor emb =
      evaluator.embed(ds, classification ? &logits : nullptr, a.flip, /*progress=*/true);
  if (!a.save_embeddings.empty()) {
    wtp::eval::save_embeddings(a.save_embeddings, emb,
                               torch::tensor(wtp::train::item_labels(ds, cfg.data.label)));
    wtp::log::info("embeddings: ", a.save_embeddings, " and ",
                   wtp::eval::labels_path_for(a.save_embeddings).string());
  }
  std::map<std::string, wtp::eval::VerificationResult> verifications;
  const wtp::eval::Report report =
      evaluator.evaluate(ds, a.split, a.split == "test", emb, logits, &verifications);

  const fs::path out = wtp::eval::report_path(a.out.empty() ? "report.json" : a.out);
  const fs::path dir = out.has_parent_path() ? out.parent_path() : ".";
  wtp::eval::write_report_files(out, report,
                                "wtp-eval: " + a.checkpoint + ", " + a.split + " split (" +
                                    ds.name() + ", " + std::to_string(ds.size()) + " images)" +
                                    (a.flip ? ", flip-averaged" : ""));
  if (plots.plots)
    for (const auto& [prefix, v] : verifications)
      // roc.png for one set of pairs; prefixed names (pairs_roc.png) when there are two.
      wtp::eval::write_verification_plots(v, dir, verifications.size() == 1 ? "" : prefix);
  return report;
}

}  // namespace

int main(int argc, char** argv) {
  wtp::cli::Tool tool("wtp-eval",
                      "Evaluate embeddings (Recall@K, MAP@R, k-means NMI/AMI) or pair distances "
                      "(10-fold verification protocol, ROC)");
  tool.bind("--embeddings", "embeddings", ".npy of float embeddings [N, D]");
  tool.bind("--labels", "labels", ".npy of int64 labels [N] (with --embeddings)");
  tool.bind("--pair-scores", "pair_scores",
            "CSV with the columns fold,same,distance (any order, others ignored)");
  tool.bind("--out", "out",
            "report path (.json) or directory for report.json (report.md and the plots go "
            "beside it)");
  std::vector<std::int64_t> ks;
  tool.app()
      .add_option("--k", ks, "K values of Recall@K, comma-separated (default 1,2,4,8,10,20)")
      ->delimiter(',');
  tool.bind("--restarts", "kmeans.restarts", "k-means++ restarts (lowest inertia kept)");
  tool.bind("--clusters", "kmeans.clusters", "k of k-means (default: number of labels)");
  tool.bind("--block-size", "retrieval.block_size", "queries per retrieval block");
  tool.bind("--old-batch-size", "retrieval.old_batch_size",
            "also report the old per-batch Recall@K over batches of this size");
  tool.bind_flag("--old-sweep", "verification.old_sweep",
                 "also report the old fixed-sweep accuracy (chosen on the test pairs: leaky)");
  tool.bind("--plots", "plots", "write roc.png and threshold_accuracy.png (true/false)");
  tool.bind("--clustering", "clustering", "run k-means + NMI/AMI on embeddings (true/false)");
  // A trained checkpoint: --config / --set then override keys of the run's configuration.
  CheckpointArgs ck;
  auto* out_flag = tool.app().get_option("--out");
  tool.app().add_option("--checkpoint", ck.checkpoint,
                        "RUN_DIR/checkpoints/best.pt: embed the run's data with the trained "
                        "model and evaluate as its test did (--config/--set then override the "
                        "run's configuration, e.g. another test dataset)");
  tool.app()
      .add_option("--split", ck.split, "with --checkpoint: test, valid or train (default test)")
      ->check(CLI::IsMember({"test", "valid", "train"}));
  tool.app().add_flag("--flip", ck.flip,
                      "with --checkpoint: average each embedding with its mirror image's");
  tool.app().add_option("--save-embeddings", ck.save_embeddings,
                        "with --checkpoint: also write the embeddings to this .npy (float32 "
                        "[N, D]) and the labels to *.labels.npy (for --embeddings)");
  tool.app().add_option("--device", ck.device, "with --checkpoint: cpu, cuda, cuda:N");

  // An exported TorchScript archive (wtp-export): checked and described; with --images, its
  // embeddings of that folder are evaluated as with --embeddings (and kept beside the report).
  std::string model, model_images;
  tool.app().add_option("--model", model,
                        "exported TorchScript archive (wtp-export): check and describe it; "
                        "with --images DIR, evaluate its embeddings of that image folder");
  tool.app().add_option("--images", model_images,
                        "with --model: image folder, one sub-folder per identity");

  return tool.run(argc, argv, [&] {
    wtp::config::Node config = tool.config();
    wtp::require(ck.checkpoint.empty() || model.empty(),
                 "give either --checkpoint or --model, not both");
    if (!model.empty()) {
      wtp::require(!config.find("embeddings") && !config.find("pair_scores"),
                   "--model is an input of its own: drop --embeddings/--pair-scores");
      auto loaded = wtp::exporter::load_exported(model);  // damaged files fail here
      std::cout << wtp::exporter::describe_exported(loaded) << std::flush;
      if (model_images.empty()) return;
      wtp::data::ImageFolderOptions folder;
      folder.root = model_images;
      const auto ds = wtp::data::load_image_folder(folder);
      const wtp::config::Node* out = config.find("out");
      const auto npy = wtp::eval::report_path(out ? out->text() : "report.json").parent_path() /
                       "embeddings.npy";
      wtp::eval::save_embeddings(npy, wtp::exporter::embed_dataset(loaded, ds),
                                 torch::tensor(ds.labels()));
      config.set("embeddings", wtp::config::Node::scalar(npy.string()));
      config.set("labels", wtp::config::Node::scalar(wtp::eval::labels_path_for(npy).string()));
    } else {
      wtp::require(model_images.empty(), "--images needs --model model.ts");
    }
    if (!ck.checkpoint.empty()) {
      if (out_flag->count() > 0) ck.out = config.find("out")->text();
      ck.ks = ks;
      const wtp::eval::Report report = run_checkpoint(config, ck);
      std::cout << wtp::eval::report_table(report) << std::flush;
      return;
    }
    wtp::require(ck.split == "test" && !ck.flip && ck.save_embeddings.empty() && ck.device.empty(),
                 "--split, --flip, --save-embeddings and --device need --checkpoint");
    auto options = wtp::config::decode<wtp::eval::EvalOptions>(config);
    if (!ks.empty()) {
      options.retrieval.ks = ks;
      options.retrieval.validate();
    }
    const wtp::eval::Report report = wtp::eval::run_eval(options);
    std::cout << wtp::eval::report_table(report) << std::flush;
  });
}
