#pragma once
/// Export of a trained run's model (`wtp-export --checkpoint`, and `wtp-train` at the end of
/// a run whose config has `export: {enabled: true}`): the checkpoint's model through
/// export_model(), with the run's facts in meta.json:
///   config_md5        MD5 of the run's resolved configuration (the checkpoint's copy)
///   model_config      that configuration's `model` section (YAML text)
///   checkpoint        stage, stage name, epoch and global step of the checkpoint
///   verification      the verification threshold chosen on validation, with what it
///                     applies to: for runs validated by verification, metrics.csv's `valid`
///                     `threshold_mean` at the checkpoint's epoch; for runs validated
///                     otherwise (retrieval), chosen at export by the same 10-fold protocol
///                     on pairs of the run's validation split (RUN_DIR/splits.txt); null
///                     with the reason when not applicable or the data is not available;
///                     for embedding archives also operating_points: the thresholds at
///                     false match rates kMatchFmrs over every pair of the validation
///                     split (the service matches at one of them; see
///                     match_operating_points)
///   liveness          (liveness archives) the decision threshold, the blink rule and the
///                     hysteresis pair the service uses: open_threshold (open iff P(closed)
///                     <= it) and closed_threshold (closed iff P(closed) >= it), chosen at
///                     export on the run's validation split so that at most kEyeStateError of
///                     its open frames read closed and of its closed frames read open
///                     (eval::choose_eye_state_thresholds; the rates are recorded under
///                     liveness.thresholds); absent, with liveness.thresholds_reason, when
///                     the split is missing or cannot be evaluated
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "export/export_model.h"
#include "train/trained_model.h"

namespace wtp::exporter {

/// The error allowed each way when the liveness hysteresis pair is chosen on validation.
constexpr double kEyeStateError = 0.02;

/// The false match rates whose thresholds an embedding archive records.
constexpr double kMatchFmrs[] = {1e-2, 1e-3, 1e-4};
/// Validation images used at most for the operating points (every pair of them; a larger
/// split is thinned by a constant stride).
constexpr std::int64_t kMaxPairItems = 4000;

/// The operating points of a trained embedding model on its run's validation split: a JSON
/// object with operating_points ([{fmr_target, threshold, fmr, fnmr}], one per kMatchFmrs
/// value a threshold reaches; same person iff distance <= threshold) and
/// operating_points_source, or operating_points_reason only when the split is missing or
/// fails.
nlohmann::json match_operating_points(const train::TrainedModel& trained);

/// The hysteresis pair of a trained eye-state model chosen on its run's validation split
/// (see the file comment): a JSON object with open_threshold, closed_threshold and
/// thresholds, or with thresholds_reason only when the split is missing or fails.
nlohmann::json liveness_thresholds(const train::TrainedModel& trained);

/// The `threshold_mean` of the `valid` rows of `metrics_csv` (stage,epoch,step,split,
/// metric,value) at stage `stage` and epoch `epoch`; nullopt when the file or the row is
/// absent (e.g. a run validated by retrieval, which measures no threshold).
std::optional<double> validation_threshold(const std::filesystem::path& metrics_csv,
                                           const std::string& stage, std::int64_t epoch);

/// Exports the model of the wtp checkpoint `checkpoint` (train::load_trained_model, on the
/// CPU) as options.what to `out`, with the run's metadata (see the top of this file).
/// Throws as load_trained_model and export_model.
ExportReport export_checkpoint(const std::string& checkpoint, const std::string& out,
                               const ExportOptions& options);

/// The archives a finished run writes for the kinds in `what`: RUN_DIR/`file` for a single
/// kind, RUN_DIR/model_<kind>.ts for each of several. The model is
/// RUN_DIR/checkpoints/best.pt. Throws UsageError for the detector kind (not a trained model).
std::vector<ExportReport> export_run(const std::filesystem::path& run_dir,
                                     const std::vector<ExportKind>& what,
                                     const std::string& file = "model.ts");

/// What wtp-train does when a run has finished: reads RUN_DIR/config.yaml and, when its
/// `export.enabled` is true, export_run(run_dir, export.what, export.file); else nothing
/// (empty result).
std::vector<ExportReport> export_configured(const std::filesystem::path& run_dir);

}  // namespace wtp::exporter
