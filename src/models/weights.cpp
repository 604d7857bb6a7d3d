#include "models/weights.h"

#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <unordered_map>

#include "core/error.h"
#include "core/log.h"

namespace wtp::models {

namespace {

std::regex compile(const std::string& pattern, const std::string& what) {
  try {
    return std::regex(pattern, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    throw UsageError(what + ": invalid regular expression '" + pattern + "': " + e.what());
  }
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.size() >= prefix.size() && s.compare(0, prefix.size(), prefix) == 0;
}

bool is_num_batches_tracked(const std::string& key) {
  static const std::string kName = "num_batches_tracked";
  return key == kName || (key.size() > kName.size() &&
                          key.compare(key.size() - kName.size(), kName.size(), kName) == 0 &&
                          key[key.size() - kName.size() - 1] == '.');
}

std::string shape_str(const torch::Tensor& t) {
  std::ostringstream out;
  out << t.sizes();
  return out.str();
}

std::vector<std::int64_t> squeezed(torch::IntArrayRef sizes) {
  std::vector<std::int64_t> out;
  for (auto s : sizes)
    if (s != 1) out.push_back(s);
  return out;
}

std::string list_names(const std::vector<std::string>& names, std::size_t limit = 10) {
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < limit; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > limit) out += ", ... (" + std::to_string(names.size() - limit) + " more)";
  return out;
}

/// Precompiled mapping steps 1, 3 and 4 (the auto prefix is applied in between).
class KeyMapper {
 public:
  explicit KeyMapper(const LoadOptions& options) : options_(options) {
    for (const auto& rule : options.rename)
      rules_.emplace_back(compile(rule.pattern, "rename"), rule.replacement);
  }
  std::string strip(const std::string& key) const {
    for (const auto& p : options_.strip_prefixes)
      if (!p.empty() && starts_with(key, p)) return key.substr(p.size());
    return key;
  }
  std::string finish(std::string key) const {
    for (const auto& [re, replacement] : rules_) key = std::regex_replace(key, re, replacement);
    return options_.add_prefix + key;
  }

 private:
  const LoadOptions& options_;
  std::vector<std::pair<std::regex, std::string>> rules_;
};

/// Leading runs of whole dotted components of `key`, excluding the key itself:
/// "a.b.c" -> "a.", "a.b.".
std::vector<std::string> dotted_prefixes(const std::string& key) {
  std::vector<std::string> out;
  for (std::size_t pos = key.find('.'); pos != std::string::npos; pos = key.find('.', pos + 1))
    out.push_back(key.substr(0, pos + 1));
  return out;
}

}  // namespace

void RenameRule::validate() const {
  require(!pattern.empty(), "rename: pattern must not be empty");
  compile(pattern, "rename");
}

void LoadOptions::validate() const {
  for (const auto& rule : rename) rule.validate();
  for (const auto& pattern : ignore) compile(pattern, "ignore");
}

std::string map_key(const std::string& key, const LoadOptions& options,
                    const std::string& auto_prefix) {
  KeyMapper mapper(options);
  std::string k = mapper.strip(key);
  if (!auto_prefix.empty() && starts_with(k, auto_prefix)) k = k.substr(auto_prefix.size());
  return mapper.finish(k);
}

NamedTensors state_dict(const torch::nn::Module& module) {
  NamedTensors out;
  auto add_own = [&out](const std::string& prefix, const torch::nn::Module& m) {
    for (const auto& p : m.named_parameters(/*recurse=*/false))
      out.emplace_back(prefix + p.key(), p.value().detach());
    for (const auto& b : m.named_buffers(/*recurse=*/false))
      out.emplace_back(prefix + b.key(), b.value().detach());
  };
  add_own("", module);
  for (const auto& item : module.named_modules("", /*include_self=*/false))
    add_own(item.key() + ".", *item.value());
  return out;
}

std::string LoadReport::summary() const {
  std::ostringstream out;
  out << "loaded " << loaded.size() << " tensors";
  if (!auto_prefix.empty()) out << " (prefix '" << auto_prefix << "' stripped)";
  if (!missing.empty()) out << "; missing " << missing.size() << ": " << list_names(missing);
  if (!unexpected.empty())
    out << "; unexpected " << unexpected.size() << ": " << list_names(unexpected);
  if (!ignored.empty()) out << "; ignored " << ignored.size() << ": " << list_names(ignored);
  if (!converted.empty())
    out << "; dtype converted " << converted.size() << ": " << list_names(converted);
  return out.str();
}

LoadReport load_weights(torch::nn::Module& module, const NamedTensors& source,
                        const LoadOptions& options) {
  options.validate();
  KeyMapper mapper(options);
  std::vector<std::regex> ignore;
  for (const auto& pattern : options.ignore) ignore.push_back(compile(pattern, "ignore"));

  const NamedTensors target_list = state_dict(module);
  std::unordered_map<std::string, torch::Tensor> target(target_list.begin(), target_list.end());

  // Step 1 (explicit prefixes), then step 2: the auto prefix that matches most keys.
  std::vector<std::string> stripped;
  stripped.reserve(source.size());
  for (const auto& kv : source) stripped.push_back(mapper.strip(kv.first));
  LoadReport report;
  if (options.auto_prefix) {
    std::map<std::string, std::size_t> hits;  // prefix -> keys it makes match
    for (const auto& key : stripped) {
      if (target.count(mapper.finish(key))) ++hits[""];
      for (const auto& p : dotted_prefixes(key))
        if (target.count(mapper.finish(key.substr(p.size())))) ++hits[p];
    }
    std::size_t best = hits.count("") ? hits[""] : 0;
    for (const auto& [prefix, count] : hits) {  // strictly more wins: "" and then the
      if (count > best) {                       // shorter prefix win ties
        best = count;
        report.auto_prefix = prefix;
      }
    }
  }

  // Steps 2-5: map every key; keys outside the auto prefix are set aside.
  std::map<std::string, std::pair<std::string, torch::Tensor>>
      mapped;  // name -> (source key, tensor)
  for (std::size_t i = 0; i < source.size(); ++i) {
    const std::string& original = source[i].first;
    std::string key = stripped[i];
    if (!report.auto_prefix.empty()) {
      if (!starts_with(key, report.auto_prefix)) {
        report.ignored.push_back(original + " (outside prefix '" + report.auto_prefix + "')");
        continue;
      }
      key = key.substr(report.auto_prefix.size());
    }
    key = mapper.finish(key);
    bool drop = false;
    for (const auto& re : ignore) drop = drop || std::regex_search(key, re);
    if (drop) {
      report.ignored.push_back(key);
      continue;
    }
    if (!source[i].second.defined())
      throw UsageError("load_weights: source tensor '" + original + "' is undefined");
    auto [it, inserted] = mapped.emplace(key, std::make_pair(original, source[i].second));
    if (!inserted)
      throw UsageError("load_weights: source keys '" + it->second.first + "' and '" + original +
                       "' both map to '" + key + "'; adjust strip_prefixes/rename");
  }

  // Match and check everything before copying anything.
  std::vector<std::string> shape_errors, dtype_errors;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;  // (target, source view)
  for (const auto& [name, value] : target_list) {
    auto it = mapped.find(name);
    if (it == mapped.end()) {
      if (!is_num_batches_tracked(name)) report.missing.push_back(name);
      continue;
    }
    torch::Tensor src = it->second.second;
    if (!src.sizes().equals(value.sizes())) {
      const bool squeeze_ok = options.squeeze_singleton_dims && src.numel() == value.numel() &&
                              squeezed(src.sizes()) == squeezed(value.sizes());
      if (!squeeze_ok) {
        shape_errors.push_back("'" + name + "' (from '" + it->second.first + "'): checkpoint " +
                               shape_str(src) + " vs model " + shape_str(value));
        continue;
      }
      src = src.reshape(value.sizes());
    }
    if (src.scalar_type() != value.scalar_type()) {
      if (!options.convert_dtype) {
        dtype_errors.push_back("'" + name + "': checkpoint " +
                               std::string(c10::toString(src.scalar_type())) + " vs model " +
                               std::string(c10::toString(value.scalar_type())));
        continue;
      }
      report.converted.push_back(name);
    }
    copies.emplace_back(value, src);
    report.loaded.push_back(name);
  }
  for (const auto& [name, entry] : mapped)
    if (!target.count(name)) {
      if (is_num_batches_tracked(name))
        report.ignored.push_back(name);
      else
        report.unexpected.push_back(name);
    }

  if (!shape_errors.empty())
    throw UsageError("load_weights: shape mismatch for " + std::to_string(shape_errors.size()) +
                     " tensor(s): " + list_names(shape_errors, 5) +
                     ". Drop such keys with `ignore` (e.g. a classifier with another number "
                     "of classes) or build the model with matching sizes");
  if (!dtype_errors.empty())
    throw UsageError("load_weights: dtype mismatch for " + list_names(dtype_errors, 5) +
                     " (set convert_dtype: true to convert)");
  if (!report.missing.empty() || !report.unexpected.empty()) {
    std::string problem;
    if (!report.missing.empty())
      problem += "missing " + std::to_string(report.missing.size()) + " (" +
                 list_names(report.missing) + ")";
    if (!report.unexpected.empty())
      problem += std::string(problem.empty() ? "" : "; ") + "unexpected " +
                 std::to_string(report.unexpected.size()) + " (" + list_names(report.unexpected) +
                 ")";
    if (options.strictness == Strictness::kStrict)
      throw UsageError("load_weights: checkpoint does not match the model: " + problem +
                       ". Map names with strip_prefixes/rename/add_prefix, drop extra keys "
                       "with ignore, or set strictness: lenient");
    log::warn("load_weights: ", problem);
  }

  torch::NoGradGuard no_grad;
  for (auto& [dst, src] : copies) dst.copy_(src);
  return report;
}

}  // namespace wtp::models
