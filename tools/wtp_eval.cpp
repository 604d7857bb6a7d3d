// wtp-eval: evaluation reports (verification protocol, ROC, retrieval, clustering).
//
//   wtp-eval --embeddings E.npy --labels L.npy --out report.json   retrieval + clustering
//   wtp-eval --pair-scores S.csv --out report.json                  10-fold protocol + ROC
//   wtp-eval --model model.ts [--images DIR --out report.json]      an exported archive
//   wtp-eval --checkpoint RUN/checkpoints/best.pt [--config F] [--split test] [--flip]
//            [--save-embeddings E.npy] --out DIR_OR_report.json   a trained model on the
//            run's data, evaluated as the trainer tests (train::RunEvaluator)
//
// The work is wtp::eval::run_eval(), wtp::train::run_checkpoint_eval() and
// wtp::exporter's archive evaluation; this file maps flags to their options.
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "common/cli.h"
#include "core/config.h"
#include "eval/evaluate.h"
#include "export/export_model.h"
#include "export/exported_eval.h"
#include "train/checkpoint_eval.h"

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
  wtp::train::CheckpointEvalOptions ck;
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
      const wtp::config::Node* out = config.find("out");
      const auto npy = wtp::exporter::write_folder_embeddings(loaded, model_images,
                                                              out ? out->text() : "report.json");
      config.set("embeddings", wtp::config::Node::scalar(npy.string()));
      config.set("labels", wtp::config::Node::scalar(wtp::eval::labels_path_for(npy).string()));
    } else {
      wtp::require(model_images.empty(), "--images needs --model model.ts");
    }
    if (!ck.checkpoint.empty()) {
      if (out_flag->count() > 0) ck.out = config.find("out")->text();
      if (const wtp::config::Node* plots = config.find("plots"))
        ck.plots = wtp::config::decode<bool>(*plots, "plots");
      ck.ks = ks;
      const wtp::eval::Report report = wtp::train::run_checkpoint_eval(config, ck);
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
