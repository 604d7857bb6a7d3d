// Benchmark of the samplers (not a test): best value found after each budget on black-box
// test functions, per seed. bench/run_tune.sh runs it beside Optuna's TPE
// (bench/tune_optuna.py) on the same functions, budgets and seeds.
//
//   bench_tune [SAMPLERS] [FUNCTIONS] [SEEDS] [BUDGETS]
//     SAMPLERS   comma list of tpe (defaults), tpe-uni (multivariate: false, i.e.
//                Optuna's default TPE), tpe-exact (normalized_kernels: true), random
//                (default tpe,random)
//     FUNCTIONS  comma list of branin, hartmann6, group_loss, quadratic (default the first 3)
//     SEEDS      number of seeds 0..S-1 (default 10)
//     BUDGETS    comma list of trial counts (default 20,50,100); one run of the largest
//                budget per seed, best-so-far read at each budget
//
// Prints CSV: tool,sampler,function,seed,budget,best,regret,seconds (regret = best - the
// known minimum; seconds = sampler + objective time of the whole run).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "core/config.h"
#include "tune/sampler.h"
#include "tune/test_functions.h"

namespace {
std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) out.push_back(item);
  return out;
}
}  // namespace

int main(int argc, char** argv) {
  using namespace wtp::tune;
  const auto samplers = split(argc > 1 ? argv[1] : "tpe,random");
  const auto functions = split(argc > 2 ? argv[2] : "branin,hartmann6,group_loss");
  const int seeds = argc > 3 ? std::stoi(argv[3]) : 10;
  std::vector<int> budgets;
  for (const auto& b : split(argc > 4 ? argv[4] : "20,50,100")) budgets.push_back(std::stoi(b));
  const int max_budget = *std::max_element(budgets.begin(), budgets.end());
  std::printf("tool,sampler,function,seed,budget,best,regret,seconds\n");
  for (const auto& fname : functions) {
    const TestFunction f = test_function(fname, 4);
    const SearchSpace space = test_function_space(f);
    for (const auto& sname : samplers) {
      for (int seed = 0; seed < seeds; ++seed) {
        // Variants of TPE for the comparison.
        wtp::config::Component component{sname, wtp::config::Node::map()};
        if (sname == "tpe-uni") {
          component.name = "tpe";
          component.options.set("multivariate", wtp::config::Node::scalar("false"));
        } else if (sname == "tpe-exact") {
          component.name = "tpe";
          component.options.set("normalized_kernels", wtp::config::Node::scalar("true"));
        }
        auto sampler =
            search_sampler_registry().create(component, static_cast<std::uint64_t>(seed));
        const auto start = std::chrono::steady_clock::now();
        const auto trials = run_in_memory(*sampler, space, Direction::kMinimize, max_budget,
                                          [&](const Params& p) { return evaluate(f, space, p); });
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        for (int b : budgets) {
          double best = 1e300;
          for (int i = 0; i < b && i < static_cast<int>(trials.size()); ++i)
            best = std::min(best, *trials[static_cast<std::size_t>(i)].value);
          std::printf("wtp,%s,%s,%d,%d,%.10g,%.10g,%.4f\n", sname.c_str(), fname.c_str(), seed, b,
                      best, best - f.minimum, seconds);
        }
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
