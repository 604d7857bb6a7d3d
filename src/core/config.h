#pragma once
/// Configuration: YAML files with `include:` composition and `--set a.b=v` overrides,
/// decoded strictly into typed option structs.
///
/// An options struct declares its fields once, in a `visit` member template; the same
/// declaration decodes, encodes (the resolved config written beside every run) and
/// documents the struct:
///
///     struct SynthOptions {
///       int identities = 40;          ///< number of identities
///       std::string out;              ///< output directory
///       template <class V> void visit(V& v) {
///         v("identities", identities, "number of identities");
///         v("out", out, "output directory");
///       }
///       void validate() const { require(identities > 0, "identities must be > 0"); }
///     };
///     auto opts = config::decode<SynthOptions>(config::load_file("synth.yaml"));
///
/// Field types: bool, integers, float/double, std::string, enums declared with
/// WTP_ENUM_NAMES, std::vector / std::optional / std::map<std::string, T> of those,
/// nested structs with `visit`, and config::Node (kept raw, e.g. for a component that a
/// registry decodes). An optional `void validate() const` runs after decoding; whatever
/// it throws is re-thrown as ConfigError naming the file and line.
///
/// Strictness: an unknown key is a ConfigError naming the key, file and line and
/// listing the known keys; a wrong type names the key, the expected type and the line.
#include <any>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/error.h"

namespace wtp::config {

/// Where a value came from: "file.yaml:12", "--set a.b=3" or "<default>".
struct Origin {
  std::string source;  ///< file path or description
  int line = 0;        ///< 1-based line, 0 when not from a file
  std::string describe() const;
};

/// A YAML value with the origin of every node.
class Node {
 public:
  enum class Kind { kNull, kScalar, kSequence, kMap };

  Node() = default;
  static Node scalar(std::string value, Origin origin = {});
  static Node sequence(Origin origin = {});
  static Node map(Origin origin = {});

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::kNull; }
  bool is_scalar() const { return kind_ == Kind::kScalar; }
  bool is_sequence() const { return kind_ == Kind::kSequence; }
  bool is_map() const { return kind_ == Kind::kMap; }
  const Origin& origin() const { return origin_; }
  void set_origin(Origin origin) { origin_ = std::move(origin); }

  /// The scalar text. Requires is_scalar().
  const std::string& text() const;
  /// Sequence items. Requires is_sequence().
  const std::vector<Node>& items() const;
  std::vector<Node>& items();
  void push_back(Node item);
  /// Map entries in file order. Requires is_map().
  const std::vector<std::pair<std::string, Node>>& entries() const;
  /// The child under `key`, or nullptr. Requires is_map().
  const Node* find(std::string_view key) const;
  Node* find(std::string_view key);
  /// Sets (or replaces) the child under `key`, keeping entry order. Requires is_map().
  Node& set(const std::string& key, Node value);
  /// Removes `key` if present. Requires is_map().
  void erase(std::string_view key);

 private:
  Kind kind_ = Kind::kNull;
  std::string text_;
  std::vector<Node> items_;
  std::vector<std::pair<std::string, Node>> entries_;
  Origin origin_;
};

/// Parses YAML text; `source` names it in error messages. No include processing.
Node parse(const std::string& yaml, const std::string& source);
/// Loads a YAML file and resolves `include:` (a path or a list of paths, relative to the
/// including file): bases are merged first, in order, then the file itself on top (maps
/// merge key by key, anything else is replaced). Cycles and missing files are errors.
Node load_file(const std::string& path);
/// Deep-merges `over` onto `base` (maps key by key, other kinds replaced).
void merge(Node& base, const Node& over);
/// Applies one override "a.b.c=value" (value parsed as YAML, so `[1, 2]` is a list; a number
/// indexes a list, `*` sets every item). Creates missing maps. ConfigError when malformed.
void apply_override(Node& root, const std::string& assignment);
/// Emits the tree as block-style YAML.
std::string to_yaml(const Node& node);

// ---------------------------------------------------------------------------------------
// Enums
// ---------------------------------------------------------------------------------------

/// Declares the config names of an enum; use next to the enum, in its namespace:
///     enum class Reduction { kMean, kSum, kNone };
///     WTP_ENUM_NAMES(Reduction, {Reduction::kMean, "mean"}, {Reduction::kSum, "sum"},
///                    {Reduction::kNone, "none"})
#define WTP_ENUM_NAMES(Enum, ...)                                                \
  inline const std::vector<std::pair<Enum, const char*>>& wtp_enum_names(Enum) { \
    static const std::vector<std::pair<Enum, const char*>> names{__VA_ARGS__};   \
    return names;                                                                \
  }

/// The config name of an enum value declared with WTP_ENUM_NAMES.
template <class E>
std::string enum_name(E value) {
  for (const auto& [v, name] : wtp_enum_names(E{}))
    if (v == value) return name;
  return "?";
}

/// All config names of an enum, comma-separated (for messages and help).
template <class E>
std::string enum_choices() {
  std::string out;
  for (const auto& entry : wtp_enum_names(E{}))
    out += (out.empty() ? "" : ", ") + std::string(entry.second);
  return out;
}

/// Parses an enum name; throws UsageError listing the choices.
template <class E>
E parse_enum(const std::string& text, const std::string& what) {
  for (const auto& [v, name] : wtp_enum_names(E{}))
    if (text == name) return v;
  throw UsageError(what + ": unknown value '" + text + "' (choose one of: " + enum_choices<E>() +
                   ")");
}

/// A component chosen by name, e.g. `model: {name: bn_inception, embedding_dim: 512}` or
/// just `model: bn_inception`. The options are read raw; the registry of its kind decodes
/// them once (Registry::resolve), keeps the typed struct in `decoded` and writes every
/// default back into `options`, so what is built is what the resolved config says.
struct Component {
  Component() = default;
  Component(std::string name, Node options, std::string path = {})
      : name(std::move(name)), options(std::move(options)), path(std::move(path)) {}

  std::string name;  ///< registry name
  Node options;      ///< the remaining keys (a map, possibly empty)
  std::string path;  ///< where it was read ("stages[1].loss"): error messages name it
  /// The typed options decoded by Registry::resolve (empty until then). Whoever edits
  /// `options` afterwards resolves the component again.
  std::any decoded;
};

/// Reads a Component from a scalar name or a map with a `name` key.
Component decode_component(const Node& node, const std::string& path);
/// Writes a Component back as a map with `name` first.
Node encode_component(const Component& component);

// ---------------------------------------------------------------------------------------
// Decoding and encoding
// ---------------------------------------------------------------------------------------

namespace detail {

template <class T, class = void>
struct has_visit : std::false_type {};
template <class T>
struct has_visit<T, std::void_t<decltype(std::declval<T&>().visit(std::declval<int&>()))>>
    : std::true_type {};
// visit is a template, so probe it with a generic callable instead of int.
struct ProbeVisitor {
  template <class F>
  void operator()(const char*, F&, const char*) {}
};
template <class T, class = void>
struct is_options : std::false_type {};
template <class T>
struct is_options<T, std::void_t<decltype(std::declval<T&>().visit(std::declval<ProbeVisitor&>()))>>
    : std::true_type {};
template <class T, class = void>
struct has_validate : std::false_type {};
template <class T>
struct has_validate<T, std::void_t<decltype(std::declval<const T&>().validate())>>
    : std::true_type {};

template <class T>
struct is_vector : std::false_type {};
template <class T, class A>
struct is_vector<std::vector<T, A>> : std::true_type {};
template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
struct is_string_map : std::false_type {};
template <class T>
struct is_string_map<std::map<std::string, T>> : std::true_type {};

[[noreturn]] void type_error(const Node& node, const std::string& path,
                             const std::string& expected);
[[noreturn]] void rethrow_with_origin(const Node& node, const std::string& path);
std::string join_path(const std::string& path, const std::string& key);

bool decode_bool(const Node& node, const std::string& path);
std::int64_t decode_int(const Node& node, const std::string& path, std::int64_t lo,
                        std::int64_t hi);
std::uint64_t decode_uint(const Node& node, const std::string& path, std::uint64_t hi);
double decode_double(const Node& node, const std::string& path);
std::string decode_string(const Node& node, const std::string& path);
std::string format_double(double value);

/// Reports keys of `map` that no field consumed. `known` lists the struct's keys.
void check_unknown_keys(const Node& map, const std::string& path,
                        const std::vector<std::string>& known);

template <class T>
void decode_value(const Node& node, T& out, const std::string& path);

class Decoder {
 public:
  Decoder(const Node& map, std::string path) : map_(map), path_(std::move(path)) {}
  template <class T>
  void operator()(const char* key, T& field, const char* /*doc*/) {
    known_.emplace_back(key);
    if (const Node* child = map_.find(key)) decode_value(*child, field, join_path(path_, key));
  }
  void finish() const { check_unknown_keys(map_, path_, known_); }

 private:
  const Node& map_;
  std::string path_;
  std::vector<std::string> known_;
};

template <class T>
void decode_value(const Node& node, T& out, const std::string& path) {
  if constexpr (std::is_same_v<T, Node>) {
    out = node;
  } else if constexpr (std::is_same_v<T, Component>) {
    out = decode_component(node, path);
  } else if constexpr (std::is_same_v<T, bool>) {
    out = decode_bool(node, path);
  } else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T>) {
    out = static_cast<T>(decode_uint(node, path, std::numeric_limits<T>::max()));
  } else if constexpr (std::is_integral_v<T>) {
    out = static_cast<T>(decode_int(node, path,
                                    static_cast<std::int64_t>(std::numeric_limits<T>::min()),
                                    static_cast<std::int64_t>(std::numeric_limits<T>::max())));
  } else if constexpr (std::is_floating_point_v<T>) {
    out = static_cast<T>(decode_double(node, path));
  } else if constexpr (std::is_same_v<T, std::string>) {
    out = decode_string(node, path);
  } else if constexpr (std::is_enum_v<T>) {
    const std::string text = decode_string(node, path);
    try {
      out = parse_enum<T>(text, path);
    } catch (const UsageError&) {
      rethrow_with_origin(node, path);
    }
  } else if constexpr (is_optional<T>::value) {
    if (node.is_null()) {
      out.reset();
    } else {
      typename T::value_type value{};
      if (out) value = *out;
      decode_value(node, value, path);
      out = std::move(value);
    }
  } else if constexpr (is_vector<T>::value) {
    if (!node.is_sequence()) type_error(node, path, "a list");
    T result;
    for (std::size_t i = 0; i < node.items().size(); ++i) {
      typename T::value_type value{};
      decode_value(node.items()[i], value, path + "[" + std::to_string(i) + "]");
      result.push_back(std::move(value));
    }
    out = std::move(result);
  } else if constexpr (is_string_map<T>::value) {
    if (!node.is_map()) type_error(node, path, "a map");
    T result;
    for (const auto& [key, child] : node.entries()) {
      typename T::mapped_type value{};
      decode_value(child, value, join_path(path, key));
      result.emplace(key, std::move(value));
    }
    out = std::move(result);
  } else if constexpr (is_options<T>::value) {
    if (node.is_null()) return;  // `key:` with nothing keeps the defaults
    if (!node.is_map()) type_error(node, path, "a map of options");
    Decoder decoder(node, path);
    out.visit(decoder);
    decoder.finish();
    if constexpr (has_validate<T>::value) {
      try {
        out.validate();
      } catch (const UsageError&) {
        rethrow_with_origin(node, path);
      }
    }
  } else {
    static_assert(sizeof(T) == 0, "config: unsupported field type");
  }
}

template <class T>
Node encode_value(const T& value);

class Encoder {
 public:
  Encoder() : map_(Node::map()) {}
  template <class T>
  void operator()(const char* key, const T& field, const char* /*doc*/) {
    map_.set(key, encode_value(field));
  }
  Node take() { return std::move(map_); }

 private:
  Node map_;
};

template <class T>
Node encode_value(const T& value) {
  if constexpr (std::is_same_v<T, Node>) {
    return value;
  } else if constexpr (std::is_same_v<T, Component>) {
    return encode_component(value);
  } else if constexpr (std::is_same_v<T, bool>) {
    return Node::scalar(value ? "true" : "false");
  } else if constexpr (std::is_integral_v<T>) {
    return Node::scalar(std::to_string(value));
  } else if constexpr (std::is_floating_point_v<T>) {
    return Node::scalar(format_double(static_cast<double>(value)));
  } else if constexpr (std::is_same_v<T, std::string>) {
    return Node::scalar(value);
  } else if constexpr (std::is_enum_v<T>) {
    return Node::scalar(enum_name(value));
  } else if constexpr (is_optional<T>::value) {
    return value ? encode_value(*value) : Node();
  } else if constexpr (is_vector<T>::value) {
    Node seq = Node::sequence();
    for (const auto& item : value) seq.push_back(encode_value(item));
    return seq;
  } else if constexpr (is_string_map<T>::value) {
    Node map = Node::map();
    for (const auto& [key, item] : value) map.set(key, encode_value(item));
    return map;
  } else if constexpr (is_options<T>::value) {
    Encoder encoder;
    const_cast<T&>(value).visit(encoder);  // visit is non-const; the encoder only reads
    return encoder.take();
  } else {
    static_assert(sizeof(T) == 0, "config: unsupported field type");
  }
}

}  // namespace detail

/// Decodes `node` into `out` (fields absent from `node` keep their current values).
/// `path` is the dotted key prefix used in messages ("" for the root).
template <class T>
void decode_into(const Node& node, T& out, const std::string& path = "") {
  detail::decode_value(node, out, path);
}

/// Decodes `node` into a default-constructed T.
template <class T>
T decode(const Node& node, const std::string& path = "") {
  T out{};
  decode_into(node, out, path);
  return out;
}

/// Encodes a value (usually an options struct) as a Node: every field, defaults included.
template <class T>
Node encode(const T& value) {
  return detail::encode_value(value);
}

}  // namespace wtp::config
