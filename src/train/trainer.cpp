#include "train/trainer.h"

#include <ATen/Parallel.h>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sstream>
#include <torch/torch.h>

#include "core/device.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/random.h"
#include "data/dataset_registry.h"
#include "data/lfw.h"
#include "data/loader.h"
#include "dist/group.h"
#include "eval/evaluate.h"
#include "eval/liveness.h"
#include "eval/plot.h"
#include "eval/verification.h"
#include "losses/loss.h"
#include "models/freeze.h"
#include "models/model_registry.h"
#include "models/weights.h"
#include "samplers/pairs.h"
#include "samplers/sampler.h"
#include "train/batch_stream.h"
#include "train/checkpoint.h"
#include "train/dist_context.h"
#include "train/init_weights.h"
#include "train/interrupt.h"
#include "train/metrics_csv.h"
#include "train/optim.h"
#include "train/run_data.h"
#include "train/run_evaluator.h"
#include "train/step.h"

namespace wtp::train {
namespace fs = std::filesystem;

namespace {

// ---------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------

/// Appends rows to metrics.csv; on resume, rows after the checkpoint's step are dropped.
class MetricsLog {
 public:
  /// `write` false (ranks > 0 of a distributed run): add() does nothing.
  MetricsLog(const fs::path& path, std::optional<std::int64_t> keep_up_to_step, bool write = true)
      : path_(path) {
    if (!write) return;
    if (keep_up_to_step && fs::exists(path)) {
      const auto rows = read_metric_rows(path);
      std::ofstream out(path, std::ios::trunc);
      out << kHeader << "\n";
      for (const auto& r : rows)
        if (r.step <= *keep_up_to_step) out << r.text << "\n";
    } else {
      std::ofstream(path, std::ios::trunc) << kHeader << "\n";
    }
    out_.open(path, std::ios::app);
  }
  void add(const std::string& stage, std::int64_t epoch, std::int64_t step,
           const std::string& split, const std::string& metric, double value) {
    if (!out_.is_open()) return;
    out_ << stage << ',' << epoch << ',' << step << ',' << split << ',' << metric << ','
         << config::detail::format_double(value) << '\n';
    out_.flush();
  }
  const fs::path& path() const { return path_; }

 private:
  static constexpr const char* kHeader = "stage,epoch,step,split,metric,value";
  fs::path path_;
  std::ofstream out_;
};

/// Log lines go to stderr (through wtp::log) and to RUN_DIR/train.log.
class RunLog {
 public:
  /// `rank` > 0 (a distributed run's other ranks): lines go to the debug log only, the
  /// run directory is rank 0's.
  explicit RunLog(const fs::path& path, int rank = 0) : rank_(rank) {
    if (rank_ == 0) out_.open(path, std::ios::app);
  }
  template <class... Parts>
  void info(const Parts&... parts) {
    std::ostringstream s;
    (s << ... << parts);
    if (rank_ > 0) return log::debug("rank ", rank_, ": ", s.str());
    log::info(s.str());
    out_ << s.str() << '\n';
    out_.flush();
  }

 private:
  int rank_;
  std::ofstream out_;
};

/// A metric for a log line: 4 significant digits.
std::string short_number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.4g", value);
  return buffer;
}

// ---------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------

class Trainer {
 public:
  Trainer(TrainConfig cfg, torch::Device device, fs::path dir, bool resuming,
          const RunOptions& options, std::shared_ptr<dist::Group> group)
      : dist_(std::move(group)),
        main_(dist_.is_main()),
        cfg_(std::move(cfg)),
        dir_(std::move(dir)),
        resuming_(resuming),
        progress_(options.progress),
        stop_after_(options.stop_after_steps),
        on_epoch_(options.on_epoch),
        device_(device),
        log_(dir_ / "train.log", dist_.rank()) {}

  RunResult run();

 private:
  // Distributed data parallelism (distributed(): this is one rank of WORLD_SIZE; see
  // dist/group.h). Rank 0 alone writes the run directory; every rank trains on its shard.
  DistContext dist_;
  bool main_;  ///< rank 0, or not distributed
  /// The validation report (complete on rank 0; on other ranks only the metric) and the
  /// metric every rank agrees on. Each rank embeds a contiguous shard; rank 0 evaluates.
  std::pair<eval::Report, double> validate();
  /// Every rank gets rank 0's BatchNorm statistics (before validation and checkpoints).
  void sync_buffers();

  void prepare_data();
  void build_model();
  void init_weights();
  std::optional<TrainState> resume_state();
  /// What a stage trains with (set_up_stage: options built, resumed state restored).
  struct StageSetup {
    std::shared_ptr<losses::Loss> loss;
    std::unique_ptr<samplers::Sampler> sampler;
    BuiltOptimizer built;
    std::shared_ptr<LrSchedule> schedule;
    StepOptions step;            ///< device, clipping over the trainable parameters, interrupts
    std::int64_t per_epoch = 0;  ///< batches per epoch on this rank
    bool restored_mid_epoch = false;  ///< resumed inside an epoch: do not restart it
  };
  enum class EpochEnd { kNext, kStageDone, kStop };

  /// Trains stage `s` from `state`; false when the run stops before the stage ends.
  bool run_stage(std::size_t s, TrainState& state);
  StageSetup set_up_stage(std::size_t s, TrainState& state);
  samplers::SamplerInput sampler_input(std::size_t s) const;
  void restore_stage(std::size_t s, const TrainState& state, StageSetup& setup);
  void start_epoch(std::size_t s, std::int64_t epoch, StageSetup& setup, TrainState& state);
  data::LoaderOptions loader_options(std::size_t s, std::int64_t epoch,
                                     std::int64_t first_batch) const;
  StepResult step(const StageOptions& stage, std::int64_t epoch, StageSetup& setup,
                  const TrainBatch& batch, const TrainState& state);
  void record_step(const StageOptions& stage, std::int64_t epoch, const StepResult& r,
                   const StageSetup& setup, const TrainBatch& batch, TrainState& state,
                   Progress* bar);
  /// Mean loss, validation, best and last checkpoints, early stopping, the callback.
  EpochEnd end_epoch(std::size_t s, std::int64_t epoch, const StageSetup& setup, TrainState& state);
  void save(const std::string& name, const torch::optim::Optimizer* opt, TrainState state);
  void write_curves();

  TrainConfig cfg_;
  std::string resolved_yaml_;  ///< the resolved config (build_model: the model's classes known)
  fs::path dir_;
  bool resuming_;
  bool progress_;
  std::int64_t stop_after_;
  std::function<bool(const EpochReport&)> on_epoch_;
  bool stopped_ = false;  ///< on_epoch_ asked to stop
  torch::Device device_;
  RunLog log_;
  RunData data_;
  std::vector<std::int64_t> train_labels_;
  models::EmbeddingModel model_{nullptr};
  std::unique_ptr<MetricsLog> metrics_;
  data::Pipeline train_pipeline_;
  std::unique_ptr<RunEvaluator> evaluator_;
  std::int64_t steps_ = 0;
};

void Trainer::prepare_data() {
  if (!main_) {
    // Rank 0 generates missing synthetic data and writes splits.txt; the others read it
    // (or, on a node without the shared run directory, draw the same split from the seed).
    dist_.wait_for_main("data_ready", "waiting for rank 0 to prepare the data");
    data_ = load_run_data(cfg_, dir_ / "splits.txt", true);
  } else {
    data_ = load_run_data(cfg_, dir_ / "splits.txt", resuming_);
    dist_.main_done("data_ready");
  }
  train_labels_ = item_labels(data_.train, cfg_.data.label);
  log_.info("data: train ", data_.train.size(), " images of ", data_.train.num_classes(),
            " classes; valid ", data_.valid.size(), "; test ", data_.test.size());
}

void Trainer::build_model() {
  const std::int64_t classes =
      cfg_.data.label == LabelKind::kIdentity ? data_.train.num_classes() : 1;
  // The resolved config (config.yaml, checkpoints) records the class count, so a checkpoint
  // rebuilds its model without the data.
  resolve_model(cfg_, classes);
  resolved_yaml_ = config::to_yaml(config::encode(cfg_));
  model_ = models::model_registry().create(cfg_.model);
  model_->to(device_);
  train_pipeline_ = make_pipeline(cfg_.data.transforms.train, model_->input_spec(), "train");
  evaluator_ = std::make_unique<RunEvaluator>(model_, cfg_, device_);
}

void Trainer::init_weights() {
  if (cfg_.init.checkpoint.empty()) return;
  const auto report = load_init_weights(cfg_.init, *model_);
  log_.info("init: loaded ", report.loaded.size(), " tensors from ", cfg_.init.checkpoint);
}

std::optional<TrainState> Trainer::resume_state() {
  if (!resuming_) return std::nullopt;
  const fs::path last = dir_ / "checkpoints" / "last.pt";
  if (!fs::exists(last)) return std::nullopt;
  return read_checkpoint_state(last.string());
}

void Trainer::save(const std::string& name, const torch::optim::Optimizer* opt, TrainState state) {
  if (!main_) return;  // rank 0 writes the checkpoints (its buffers were broadcast first)
  state.config_yaml = resolved_yaml_;
  state.torch_rng = at::detail::getDefaultCPUGenerator().get_state();
  save_checkpoint((dir_ / "checkpoints" / name).string(), *model_, opt, state);
}

void Trainer::write_curves() {
  if (!main_) return;
  // From metrics.csv, so a resumed run draws its whole history.
  const EpochCurves c = epoch_curves(read_metric_rows(metrics_->path()), cfg_.validation.metric);
  if (c.loss_x.empty()) return;
  eval::PlotOptions loss_plot;
  loss_plot.title = "training loss (mean per epoch, all stages)";
  loss_plot.x_label = "epoch";
  loss_plot.y_label = "loss";
  loss_plot.height = 360;
  cv::Mat top = eval::render_plot({{"train loss", c.loss_x, c.loss_y}}, loss_plot);
  eval::PlotOptions valid_plot = loss_plot;
  valid_plot.title = "validation " + cfg_.validation.metric;
  valid_plot.y_label = cfg_.validation.metric;
  cv::Mat bottom =
      eval::render_plot({{"valid " + cfg_.validation.metric, c.valid_x, c.valid_y}}, valid_plot);
  cv::Mat both;
  cv::vconcat(top, bottom, both);
  cv::imwrite((dir_ / "curves.png").string(), both);
}

void Trainer::sync_buffers() {
  dist_.broadcast(*model_, true, "broadcasting rank 0's BatchNorm statistics");
}

std::pair<eval::Report, double> Trainer::validate() {
  const EvalPass pass = EvalPass::validation(cfg_.validation);
  const std::string& metric = cfg_.validation.metric;
  if (!dist_.distributed()) {
    auto report = evaluator_->evaluate(data_.valid, pass);
    return {report, report.at(metric)};
  }
  // Each rank embeds a contiguous shard; rank 0 evaluates all of them.
  const auto [begin, end] = dist::shard_range(data_.valid.size(), dist_.rank(), dist_.world_size());
  std::vector<std::int64_t> mine;
  for (auto i = begin; i < end; ++i) mine.push_back(i);
  // A rank without items (more ranks than images) embeds one and contributes no rows.
  Embedded embedded = evaluator_->embed(
      data_.valid.subset(mine.empty() ? std::vector<std::int64_t>{0} : mine), pass);
  const std::int64_t rows = mine.empty() ? 0 : embedded.embeddings.size(0);
  embedded.embeddings = dist_.gather_rows(embedded.embeddings.narrow(0, 0, rows),
                                          "gathering the validation embeddings");
  if (embedded.logits.defined())
    embedded.logits =
        dist_.gather_rows(embedded.logits.narrow(0, 0, rows), "gathering the validation logits");
  eval::Report report;
  double value = 0.0;
  if (main_) {
    report = evaluator_->evaluate(data_.valid, pass, embedded);
    value = report.at(metric);
  }
  value = dist_.broadcast_value(value, "broadcasting the validation metric");
  if (!main_) report[metric] = value;
  return {report, value};
}

bool improved(double value, const TrainState& s, const ValidationOptions& v, double min_delta) {
  if (!s.has_best) return true;
  return v.goal == Goal::kMax ? value > s.best_metric + min_delta
                              : value < s.best_metric - min_delta;
}

bool Trainer::run_stage(std::size_t s, TrainState& state) {
  const StageOptions& stage = cfg_.stages[s];
  StageSetup setup = set_up_stage(s, state);
  auto dataset = std::make_shared<const data::Dataset>(data_.train);
  auto pipeline = std::make_shared<const data::Pipeline>(train_pipeline_);
  model_->train();
  for (std::int64_t epoch = state.epoch; epoch < stage.epochs; ++epoch) {
    if (!setup.restored_mid_epoch) start_epoch(s, epoch, setup, state);
    setup.restored_mid_epoch = false;
    std::int64_t in_epoch = state.step - epoch * setup.per_epoch;
    BatchStream stream(dataset, pipeline, *setup.sampler, train_labels_, setup.per_epoch - in_epoch,
                       loader_options(s, epoch, in_epoch));
    std::unique_ptr<Progress> bar;
    if (progress_)
      bar = std::make_unique<Progress>(
          stage.name + " epoch " + std::to_string(epoch + 1) + "/" + std::to_string(stage.epochs),
          setup.per_epoch, "batch");
    while (auto batch = stream.next()) {
      const double progress_epochs = epoch + static_cast<double>(in_epoch) / setup.per_epoch;
      setup.built.set_lr_factor(
          setup.schedule->factor(progress_epochs, static_cast<int>(stage.epochs)));
      const StepResult r = step(stage, epoch, setup, *batch, state);
      ++in_epoch;
      record_step(stage, epoch, r, setup, *batch, state, bar.get());
      if (r.stop || (stop_after_ > 0 && steps_ >= stop_after_)) {
        if (r.stop) InterruptGuard::request();  // another rank was interrupted
        stream.stop();
        sync_buffers();
        state.epoch = epoch;
        save("last.pt", setup.built.optimizer.get(), state);
        return false;
      }
    }
    if (bar) bar->finish();
    switch (end_epoch(s, epoch, setup, state)) {
      case EpochEnd::kNext:
        break;
      case EpochEnd::kStageDone:
        return true;
      case EpochEnd::kStop:
        return false;
    }
  }
  return true;
}

Trainer::StageSetup Trainer::set_up_stage(std::size_t s, TrainState& state) {
  const StageOptions& stage = cfg_.stages[s];
  if (!stage.freeze.empty()) models::freeze(*model_, stage.freeze);
  if (!stage.unfreeze.empty()) models::unfreeze(*model_, stage.unfreeze);
  StageSetup setup;
  setup.loss = losses::loss_registry().create(stage.loss);
  const auto needs = setup.loss->requirements();
  if (needs.logits && !needs.pairs)
    require(model_->num_classes() ==
                (cfg_.data.label == LabelKind::kIdentity ? data_.train.num_classes() : 1),
            "stage '" + stage.name + "': loss " + stage.loss.name + " needs the model's " +
                "classifier to have " + std::to_string(data_.train.num_classes()) +
                " classes (set model num_classes: auto)");
  require(needs.pairs == (stage.sampler.name == "pairs"),
          "stage '" + stage.name + "': loss " + stage.loss.name +
              (needs.pairs ? " trains on pairs: use sampler: {name: pairs}"
                           : " trains on single images: use a class_balanced, random or "
                             "sequential sampler, not pairs"));
  setup.sampler = samplers::sampler_registry().create(stage.sampler, sampler_input(s));
  setup.built = optimizer_registry().create(stage.optimizer, *model_);
  setup.schedule = schedule_registry().create(stage.scheduler);
  setup.step.device = device_;
  setup.step.clip_grad_norm = stage.clip_grad_norm;
  setup.step.trainable = models::trainable_parameters(*model_);
  setup.step.stop_requested = [] { return InterruptGuard::requested(); };
  if (resuming_ && state.stage == static_cast<std::int64_t>(s)) restore_stage(s, state, setup);
  // Identical weights on every rank: rank 0's (fresh, initialised or resumed).
  dist_.broadcast(*model_, false, "broadcasting rank 0's weights");
  dist_.reduce_gradients(setup.step.trainable);
  std::int64_t batches = setup.sampler->batches_per_epoch();
  // Distributed: only full rounds of R global batches, so the ranks' batches of an epoch are
  // disjoint (the sampler would pad the last round with the epoch's first batches again).
  if (auto* planned = dynamic_cast<samplers::PlannedSampler*>(setup.sampler.get());
      planned && dist_.distributed())
    batches = planned->global_batches() / dist_.world_size();
  setup.per_epoch =
      stage.max_steps_per_epoch > 0 ? std::min(stage.max_steps_per_epoch, batches) : batches;
  require(setup.per_epoch > 0, "stage '" + stage.name +
                                   "': the sampler yields no batch (too few classes "
                                   "or images for its batch shape)");
  return setup;
}

samplers::SamplerInput Trainer::sampler_input(std::size_t s) const {
  samplers::SamplerInput input;
  input.labels = train_labels_;
  input.seed = mix_seed(cfg_.seed, 0x7374616765, s);
  if (dist_.distributed()) input.shard = {dist_.rank(), dist_.world_size()};
  return input;
}

void Trainer::restore_stage(std::size_t s, const TrainState& state, StageSetup& setup) {
  const fs::path last = dir_ / "checkpoints" / "last.pt";
  if (!fs::exists(last)) return;
  load_checkpoint(last.string(), *model_, setup.built.optimizer.get());
  if (state.torch_rng.defined()) {
    at::Generator generator = at::detail::getDefaultCPUGenerator();  // a handle
    generator.set_state(state.torch_rng);
  }
  if (state.sampler.empty()) return;
  auto saved = samplers::SamplerState::from_vector(state.sampler);
  auto& sampler = *setup.sampler;
  if (dist_.distributed()) {
    // last.pt holds rank 0's sampler state; every rank continues at the same position
    // of its own shard, if the checkpoint's run had this world size.
    samplers::SamplerInput rank0 = sampler_input(s);
    rank0.shard.rank = 0;
    const auto rank0_fingerprint =
        samplers::sampler_registry().create(cfg_.stages[s].sampler, rank0)->state().fingerprint;
    if (saved.fingerprint == rank0_fingerprint) saved.fingerprint = sampler.state().fingerprint;
  }
  if (saved.fingerprint == sampler.state().fingerprint) {
    sampler.restore(saved);
    setup.restored_mid_epoch = sampler.state().position > 0;
  } else {
    // The run's own config.yaml is used, so another shard layout is the only cause.
    log_.info("the checkpoint was taken mid-epoch by a run with another world size: epoch ",
              saved.epoch + 1, " of stage '", cfg_.stages[s].name,
              "' restarts from its first batch");
  }
}

void Trainer::start_epoch(std::size_t s, std::int64_t epoch, StageSetup& setup, TrainState& state) {
  setup.sampler->set_epoch(epoch);
  state.epoch_loss.reset();
  state.step = epoch * setup.per_epoch;
  std::uint64_t torch_seed =
      mix_seed(cfg_.seed, 0x746f726368, s, static_cast<std::uint64_t>(epoch));
  if (dist_.distributed())
    torch_seed = mix_seed(torch_seed, static_cast<std::uint64_t>(dist_.rank()));
  at::manual_seed(torch_seed);
}

data::LoaderOptions Trainer::loader_options(std::size_t s, std::int64_t epoch,
                                            std::int64_t first_batch) const {
  data::LoaderOptions lo;
  lo.workers = cfg_.data.workers;
  lo.prefetch = cfg_.data.prefetch;
  lo.seed = mix_seed(cfg_.seed, 0x6175676d, s);
  if (dist_.distributed()) lo.seed = mix_seed(lo.seed, static_cast<std::uint64_t>(dist_.rank()));
  lo.epoch = epoch;
  lo.first_batch = first_batch;
  return lo;
}

StepResult Trainer::step(const StageOptions& stage, std::int64_t epoch, StageSetup& setup,
                         const TrainBatch& batch, const TrainState& state) {
  try {
    return train_step(*model_, *setup.loss, *setup.built.optimizer, batch, dist_, setup.step);
  } catch (const NonFiniteLossError& e) {
    throw std::runtime_error("non-finite loss (" + std::to_string(e.value()) + ") in stage '" +
                             stage.name + "', epoch " + std::to_string(epoch + 1) + ", step " +
                             std::to_string(state.global_step + 1) +
                             "; the last good checkpoint is " +
                             (dir_ / "checkpoints" / "last.pt").string() +
                             " (lower the learning rate or enable clip_grad_norm)");
  }
}

void Trainer::record_step(const StageOptions& stage, std::int64_t epoch, const StepResult& r,
                          const StageSetup& setup, const TrainBatch& batch, TrainState& state,
                          Progress* bar) {
  ++state.step;
  ++state.global_step;
  ++steps_;
  state.epoch_loss.add(r.loss);
  state.sampler = batch.after.to_vector();
  metrics_->add(stage.name, epoch + 1, state.global_step, "train", "loss", r.loss);
  for (const auto& [name, part] : r.parts)
    metrics_->add(stage.name, epoch + 1, state.global_step, "train", "loss_" + name, part);
  metrics_->add(stage.name, epoch + 1, state.global_step, "train", "lr", setup.built.lr());
  if (bar) {
    bar->metric("loss", state.epoch_loss.mean());
    bar->advance();
  }
}

Trainer::EpochEnd Trainer::end_epoch(std::size_t s, std::int64_t epoch, const StageSetup& setup,
                                     TrainState& state) {
  const StageOptions& stage = cfg_.stages[s];
  const double mean_loss = state.epoch_loss.mean();
  metrics_->add(stage.name, epoch + 1, state.global_step, "train", "epoch_loss", mean_loss);
  std::string summary =
      stage.name + " epoch " + std::to_string(epoch + 1) + ": loss " + short_number(mean_loss);
  state.epoch = epoch + 1;
  state.sampler.clear();
  EpochReport epoch_report;
  epoch_report.stage = s;
  epoch_report.stage_name = stage.name;
  epoch_report.epoch = epoch + 1;
  epoch_report.epochs_done = epoch + 1;
  for (std::size_t earlier = 0; earlier < s; ++earlier)
    epoch_report.epochs_done += cfg_.stages[earlier].epochs;
  epoch_report.global_step = state.global_step;
  epoch_report.mean_loss = mean_loss;
  sync_buffers();
  if (data_.has_valid) {
    auto [report, value] = validate();
    for (const auto& [k, v] : report)
      metrics_->add(stage.name, epoch + 1, state.global_step, "valid", k, v);
    epoch_report.valid = report;
    epoch_report.metric = value;
    summary += ", valid " + cfg_.validation.metric + " " + short_number(value);
    if (improved(value, state, cfg_.validation, stage.early_stopping.min_delta)) {
      state.best_metric = value;
      state.has_best = true;
      state.bad_epochs = 0;
      save("best.pt", nullptr, state);
      summary += " (best)";
    } else {
      ++state.bad_epochs;
    }
  } else {
    save("best.pt", nullptr, state);  // no validation split: the latest weights
  }
  log_.info(summary);
  write_curves();
  const bool stop_early =
      stage.early_stopping.patience > 0 && state.bad_epochs >= stage.early_stopping.patience;
  if (stop_early) log_.info("early stopping: no improvement for ", state.bad_epochs, " epochs");
  if (stop_early || epoch + 1 == stage.epochs) state.stage_done = true;
  save("last.pt", setup.built.optimizer.get(), state);
  // Every rank stops if any rank's callback says so or was interrupted.
  const auto any = dist_.any({on_epoch_ && !on_epoch_(epoch_report), InterruptGuard::requested()},
                             "agreeing on the end of the epoch");
  if (any[1]) InterruptGuard::request();
  if (any[0]) {
    log_.info("stopped after ", stage.name, " epoch ", epoch + 1, " by the caller");
    stopped_ = true;
    return EpochEnd::kStop;
  }
  if (stop_early) return EpochEnd::kStageDone;
  if (InterruptGuard::requested() || (stop_after_ > 0 && steps_ >= stop_after_))
    return EpochEnd::kStop;
  return EpochEnd::kNext;
}

RunResult Trainer::run() {
  RunResult result;
  result.run_dir = dir_.string();
  fs::create_directories(dir_ / "checkpoints");
  prepare_data();
  build_model();
  std::optional<TrainState> resumed = resume_state();
  if (!resumed) init_weights();
  metrics_ = std::make_unique<MetricsLog>(
      dir_ / "metrics.csv",
      resumed ? std::optional<std::int64_t>(resumed->global_step) : std::nullopt, main_);
  if (main_) std::ofstream(dir_ / "config.yaml") << resolved_yaml_;
  if (dist_.distributed())
    log_.info("distributed: ", dist_.describe(), "; global batch = ", dist_.world_size(),
              " x the sampler's batch");

  TrainState state = resumed.value_or(TrainState{});
  // A checkpoint that closed its stage continues with the next stage from its weights.
  if (resumed && state.stage_done)
    load_checkpoint((dir_ / "checkpoints" / "last.pt").string(), *model_, nullptr);
  InterruptGuard guard;
  const auto first = static_cast<std::size_t>(state.stage + (state.stage_done ? 1 : 0));
  for (auto s = first; s < cfg_.stages.size(); ++s) {
    if (static_cast<std::int64_t>(s) != state.stage) {  // a fresh stage
      state.stage = static_cast<std::int64_t>(s);
      state.epoch = 0;
      state.step = 0;
      state.stage_done = false;
      state.bad_epochs = 0;
      state.sampler.clear();
      state.torch_rng = torch::Tensor();
      resuming_ = false;  // last.pt belongs to an earlier stage: nothing of it to restore here
    }
    log_.info("stage ", s + 1, "/", cfg_.stages.size(), ": ", cfg_.stages[s].name);
    if (!run_stage(s, state)) {
      result.steps = steps_;
      if (stopped_) {
        result.stopped = true;
        result.best_valid = state.best_metric;
        return result;
      }
      result.interrupted = true;
      log_.info("interrupted: saved ", (dir_ / "checkpoints" / "last.pt").string(),
                "; continue with: wtp-train --resume ", dir_.string());
      return result;
    }
  }
  result.best_valid = state.best_metric;
  result.steps = steps_;
  dist_.check_same_weights(*model_);
  if (!main_) return result;  // rank 0 evaluates the test split

  if (cfg_.test && data_.has_test) {
    load_checkpoint((dir_ / "checkpoints" / "best.pt").string(), *model_, nullptr);
    result.test = evaluator_->evaluate(data_.test, EvalPass::test(cfg_.validation));
    nlohmann::json j(result.test);
    std::ofstream(dir_ / "eval.json") << j.dump(2) << "\n";
    std::string line = "test:";
    auto names = cfg_.validation.metric_names();
    names.insert(names.end(), {"nmi", "pairs_accuracy_mean"});
    for (const auto& name : names)
      if (const auto it = result.test.find(name); it != result.test.end())
        line += " " + name + "=" + short_number(it->second);
    log_.info(line);
  }
  return result;
}

}  // namespace

RunResult run_train(const config::Node& node, const RunOptions& options) {
  config::Node source = node;
  fs::path dir;
  bool resuming = false;
  if (!options.resume.empty()) {
    dir = options.resume;
    const fs::path saved = dir / "config.yaml";
    require(fs::exists(saved), "--resume " + options.resume +
                                   ": no config.yaml there (is it a run directory of wtp-train?)");
    source = config::load_file(saved.string());
    resuming = true;
  }
  TrainConfig cfg = decode_train_config(source);
  if (!options.device.empty()) cfg.device = options.device;
  if (!resuming) {
    dir = cfg.out;
    if (fs::exists(dir / "checkpoints" / "last.pt"))
      throw UsageError("run directory '" + dir.string() +
                       "' already holds a run; continue it with "
                       "--resume " +
                       dir.string() + ", or choose another --out");
    check_init_file(cfg.init);  // before any data is read or generated
  }
  fs::create_directories(dir);
  // A distributed run when launched with the torchrun environment (WORLD_SIZE > 1): `cuda`
  // means this rank's local GPU (the resolved config keeps the device as configured).
  torch::Device device = parse_device(cfg.device);
  std::shared_ptr<dist::Group> group;
  if (auto env = dist::LaunchEnv::from_environment(); env && env->world_size > 1) {
    if (cfg.device == "cuda") device = parse_device("cuda:" + std::to_string(env->local_rank));
    group = std::make_shared<dist::Group>(*env, device);
  }
  Trainer trainer(std::move(cfg), device, dir, resuming, options, std::move(group));
  return trainer.run();
}

}  // namespace wtp::train
