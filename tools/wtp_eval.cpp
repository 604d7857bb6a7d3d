// wtp-eval: evaluation reports (verification protocol, ROC, retrieval, clustering).
//
//   wtp-eval --embeddings E.npy --labels L.npy --out report.json   retrieval + clustering
//   wtp-eval --pair-scores S.csv --out report.json                  10-fold protocol + ROC
//
// The work is wtp::eval::run_eval(); this file only maps flags to its options.
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "common/cli.h"
#include "core/config.h"
#include "eval/evaluate.h"

int main(int argc, char** argv) {
  wtp::cli::Tool tool("wtp-eval",
                      "Evaluate embeddings (Recall@K, MAP@R, k-means NMI/AMI) or pair distances "
                      "(10-fold verification protocol, ROC)");
  tool.bind("--embeddings", "embeddings", ".npy of float embeddings [N, D]");
  tool.bind("--labels", "labels", ".npy of int64 labels [N] (with --embeddings)");
  tool.bind("--pair-scores", "pair_scores", "CSV with header fold,same,distance");
  tool.bind("--out", "out", "report path (report.md and the plots go beside it)");
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
  // The checkpoint workflow (embed a configured dataset with a trained model) arrives with
  // the trainer; until then the flag is recognised and says so.
  std::string checkpoint;
  tool.app().add_option("--checkpoint", checkpoint,
                        "trained checkpoint to embed a dataset with (arrives with the trainer)");

  return tool.run(argc, argv, [&] {
    if (!checkpoint.empty())
      throw wtp::UsageError(
          "--checkpoint is not available yet: it arrives with the trainer (wtp-train). For now, "
          "export embeddings to .npy and use --embeddings E.npy --labels L.npy");
    auto options = wtp::config::decode<wtp::eval::EvalOptions>(tool.config());
    if (!ks.empty()) {
      options.retrieval.ks = ks;
      options.retrieval.validate();
    }
    const wtp::eval::Report report = wtp::eval::run_eval(options);
    std::cout << wtp::eval::report_table(report) << std::flush;
  });
}
