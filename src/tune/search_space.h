#pragma once
/// The search space of a study: named parameters (float uniform / log-uniform, int with an
/// optional log scale, categorical), each written to one or more config paths, optionally
/// active only when an earlier parameter has one of some values (conditional entries).
///
///     space:
///       lr: {path: stages.1.optimizer.lr, type: float, low: 1.0e-5, high: 1.0e-3, log: true}
///       temperature: {path: stages.1.loss.temperature, type: int, low: 10, high: 60}
///       labelled: {path: stages.1.loss.labelled_per_class, type: categorical, choices: [1, 2, 3]}
///       momentum: {path: stages.0.optimizer.momentum, type: float, low: 0.5, high: 0.99,
///                  when: {param: optimizer, in: [sgd]}}
///
/// Values are kept in an "internal" double representation (as Optuna does): a float or an
/// int is its value, a categorical is the index of its choice. to_text() turns an internal
/// value into the YAML text written into a trial's config.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/random.h"

namespace wtp::tune {

/// The type of a parameter.
enum class ParamType { kFloat, kInt, kCategorical };
WTP_ENUM_NAMES(ParamType, {ParamType::kFloat, "float"}, {ParamType::kInt, "int"},
               {ParamType::kCategorical, "categorical"})

/// A parameter is active only when `param` (an earlier parameter) has one of `in`.
struct ConditionOptions {
  std::string param;             ///< name of an earlier parameter of the space
  std::vector<config::Node> in;  ///< its values (as written in its choices / its int values)
  template <class V>
  void visit(V& v) {
    v("param", param, "name of an earlier parameter");
    v("in", in, "the parameter is active when `param` has one of these values");
  }
};

/// One entry of `space:` as written in the tune config.
struct ParamOptions {
  config::Node path;                     ///< config path, or a list of paths set to the same value
  ParamType type = ParamType::kFloat;    ///< float | int | categorical
  std::optional<double> low;             ///< lower bound (float, int), inclusive
  std::optional<double> high;            ///< upper bound (float, int), inclusive
  bool log = false;                      ///< sample in log space (requires low > 0)
  std::optional<double> step;            ///< discretisation step (int default 1; float: none)
  std::vector<config::Node> choices;     ///< categorical choices (scalars)
  std::int64_t grid_points = 5;          ///< grid sampler: points of a float range
  std::optional<ConditionOptions> when;  ///< active only under this condition
  template <class V>
  void visit(V& v) {
    v("path", path, "config path (e.g. stages.1.loss.temperature) or a list of paths");
    v("type", type, "float | int | categorical");
    v("low", low, "lower bound (float, int), inclusive");
    v("high", high, "upper bound (float, int), inclusive");
    v("log", log, "sample in log space (bounds must be > 0)");
    v("step", step, "discretisation step (int: default 1; float: none)");
    v("choices", choices, "categorical: the values");
    v("grid_points", grid_points, "grid sampler: points of a float range (log-spaced if log)");
    v("when", when, "conditional: {param: NAME, in: [values]}");
  }
};

/// A validated parameter.
struct Param {
  std::string name;                ///< unique name
  std::vector<std::string> paths;  ///< config paths receiving the value (may be empty)
  ParamType type = ParamType::kFloat;
  double low = 0.0, high = 1.0;           ///< bounds (float, int)
  bool log = false;                       ///< log scale
  std::optional<double> step;             ///< discretisation step (always set for int)
  std::vector<std::string> choices;       ///< categorical choices as YAML text
  std::int64_t grid_points = 5;           ///< grid sampler resolution for float ranges
  std::optional<std::string> when_param;  ///< condition: parent parameter
  std::vector<std::string> when_in;       ///< condition: parent values (YAML text)

  /// Number of categorical choices (0 for numeric parameters).
  std::size_t n_choices() const { return choices.size(); }
  /// Whether an internal value lies in the space (in bounds, on the step grid, an index).
  bool contains(double internal) const;
  /// Snaps a numeric value into [low, high] and onto the step grid (int: an integer).
  double snap(double value) const;
  /// The YAML text of an internal value (categorical: the choice; int: no decimals;
  /// float: round-trip precision).
  std::string to_text(double internal) const;
  /// A uniform random value of the space (log-uniform if log).
  double sample_uniform(Rng& rng) const;
  /// The grid sampler's values, increasing: every choice index of a categorical; for a
  /// numeric range with at most grid_points values on its step, all of them; otherwise
  /// grid_points evenly spaced values (log-spaced if log) snapped onto the step.
  std::vector<double> grid_values() const;
};

/// Parameter values of one trial, internal representation, only the active parameters.
using Params = std::map<std::string, double>;

/// An ordered, validated list of parameters.
class SearchSpace {
 public:
  SearchSpace() = default;
  /// Validates and appends a parameter: bounds (low < high, log needs low > 0, int bounds
  /// integral), choices (non-empty, scalars, distinct), conditions (an earlier
  /// categorical or int parameter, values among its values). Throws UsageError naming
  /// the parameter and what to fix.
  void add(const std::string& name, const ParamOptions& options);
  /// Decodes `space:` (a map name -> ParamOptions, in file order). Empty = error.
  static SearchSpace decode(const config::Node& node);

  const std::vector<Param>& params() const { return params_; }
  const Param& at(const std::string& name) const;
  std::size_t size() const { return params_.size(); }

  /// Whether `param` is active given the values chosen so far (its parent active and with
  /// one of the condition's values). Parameters are decided in order, so `values` holds
  /// every earlier active parameter.
  bool active(const Param& param, const Params& values) const;
  /// Whether `values` is a complete, valid point: every active parameter present and in
  /// the space, no inactive or unknown one.
  bool valid_point(const Params& values) const;
  /// Overrides "path=text" of a point, in space order.
  std::vector<std::string> overrides(const Params& values) const;
  /// A one-line description "lr=0.0001 temperature=12" in space order (floats with 6
  /// significant digits).
  std::string describe(const Params& values) const;

 private:
  std::vector<Param> params_;
};

}  // namespace wtp::tune
