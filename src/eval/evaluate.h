#pragma once
/// The `wtp-eval` workflow as a library function (the tool is a thin main around it):
/// evaluate given embeddings (retrieval + clustering) or given pair distances
/// (verification protocol + ROC), write report.json, report.md and the plots, and return
/// the flat report.
///
/// The checkpoint workflow (embed a configured dataset with a trained model) needs the
/// trainer, so it lives in train (`train::run_checkpoint_eval`, `wtp-eval --checkpoint`); it
/// writes its outputs with the helpers below.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "eval/kmeans.h"
#include "eval/report.h"
#include "eval/retrieval.h"
#include "eval/verification.h"

namespace wtp::eval {

struct EvalOptions {
  std::string embeddings;            ///< .npy of real embeddings [N, D] (with `labels`)
  std::string labels;                ///< .npy of integer labels [N]
  std::string pair_scores;           ///< CSV with the columns fold,same,distance (any order)
  std::string out = "report.json";   ///< report path or directory (see report_path())
  bool plots = true;                 ///< write roc.png and threshold_accuracy.png (pair scores)
  bool clustering = true;            ///< run k-means + NMI on embeddings
  bool ami = true;                   ///< also compute AMI (needs the expected mutual information)
  std::uint64_t seed = 0;            ///< k-means draws use mix_seed(seed, kmeans.seed)
  RetrievalOptions retrieval;        ///< Recall@K, MAP@R, R-precision
  KMeansOptions kmeans;              ///< clusters 0 = number of distinct labels
  VerificationOptions verification;  ///< protocol options

  template <class V>
  void visit(V& v) {
    v("embeddings", embeddings, ".npy of real embeddings [N, D] (needs labels)");
    v("labels", labels, ".npy of integer labels [N]");
    v("pair_scores", pair_scores,
      "CSV with the columns fold,same,distance (any order, others ignored)");
    v("out", out, "report path (.json) or directory; report.md and the plots go beside it");
    v("plots", plots, "write roc.png and threshold_accuracy.png");
    v("clustering", clustering, "run k-means + NMI on embeddings");
    v("ami", ami, "also compute AMI");
    v("seed", seed, "random seed (k-means++ draws)");
    v("retrieval", retrieval, "retrieval metrics");
    v("kmeans", kmeans, "k-means options");
    v("verification", verification, "verification protocol options");
  }
  void validate() const {
    require(embeddings.empty() != pair_scores.empty(),
            "give exactly one input: --embeddings E.npy --labels L.npy, or --pair-scores S.csv");
    require(embeddings.empty() || !labels.empty(), "--embeddings needs --labels L.npy");
    require(!embeddings.empty() || labels.empty(), "--labels is only used with --embeddings");
    require(!out.empty(), "--out must name the report file, e.g. report.json");
  }
};

/// The report file for `--out`: `out` itself when it ends in .json, else `out`/report.json
/// (a directory). Throws UsageError when `out` is empty.
std::filesystem::path report_path(const std::string& out);

/// Writes `report` as JSON to `json_path` and as a Markdown table beside it (same name,
/// .md), creating the directory. Throws std::runtime_error when a file cannot be written.
void write_report_files(const std::filesystem::path& json_path, const Report& report,
                        const std::string& title);

/// Writes `prefix`roc.png (log-scale FAR axis) and `prefix`threshold_accuracy.png (accuracy
/// over thresholds on all pairs, each fold's chosen threshold) of `v` into `dir`.
void write_verification_plots(const VerificationResult& v, const std::filesystem::path& dir,
                              const std::string& prefix = "");

/// The labels file written beside saved embeddings: E.npy -> E.labels.npy.
std::filesystem::path labels_path_for(const std::filesystem::path& embeddings);

/// Writes `embeddings` [N, D] as float32 .npy to `path` and `labels` [N] as int64 .npy to
/// labels_path_for(path), so `wtp-eval --embeddings path --labels ...` reads them back.
/// UsageError on mismatched shapes or a path not ending in .npy.
void save_embeddings(const std::filesystem::path& path, const torch::Tensor& embeddings,
                     const torch::Tensor& labels);

/// Pairs read from a scores CSV.
struct PairScores {
  std::vector<std::int64_t> fold;
  std::vector<std::int64_t> same;  ///< 1 = same person, 0 = different
  std::vector<double> distance;    ///< smaller = more similar
};

/// Reads a CSV (csv::Table) with the columns `fold`, `same` and `distance` in any order,
/// others ignored, one pair per line (fold: integer; same: 0 or 1; distance: finite real).
/// Blank lines are skipped; CRLF is accepted. Throws UsageError naming the file and the line of the
/// first problem, std::runtime_error when the file cannot be read.
PairScores read_pair_scores(const std::filesystem::path& path);

/// Runs the evaluation selected by `options`, writes options.out (JSON), the Markdown
/// table beside it (same name, .md) and, for pair scores with plots on, roc.png and
/// threshold_accuracy.png in the same directory. Returns the report.
/// Throws UsageError for bad input (shapes, NaN rows, label count, folds, CSV lines).
Report run_eval(const EvalOptions& options);

/// Embeddings + labels -> retrieval and (optionally) clustering metrics. The tensors are
/// checked as in run_eval (shape [N, D] / [N], finite, N >= 2).
Report evaluate_embeddings(const torch::Tensor& embeddings, const torch::Tensor& labels,
                           const EvalOptions& options);

/// Pair scores -> verification metrics; also writes the plots when options.plots and
/// `plot_dir` is not empty.
Report evaluate_pair_scores(const PairScores& pairs, const EvalOptions& options,
                            const std::filesystem::path& plot_dir = {});

}  // namespace wtp::eval
