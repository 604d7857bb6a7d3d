// wtp-tune: hyper-parameter search over training configs (see src/tune/study.h and
// configs/tune/). Several wtp-tune processes may work on one study at once.
#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <sys/wait.h>
#include <vector>

#include "common/cli.h"
#include "core/log.h"
#include "tune/study.h"

extern char** environ;

namespace {

/// Set in the environment of the extra worker processes that `--workers K` starts, so
/// they work on the study without starting workers of their own or printing the summary.
constexpr const char* kWorkerEnv = "WTP_TUNE_WORKER";

std::vector<pid_t> spawn_workers(int argc, char** argv, std::int64_t count) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  env_strings.push_back(std::string(kWorkerEnv) + "=1");
  std::vector<char*> env;
  for (auto& s : env_strings) env.push_back(s.data());
  env.push_back(nullptr);
  std::vector<pid_t> pids;
  for (std::int64_t i = 0; i < count; ++i) {
    pid_t pid = 0;
    if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv, env.data()) != 0)
      throw std::runtime_error("cannot start a worker process (" + std::string(argv[0]) + ")");
    pids.push_back(pid);
  }
  (void)argc;
  return pids;
}

}  // namespace

int main(int argc, char** argv) {
  wtp::cli::Tool tool("wtp-tune",
                      "Tune hyper-parameters of a training config (TPE, random or grid search with "
                      "median or ASHA pruning; studies in SQLite, resumable, multi-process)");
  tool.bind("--study", "study",
            "study directory (study.db, trials/, best.yaml, trials.csv, "
            "history.png); run again to resume");
  tool.bind("--storage", "storage",
            "study database shared by workers on several machines: postgresql://USER@HOST/DB "
            "(default: STUDY/study.db, SQLite)");
  tool.bind("--trials", "trials", "trials in the study, in total (a resumed study runs the rest)");
  tool.bind("--workers", "workers", "worker processes (each runs trials; default 1)");
  tool.bind("--timeout", "timeout", "seconds after which no new trial starts (0 = none)");
  return tool.run(argc, argv, [&] {
    if (tool.config_path().empty())
      throw wtp::UsageError("give a tune config with --config FILE (see configs/tune/)");
    const bool child = std::getenv(kWorkerEnv) != nullptr;
    wtp::tune::Study study(tool.config());  // validates everything before any trial
    std::vector<pid_t> workers;
    if (!child && study.config().workers > 1)
      workers = spawn_workers(argc, argv, study.config().workers - 1);
    wtp::tune::WorkerOptions options;
    options.progress = !child;
    auto summary = study.run_worker(study.objective(), options);
    for (pid_t pid : workers) {
      if (summary.interrupted) kill(pid, SIGINT);
      int status = 0;
      waitpid(pid, &status, 0);
      if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        wtp::log::warn("a worker process exited abnormally (status ", status,
                       "); its running trial is re-queued at the next claim");
    }
    if (child) return;
    auto trials = study.storage().trials();
    study.write_outputs(trials);
    std::printf("%s", study.summary_table(trials).c_str());
    std::printf("study: %s (best.yaml, trials.csv, history.png)\n", study.dir().c_str());
    if (summary.interrupted) {
      std::fprintf(stderr, "wtp-tune: interrupted; resume with the same command\n");
      std::exit(130);
    }
  });
}
