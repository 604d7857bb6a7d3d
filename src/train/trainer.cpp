#include "train/trainer.h"

#include <ATen/Parallel.h>
#include <algorithm>
#include <cmath>
#include <deque>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <sstream>
#include <torch/torch.h>

#include "core/log.h"
#include "core/progress.h"
#include "core/random.h"
#include "data/dataset_registry.h"
#include "data/lfw.h"
#include "data/loader.h"
#include "eval/evaluate.h"
#include "eval/liveness.h"
#include "eval/plot.h"
#include "eval/verification.h"
#include "io/torch_file.h"
#include "losses/loss.h"
#include "models/freeze.h"
#include "models/model_registry.h"
#include "models/weights.h"
#include "samplers/pairs.h"
#include "samplers/sampler.h"
#include "train/checkpoint.h"
#include "train/interrupt.h"
#include "train/optim.h"

namespace wtp::train {
namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------------------

void DataOptions::validate() const {
  require(!dataset.name.empty(), "data.dataset needs a name (lfw, celeba, cew, image_folder)");
  require(min_images >= 1, "min_images must be >= 1");
  require(workers >= 0, "workers must be >= 0");
  require(prefetch >= 1, "prefetch must be >= 1");
  require(eval_batch_size >= 2, "eval_batch_size must be >= 2");
  require(valid_pairs >= 20, "valid_pairs must be >= 20");
  for (const auto* list : {&transforms.train, &transforms.eval})
    for (const auto& t : *list)
      require(t.name != "normalize",
              "transforms must not contain normalize: the trainer appends the model's own "
              "normalisation (models declare it in their input spec)");
}

void StageOptions::validate() const {
  require(!name.empty(), "a stage needs a name");
  require(epochs >= 1, "epochs must be >= 1");
  require(clip_grad_norm >= 0, "clip_grad_norm must be >= 0");
  require(max_steps_per_epoch >= 0, "max_steps_per_epoch must be >= 0");
  require(early_stopping.patience >= 0, "early_stopping.patience must be >= 0");
}

void TrainConfig::validate() const {
  require(!out.empty(), "out must name the run directory");
  require(!stages.empty(), "stages must list at least one training stage");
  require(!model.name.empty(), "model needs a name");
  const auto& m = validation.metric;
  bool known = false;
  switch (validation.kind) {
    case EvalKind::kRetrieval:
      known = m == "map_at_r" || m == "r_precision";
      for (auto k : validation.retrieval.ks) known = known || m == "recall_at_" + std::to_string(k);
      break;
    case EvalKind::kVerification:
      known = m == "accuracy_mean" || m == "auc" || m == "eer" || m == "tar_at_far_1e-2" ||
              m == "tar_at_far_1e-3";
      break;
    case EvalKind::kClassification:
      known = m == "accuracy" || m == "precision" || m == "recall" || m == "f1" || m == "auc";
      break;
  }
  require(known, "validation.metric '" + m + "' is not produced by validation.kind '" +
                     config::enum_name(validation.kind) +
                     "' (retrieval: recall_at_<K in retrieval.ks>, map_at_r, r_precision; "
                     "verification: accuracy_mean, auc, eer, tar_at_far_1e-2, tar_at_far_1e-3; "
                     "classification: accuracy, precision, recall, f1, auc)");
}

namespace {
void resolve_auto_classes(config::Node& node, std::int64_t classes);
}  // namespace

TrainConfig decode_train_config(const config::Node& node) {
  auto cfg = config::decode<TrainConfig>(node);
  if (cfg.synth && cfg.synth->out.empty())
    throw ConfigError("synth.out must name the folder of the synthetic data");
  // Every component decodes strictly now, so a misspelt option fails before any data is
  // read or any step is trained. The resolved config gets their defaults filled in.
  data::DatasetRegistry datasets("dataset");
  data::register_builtin_datasets(datasets);
  cfg.data.dataset = datasets.resolve(cfg.data.dataset);
  if (cfg.data.valid) cfg.data.valid = datasets.resolve(*cfg.data.valid);
  if (cfg.data.test) cfg.data.test = datasets.resolve(*cfg.data.test);
  data::build_pipeline(cfg.data.transforms.train);
  data::build_pipeline(cfg.data.transforms.eval);
  config::Component model = cfg.model;
  resolve_auto_classes(model.options, 2);
  models::resolve_model(model);
  for (auto& stage : cfg.stages) {
    stage.loss = losses::builtin_losses().resolve(stage.loss);
    stage.sampler = samplers::builtin_samplers().resolve(stage.sampler);
    stage.optimizer = optimizers().resolve(stage.optimizer);
    stage.scheduler = schedules().resolve(stage.scheduler);
  }
  return cfg;
}

namespace {

// ---------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------

/// One row of metrics.csv: stage,epoch,step,split,metric,value.
struct MetricRow {
  std::string text;  ///< the line as written
  std::string stage, epoch, split, metric;
  std::int64_t step = 0;
  double value = 0;
};

/// The rows of a metrics.csv (header skipped).
std::vector<MetricRow> read_metric_rows(const fs::path& path) {
  std::ifstream in(path);
  std::vector<MetricRow> rows;
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    MetricRow r;
    r.text = line;
    std::stringstream ss(line);
    std::string step, value;
    std::getline(ss, r.stage, ',');
    std::getline(ss, r.epoch, ',');
    std::getline(ss, step, ',');
    std::getline(ss, r.split, ',');
    std::getline(ss, r.metric, ',');
    std::getline(ss, value, ',');
    r.step = std::stoll(step);
    // format_double writes YAML-style .nan / .inf / -.inf.
    r.value = value == ".nan"    ? NAN
              : value == ".inf"  ? INFINITY
              : value == "-.inf" ? -INFINITY
                                 : std::stod(value);
    rows.push_back(std::move(r));
  }
  return rows;
}

/// Appends rows to metrics.csv; on resume, rows after the checkpoint's step are dropped.
class MetricsLog {
 public:
  MetricsLog(const fs::path& path, std::optional<std::int64_t> keep_up_to_step) : path_(path) {
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
  explicit RunLog(const fs::path& path) : out_(path, std::ios::app) {}
  template <class... Parts>
  void info(const Parts&... parts) {
    std::ostringstream s;
    (s << ... << parts);
    log::info(s.str());
    out_ << s.str() << '\n';
    out_.flush();
  }

 private:
  std::ofstream out_;
};

/// A metric for a log line: 4 significant digits.
std::string short_number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.4g", value);
  return buffer;
}

/// Replaces every `num_classes: auto` under `node` with `classes`.
void resolve_auto_classes(config::Node& node, std::int64_t classes) {
  if (!node.is_map()) return;
  for (const auto& [key, child] : node.entries()) {
    config::Node* c = node.find(key);
    if (key == "num_classes" && child.is_scalar() && child.text() == "auto") {
      *c = config::Node::scalar(std::to_string(classes), child.origin());
    } else {
      resolve_auto_classes(*c, classes);
    }
  }
}

std::vector<std::int64_t> item_labels(const data::Dataset& ds, LabelKind kind) {
  if (kind == LabelKind::kIdentity) return ds.labels();
  std::vector<std::int64_t> out;
  out.reserve(static_cast<std::size_t>(ds.size()));
  for (std::int64_t i = 0; i < ds.size(); ++i) {
    const auto& item = ds.item(i);
    if (!item.eye_state)
      throw UsageError("data.label is eye_state but '" + item.file + "' of dataset '" + ds.name() +
                       "' has no eye state (use the cew dataset)");
    out.push_back(*item.eye_state);
  }
  return out;
}

torch::Device parse_device(const std::string& name) {
  try {
    torch::Device device(name);
    if (device.is_cuda() && !torch::cuda::is_available())
      throw UsageError("device '" + name + "' asked for, but this LibTorch has no usable CUDA");
    return device;
  } catch (const c10::Error&) {
    throw UsageError("device '" + name + "' is not a device name (cpu, cuda, cuda:1, ...)");
  }
}

/// A pipeline with the model's normalisation appended.
data::Pipeline make_pipeline(std::vector<config::Component> transforms,
                             const models::InputSpec& spec, const std::string& split) {
  config::Node normalize = config::Node::map();
  normalize.set("preset", config::Node::scalar(config::enum_name(spec.normalization)));
  transforms.push_back({"normalize", normalize});
  data::Pipeline pipeline = data::build_pipeline(transforms);
  auto size = pipeline.output_size();
  if (!size || size->height != spec.height || size->width != spec.width)
    throw UsageError(
        "data.transforms." + split + " must produce " + std::to_string(spec.width) + "x" +
        std::to_string(spec.height) + " images for this model (end with " +
        "{name: resize, size: " + std::to_string(spec.height) + "} or a crop); " +
        (size ? "they produce " + std::to_string(size->width) + "x" + std::to_string(size->height)
              : std::string("they do not fix the size")));
  return pipeline;
}

struct Splits {
  data::Dataset train, valid, test;
  bool has_valid = false, has_test = false;
};

// ---------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------

class Trainer {
 public:
  Trainer(TrainConfig cfg, config::Node resolved, fs::path dir, bool resuming,
          const RunOptions& options)
      : cfg_(std::move(cfg)),
        resolved_(std::move(resolved)),
        dir_(std::move(dir)),
        resuming_(resuming),
        progress_(options.progress),
        stop_after_(options.stop_after_steps),
        device_(parse_device(cfg_.device)),
        log_(dir_ / "train.log") {}

  RunResult run();

 private:
  void prepare_data();
  void build_model();
  void init_weights();
  std::optional<TrainState> resume_state();
  bool run_stage(std::size_t s, TrainState& state);
  std::map<std::string, double> evaluate(const data::Dataset& ds, const std::string& split,
                                         bool test);
  torch::Tensor embed(const data::Dataset& ds, torch::Tensor* logits);
  std::map<std::string, double> verify_pairs(const torch::Tensor& emb,
                                             const std::vector<samplers::IndexPair>& pairs,
                                             const std::vector<std::int64_t>& same,
                                             const std::vector<std::int64_t>& folds);
  void save(const std::string& name, const torch::optim::Optimizer* opt, TrainState state);
  void write_curves();

  TrainConfig cfg_;
  config::Node resolved_;
  fs::path dir_;
  bool resuming_;
  bool progress_;
  std::int64_t stop_after_;
  torch::Device device_;
  RunLog log_;
  Splits splits_;
  std::vector<std::int64_t> train_labels_;
  models::EmbeddingModel model_{nullptr};
  std::unique_ptr<MetricsLog> metrics_;
  data::Pipeline train_pipeline_, eval_pipeline_;
  std::int64_t steps_ = 0;
};

void Trainer::prepare_data() {
  if (cfg_.synth && !fs::exists(fs::path(cfg_.synth->out) / "landmarks.csv")) {
    log_.info("generating synthetic data in ", cfg_.synth->out);
    synth::run_synth(*cfg_.synth);
  }
  data::Dataset source = data::load_dataset(cfg_.data.dataset);
  const fs::path split_file = dir_ / "splits.txt";
  data::Split split;
  if (resuming_ && fs::exists(split_file)) {
    split = data::read_split(split_file, source);
  } else {
    split = data::split_dataset(source, cfg_.data.split);
    std::string options = config::to_yaml(config::encode(cfg_.data.split));
    std::replace(options.begin(), options.end(), '\n', ' ');
    data::write_split(split_file, source, split, "split of " + source.name() + ": " + options);
  }
  splits_.train = source.subset(split.train, data::Relabel::kCompact);
  if (cfg_.data.label == LabelKind::kIdentity && cfg_.data.min_images > 1)
    splits_.train = splits_.train.with_min_images(cfg_.data.min_images);
  require(splits_.train.size() > 0,
          "the training split is empty: check data.split and data.min_images");
  splits_.valid = cfg_.data.valid ? data::load_dataset(*cfg_.data.valid)
                                  : source.subset(split.valid, data::Relabel::kCompact);
  splits_.test = cfg_.data.test ? data::load_dataset(*cfg_.data.test)
                                : source.subset(split.test, data::Relabel::kCompact);
  splits_.has_valid = splits_.valid.size() >= 2;
  splits_.has_test = splits_.test.size() >= 2;
  train_labels_ = item_labels(splits_.train, cfg_.data.label);
  log_.info("data: train ", splits_.train.size(), " images of ", splits_.train.num_classes(),
            " classes; valid ", splits_.valid.size(), "; test ", splits_.test.size());
}

void Trainer::build_model() {
  config::Component component = cfg_.model;
  const std::int64_t classes =
      cfg_.data.label == LabelKind::kIdentity ? splits_.train.num_classes() : 1;
  resolve_auto_classes(component.options, classes);
  model_ = models::create_model(component);
  model_->to(device_);
  const auto spec = model_->input_spec();
  train_pipeline_ = make_pipeline(cfg_.data.transforms.train, spec, "train");
  eval_pipeline_ = make_pipeline(cfg_.data.transforms.eval, spec, "eval");
}

void Trainer::init_weights() {
  const auto& init = cfg_.init;
  if (init.checkpoint.empty()) return;
  require(fs::exists(init.checkpoint), "init.checkpoint '" + init.checkpoint + "' does not exist");
  models::NamedTensors source;
  try {
    source = read_checkpoint_tensors(init.checkpoint);
  } catch (const std::runtime_error&) {
    const io::TorchFile file = io::load_torch_file(init.checkpoint);
    source = io::named_tensors(file.root());
  }
  models::NamedTensors selected;
  for (auto& [name, tensor] : source)
    if (name.rfind(init.source_prefix, 0) == 0)
      selected.emplace_back(init.target_prefix + name.substr(init.source_prefix.size()), tensor);
  require(!selected.empty(), "init.checkpoint '" + init.checkpoint + "' has no tensor under '" +
                                 init.source_prefix + "'");
  models::LoadOptions options;
  options.auto_prefix = false;
  options.strictness = models::Strictness::kLenient;
  auto report = models::load_weights(*model_, selected, options);
  if (init.strict) {
    for (const auto& missing : report.missing)
      require(missing.rfind(init.target_prefix, 0) != 0,
              "init: '" + missing + "' has no tensor in '" + init.checkpoint +
                  "' (set init.strict: false to allow)");
    require(report.unexpected.empty(), "init: '" + init.checkpoint + "' has tensors the model " +
                                           "lacks, e.g. '" +
                                           (report.unexpected.empty() ? "" : report.unexpected[0]) +
                                           "' (adjust init.source_prefix/target_prefix)");
  }
  log_.info("init: loaded ", report.loaded.size(), " tensors from ", init.checkpoint);
}

std::optional<TrainState> Trainer::resume_state() {
  if (!resuming_) return std::nullopt;
  const fs::path last = dir_ / "checkpoints" / "last.pt";
  if (!fs::exists(last)) return std::nullopt;
  return read_checkpoint_state(last.string());
}

void Trainer::save(const std::string& name, const torch::optim::Optimizer* opt, TrainState state) {
  state.config_yaml = config::to_yaml(resolved_);
  state.torch_rng = at::detail::getDefaultCPUGenerator().get_state();
  save_checkpoint((dir_ / "checkpoints" / name).string(), *model_, opt, state);
}

torch::Tensor Trainer::embed(const data::Dataset& ds, torch::Tensor* logits) {
  auto dataset = std::make_shared<const data::Dataset>(ds);
  auto pipeline = std::make_shared<const data::Pipeline>(eval_pipeline_);
  std::vector<data::IndexBatch> batches;
  for (std::int64_t start = 0; start < ds.size(); start += cfg_.data.eval_batch_size) {
    data::IndexBatch b;
    for (std::int64_t i = start; i < std::min(ds.size(), start + cfg_.data.eval_batch_size); ++i)
      b.push_back(i);
    batches.push_back(std::move(b));
  }
  data::LoaderOptions lo;
  lo.workers = cfg_.data.workers;
  lo.prefetch = cfg_.data.prefetch;
  data::BatchLoader loader(dataset, pipeline, data::fixed_batches(std::move(batches)), lo);
  model_->eval();
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> embeddings, all_logits;
  while (auto batch = loader.next()) {
    auto out = model_->forward(batch->images.to(device_));
    embeddings.push_back(out.embedding.to(torch::kCPU));
    if (logits && out.logits.defined()) all_logits.push_back(out.logits.to(torch::kCPU));
  }
  model_->train();
  if (logits && !all_logits.empty()) *logits = torch::cat(all_logits);
  return torch::cat(embeddings);
}

std::map<std::string, double> Trainer::verify_pairs(const torch::Tensor& emb,
                                                    const std::vector<samplers::IndexPair>& pairs,
                                                    const std::vector<std::int64_t>& same,
                                                    const std::vector<std::int64_t>& folds) {
  std::vector<std::int64_t> a, b;
  for (const auto& p : pairs) {
    a.push_back(p.first);
    b.push_back(p.second);
  }
  auto ia = torch::tensor(a), ib = torch::tensor(b);
  torch::Tensor distances;
  if (model_->has_pair_head()) {
    model_->eval();
    torch::NoGradGuard no_grad;
    // Probability of "different": small = same person, like a distance.
    distances = torch::sigmoid(model_->pair_logits(emb.index_select(0, ia).to(device_),
                                                   emb.index_select(0, ib).to(device_)))
                    .to(torch::kCPU);
    model_->train();
  } else {
    auto n = eval::l2_normalize_rows(emb);
    distances = (n.index_select(0, ia) - n.index_select(0, ib)).norm(2, 1);
  }
  auto result = eval::verification_protocol(distances.to(torch::kDouble), torch::tensor(same),
                                            torch::tensor(folds));
  eval::Report report;
  result.add_to(report);
  return report;
}

std::map<std::string, double> Trainer::evaluate(const data::Dataset& ds, const std::string& split,
                                                bool test) {
  eval::Report report;
  torch::Tensor logits;
  const auto kind = cfg_.validation.kind;
  torch::Tensor emb = embed(ds, kind == EvalKind::kClassification ? &logits : nullptr);
  if (kind == EvalKind::kRetrieval) {
    eval::EvalOptions options;
    options.retrieval = cfg_.validation.retrieval;
    options.clustering = test && cfg_.validation.clustering;
    options.seed = cfg_.seed;
    report = eval::evaluate_embeddings(emb, torch::tensor(ds.labels()), options);
  } else if (kind == EvalKind::kVerification) {
    // Balanced random pairs of the split, fixed by the seed, in 10 folds.
    samplers::SamplerInput input;
    input.labels = ds.labels();
    input.seed = mix_seed(cfg_.seed, split == "test" ? 2 : 1);
    samplers::PairsOptions po;
    po.batch_size = 2;
    po.pairs_per_epoch = cfg_.data.valid_pairs;
    samplers::PairsSampler sampler(po, input);
    std::vector<samplers::IndexPair> pairs;
    std::vector<std::int64_t> same, folds;
    while (auto b = sampler.next())
      for (std::size_t i = 0; i < b->indices.size(); ++i) {
        pairs.push_back({b->indices[i], b->partners[i]});
        same.push_back(1 - b->pair_labels[i]);
        folds.push_back(static_cast<std::int64_t>(pairs.size() - 1) % 10);
      }
    report = verify_pairs(emb, pairs, same, folds);
  } else {
    require(logits.defined(), "validation.kind classification needs a model with logits");
    auto scores = torch::sigmoid(logits.reshape({-1}).to(torch::kDouble));
    auto labels = torch::tensor(item_labels(ds, cfg_.data.label));
    eval::eye_state_metrics(scores, labels).add_to(report, "");
  }
  if (test && !cfg_.data.test_pairs.empty()) {
    auto protocol = data::read_lfw_pairs(cfg_.data.test_pairs, ds.root());
    std::vector<samplers::IndexPair> pairs;
    std::vector<std::int64_t> same, folds;
    for (const auto& p : protocol.pairs) {
      auto i = ds.find(p.file1), j = ds.find(p.file2);
      if (!i || !j)
        throw UsageError(cfg_.data.test_pairs + ":" + std::to_string(p.line) + ": image '" +
                         (!i ? p.file1 : p.file2) + "' is not in the test dataset");
      pairs.push_back({*i, *j});
      same.push_back(p.same ? 1 : 0);
      folds.push_back(p.fold);
    }
    for (const auto& [k, v] : verify_pairs(emb, pairs, same, folds)) report["pairs_" + k] = v;
  }
  return report;
}

void Trainer::write_curves() {
  // From metrics.csv, so a resumed run draws its whole history.
  std::map<std::string, double> epoch_x;  // "stage,epoch" -> x
  std::vector<double> loss_x, loss_y, valid_x, valid_y;
  for (const auto& r : read_metric_rows(metrics_->path())) {
    const std::string key = r.stage + "," + r.epoch;
    if (r.split == "train" && r.metric == "epoch_loss") {
      const double x = static_cast<double>(epoch_x.size() + 1);
      epoch_x[key] = x;
      loss_x.push_back(x);
      loss_y.push_back(r.value);
    } else if (r.split == "valid" && r.metric == cfg_.validation.metric && epoch_x.count(key)) {
      valid_x.push_back(epoch_x[key]);
      valid_y.push_back(r.value);
    }
  }
  if (loss_x.empty()) return;
  eval::PlotOptions loss_plot;
  loss_plot.title = "training loss (mean per epoch, all stages)";
  loss_plot.x_label = "epoch";
  loss_plot.y_label = "loss";
  loss_plot.height = 360;
  cv::Mat top = eval::render_plot({{"train loss", loss_x, loss_y}}, loss_plot);
  eval::PlotOptions valid_plot = loss_plot;
  valid_plot.title = "validation " + cfg_.validation.metric;
  valid_plot.y_label = cfg_.validation.metric;
  cv::Mat bottom =
      eval::render_plot({{"valid " + cfg_.validation.metric, valid_x, valid_y}}, valid_plot);
  cv::Mat both;
  cv::vconcat(top, bottom, both);
  cv::imwrite((dir_ / "curves.png").string(), both);
}

bool improved(double value, const TrainState& s, const ValidationOptions& v, double min_delta) {
  if (!s.has_best) return true;
  return v.goal == Goal::kMax ? value > s.best_metric + min_delta
                              : value < s.best_metric - min_delta;
}

/// One training batch in flight: the sampler batch and the sampler state after drawing it.
struct Drawn {
  samplers::Batch batch;
  samplers::SamplerState after;
};

bool Trainer::run_stage(std::size_t s, TrainState& state) {
  const StageOptions& stage = cfg_.stages[s];
  if (!stage.freeze.empty()) models::freeze(*model_, stage.freeze);
  if (!stage.unfreeze.empty()) models::unfreeze(*model_, stage.unfreeze);
  auto loss = losses::builtin_losses().create(stage.loss);
  const auto needs = loss->requirements();
  if (needs.logits && !needs.pairs)
    require(model_->num_classes() ==
                (cfg_.data.label == LabelKind::kIdentity ? splits_.train.num_classes() : 1),
            "stage '" + stage.name + "': loss " + stage.loss.name + " needs the model's " +
                "classifier to have " + std::to_string(splits_.train.num_classes()) +
                " classes (set model num_classes: auto)");
  require(needs.pairs == (stage.sampler.name == "pairs"),
          "stage '" + stage.name + "': loss " + stage.loss.name +
              (needs.pairs ? " trains on pairs: use sampler: {name: pairs}"
                           : " trains on single images: use a class_balanced, random or "
                             "sequential sampler, not pairs"));
  samplers::SamplerInput input;
  input.labels = train_labels_;
  input.seed = mix_seed(cfg_.seed, 0x7374616765, s);
  auto sampler = samplers::builtin_samplers().create(stage.sampler, input);
  auto built = optimizers().create(stage.optimizer, *model_);
  auto schedule = schedules().create(stage.scheduler);
  auto trainable = models::trainable_parameters(*model_);

  const fs::path last = dir_ / "checkpoints" / "last.pt";
  bool restored_mid_epoch = false;
  if (resuming_ && state.stage == static_cast<std::int64_t>(s) && fs::exists(last)) {
    load_checkpoint(last.string(), *model_, built.optimizer.get());
    if (state.torch_rng.defined()) {
      at::Generator generator = at::detail::getDefaultCPUGenerator();  // a handle
      generator.set_state(state.torch_rng);
    }
    if (!state.sampler.empty()) {
      sampler->restore(samplers::SamplerState::from_vector(state.sampler));
      restored_mid_epoch = sampler->state().position > 0;
    }
  }
  const std::int64_t per_epoch =
      stage.max_steps_per_epoch > 0
          ? std::min(stage.max_steps_per_epoch, sampler->batches_per_epoch())
          : sampler->batches_per_epoch();
  require(per_epoch > 0, "stage '" + stage.name +
                             "': the sampler yields no batch (too few classes "
                             "or images for its batch shape)");
  auto dataset = std::make_shared<const data::Dataset>(splits_.train);
  auto pipeline = std::make_shared<const data::Pipeline>(train_pipeline_);
  model_->train();

  for (std::int64_t epoch = state.epoch; epoch < stage.epochs; ++epoch) {
    if (!restored_mid_epoch) {
      sampler->set_epoch(epoch);
      state.loss_sum = 0;
      state.loss_count = 0;
      state.step = epoch * per_epoch;
      at::manual_seed(mix_seed(cfg_.seed, 0x746f726368, s, static_cast<std::uint64_t>(epoch)));
    }
    restored_mid_epoch = false;
    std::int64_t in_epoch = state.step - epoch * per_epoch;
    std::deque<Drawn> drawn;
    std::int64_t to_draw = per_epoch - in_epoch;
    data::BatchSource source = [&]() -> std::optional<data::IndexBatch> {
      if (to_draw <= 0) return std::nullopt;
      auto b = sampler->next();
      if (!b) return std::nullopt;
      --to_draw;
      drawn.push_back({*b, sampler->state()});
      data::IndexBatch indices = b->indices;
      indices.insert(indices.end(), b->partners.begin(), b->partners.end());
      return indices;
    };
    data::LoaderOptions lo;
    lo.workers = cfg_.data.workers;
    lo.prefetch = cfg_.data.prefetch;
    lo.seed = mix_seed(cfg_.seed, 0x6175676d, s);
    lo.epoch = epoch;
    lo.first_batch = in_epoch;
    data::BatchLoader loader(dataset, pipeline, source, lo);
    std::unique_ptr<Progress> bar;
    if (progress_)
      bar = std::make_unique<Progress>(
          stage.name + " epoch " + std::to_string(epoch + 1) + "/" + std::to_string(stage.epochs),
          per_epoch, "batch");

    while (auto batch = loader.next()) {
      Drawn d = std::move(drawn.front());
      drawn.pop_front();
      require(batch->skipped == 0, "a training batch lost " + std::to_string(batch->skipped) +
                                       " corrupt images; fix or remove them, or train with "
                                       "on_corrupt: fail to see which");
      const double progress_epochs = epoch + static_cast<double>(in_epoch) / per_epoch;
      built.set_lr_factor(schedule->factor(progress_epochs, static_cast<int>(stage.epochs)));

      auto images = batch->images.to(device_);
      losses::LossInputs in;
      if (d.batch.is_pairs()) {
        const auto n = static_cast<std::int64_t>(d.batch.indices.size());
        auto out = model_->forward(images);
        in.embeddings = out.embedding.narrow(0, 0, n);
        in.embeddings2 = out.embedding.narrow(0, n, n);
        if (needs.logits) in.logits = model_->pair_logits(in.embeddings, in.embeddings2);
        in.labels = torch::tensor(d.batch.pair_labels).to(device_);
      } else {
        auto out = model_->forward(images);
        in.embeddings = out.embedding;
        in.logits = out.logits;
        std::vector<std::int64_t> labels;
        for (auto i : d.batch.indices) labels.push_back(train_labels_[static_cast<std::size_t>(i)]);
        in.labels = torch::tensor(labels).to(device_);
      }
      auto result = loss->forward(in);
      const double value = result.total.item<double>();
      if (!std::isfinite(value))
        throw std::runtime_error("non-finite loss (" + std::to_string(value) + ") in stage '" +
                                 stage.name + "', epoch " + std::to_string(epoch + 1) + ", step " +
                                 std::to_string(state.global_step + 1) +
                                 "; the last good checkpoint is " + last.string() +
                                 " (lower the learning rate or enable clip_grad_norm)");
      built.optimizer->zero_grad();
      result.total.backward();
      if (stage.clip_grad_norm > 0) clip_gradients(trainable, stage.clip_grad_norm);
      built.optimizer->step();
      ++state.step;
      ++state.global_step;
      ++steps_;
      ++in_epoch;
      state.loss_sum += value;
      ++state.loss_count;
      state.sampler = d.after.to_vector();
      metrics_->add(stage.name, epoch + 1, state.global_step, "train", "loss", value);
      for (const auto& [name, part] : result.parts)
        metrics_->add(stage.name, epoch + 1, state.global_step, "train", "loss_" + name,
                      part.item<double>());
      metrics_->add(stage.name, epoch + 1, state.global_step, "train", "lr", built.lr());
      if (bar) {
        bar->metric("loss", state.loss_sum / static_cast<double>(state.loss_count));
        bar->advance();
      }
      if (InterruptGuard::requested() || (stop_after_ > 0 && steps_ >= stop_after_)) {
        loader.stop();
        state.epoch = epoch;
        save("last.pt", built.optimizer.get(), state);
        return false;
      }
    }
    if (bar) bar->finish();

    // End of epoch: mean loss, validation, best and last checkpoints, early stopping.
    const double mean_loss = state.loss_sum / std::max<std::int64_t>(1, state.loss_count);
    metrics_->add(stage.name, epoch + 1, state.global_step, "train", "epoch_loss", mean_loss);
    std::string summary =
        stage.name + " epoch " + std::to_string(epoch + 1) + ": loss " + short_number(mean_loss);
    state.epoch = epoch + 1;
    state.sampler.clear();
    if (splits_.has_valid) {
      auto report = evaluate(splits_.valid, "valid", false);
      for (const auto& [k, v] : report)
        metrics_->add(stage.name, epoch + 1, state.global_step, "valid", k, v);
      const double value = report.at(cfg_.validation.metric);
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
    save("last.pt", built.optimizer.get(), state);
    if (stop_early) break;
    if (InterruptGuard::requested() || (stop_after_ > 0 && steps_ >= stop_after_)) return false;
  }
  return true;
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
      resumed ? std::optional<std::int64_t>(resumed->global_step) : std::nullopt);
  std::ofstream(dir_ / "config.yaml") << config::to_yaml(resolved_);

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
    }
    log_.info("stage ", s + 1, "/", cfg_.stages.size(), ": ", cfg_.stages[s].name);
    if (!run_stage(s, state)) {
      result.interrupted = true;
      result.steps = steps_;
      log_.info("interrupted: saved ", (dir_ / "checkpoints" / "last.pt").string(),
                "; continue with: wtp-train --resume ", dir_.string());
      return result;
    }
    resuming_ = false;
  }
  result.best_valid = state.best_metric;
  result.steps = steps_;

  if (cfg_.test && splits_.has_test) {
    load_checkpoint((dir_ / "checkpoints" / "best.pt").string(), *model_, nullptr);
    result.test = evaluate(splits_.test, "test", true);
    nlohmann::json j(result.test);
    std::ofstream(dir_ / "eval.json") << j.dump(2) << "\n";
    std::string line = "test:";
    for (const auto& [k, v] : result.test)
      if (k.rfind("recall_at_", 0) == 0 || k == "nmi" || k == "accuracy_mean" || k == "accuracy" ||
          k == "auc" || k == "map_at_r" || k == "pairs_accuracy_mean")
        line += " " + k + "=" + short_number(v);
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
  }
  // The resolved config: every default filled in, components with their defaults.
  config::Node resolved = config::encode(cfg);
  fs::create_directories(dir);
  Trainer trainer(std::move(cfg), std::move(resolved), dir, resuming, options);
  return trainer.run();
}

}  // namespace wtp::train
