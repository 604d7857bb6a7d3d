#pragma once
/// A registry of named components of one kind (models, losses, samplers, ...), each with
/// its own typed options struct. Filled by one explicit `register_builtin_*()` function
/// per kind; an unknown name is a UsageError that lists the known ones.
///
///     Registry<std::shared_ptr<Loss>> losses("loss");
///     losses.add<ContrastiveOptions>("contrastive", "contrastive loss (Hadsell et al.)",
///         [](const ContrastiveOptions& o) { return std::make_shared<Contrastive>(o); });
///     auto loss = losses.create(config::decode_component(node, "loss"));
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

  /// Registers `name` whose options decode into `Options`. Throws std::logic_error on a
  /// duplicate name (a programming error).
  template <class Options>
  void add(const std::string& name, std::string doc,
           std::function<Product(const Options&, Args...)> make) {
    if (entries_.count(name)) throw std::logic_error(kind_ + " '" + name + "' registered twice");
    Entry entry;
    entry.doc = std::move(doc);
    entry.create = [make, name](const config::Node& node, Args... args) {
      return make(decode_options<Options>(node, name), args...);
    };
    entry.resolve = [name](const config::Node& node) {
      return config::encode(decode_options<Options>(node, name));
    };
    entries_.emplace(name, std::move(entry));
  }

  /// Builds the component, decoding its options strictly.
  Product create(const config::Component& component, Args... args) const {
    return entry(component.name).create(component.options, args...);
  }

  /// The component's options with every default filled in (for the resolved config).
  config::Component resolve(const config::Component& component) const {
    return {component.name, entry(component.name).resolve(component.options)};
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
    std::function<Product(const config::Node&, Args...)> create;
    std::function<config::Node(const config::Node&)> resolve;
  };

  template <class Options>
  static Options decode_options(const config::Node& node, const std::string& name) {
    Options options{};
    if (!node.is_null()) config::decode_into(node, options, name);
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
