#include "tune/study.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <mutex>
#include <sstream>
#include <thread>

#include "core/log.h"
#include "core/progress.h"
#include "eval/plot.h"
#include "train/interrupt.h"
#include "train/train_config.h"
#include "train/trainer.h"
#include "tune/test_functions.h"

namespace wtp::tune {
namespace fs = std::filesystem;

void TuneConfig::validate() const {
  require(trials >= 1, "trials must be >= 1");
  require(workers >= 1, "workers must be >= 1");
  require(timeout >= 0, "timeout must be >= 0 seconds (0 = none)");
  require(stale_after > 0, "stale_after must be > 0 seconds");
  require(max_attempts >= 1, "max_attempts must be >= 1");
  require(resources.max_steps_per_epoch >= 0, "resources.max_steps_per_epoch must be >= 0");
  for (auto e : resources.epochs) require(e >= 1, "resources.epochs: every stage needs >= 1 epoch");
  require(objective.name == "train" || objective.name == "function",
          "objective: unknown '" + objective.name + "' (choose train or function)");
  if (objective.name == "train")
    require(!base.empty(),
            "base: name the training config to tune (e.g. base: ../quickstart.yaml)");
  require(!study.empty(), "give the study directory with --study DIR (or study: in the config)");
}

namespace {

/// Writes `text` to `path` atomically (temp file + rename), so concurrent workers never
/// leave a half-written output.
void write_atomic(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp." + std::to_string(WorkerInfo::current().pid);
  {
    std::ofstream out(tmp);
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
    out << text;
  }
  fs::rename(tmp, path);
}

/// Checks that a dotted path exists in `root`; throws UsageError naming what is there.
void check_path(const config::Node& root, const std::string& path, const std::string& what) {
  const config::Node* node = &root;
  std::string at;
  std::stringstream ss(path);
  for (std::string key; std::getline(ss, key, '.');) {
    if (node->is_map()) {
      const config::Node* child = node->find(key);
      if (!child) {
        std::string keys;
        for (const auto& [k, v] : node->entries()) keys += (keys.empty() ? "" : ", ") + k;
        throw UsageError(what + ": '" + path + "' is not a key of the training config: no '" + key +
                         "' at " + (at.empty() ? "the top level" : at) + " (keys: " + keys + ")");
      }
      node = child;
    } else if (node->is_sequence()) {
      char* end = nullptr;
      const long i = std::strtol(key.c_str(), &end, 10);
      if (key.empty() || *end != '\0' || i < 0 ||
          static_cast<std::size_t>(i) >= node->items().size())
        throw UsageError(what + ": '" + path + "': '" + key + "' is not an index of the list " +
                         at + " (0.." + std::to_string(node->items().size()) + ")");
      node = &node->items()[static_cast<std::size_t>(i)];
    } else {
      throw UsageError(what + ": '" + path + "': " + at + " is a value, not a map or list");
    }
    at += (at.empty() ? "" : ".") + key;
  }
}

/// Values that exercise parameter `target`: every parameter active on the way to it
/// gets a value satisfying the conditions; the others low (`high_end` false) or high.
Params witness(const SearchSpace& space, const Param& target, bool high_end) {
  // Required values of ancestors, from the target upwards.
  std::map<std::string, std::string> need;
  const Param* p = &target;
  while (p->when_param) {
    need[*p->when_param] = p->when_in.front();
    p = &space.at(*p->when_param);
  }
  Params out;
  for (const auto& q : space.params()) {
    if (!space.active(q, out)) continue;
    auto grid = q.grid_values();
    double v = high_end ? grid.back() : grid.front();
    if (q.type != ParamType::kCategorical) v = high_end ? q.high : q.low;
    auto it = need.find(q.name);
    if (it != need.end())
      for (double g : q.type == ParamType::kCategorical ? grid : std::vector<double>{}) {
        if (q.to_text(g) == it->second) v = g;
      }
    if (it != need.end() && q.type == ParamType::kInt) v = std::stod(it->second);
    out[q.name] = v;
  }
  return out;
}

std::string format_value(std::optional<double> v) {
  if (!v) return "";
  char b[32];
  std::snprintf(b, sizeof(b), "%.6g", *v);
  return b;
}

}  // namespace

Study::Study(const config::Node& tune_node) {
  cfg_ = config::decode<TuneConfig>(tune_node);
  space_ = SearchSpace::decode(cfg_.space);
  sampler_ = search_sampler_registry().create(cfg_.sampler, cfg_.seed);
  pruner_ = pruner_registry().create(cfg_.pruner);

  if (cfg_.objective.name == "train") {
    // The base path is relative to the tune config file that named it.
    fs::path base = cfg_.base;
    if (const config::Node* b = tune_node.find("base")) {
      const std::string& source = b->origin().source;
      if (base.is_relative() && b->origin().line > 0 && !source.empty())
        base = fs::path(source).parent_path() / base;
    }
    require(fs::exists(base), "base: training config '" + base.string() + "' does not exist");
    base_ = config::load_file(base.string());
    if (!cfg_.set.is_null()) {
      require(cfg_.set.is_map(), "set: must be a map of training config keys");
      config::merge(base_, cfg_.set);
    }
    const auto decoded = train::decode_train_config(base_);
    direction_ = cfg_.direction.value_or(
        decoded.validation.goal == train::Goal::kMax ? Direction::kMaximize : Direction::kMinimize);
    if (cfg_.metric.empty()) cfg_.metric = decoded.validation.metric;
    if (!cfg_.resources.epochs.empty())
      require(cfg_.resources.epochs.size() == decoded.stages.size(),
              "resources.epochs: give one value per stage (the base has " +
                  std::to_string(decoded.stages.size()) + " stages)");
    if (decoded.data.split.mode != data::SplitMode::kIdentity && !decoded.data.valid)
      log::warn(
          "tune: the base config splits by image (data.split.mode: image): validation "
          "shares identities with training");
    // Every parameter path must exist in the decoded training config, with the parameter
    // (and the values that activate it) at both ends of its range.
    auto resolved_of = [](train::TrainConfig c) {
      train::resolve_model(c, 2);
      return config::encode(c);
    };
    // First against the base itself (an unconditional parameter's path must be there),
    // then with the parameter's values applied (a conditional path may appear only then).
    const config::Node base_resolved = resolved_of(decoded);
    for (const auto& p : space_.params()) {
      require(!p.paths.empty(), "space." + p.name + ": give the config path(s) it sets (path:)");
      if (!p.when_param)
        for (const auto& path : p.paths)
          check_path(base_resolved, path, "space." + p.name + ".path");
      for (bool high : {false, true}) {
        const Params values = witness(space_, p, high);
        config::Node node;
        train::TrainConfig trial_cfg;
        try {
          node = trial_config(values, "unused");
          trial_cfg = train::decode_train_config(node);
        } catch (const UsageError& e) {
          throw UsageError("space." + p.name + ": the training config is invalid with " +
                           space_.describe(values) + ": " + e.what());
        }
        const config::Node resolved = resolved_of(trial_cfg);
        for (const auto& path : p.paths) check_path(resolved, path, "space." + p.name + ".path");
      }
    }
  } else {
    const auto fo = config::decode<FunctionObjectiveOptions>(cfg_.objective.options, "objective");
    function_objective(fo, space_);  // validates the function and the space size
    direction_ = cfg_.direction.value_or(Direction::kMinimize);
  }

  // The study directory and its database; an existing study must be the same study.
  dir_ = cfg_.study;
  fs::create_directories(fs::path(dir_) / "trials");
  storage_ = std::make_unique<StudyStorage>(storage_location());
  config::Node identity = config::Node::map();
  identity.set("base", base_);
  identity.set("space", cfg_.space);
  identity.set("objective", config::encode_component(cfg_.objective));
  identity.set("sampler", config::encode_component(cfg_.sampler));
  identity.set("direction", config::Node::scalar(config::enum_name(direction_)));
  identity.set("metric", config::Node::scalar(cfg_.metric));
  identity.set("seed", config::Node::scalar(std::to_string(cfg_.seed)));
  const std::string mine = config::to_yaml(identity);
  const std::string stored = storage_->ensure_meta("study", mine);
  if (stored != mine)
    throw UsageError(
        "study " + dir_ +
        " was created with another base config, space, objective, sampler, metric "
        "or seed (see its study.db or storage); use a new --study directory (or storage) to "
        "change them");
}

Study::~Study() = default;

std::string Study::storage_location() const {
  return cfg_.storage.empty() ? (fs::path(dir_) / "study.db").string() : cfg_.storage;
}

config::Node Study::best_config(const Params& params) const {
  config::Node node = base_;
  for (const auto& o : space_.overrides(params)) config::apply_override(node, o);
  // Its own run directory, so training it never collides with the base config's run.
  node.set("out", config::Node::scalar((std::filesystem::path(dir_) / "best").string()));
  return node;
}

config::Node Study::trial_config(const Params& params, const std::string& out) const {
  config::Node node = base_;
  if (!cfg_.resources.epochs.empty())
    for (std::size_t i = 0; i < cfg_.resources.epochs.size(); ++i)
      config::apply_override(node, "stages." + std::to_string(i) +
                                       ".epochs=" + std::to_string(cfg_.resources.epochs[i]));
  if (cfg_.resources.max_steps_per_epoch > 0) {
    const config::Node* stages = node.find("stages");
    const std::size_t n = stages && stages->is_sequence() ? stages->items().size() : 0;
    for (std::size_t i = 0; i < n; ++i)
      config::apply_override(node, "stages." + std::to_string(i) + ".max_steps_per_epoch=" +
                                       std::to_string(cfg_.resources.max_steps_per_epoch));
  }
  for (const auto& o : space_.overrides(params)) config::apply_override(node, o);
  node.set("out", config::Node::scalar(out));
  node.set("test", config::Node::scalar("false"));
  config::apply_override(node, "validation.metric=" + cfg_.metric);
  config::apply_override(node, "validation.goal=" + config::enum_name(direction_));
  return node;
}

Objective function_objective(const FunctionObjectiveOptions& fo, const SearchSpace& space) {
  const TestFunction tf = test_function(fo.function, static_cast<int>(fo.dims));
  require(space.size() == tf.dims.size(),
          "space: the function " + fo.function + " takes " + std::to_string(tf.dims.size()) +
              " parameters; the space has " + std::to_string(space.size()));
  return [tf, fo, space](TrialContext& ctx) -> double {
    const double value = evaluate(tf, space, ctx.params());
    train::InterruptGuard guard;
    for (std::int64_t s = 1; s <= fo.steps; ++s) {
      if (fo.step_seconds > 0)
        std::this_thread::sleep_for(std::chrono::duration<double>(fo.step_seconds));
      if (train::InterruptGuard::requested()) throw Interrupted();
      if (!ctx.report(s, value)) break;
    }
    return value;
  };
}

Objective Study::objective() const {
  if (cfg_.objective.name == "function")
    return function_objective(
        config::decode<FunctionObjectiveOptions>(cfg_.objective.options, "objective"), space_);
  return [this](TrialContext& ctx) -> double {
    train::RunOptions ro;
    ro.progress = cfg_.progress;
    ro.on_epoch = [&ctx](const train::EpochReport& r) {
      if (!r.metric) return true;
      return ctx.report(r.epochs_done, *r.metric);
    };
    const auto result = train::run_train(trial_config(ctx.params(), ctx.dir()), ro);
    if (!cfg_.keep_checkpoints) {
      std::error_code ec;
      fs::remove_all(fs::path(ctx.dir()) / "checkpoints", ec);
    }
    if (result.interrupted) throw Interrupted();
    if (ctx.pruned()) return ctx.last_report().value_or(result.best_valid);
    return result.best_valid;
  };
}

StudySummary Study::run_worker(const Objective& objective, const WorkerOptions& options) {
  const WorkerInfo me = WorkerInfo::current();
  storage_->register_worker(me);
  // Heartbeat thread with its own connection.
  std::mutex mutex;
  std::condition_variable cv;
  bool stop = false;
  const double beat = std::clamp(cfg_.stale_after / 4.0, 0.2, 10.0);
  std::thread heart([&] {
    StudyStorage own(storage_location());
    std::unique_lock<std::mutex> lock(mutex);
    while (!cv.wait_for(lock, std::chrono::duration<double>(beat), [&] { return stop; })) {
      try {
        own.heartbeat(me.id);
      } catch (const std::exception& e) {
        log::warn("tune: heartbeat failed: ", e.what());
      }
    }
  });
  struct Joiner {
    std::mutex& m;
    std::condition_variable& cv;
    bool& stop;
    std::thread& t;
    ~Joiner() {
      {
        std::lock_guard<std::mutex> lock(m);
        stop = true;
      }
      cv.notify_all();
      t.join();
    }
  } joiner{mutex, cv, stop, heart};

  StudySummary summary;
  const auto start = std::chrono::steady_clock::now();
  Progress progress("trials", cfg_.trials, "trial");
  progress.set(storage_->count());
  if (!options.progress) progress.set_interval(1e9);
  for (;;) {
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const bool allow_new = cfg_.timeout <= 0 || elapsed < cfg_.timeout;
    auto claimed = storage_->claim(
        me, cfg_.trials, allow_new,
        [&](const std::vector<TrialRecord>& trials, std::int64_t number) {
          return sampler_->sample(space_, trials, number, direction_);
        },
        cfg_.stale_after, cfg_.max_attempts);
    if (!claimed) break;
    TrialRecord trial = std::move(*claimed);
    char name[16];
    std::snprintf(name, sizeof(name), "%04lld", static_cast<long long>(trial.number));
    const fs::path tdir = fs::path(dir_) / "trials" / name;
    std::error_code ec;
    fs::remove_all(tdir, ec);  // a re-queued trial starts from scratch
    fs::create_directories(tdir);
    log::info("trial ", trial.number, " (attempt ", trial.attempts,
              "): ", space_.describe(trial.params));

    TrialContext ctx(trial.number, trial.params, space_.overrides(trial.params), tdir.string(),
                     [&](std::int64_t step, double value) {
                       storage_->report(trial.number, step, value);
                       trial.intermediate[step] = value;
                       auto all = storage_->trials();
                       const bool prune = pruner_->prune(trial, all, direction_);
                       if (prune)
                         log::info("trial ", trial.number, " pruned at step ", step, " (",
                                   cfg_.metric.empty() ? "value" : cfg_.metric, " ", value, ")");
                       return !prune;
                     });
    TrialState state = TrialState::kComplete;
    std::optional<double> value;
    std::string message;
    try {
      value = objective(ctx);
      if (ctx.pruned()) {
        state = TrialState::kPruned;
        value = ctx.last_report();
      } else if (!value || !std::isfinite(*value)) {
        state = TrialState::kFailed;
        message = "non-finite objective value";
      }
    } catch (const Interrupted&) {
      storage_->release(trial.number, me.id, "interrupted (SIGINT or SIGTERM); re-queued");
      log::warn("tune: interrupted; trial ", trial.number,
                " is back in the queue (run wtp-tune again on the study to resume)");
      summary.interrupted = true;
      break;
    } catch (const std::exception& e) {
      state = TrialState::kFailed;
      message = e.what();
      value.reset();
    }
    if (state == TrialState::kFailed) log::warn("trial ", trial.number, " failed: ", message);
    if (!storage_->finish(trial.number, me.id, state, value, message))
      log::warn("trial ", trial.number,
                ": this worker was declared dead meanwhile (no heartbeat for stale_after); the "
                "trial was re-queued and its result here is discarded");
    else
      ++summary.ran;
    progress.set(storage_->count());
    if (train::InterruptGuard::requested()) {
      summary.interrupted = true;
      break;
    }
  }
  progress.finish();
  summary.trials = storage_->trials();
  if (const TrialRecord* b = best_trial(summary.trials, direction_)) summary.best = *b;
  write_outputs(summary.trials);
  return summary;
}

void Study::write_outputs(const std::vector<TrialRecord>& trials) const {
  const fs::path dir = dir_;
  // trials.csv
  std::ostringstream csv;
  csv << "number,state,value,duration_s,attempts";
  for (const auto& p : space_.params()) csv << ',' << p.name;
  csv << ",message\n";
  for (const auto& t : trials) {
    csv << t.number << ',' << config::enum_name(t.state) << ','
        << (t.value ? config::detail::format_double(*t.value) : "") << ',';
    if (t.finished > 0) csv << std::fixed << std::setprecision(1) << t.finished - t.started;
    csv.unsetf(std::ios::fixed);
    csv << ',' << t.attempts;
    for (const auto& p : space_.params()) {
      csv << ',';
      auto it = t.params.find(p.name);
      if (it != t.params.end()) csv << p.to_text(it->second);
    }
    std::string msg = t.message;
    std::replace(msg.begin(), msg.end(), '\n', ' ');
    std::replace(msg.begin(), msg.end(), '"', '\'');
    csv << ",\"" << msg << "\"\n";
  }
  write_atomic(dir / "trials.csv", csv.str());

  // history.png: the value of every complete and pruned trial, and the best so far.
  std::vector<double> cx, cy, px, py, bx, by;
  std::optional<double> best;
  for (const auto& t : trials) {
    if (t.state != TrialState::kComplete && t.state != TrialState::kPruned) continue;
    if (!t.value || !std::isfinite(*t.value)) continue;
    const bool complete = t.state == TrialState::kComplete;
    (complete ? cx : px).push_back(static_cast<double>(t.number));
    (complete ? cy : py).push_back(*t.value);
    if (complete && (!best || better(*t.value, *best, direction_))) best = *t.value;
    if (best) {
      bx.push_back(static_cast<double>(t.number));
      by.push_back(*best);
    }
  }
  if (!cx.empty() || !px.empty()) {
    eval::PlotSeries done("complete", cx, cy), pruned("pruned (last report)", px, py);
    for (auto* s : {&done, &pruned}) {
      s->line = false;
      s->markers = true;
    }
    eval::PlotSeries line("best so far", bx, by);
    eval::PlotOptions po;
    po.title = "wtp-tune: " + (cfg_.metric.empty() ? std::string("objective") : cfg_.metric) +
               " per trial (" + (direction_ == Direction::kMaximize ? "max" : "min") + ")";
    po.x_label = "trial";
    po.y_label = cfg_.metric.empty() ? "objective" : cfg_.metric;
    const fs::path tmp =
        dir / ("history.tmp." + std::to_string(WorkerInfo::current().pid) + ".png");
    eval::save_plot(tmp.string(), {done, pruned, line}, po);
    fs::rename(tmp, dir / "history.png");
  }

  // best.yaml
  const TrialRecord* b = best_trial(trials, direction_);
  if (b && !base_.is_null()) {
    std::ostringstream y;
    y << "# wtp-tune: best trial " << b->number << " of study " << dir_ << ": " << cfg_.metric
      << " = " << format_value(b->value) << " (validation, tuning resources)\n"
      << "# values: " << space_.describe(b->params) << "\n"
      << config::to_yaml(best_config(b->params));
    write_atomic(dir / "best.yaml", y.str());
  }
}

std::string Study::summary_table(const std::vector<TrialRecord>& trials) const {
  const TrialRecord* b = best_trial(trials, direction_);
  std::ostringstream out;
  out << std::left << std::setw(7) << "trial" << std::setw(10) << "state" << std::setw(12)
      << (cfg_.metric.empty() ? "value" : cfg_.metric.substr(0, 11)) << std::setw(9) << "time_s"
      << "values\n";
  std::int64_t counts[5] = {0, 0, 0, 0, 0};
  for (const auto& t : trials) {
    ++counts[static_cast<int>(t.state)];
    char time[16] = "";
    if (t.finished > 0) std::snprintf(time, sizeof(time), "%.1f", t.finished - t.started);
    out << std::setw(7) << (std::to_string(t.number) + (b && b->number == t.number ? "*" : ""))
        << std::setw(10) << config::enum_name(t.state) << std::setw(12) << format_value(t.value)
        << std::setw(9) << time << space_.describe(t.params);
    if (t.state == TrialState::kFailed) out << "  (" << t.message.substr(0, 80) << ")";
    out << "\n";
  }
  out << "trials: " << trials.size() << " (complete " << counts[2] << ", pruned " << counts[3]
      << ", failed " << counts[4] << ", running " << counts[1] << ", waiting " << counts[0]
      << ")\n";
  if (b)
    out << "best: trial " << b->number << " " << (cfg_.metric.empty() ? "value" : cfg_.metric)
        << " = " << format_value(b->value) << "  " << space_.describe(b->params) << "\n";
  return out.str();
}

}  // namespace wtp::tune
