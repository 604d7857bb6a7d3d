#include "tune/test_functions.h"

#include <cmath>

#include "core/error.h"
#include "tune/sampler.h"

namespace wtp::tune {

namespace {

constexpr double kPi = 3.14159265358979323846;

double branin(const std::vector<double>& x) {
  const double a = 1.0, b = 5.1 / (4 * kPi * kPi), c = 5 / kPi, r = 6, s = 10, t = 1 / (8 * kPi);
  const double u = x[1] - b * x[0] * x[0] + c * x[0] - r;
  return a * u * u + s * (1 - t) * std::cos(x[0]) + s;
}

double hartmann6(const std::vector<double>& x) {
  static const double alpha[4] = {1.0, 1.2, 3.0, 3.2};
  static const double A[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                 {0.05, 10, 17, 0.1, 8, 14},
                                 {3, 3.5, 1.7, 10, 17, 8},
                                 {17, 8, 0.05, 10, 0.1, 14}};
  static const double P[4][6] = {{1312, 1696, 5569, 124, 8283, 5886},
                                 {2329, 4135, 8307, 3736, 1004, 9991},
                                 {2348, 1451, 3522, 2883, 3047, 6650},
                                 {4047, 8828, 8732, 5743, 1091, 381}};
  double sum = 0;
  for (int i = 0; i < 4; ++i) {
    double inner = 0;
    for (int j = 0; j < 6; ++j) {
      const double d = x[j] - P[i][j] * 1e-4;
      inner += A[i][j] * d * d;
    }
    sum += alpha[i] * std::exp(-inner);
  }
  return -sum;
}

double quadratic(const std::vector<double>& x) {
  double sum = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double d = x[i] - (0.5 * static_cast<double>(i) + 0.3);
    sum += d * d;
  }
  return sum;
}

double group_loss(const std::vector<double>& x) {
  const double u = std::log10(x[0] / 1.6e-4);         // lr
  const double v = std::log10(x[1] / 8.5e-5) / 2;     // weight decay (flatter)
  const double w = (x[2] - 12.0) / 20.0;              // temperature
  const int k = static_cast<int>(std::lround(x[3]));  // labelled points
  const double offset = k == 1 ? 0.3 : (k == 2 ? 0.0 : 0.15);
  return u * u + v * v + w * w + 0.5 * u * w + 0.3 * u * v + offset;
}

TestFunctionBounds dim(double low, double high, bool log = false, bool integer = false) {
  TestFunctionBounds d;
  d.low = low;
  d.high = high;
  d.log = log;
  d.integer = integer;
  return d;
}

}  // namespace

std::string test_function_names() { return "branin, group_loss, hartmann6, quadratic"; }

TestFunction test_function(const std::string& name, int dims) {
  TestFunction t;
  t.name = name;
  if (name == "branin") {
    t.dims = {dim(-5, 10), dim(0, 15)};
    t.minimum = 0.397887357729738;
    t.f = branin;
  } else if (name == "hartmann6") {
    t.dims.assign(6, dim(0, 1));
    t.minimum = -3.32236801141551;
    t.f = hartmann6;
  } else if (name == "quadratic") {
    require(dims >= 1, "quadratic: dims must be >= 1");
    t.dims.assign(static_cast<std::size_t>(dims), dim(-5, 5));
    t.minimum = 0.0;
    t.f = quadratic;
  } else if (name == "group_loss") {
    t.dims = {dim(1e-5, 1e-3, true), dim(1e-8, 1e-4, true), dim(10, 60, false, true), dim(1, 3)};
    t.dims[3].choices = {1, 2, 3};
    t.minimum = 0.0;
    t.f = group_loss;
  } else {
    throw UsageError("unknown test function '" + name + "' (known: " + test_function_names() + ")");
  }
  return t;
}

SearchSpace test_function_space(const TestFunction& function) {
  SearchSpace space;
  for (std::size_t i = 0; i < function.dims.size(); ++i) {
    const auto& d = function.dims[i];
    ParamOptions o;
    if (!d.choices.empty()) {
      o.type = ParamType::kCategorical;
      for (double c : d.choices)
        o.choices.push_back(config::Node::scalar(config::detail::format_double(c)));
    } else {
      o.type = d.integer ? ParamType::kInt : ParamType::kFloat;
      o.low = d.low;
      o.high = d.high;
      o.log = d.log;
    }
    space.add("x" + std::to_string(i), o);
  }
  return space;
}

double evaluate(const TestFunction& function, const SearchSpace& space, const Params& point) {
  std::vector<double> x;
  for (const auto& p : space.params()) {
    const double v = point.at(p.name);
    x.push_back(p.type == ParamType::kCategorical ? std::stod(p.to_text(v)) : v);
  }
  return function.f(x);
}

std::vector<TrialRecord> run_in_memory(Sampler& sampler, const SearchSpace& space,
                                       Direction direction, std::int64_t n_trials,
                                       const std::function<double(const Params&)>& objective) {
  std::vector<TrialRecord> trials;
  for (std::int64_t n = 0; n < n_trials; ++n) {
    auto params = sampler.sample(space, trials, n, direction);
    if (!params) break;
    TrialRecord t;
    t.number = n;
    t.state = TrialState::kComplete;
    t.params = std::move(*params);
    t.value = objective(t.params);
    trials.push_back(std::move(t));
  }
  return trials;
}

}  // namespace wtp::tune
