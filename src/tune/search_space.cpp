#include "tune/search_space.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "core/error.h"

namespace wtp::tune {

namespace {

std::string scalar_text(const config::Node& node, const std::string& what) {
  if (!node.is_scalar())
    throw UsageError(what + " must be a scalar value (at " + node.origin().describe() + ")");
  return node.text();
}

bool is_integral(double v) { return std::isfinite(v) && std::floor(v) == v; }

}  // namespace

bool Param::contains(double v) const {
  if (!std::isfinite(v)) return false;
  if (type == ParamType::kCategorical)
    return is_integral(v) && v >= 0 && v < static_cast<double>(choices.size());
  if (v < low || v > high) return false;
  if (type == ParamType::kInt && !is_integral(v)) return false;
  if (step) {
    const double k = (v - low) / *step;
    if (std::fabs(k - std::round(k)) > 1e-9 * std::max(1.0, std::fabs(k))) return false;
  }
  return true;
}

double Param::snap(double v) const {
  if (type == ParamType::kCategorical)
    return std::clamp(std::round(v), 0.0, static_cast<double>(choices.size()) - 1);
  v = std::clamp(v, low, high);
  if (step) {
    v = low + std::round((v - low) / *step) * *step;
    if (v > high) v -= *step;
  }
  if (type == ParamType::kInt) v = std::round(v);
  return v;
}

std::string Param::to_text(double v) const {
  switch (type) {
    case ParamType::kCategorical:
      return choices.at(static_cast<std::size_t>(v));
    case ParamType::kInt:
      return std::to_string(std::llround(v));
    case ParamType::kFloat:
      break;
  }
  return config::detail::format_double(v);
}

double Param::sample_uniform(Rng& rng) const {
  switch (type) {
    case ParamType::kCategorical:
      return static_cast<double>(rng.integer(0, static_cast<std::int64_t>(choices.size()) - 1));
    case ParamType::kInt:
      if (log)  // as Optuna: uniform in [log(low - 0.5), log(high + 0.5)], rounded
        return snap(std::round(std::exp(rng.uniform(std::log(low - 0.5), std::log(high + 0.5)))));
      return low + *step * static_cast<double>(
                               rng.integer(0, static_cast<std::int64_t>((high - low) / *step)));
    case ParamType::kFloat:
      break;
  }
  if (log) return std::clamp(std::exp(rng.uniform(std::log(low), std::log(high))), low, high);
  if (step)
    return low +
           *step * static_cast<double>(rng.integer(
                       0, static_cast<std::int64_t>(std::floor((high - low) / *step + 1e-9))));
  return rng.uniform(low, high);
}

std::vector<double> Param::grid_values() const {
  std::vector<double> out;
  if (type == ParamType::kCategorical) {
    for (std::size_t i = 0; i < choices.size(); ++i) out.push_back(static_cast<double>(i));
    return out;
  }
  if (step) {
    const auto n = static_cast<std::int64_t>(std::floor((high - low) / *step + 1e-9)) + 1;
    if (n <= grid_points) {
      for (std::int64_t i = 0; i < n; ++i) out.push_back(low + *step * static_cast<double>(i));
      return out;
    }
  }
  for (std::int64_t i = 0; i < grid_points; ++i) {
    const double t = grid_points == 1 ? 0.5 : static_cast<double>(i) / (grid_points - 1);
    const double v = log ? std::exp(std::log(low) + t * (std::log(high) - std::log(low)))
                         : low + t * (high - low);
    out.push_back(snap(v));
  }
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void SearchSpace::add(const std::string& name, const ParamOptions& o) {
  const std::string what = "space." + name;
  require(!name.empty(), "space: a parameter needs a name");
  for (const auto& p : params_) require(p.name != name, what + ": defined twice");
  Param p;
  p.name = name;
  p.type = o.type;
  p.log = o.log;
  p.grid_points = o.grid_points;
  require(o.grid_points >= 1, what + ".grid_points must be >= 1");
  if (o.path.is_scalar()) {
    p.paths.push_back(o.path.text());
  } else if (o.path.is_sequence()) {
    for (const auto& item : o.path.items()) p.paths.push_back(scalar_text(item, what + ".path"));
  } else if (!o.path.is_null()) {
    throw UsageError(what + ".path must be a config path or a list of paths");
  }
  for (const auto& path : p.paths)
    require(
        !path.empty() && path.find('=') == std::string::npos && path.front() != '.' &&
            path.back() != '.' && path.find("..") == std::string::npos,
        what + ".path '" + path + "' is not a dotted config path like stages.1.loss.temperature");

  if (p.type == ParamType::kCategorical) {
    require(!o.choices.empty(), what + ": a categorical parameter needs `choices: [...]`");
    require(!o.low && !o.high && !o.log && !o.step,
            what + ": low/high/log/step do not apply to a categorical parameter (use choices)");
    std::set<std::string> seen;
    for (const auto& c : o.choices) {
      std::string text = scalar_text(c, what + ".choices");
      require(seen.insert(text).second, what + ".choices: '" + text + "' is listed twice");
      p.choices.push_back(std::move(text));
    }
  } else {
    require(o.choices.empty(), what + ": choices apply only to type: categorical");
    require(o.low && o.high,
            what + ": a " + config::enum_name(p.type) + " parameter needs `low` and `high`");
    p.low = *o.low;
    p.high = *o.high;
    require(std::isfinite(p.low) && std::isfinite(p.high), what + ": low and high must be finite");
    require(p.low < p.high, what + ": low (" + config::detail::format_double(p.low) +
                                ") must be < high (" + config::detail::format_double(p.high) + ")");
    if (p.log)
      require(p.low > 0, what + ": a log-scale range needs low > 0 (got " +
                             config::detail::format_double(p.low) + ")");
    if (p.type == ParamType::kInt) {
      require(is_integral(p.low) && is_integral(p.high),
              what + ": int bounds must be whole numbers");
      p.step = o.step.value_or(1.0);
      require(is_integral(*p.step) && *p.step >= 1, what + ".step must be a whole number >= 1");
      require(!p.log || *p.step == 1, what + ": a log-scale int parameter needs step 1");
    } else if (o.step) {
      require(*o.step > 0, what + ".step must be > 0");
      require(!p.log, what + ": step and log cannot be combined for a float parameter");
      p.step = o.step;
    }
    if (p.step) {
      const double k = (p.high - p.low) / *p.step;
      require(std::fabs(k - std::round(k)) < 1e-9 * std::max(1.0, k),
              what + ": high - low must be a multiple of step");
    }
  }

  if (o.when) {
    const auto& w = *o.when;
    auto parent = std::find_if(params_.begin(), params_.end(),
                               [&](const Param& q) { return q.name == w.param; });
    require(parent != params_.end(), what + ".when.param '" + w.param +
                                         "' is not an earlier parameter of the space "
                                         "(conditions refer to parameters listed above)");
    require(parent->type != ParamType::kFloat,
            what + ".when.param '" + w.param + "' must be categorical or int");
    require(!w.in.empty(), what + ".when.in: list the values of '" + w.param + "'");
    for (const auto& v : w.in) {
      std::string text = scalar_text(v, what + ".when.in");
      bool ok = false;
      if (parent->type == ParamType::kCategorical) {
        ok = std::find(parent->choices.begin(), parent->choices.end(), text) !=
             parent->choices.end();
      } else {
        char* end = nullptr;
        const double x = std::strtod(text.c_str(), &end);
        ok = end && *end == '\0' && parent->contains(x);
        if (ok) text = parent->to_text(x);
      }
      require(ok, what + ".when.in: '" + text + "' is not a value of '" + w.param + "'");
      p.when_in.push_back(text);
    }
    p.when_param = w.param;
  }
  params_.push_back(std::move(p));
}

SearchSpace SearchSpace::decode(const config::Node& node) {
  require(node.is_map() && !node.entries().empty(),
          "space: give at least one parameter, e.g. space: {lr: {path: stages.0.optimizer.lr, "
          "type: float, low: 1.0e-5, high: 1.0e-3, log: true}}");
  SearchSpace space;
  for (const auto& [name, entry] : node.entries()) {
    ParamOptions options;
    config::decode_into(entry, options, "space." + name);
    try {
      space.add(name, options);
    } catch (const UsageError& e) {
      throw ConfigError(std::string(e.what()) + " (at " + entry.origin().describe() + ")");
    }
  }
  return space;
}

const Param& SearchSpace::at(const std::string& name) const {
  for (const auto& p : params_)
    if (p.name == name) return p;
  throw UsageError("unknown parameter '" + name + "'");
}

bool SearchSpace::active(const Param& param, const Params& values) const {
  if (!param.when_param) return true;
  const Param& parent = at(*param.when_param);
  auto it = values.find(parent.name);
  if (it == values.end()) return false;  // parent inactive
  const std::string text = parent.to_text(it->second);
  return std::find(param.when_in.begin(), param.when_in.end(), text) != param.when_in.end();
}

bool SearchSpace::valid_point(const Params& values) const {
  std::size_t used = 0;
  for (const auto& p : params_) {
    auto it = values.find(p.name);
    if (active(p, values)) {
      if (it == values.end() || !p.contains(it->second)) return false;
      ++used;
    } else if (it != values.end()) {
      return false;
    }
  }
  return used == values.size();
}

std::vector<std::string> SearchSpace::overrides(const Params& values) const {
  std::vector<std::string> out;
  for (const auto& p : params_) {
    auto it = values.find(p.name);
    if (it == values.end()) continue;
    for (const auto& path : p.paths) out.push_back(path + "=" + p.to_text(it->second));
  }
  return out;
}

std::string SearchSpace::describe(const Params& values) const {
  std::string out;
  for (const auto& p : params_) {
    auto it = values.find(p.name);
    if (it == values.end()) continue;
    std::string text = p.to_text(it->second);
    if (p.type == ParamType::kFloat) {  // 6 significant digits for reading
      char b[32];
      std::snprintf(b, sizeof(b), "%.6g", it->second);
      text = b;
    }
    out += (out.empty() ? "" : " ") + p.name + "=" + text;
  }
  return out;
}

}  // namespace wtp::tune
