#pragma once
/// A registry of named components of one kind (models, losses, samplers, ...), each with
/// its own typed options struct. Every kind has one registry, reached through one accessor
/// (`losses::loss_registry()`, `models::model_registry()`, ...) that registers the built-in
/// components once.
///
///     void register_builtin_losses(LossRegistry& r) {
///       r.add<ContrastiveOptions>("contrastive", "contrastive loss (Hadsell et al.)",
///           [](const ContrastiveOptions& o) { return std::make_shared<Contrastive>(o); });
///     }
///     static const LossRegistry registry("loss", register_builtin_losses);
///     config::Component c = registry.resolve(config::decode_component(node, "loss"));
///     auto loss = registry.create(c);  // from c.decoded: the options are decoded once
///
/// Options are decoded strictly; errors name the component's full key path
/// (`stages[1].loss.temperature`).
#include <any>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/error.h"

namespace wtp {

template <class Product, class... Args>
class Registry {
 public:
  explicit Registry(std::string kind) : kind_(std::move(kind)) {}
  /// A registry filled by `fill` (its kind's register_builtin_*), as the accessors build theirs.
  Registry(std::string kind, const std::function<void(Registry&)>& fill) : kind_(std::move(kind)) {
    fill(*this);
  }

  /// Registers `name` whose options decode into `Options`. `resolve_nested` (optional)
  /// resolves components inside the options (a head's backbone) when the component is
  /// resolved. Throws std::logic_error on a duplicate name (a programming error).
  template <class Options>
  void add(const std::string& name, std::string doc,
           std::function<Product(const Options&, Args...)> make,
           std::function<void(Options&)> resolve_nested = {}) {
    if (entries_.count(name)) throw std::logic_error(kind_ + " '" + name + "' registered twice");
    Entry entry;
    entry.doc = std::move(doc);
    entry.create = [make](const config::Component& component, Args... args) {
      if (const auto* decoded = std::any_cast<Options>(&component.decoded))
        return make(*decoded, args...);
      return make(decode_options<Options>(component), args...);
    };
    entry.resolve = [resolve_nested](const config::Component& component) {
      Options options = decode_options<Options>(component);
      if (resolve_nested) resolve_nested(options);
      config::Component out(component.name, config::encode(options), component.path);
      out.decoded = std::move(options);
      return out;
    };
    entries_.emplace(name, std::move(entry));
  }

  /// Builds the component from the options Registry::resolve decoded, else decoding its
  /// options strictly now.
  Product create(const config::Component& component, Args... args) const {
    return entry(component.name).create(component, args...);
  }

  /// The component decoded once: its typed options kept in `decoded`, every default written
  /// into `options` (for the resolved config). Errors name the component's path.
  config::Component resolve(const config::Component& component) const {
    return entry(component.name).resolve(component);
  }

  bool contains(const std::string& name) const { return entries_.count(name) > 0; }

  /// Registered names, sorted.
  std::vector<std::string> names() const {
    std::vector<std::string> out;
    for (const auto& kv : entries_) out.push_back(kv.first);
    return out;
  }

  /// One line per entry: "name  doc".
  std::string describe() const {
    std::string out;
    for (const auto& [name, e] : entries_) out += "  " + name + "  " + e.doc + "\n";
    return out;
  }

 private:
  struct Entry {
    std::string doc;
    std::function<Product(const config::Component&, Args...)> create;
    std::function<config::Component(const config::Component&)> resolve;
  };

  template <class Options>
  static Options decode_options(const config::Component& component) {
    Options options{};
    if (!component.options.is_null())
      config::decode_into(component.options, options,
                          component.path.empty() ? component.name : component.path);
    return options;
  }

  const Entry& entry(const std::string& name) const {
    auto it = entries_.find(name);
    if (it == entries_.end()) {
      std::string known;
      for (const auto& kv : entries_) known += (known.empty() ? "" : ", ") + kv.first;
      throw UsageError("unknown " + kind_ + " '" + name + "' (known: " + known + ")");
    }
    return it->second;
  }

  std::string kind_;
  std::map<std::string, Entry> entries_;
};

}  // namespace wtp
