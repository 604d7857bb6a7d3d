#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <sys/wait.h>
#include <thread>

#include "catch_torch.h"
#include "core/config.h"
#include "postgres_server.h"
#include "test_support.h"
#include "train/train_config.h"
#include "tune/study.h"

namespace config = wtp::config;
namespace fs = std::filesystem;
using namespace wtp::tune;

namespace {

/// A tiny training config on synthetic data (tests/support's tiny base with 24 identities
/// and an even smaller CNN), a classification stage then a Group Loss stage.
void write_base(const fs::path& dir) {
  wtp::test::write_tiny_base(dir, 24);
  std::ofstream(dir / "base.yaml")
      << "include: tiny_base.yaml\n"
      << "out: " << (dir / "unused").string() << "\n"
      << "model:\n"
      << "  backbone: {channels: [4, 8, 8], hidden: [32], embedding_dim: 16}\n"
      << "validation: {retrieval: {ks: [1]}}\n"
      << "stages:\n"
      << "  - name: classification\n"
      << "    epochs: 5\n"
      << "    loss: cross_entropy\n"
      << "    sampler: {name: class_balanced, classes_per_batch: 4, images_per_class: 3}\n"
      << "    optimizer: {name: adam, lr: 0.002}\n"
      << "  - name: group\n"
      << "    epochs: 5\n"
      << "    loss: {name: group_loss, temperature: 12, labelled_per_class: 1}\n"
      << "    sampler: {name: class_balanced, classes_per_batch: 4, images_per_class: 3}\n"
      << "    optimizer: {name: adam, lr: 0.001}\n";
}

const char* kTrainSpace =
    "space:\n"
    "  lr: {path: [stages.0.optimizer.lr, stages.1.optimizer.lr], type: float, low: 1.0e-4,\n"
    "       high: 1.0e-2, log: true}\n"
    "  temperature: {path: stages.1.loss.temperature, type: int, low: 5, high: 60}\n"
    "  labelled: {path: stages.1.loss.labelled_per_class, type: categorical, choices: [1, 2]}\n";

config::Node tune_node(const fs::path& dir, const std::string& yaml) {
  std::ofstream(dir / "tune.yaml") << yaml;
  return config::load_file((dir / "tune.yaml").string());
}

std::string study_error(const fs::path& dir, const std::string& yaml) {
  try {
    Study study(tune_node(dir, yaml));
  } catch (const wtp::UsageError& e) {
    return e.what();
  }
  return "";
}

/// A function-objective tune config (fast: no training).
std::string function_tune(const fs::path& study, int trials, double step_seconds, int steps,
                          const std::string& sampler = "random", const std::string& pruner = "none",
                          const std::string& storage = "") {
  std::ostringstream y;
  if (!storage.empty()) y << "storage: \"" << storage << "\"\n";
  y << "objective: {name: function, function: branin, steps: " << steps
    << ", step_seconds: " << step_seconds << "}\n"
    << "study: " << study.string() << "\n"
    << "trials: " << trials << "\n"
    << "sampler: " << sampler << "\n"
    << "pruner: " << pruner << "\n"
    << "stale_after: 30\n"
    << "space:\n"
    << "  x1: {type: float, low: -5, high: 10}\n"
    << "  x2: {type: float, low: 0, high: 15}\n";
  return y.str();
}

pid_t spawn_tune(const fs::path& config, const fs::path& log,
                 const std::vector<std::string>& extra = {}) {
  const std::string exe = (wtp::test::bin_dir() / "wtp-tune").string();
  pid_t pid = fork();
  if (pid == 0) {
    if (!freopen(log.c_str(), "w", stderr)) _exit(126);
    if (!freopen(log.c_str(), "a", stdout)) _exit(126);
    std::vector<std::string> args{exe, "--config", config.string(), "--threads", "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(exe.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

/// Runs the rest of the test case once per study backend: declares `storage`, "" (SQLite,
/// STUDY/study.db) then a fresh database of the test's PostgreSQL server (skipped with the
/// apt-get command when PostgreSQL is not installed).
#define FOR_EACH_STUDY_BACKEND()                                                 \
  const std::string backend = GENERATE(as<std::string>{}, "sqlite", "postgres"); \
  INFO("backend: " << backend);                                                  \
  std::string storage;                                                           \
  if (backend == "postgres") {                                                   \
    WTP_REQUIRE_POSTGRES(server);                                                \
    storage = server->create_database();                                         \
  }

/// The location StudyStorage opens for study directory `study` and `storage`.
std::string study_location(const fs::path& study, const std::string& storage) {
  return storage.empty() ? (study / "study.db").string() : storage;
}

TEST_CASE("bad spaces and configs fail before any trial, naming what to fix", "[tune][study]") {
  wtp::test::TempDir dir;
  write_base(dir.path());
  const std::string head = "base: base.yaml\nstudy: " + (dir / "study").string() + "\n";
  CHECK_THAT(study_error(dir.path(),
                         head + "space: {t: {path: stages.1.loss.temprature, type: int, low: 1, "
                                "high: 5}}\n"),
             Catch::Contains("space.t") && Catch::Contains("stages.1.loss.temprature") &&
                 Catch::Contains("no 'temprature' at stages.1.loss") &&
                 Catch::Contains("temperature"));
  CHECK_THAT(
      study_error(dir.path(), head + "space: {lr: {path: stages.7.optimizer.lr, type: float, low: "
                                     "0.1, high: 0.2}}\n"),
      Catch::Contains("'7' is not an index of the list stages (0..2)"));
  CHECK_THAT(study_error(dir.path(), head + "space: {lr: {path: stages.0.optimizer.lr, type: "
                                            "float, low: 0.1, high: 0.01}}\n"),
             Catch::Contains("low (0.1) must be < high (0.01)"));
  CHECK_THAT(study_error(dir.path(), head + "space: {lr: {path: stages.0.optimizer.lr, type: "
                                            "float, low: 0, high: 0.01, log: true}}\n"),
             Catch::Contains("log-scale range needs low > 0"));
  // A value the trainer refuses (temperature must be > 0) is found at the range's end.
  CHECK_THAT(study_error(dir.path(), head + "space: {t: {path: stages.1.loss.temperature, "
                                            "type: int, low: -5, high: 5}}\n"),
             Catch::Contains("space.t: the training config is invalid with t=-5"));
  CHECK_THAT(study_error(dir.path(), head + "resources: {epochs: [1]}\n" + kTrainSpace),
             Catch::Contains("one value per stage (the base has 2 stages)"));
  CHECK_THAT(study_error(dir.path(), head + "sampler: cmaes\n" + kTrainSpace),
             Catch::Contains("unknown sampler 'cmaes' (known: grid, random, tpe)"));
  CHECK_THAT(study_error(dir.path(), "base: nothere.yaml\nstudy: x\n" + std::string(kTrainSpace)),
             Catch::Contains("nothere.yaml' does not exist"));
  // Nothing ran: the only study created has no trials.
  if (fs::exists(dir / "study" / "study.db"))
    CHECK(StudyStorage((dir / "study" / "study.db").string()).count() == 0);

  // A valid config opens; the same study with another space is refused.
  { Study ok(tune_node(dir.path(), head + kTrainSpace)); }
  CHECK_THAT(study_error(dir.path(), head + "space: {lr: {path: stages.0.optimizer.lr, type: "
                                            "float, low: 0.001, high: 0.01}}\n"),
             Catch::Contains("was created with another"));
}

TEST_CASE("a study records failed and non-finite trials and goes on, and writes its outputs",
          "[tune][study]") {
  FOR_EACH_STUDY_BACKEND();
  wtp::test::TempDir dir;
  Study study(tune_node(dir.path(), function_tune(dir / "s", 8, 0, 1, "random", "none", storage)));
  Objective flaky = [](TrialContext& ctx) -> double {
    if (ctx.number() == 2) throw std::runtime_error("loss is NaN at step 7");
    if (ctx.number() == 5) return std::nan("");
    return ctx.params().at("x1");
  };
  WorkerOptions quiet;
  quiet.progress = false;
  auto summary = study.run_worker(flaky, quiet);
  REQUIRE(summary.trials.size() == 8);
  CHECK(summary.ran == 8);
  CHECK(summary.trials[2].state == TrialState::kFailed);
  CHECK(summary.trials[2].message == "loss is NaN at step 7");
  CHECK(summary.trials[5].state == TrialState::kFailed);
  CHECK(summary.trials[5].message == "non-finite objective value");
  int complete = 0;
  for (const auto& t : summary.trials) complete += t.state == TrialState::kComplete;
  CHECK(complete == 6);
  // Minimising x1: the best trial is the complete one with the smallest x1.
  REQUIRE(summary.best);
  for (const auto& t : summary.trials)
    if (t.state == TrialState::kComplete) CHECK(summary.best->value.value() <= t.params.at("x1"));
  CHECK(fs::exists(dir / "s" / "history.png"));
  const std::string csv = wtp::test::read_file(dir / "s" / "trials.csv");
  CHECK(csv.rfind("number,state,value,duration_s,attempts,x1,x2,message\n", 0) == 0);
  CHECK_THAT(csv, Catch::Contains("2,failed,,"));
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 9);
  CHECK_THAT(study.summary_table(summary.trials),
             Catch::Contains("complete 6, pruned 0, failed 2"));
  // Run again: the study is full, nothing runs twice.
  auto again = study.run_worker(flaky, quiet);
  CHECK(again.ran == 0);
  CHECK(again.trials.size() == 8);
}

TEST_CASE("pruning inside a study: median stops trials worse than the median", "[tune][study]") {
  FOR_EACH_STUDY_BACKEND();
  wtp::test::TempDir dir;
  Study study(
      tune_node(dir.path(),
                function_tune(dir / "s", 30, 0, 4, "random",
                              "{name: median, n_startup_trials: 3, n_warmup_steps: 1}", storage)));
  WorkerOptions quiet;
  quiet.progress = false;
  auto summary = study.run_worker(study.objective(), quiet);
  int pruned = 0;
  std::vector<double> complete;
  for (const auto& t : summary.trials) {
    if (t.state == TrialState::kPruned) {
      ++pruned;
      CHECK(t.intermediate.size() == 1);  // stopped at its first check (step 1)
    } else if (t.state == TrialState::kComplete) {
      complete.push_back(*t.value);
      CHECK(t.intermediate.size() == 4);
    }
  }
  // Random values, flat curves: once 3 trials completed, a trial worse than the running
  // median of complete ones is pruned at step 1 -- about half of the later trials.
  CHECK(pruned >= 8);
  CHECK(complete.size() >= 6);
}

TEST_CASE("a study killed mid-trial resumes with no lost or duplicated trial", "[tune][study]") {
  FOR_EACH_STUDY_BACKEND();
  wtp::test::TempDir dir;
  const fs::path cfg = dir / "tune.yaml";
  std::ofstream(cfg) << function_tune(dir / "s", 5, 0.2, 3, "random", "none", storage);
  const std::string location = study_location(dir / "s", storage);
  const pid_t pid = spawn_tune(cfg, dir / "first.log");
  // Wait until trial 2 is running, then kill -9 (no chance to clean up).
  bool running = false;
  for (int i = 0; i < 400 && !running; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (storage.empty() && !fs::exists(dir / "s" / "study.db")) continue;
    StudyStorage db(location);
    for (const auto& t : db.trials())
      if (t.number == 2 && t.state == TrialState::kRunning && !t.intermediate.empty())
        running = true;
  }
  REQUIRE(running);
  kill(pid, SIGKILL);
  CHECK(wait_exit(pid) == 128 + SIGKILL);
  {
    StudyStorage db(location);
    auto trials = db.trials();
    REQUIRE(trials.size() == 3);
    CHECK(trials[2].state == TrialState::kRunning);  // orphaned
  }
  // Resume: the dead worker's trial is re-queued and run again, then the rest.
  const pid_t second = spawn_tune(cfg, dir / "second.log");
  REQUIRE(wait_exit(second) == 0);
  StudyStorage db(location);
  auto trials = db.trials();
  INFO(wtp::test::read_file(dir / "second.log"));
  REQUIRE(trials.size() == 5);
  for (std::size_t i = 0; i < trials.size(); ++i) {
    CHECK(trials[i].number == static_cast<std::int64_t>(i));
    CHECK(trials[i].state == TrialState::kComplete);
    CHECK(trials[i].intermediate.size() == 3);
    CHECK(trials[i].attempts == (i == 2 ? 2 : 1));
  }
  CHECK_THAT(trials[2].message, Catch::Contains("died during attempt 1; re-queued"));
  CHECK_THAT(wtp::test::read_file(dir / "second.log"), Catch::Contains("trials: 5 (complete 5"));
}

TEST_CASE("several workers (processes) on one study complete N trials without duplicates",
          "[tune][study]") {
  FOR_EACH_STUDY_BACKEND();
  wtp::test::TempDir dir;
  const fs::path cfg = dir / "tune.yaml";
  std::ofstream(cfg) << function_tune(dir / "s", 10, 0.3, 2, "tpe", "none", storage);
  // One process with --workers 2 (it starts a second) and an independent third one.
  const pid_t a = spawn_tune(cfg, dir / "a.log", {"--workers", "2"});
  const pid_t b = spawn_tune(cfg, dir / "b.log");
  CHECK(wait_exit(b) == 0);
  CHECK(wait_exit(a) == 0);
  StudyStorage db(study_location(dir / "s", storage));
  auto trials = db.trials();
  REQUIRE(trials.size() == 10);
  std::set<std::string> workers;
  std::set<std::int64_t> numbers;
  for (const auto& t : trials) {
    CHECK(t.state == TrialState::kComplete);
    CHECK(t.attempts == 1);
    CHECK(numbers.insert(t.number).second);
    workers.insert(t.worker);
  }
  CHECK(*numbers.rbegin() == 9);
  // The study was shared. (Whether the third process, starting last, still finds a trial
  // depends on the machine's load, so only two are required.)
  CHECK(workers.size() >= 2);
  // The summary shows the study when this process ended (another may still be running
  // its last trial then).
  CHECK_THAT(wtp::test::read_file(dir / "a.log"), Catch::Contains("trials: 10 (complete"));
}

TEST_CASE("wtp-tune: a 4-trial tune of a tiny quick start writes a best.yaml wtp-train accepts",
          "[tune][study][tool]") {
  wtp::test::TempDir dir;
  write_base(dir.path());
  std::ofstream(dir / "tune.yaml") << "base: base.yaml\n"
                                   << "trials: 4\n"
                                   << "sampler: {name: tpe, n_startup_trials: 2}\n"
                                   << "pruner: {name: median, n_startup_trials: 2}\n"
                                   << "resources: {epochs: [1, 1], max_steps_per_epoch: 3}\n"
                                   << kTrainSpace;
  const auto study = dir / "study";
  auto r = wtp::test::run_command((wtp::test::bin_dir() / "wtp-tune").string() + " --config " +
                                  (dir / "tune.yaml").string() + " --study " + study.string() +
                                  " --threads 2 2>&1");
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.output, Catch::Contains("trials: 4 (complete"));
  for (const char* f : {"best.yaml", "trials.csv", "history.png", "study.db"})
    CHECK(fs::exists(study / f));

  // Each trial trained with its own values: its resolved config.yaml holds them.
  StudyStorage db((study / "study.db").string());
  const auto trials = db.trials();
  REQUIRE(trials.size() == 4);
  std::set<std::string> distinct;
  for (const auto& t : trials) {
    char name[8];
    std::snprintf(name, sizeof(name), "%04lld", static_cast<long long>(t.number));
    const auto resolved = config::load_file((study / "trials" / name / "config.yaml").string());
    const auto cfg = wtp::train::decode_train_config(resolved);
    CHECK(cfg.stages[0].optimizer.options.find("lr")->text() ==
          config::detail::format_double(t.params.at("lr")));
    CHECK(cfg.stages[1].optimizer.options.find("lr")->text() ==
          config::detail::format_double(t.params.at("lr")));
    CHECK(std::stod(cfg.stages[1].loss.options.find("temperature")->text()) ==
          t.params.at("temperature"));
    CHECK(cfg.stages[1].loss.options.find("labelled_per_class")->text() ==
          std::to_string(static_cast<int>(t.params.at("labelled")) + 1));
    CHECK_FALSE(cfg.test);             // tuning never touches the test split
    CHECK(cfg.stages[0].epochs == 1);  // resources
    CHECK(cfg.stages[1].max_steps_per_epoch == 3);
    CHECK_FALSE(fs::exists(study / "trials" / name / "eval.json"));
    distinct.insert(config::detail::format_double(t.params.at("lr")));
  }
  CHECK(distinct.size() == 4);

  // best.yaml = base + best values (full epochs, test on); wtp-train runs it.
  const auto best = config::load_file((study / "best.yaml").string());
  const auto best_cfg = wtp::train::decode_train_config(best);
  CHECK(best_cfg.stages[0].epochs == 5);
  CHECK(best_cfg.test);
  CHECK(best_cfg.out == (study / "best").string());
  const auto b = std::find_if(trials.begin(), trials.end(), [&](const TrialRecord& t) {
    return t.state == TrialState::kComplete;
  });
  REQUIRE(b != trials.end());
  auto train = wtp::test::run_command(
      (wtp::test::bin_dir() / "wtp-train").string() + " --config " +
      (study / "best.yaml").string() + " --out " + (dir / "final").string() +
      " --set stages.0.epochs=1 --set stages.1.epochs=1 --set stages.0.max_steps_per_epoch=2"
      " --set stages.1.max_steps_per_epoch=2 --no-progress --threads 2 2>&1");
  INFO(train.output);
  CHECK(train.status == 0);
  CHECK(fs::exists(dir / "final" / "eval.json"));
}

TEST_CASE("the recipes in configs/tune validate (paths exist in their base configs)",
          "[tune][study]") {
  wtp::test::TempDir dir;
  for (const char* name : {"group_loss.yaml", "quickstart.yaml"}) {
    INFO(name);
    auto node = config::load_file((wtp::test::source_dir() / "configs" / "tune" / name).string());
    node.set("study", config::Node::scalar((dir / name).string()));
    Study study(node);
    CHECK(study.direction() == Direction::kMaximize);
    CHECK(study.config().metric == "recall_at_1");
    CHECK(study.storage().count() == 0);
  }
  // The Group Loss space maps onto both stages' optimizers and the Group Loss options.
  auto node = config::load_file(
      (wtp::test::source_dir() / "configs" / "tune" / "group_loss.yaml").string());
  node.set("study", config::Node::scalar((dir / "gl").string()));
  Study gl(node);
  Params p{{"lr", 2e-4}, {"weight_decay", 1e-6}, {"temperature", 30}, {"labelled_per_class", 2}};
  const auto cfg = wtp::train::decode_train_config(gl.trial_config(p, (dir / "t").string()));
  CHECK(cfg.stages[0].optimizer.options.find("lr")->text() == "0.0002");
  CHECK(cfg.stages[1].optimizer.options.find("weight_decay")->text() == "1e-06");
  CHECK(std::stod(cfg.stages[1].loss.options.find("temperature")->text()) == 30);
  CHECK(cfg.stages[1].loss.options.find("labelled_per_class")->text() == "3");
  CHECK(cfg.stages[1].epochs == 10);  // resources
  CHECK_FALSE(cfg.test);
  CHECK(wtp::train::decode_train_config(gl.best_config(p)).stages[1].epochs == 30);
}
