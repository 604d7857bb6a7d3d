#include "export/export_checkpoint.h"

#include <cmath>

#include "core/error.h"
#include "download/md5.h"
#include "eval/liveness.h"
#include "eval/roc.h"
#include "train/metrics_csv.h"
#include "train/run_data.h"
#include "train/run_evaluator.h"
#include "train/train_config.h"
#include "train/trained_model.h"

namespace wtp::exporter {

namespace fs = std::filesystem;

std::optional<double> validation_threshold(const fs::path& metrics_csv, const std::string& stage,
                                           std::int64_t epoch) {
  std::optional<double> found;
  for (const auto& row : train::read_metric_rows(metrics_csv))
    if (row.stage == stage && row.split == "valid" && row.metric == "threshold_mean" &&
        row.epoch == std::to_string(epoch) && std::isfinite(row.value))
      found = row.value;  // the last one wins
  return found;
}

namespace {

/// The run's configuration for evaluating its splits here: one loader worker, and neither
/// synthetic data generated nor a folder aligned (a missing dataset is reported instead).
train::TrainConfig validation_config(train::TrainConfig cfg) {
  cfg.data.workers = 1;
  cfg.synth.reset();
  cfg.align.reset();
  return cfg;
}

/// `measure(evaluator, valid)` on the run's validation split (split as RUN_DIR/splits.txt,
/// on the CPU, no data generated); when the split is missing or cannot be evaluated,
/// {`reason_key`: why}.
template <class Measure>
nlohmann::json on_valid_split(const train::TrainedModel& trained, const std::string& reason_key,
                              Measure measure) {
  try {
    const train::TrainConfig vcfg = validation_config(trained.config);
    auto data = train::load_run_data(vcfg, trained.run_dir / "splits.txt", /*reuse_split=*/true);
    if (!data.has_valid) return {{reason_key, "not chosen: the run has no validation split"}};
    train::RunEvaluator evaluator(trained.model, vcfg, torch::kCPU);
    return measure(evaluator, data.valid);
  } catch (const std::exception& e) {
    return {{reason_key,
             std::string("not chosen: the validation split could not be evaluated: ") + e.what()}};
  }
}

}  // namespace

nlohmann::json liveness_thresholds(const train::TrainedModel& trained) {
  return on_valid_split(
      trained, "thresholds_reason", [](train::RunEvaluator& evaluator, const data::Dataset& valid) {
        train::EvalPass pass;
        pass.logits = true;
        const torch::Tensor logits = evaluator.embed(valid, pass).logits;
        const auto t = eval::choose_eye_state_thresholds(
            torch::sigmoid(logits.reshape({-1}).to(torch::kDouble)),
            torch::tensor(train::item_labels(valid, train::LabelKind::kEyeState)), kEyeStateError);
        return nlohmann::json{
            {"open_threshold", t.open_threshold},
            {"closed_threshold", t.closed_threshold},
            {"thresholds",
             {{"source",
               "chosen at export on the run's validation split (RUN_DIR/splits.txt): at "
               "most error of its open frames read closed and of its closed frames "
               "read open (eval::choose_eye_state_thresholds)"},
              {"error", kEyeStateError},
              {"open_frames", t.open_frames},
              {"closed_frames", t.closed_frames},
              {"false_closed_rate", t.false_closed_rate},
              {"false_open_rate", t.false_open_rate},
              {"open_recall", t.open_recall},
              {"closed_recall", t.closed_recall}}}};
      });
}

nlohmann::json match_operating_points(const train::TrainedModel& trained) {
  return on_valid_split(
      trained, "operating_points_reason",
      [](train::RunEvaluator& evaluator, const data::Dataset& valid) {
        torch::Tensor embeddings = torch::nn::functional::normalize(
            evaluator.embed(valid, {}).embeddings.to(torch::kDouble),
            torch::nn::functional::NormalizeFuncOptions().dim(1));
        torch::Tensor labels =
            torch::tensor(train::item_labels(valid, train::LabelKind::kIdentity));
        const std::int64_t n = embeddings.size(0), stride = (n + kMaxPairItems - 1) / kMaxPairItems;
        embeddings = embeddings.slice(0, 0, n, stride);
        labels = labels.slice(0, 0, n, stride);
        const std::int64_t m = embeddings.size(0);
        const torch::Tensor upper = torch::triu_indices(m, m, 1);
        const torch::Tensor distances =
            torch::cdist(embeddings, embeddings).index({upper[0], upper[1]});
        const torch::Tensor same = labels.index({upper[0]}).eq(labels.index({upper[1]}));
        const eval::RocCurve roc =
            eval::roc_curve(distances, same, eval::ScoreOrder::kLowerIsPositive);
        nlohmann::json points = nlohmann::json::array();
        for (const double fmr : kMatchFmrs) {
          const eval::OperatingPoint p = eval::operating_point_at_far(roc, fmr);
          if (!std::isfinite(p.threshold)) continue;  // no threshold reaches this FMR
          points.push_back({{"fmr_target", fmr},
                            {"threshold", p.threshold},
                            {"fmr", p.far},
                            {"fnmr", 1.0 - p.tar}});
        }
        return nlohmann::json{
            {"operating_points", points},
            {"operating_points_source",
             "chosen at export on every pair of " + std::to_string(m) +
                 " images of the run's validation split (RUN_DIR/splits.txt): " +
                 std::to_string(roc.positives) + " genuine, " + std::to_string(roc.negatives) +
                 " impostor pairs; each the most permissive threshold whose false match rate is at "
                 "most fmr_target"}};
      });
}

ExportReport export_checkpoint(const std::string& checkpoint, const std::string& out,
                               const ExportOptions& options) {
  train::TrainedModel trained = train::load_trained_model(checkpoint, "cpu");
  const auto& cfg = trained.config;
  const auto& state = trained.state;
  const auto stage_index = static_cast<std::size_t>(state.stage);
  const std::string stage_name =
      stage_index < cfg.stages.size() ? cfg.stages[stage_index].name : std::string();

  download::Md5 md5;
  md5.update(state.config_yaml);
  nlohmann::json meta;
  meta["config_md5"] = md5.hex_digest();
  if (const config::Node* model = trained.config_node.find("model"))
    meta["model_config"] = config::to_yaml(*model);
  meta["checkpoint"] = {{"file", fs::path(checkpoint).filename().string()},
                        {"stage", state.stage},
                        {"stage_name", stage_name},
                        {"epoch", state.epoch},
                        {"global_step", state.global_step}};

  // The verification threshold: what validation chose at the checkpoint's epoch, and what
  // it applies to (it is only meaningful for the measure validation used).
  nlohmann::json verification = {{"threshold", nullptr}};
  const bool pair_head = trained.model->has_pair_head();
  const bool measured_here = options.what == ExportKind::kEmbedding
                                 ? !pair_head
                                 : options.what == ExportKind::kSiamese && pair_head;
  if (options.what == ExportKind::kLiveness) {
    verification["reason"] = "not applicable to a liveness archive";
  } else if (!measured_here) {
    verification["reason"] = std::string("not applicable: verification of this model measures ") +
                             (pair_head ? "the pair head's probability" : "embedding distances") +
                             ", not what this archive returns";
  } else if (cfg.validation.kind == train::EvalKind::kVerification) {
    if (auto t = validation_threshold(trained.run_dir / "metrics.csv", stage_name, state.epoch)) {
      verification["threshold"] = *t;
      verification["source"] = "metrics.csv: valid threshold_mean at stage " + stage_name +
                               " epoch " + std::to_string(state.epoch);
    } else {
      verification["reason"] = "not found: " + (trained.run_dir / "metrics.csv").string() +
                               " has no valid threshold_mean at stage " + stage_name + " epoch " +
                               std::to_string(state.epoch);
    }
  } else {
    // Validated otherwise (e.g. retrieval): choose it now, as validation would have, with the
    // verification protocol on pairs of the run's validation split.
    try {
      train::TrainConfig vcfg = validation_config(cfg);
      vcfg.validation.kind = train::EvalKind::kVerification;
      auto data = train::load_run_data(vcfg, trained.run_dir / "splits.txt", /*reuse_split=*/true);
      if (!data.has_valid) {
        verification["reason"] = "not measured: the run has no validation split";
      } else {
        train::RunEvaluator evaluator(trained.model, vcfg, torch::kCPU);
        const auto report = evaluator.evaluate(data.valid, train::EvalPass{});
        verification["threshold"] = report.at("threshold_mean");
        verification["accuracy"] = report.at("accuracy_mean");
        verification["source"] =
            "chosen at export: 10-fold verification protocol on " +
            std::to_string(static_cast<std::int64_t>(report.at("verification_pairs"))) +
            " pairs of the run's validation split (validation.kind was " +
            config::enum_name(cfg.validation.kind) + ")";
      }
    } catch (const std::exception& e) {
      verification["reason"] =
          std::string("not measured: the validation split could not be evaluated: ") + e.what();
    }
  }
  verification["decision"] =
      pair_head ? "same person iff sigmoid(pair logit) <= threshold"
                : "same person iff the Euclidean distance between the two embeddings <= threshold";
  if (options.what == ExportKind::kEmbedding && !pair_head)
    verification.update(match_operating_points(trained));
  meta["verification"] = verification;
  if (options.what == ExportKind::kLiveness) meta["liveness"] = liveness_thresholds(trained);
  return export_model(trained.model, out, options, meta);
}

std::vector<ExportReport> export_run(const fs::path& run_dir, const std::vector<ExportKind>& what,
                                     const std::string& file) {
  require(!what.empty(),
          "export.what: give at least one of: " + config::enum_choices<ExportKind>());
  std::vector<ExportReport> reports;
  for (const ExportKind kind : what) {
    require(models::is_trained_model_kind(kind),
            "export.what: 'detector' exports MTCNN, not a trained model (use wtp-export --what "
            "detector --weights DIR)");
    ExportOptions options;
    options.what = kind;
    const fs::path out =
        what.size() == 1 ? run_dir / file : run_dir / ("model_" + config::enum_name(kind) + ".ts");
    reports.push_back(
        export_checkpoint((run_dir / "checkpoints" / "best.pt").string(), out.string(), options));
  }
  return reports;
}

std::vector<ExportReport> export_configured(const fs::path& run_dir) {
  const auto cfg =
      train::decode_train_config(config::load_file((run_dir / "config.yaml").string()));
  if (!cfg.export_.enabled) return {};
  return export_run(run_dir, cfg.export_.what, cfg.export_.file);
}

}  // namespace wtp::exporter
