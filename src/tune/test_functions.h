#pragma once
/// Black-box test functions (all minimised) for checking and benchmarking samplers, and
/// the `objective: {name: function}` of a tune config (try a study without training).
///
///   branin        2-D, x1 in [-5, 10], x2 in [0, 15]; minimum 0.397887 (three minima)
///   hartmann6     6-D, [0, 1]^6; minimum -3.322368 at (0.20169, 0.150011, 0.476874,
///                 0.275332, 0.311652, 0.6573)
///   quadratic     N-D bowl sum (x_i - 0.5 i - 0.3)^2 over [-5, 5]^N; minimum 0
///   group_loss    4-D with the Group Loss space's types: lr log[1e-5, 1e-3], weight decay
///                 log[1e-8, 1e-4], temperature int [10, 60], labelled points {1, 2, 3};
///                 a rotated quadratic in (log10 lr, log10 wd, temperature) shifted to the
///                 old tuned values (1.6e-4, 8.5e-5, 12) plus a per-choice offset
///                 (0.3, 0, 0.15) for labelled = 1, 2, 3; minimum 0
#include <functional>
#include <string>
#include <vector>

#include "tune/search_space.h"
#include "tune/trial.h"

namespace wtp::tune {

struct TestFunctionBounds {
  double low = 0.0, high = 1.0;
  bool log = false;             ///< log-uniform dimension
  bool integer = false;         ///< whole numbers
  std::vector<double> choices;  ///< categorical dimension (values)
};

struct TestFunction {
  std::string name;
  std::vector<TestFunctionBounds> dims;  ///< one per argument
  double minimum = 0.0;                  ///< known global minimum
  double (*f)(const std::vector<double>&) = nullptr;
};

/// The function named `name`; `dims` sets N for `quadratic` (ignored otherwise). Throws
/// UsageError listing the names when unknown.
TestFunction test_function(const std::string& name, int dims = 2);
/// "branin, group_loss, hartmann6, quadratic".
std::string test_function_names();

/// The search space of a test function: parameters x0, x1, ... with its bounds and types.
SearchSpace test_function_space(const TestFunction& function);
/// The function at a point of test_function_space() (categoricals by their value).
double evaluate(const TestFunction& function, const SearchSpace& space, const Params& point);

class Sampler;
/// Runs `n_trials` sequential trials of `objective` with `sampler` (no storage, no
/// pruning), for sampler tests and benchmarks. Returns the complete trials in order.
std::vector<TrialRecord> run_in_memory(Sampler& sampler, const SearchSpace& space,
                                       Direction direction, std::int64_t n_trials,
                                       const std::function<double(const Params&)>& objective);

}  // namespace wtp::tune
