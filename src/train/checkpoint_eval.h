#pragma once
/// A trained checkpoint evaluated on its run's data exactly as the run's test was
/// (`wtp-eval --checkpoint`): the run's configuration (keys overridden by --config/--set),
/// the run's own split (RUN_DIR/splits.txt, never redrawn) or a separate dataset, the trained
/// model, RunEvaluator, and the report files (report.json, report.md, ROC plots).
#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"
#include "eval/report.h"

namespace wtp::train {

struct CheckpointEvalOptions {
  std::string checkpoint;        ///< RUN_DIR/checkpoints/best.pt
  std::string split = "test";    ///< test | valid | train
  std::string device;            ///< "" = the run's device
  std::string save_embeddings;   ///< also write the embeddings to this .npy ("" = no)
  std::string out;               ///< report path or directory ("" = report.json)
  bool flip = false;             ///< flip-averaged embeddings
  std::vector<std::int64_t> ks;  ///< Recall@K values ("" = the run's)
  bool plots = true;             ///< ROC and threshold plots for verification
};

/// Evaluates options.checkpoint. `overrides` are keys of the run's configuration (a
/// `validation.retrieval` / `validation.clustering` tuning, another `data.test`, ...); the
/// flat keys `retrieval` and `clustering` of wtp-eval's flags tune validation.
/// UsageError for keys that apply only to --embeddings/--pair-scores, an unknown split, a
/// split that cannot be recovered, or fewer than 2 images.
eval::Report run_checkpoint_eval(const config::Node& overrides,
                                 const CheckpointEvalOptions& options);

}  // namespace wtp::train
