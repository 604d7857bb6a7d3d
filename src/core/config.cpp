#include "core/config.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <yaml-cpp/yaml.h>

namespace wtp::config {
namespace fs = std::filesystem;

std::string Origin::describe() const {
  if (source.empty()) return "<default>";
  if (line > 0) return source + ":" + std::to_string(line);
  return source;
}

Node Node::scalar(std::string value, Origin origin) {
  Node n;
  n.kind_ = Kind::kScalar;
  n.text_ = std::move(value);
  n.origin_ = std::move(origin);
  return n;
}

Node Node::sequence(Origin origin) {
  Node n;
  n.kind_ = Kind::kSequence;
  n.origin_ = std::move(origin);
  return n;
}

Node Node::map(Origin origin) {
  Node n;
  n.kind_ = Kind::kMap;
  n.origin_ = std::move(origin);
  return n;
}

namespace {
void expect_kind(const Node& node, Node::Kind kind, const char* what) {
  if (node.kind() != kind) throw std::logic_error(std::string("config::Node: not a ") + what);
}
}  // namespace

const std::string& Node::text() const {
  expect_kind(*this, Kind::kScalar, "scalar");
  return text_;
}
const std::vector<Node>& Node::items() const {
  expect_kind(*this, Kind::kSequence, "sequence");
  return items_;
}
std::vector<Node>& Node::items() {
  expect_kind(*this, Kind::kSequence, "sequence");
  return items_;
}
void Node::push_back(Node item) {
  expect_kind(*this, Kind::kSequence, "sequence");
  items_.push_back(std::move(item));
}
const std::vector<std::pair<std::string, Node>>& Node::entries() const {
  expect_kind(*this, Kind::kMap, "map");
  return entries_;
}
const Node* Node::find(std::string_view key) const {
  expect_kind(*this, Kind::kMap, "map");
  for (const auto& [k, v] : entries_)
    if (k == key) return &v;
  return nullptr;
}
Node* Node::find(std::string_view key) {
  expect_kind(*this, Kind::kMap, "map");
  for (auto& [k, v] : entries_)
    if (k == key) return &v;
  return nullptr;
}
Node& Node::set(const std::string& key, Node value) {
  expect_kind(*this, Kind::kMap, "map");
  if (Node* existing = find(key)) {
    *existing = std::move(value);
    return *existing;
  }
  entries_.emplace_back(key, std::move(value));
  return entries_.back().second;
}
void Node::erase(std::string_view key) {
  expect_kind(*this, Kind::kMap, "map");
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(),
                                [&](const auto& kv) { return kv.first == key; }),
                 entries_.end());
}

// ---------------------------------------------------------------------------------------
// Parsing and emitting
// ---------------------------------------------------------------------------------------
namespace {

// Turns yaml-cpp's tree into ours. YAML aliases make it a graph: an alias inside its own
// anchor is a cycle, and aliases of aliases expand exponentially ("billion laughs"), so the
// walk refuses both instead of recursing or allocating without end.
class Converter {
 public:
  explicit Converter(const std::string& source) : source_(source) {}

  Node convert(const YAML::Node& y) {
    const Origin origin = at(y.Mark());
    if (++nodes_ > kMaxNodes)
      throw ConfigError(origin.describe() + ": the document expands to more than " +
                        std::to_string(kMaxNodes) + " values (aliases of aliases?)");
    for (const auto& ancestor : path_)
      if (ancestor.is(y))
        throw ConfigError(origin.describe() + ": an alias refers to a value that contains it");
    path_.push_back(y);
    Node n = convert_node(y, origin);
    path_.pop_back();
    return n;
  }

 private:
  static constexpr std::size_t kMaxNodes = 100000;

  Origin at(const YAML::Mark& mark) const {
    return Origin{source_, mark.line >= 0 ? mark.line + 1 : 0};
  }

  Node convert_node(const YAML::Node& y, const Origin& origin) {
    switch (y.Type()) {
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined: {
        Node n;
        n.set_origin(origin);
        return n;
      }
      case YAML::NodeType::Scalar:
        return Node::scalar(y.Scalar(), origin);
      case YAML::NodeType::Sequence: {
        Node n = Node::sequence(origin);
        for (const auto& item : y) n.push_back(convert(item));
        return n;
      }
      case YAML::NodeType::Map:
        return convert_map(y, origin);
    }
    return Node();
  }

  Node convert_map(const YAML::Node& y, const Origin& origin) {
    Node n = Node::map(origin);
    for (const auto& kv : y) {
      const Origin key_origin = at(kv.first.Mark());
      if (!kv.first.IsScalar())
        throw ConfigError(key_origin.describe() + ": map keys must be plain names");
      const std::string key = kv.first.Scalar();
      if (n.find(key))
        throw ConfigError(key_origin.describe() + ": key '" + key + "' appears twice");
      Node child = convert(kv.second);
      // Report a value at its key's line (a nested map's own mark is its first child).
      if (!child.is_scalar()) child.set_origin(key_origin);
      n.set(key, std::move(child));
    }
    return n;
  }

  const std::string& source_;
  std::vector<YAML::Node> path_;
  std::size_t nodes_ = 0;
};

bool needs_quotes(const std::string& s) {
  if (s.empty() || s.front() == ' ' || s.back() == ' ') return true;
  static const std::string leading = ":#{}[],&*!|>'\"%@`?";
  if (leading.find(s.front()) != std::string::npos) return true;
  if (s.front() == '-' && (s.size() == 1 || s[1] == ' ')) return true;
  return s.find(": ") != std::string::npos || s.find(" #") != std::string::npos ||
         s.find('\n') != std::string::npos || s.back() == ':';
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

std::string scalar_text(const Node& n) {
  if (n.is_null()) return "null";
  return needs_quotes(n.text()) ? quote(n.text()) : n.text();
}

bool is_empty_collection(const Node& n) {
  return (n.is_map() && n.entries().empty()) || (n.is_sequence() && n.items().empty());
}

void emit(const Node& n, int indent, std::ostringstream& out) {
  const std::string pad(indent, ' ');
  if (n.is_map()) {
    for (const auto& [key, child] : n.entries()) {
      out << pad << (needs_quotes(key) ? quote(key) : key) << ":";
      if ((child.is_map() || child.is_sequence()) && !is_empty_collection(child)) {
        out << "\n";
        emit(child, indent + 2, out);
      } else if (child.is_map()) {
        out << " {}\n";
      } else if (child.is_sequence()) {
        out << " []\n";
      } else {
        out << " " << scalar_text(child) << "\n";
      }
    }
  } else if (n.is_sequence()) {
    for (const auto& item : n.items()) {
      if (item.is_map() && !item.entries().empty()) {
        std::ostringstream inner;
        emit(item, indent + 2, inner);
        std::string text = inner.str();
        text.replace(indent, 2, "- ");  // first line: "  key" -> "- key"
        out << text;
      } else if (item.is_sequence() && !item.items().empty()) {
        out << pad << "-\n";
        emit(item, indent + 2, out);
      } else {
        out << pad << "- "
            << (is_empty_collection(item) ? (item.is_map() ? "{}" : "[]") : scalar_text(item))
            << "\n";
      }
    }
  } else {
    out << pad << scalar_text(n) << "\n";
  }
}

}  // namespace

Node parse(const std::string& yaml, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::Exception& e) {
    throw ConfigError(source + ":" + std::to_string(e.mark.line + 1) + ": invalid YAML: " + e.msg);
  }
  return Converter(source).convert(root);
}

std::string to_yaml(const Node& node) {
  std::ostringstream out;
  emit(node, 0, out);
  return out.str();
}

void merge(Node& base, const Node& over) {
  if (base.is_map() && over.is_map()) {
    for (const auto& [key, child] : over.entries()) {
      if (Node* existing = base.find(key)) {
        merge(*existing, child);
      } else {
        base.set(key, child);
      }
    }
    return;
  }
  base = over;
}

namespace {

Node load_recursive(const fs::path& path, std::vector<fs::path>& stack) {
  std::error_code ec;
  fs::path canonical = fs::weakly_canonical(path, ec);
  if (ec) canonical = path;
  if (std::find(stack.begin(), stack.end(), canonical) != stack.end())
    throw ConfigError("config include cycle: " + path.string() + " includes itself (via " +
                      stack.back().string() + ")");
  std::ifstream in(path);
  if (!in) throw ConfigError("cannot read config file '" + path.string() + "': check the path");
  std::stringstream buffer;
  buffer << in.rdbuf();
  Node node = parse(buffer.str(), path.string());
  if (node.is_null()) node = Node::map(Origin{path.string(), 1});
  if (!node.is_map())
    throw ConfigError(node.origin().describe() + ": a config file must be a map of keys");

  const Node* include = node.find("include");
  if (!include) return node;
  std::vector<const Node*> bases;
  if (include->is_scalar()) {
    bases.push_back(include);
  } else if (include->is_sequence()) {
    for (const auto& item : include->items()) {
      if (!item.is_scalar())
        throw ConfigError(item.origin().describe() + ": include: entries must be file paths");
      bases.push_back(&item);
    }
  } else {
    throw ConfigError(include->origin().describe() +
                      ": include: must be a file path or a list of file paths");
  }
  stack.push_back(canonical);
  Node merged = Node::map(Origin{path.string(), 1});
  for (const Node* base : bases) {
    fs::path base_path = path.parent_path() / base->text();
    if (!fs::exists(base_path))
      throw ConfigError(base->origin().describe() + ": included file '" + base_path.string() +
                        "' does not exist");
    merge(merged, load_recursive(base_path, stack));
  }
  stack.pop_back();
  node.erase("include");
  merge(merged, node);
  return merged;
}

}  // namespace

Node load_file(const std::string& path) {
  std::vector<fs::path> stack;
  return load_recursive(path, stack);
}

void apply_override(Node& root, const std::string& assignment) {
  const Origin origin{"--set " + assignment, 0};
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0)
    throw ConfigError("--set '" + assignment + "': expected key.path=value");
  const std::string path = assignment.substr(0, eq);
  const std::string value_text = assignment.substr(eq + 1);

  std::vector<std::string> keys;
  std::stringstream ss(path);
  for (std::string part; std::getline(ss, part, '.');) {
    if (part.empty()) throw ConfigError("--set '" + assignment + "': empty key in '" + path + "'");
    keys.push_back(part);
  }
  Node value = value_text.empty() ? Node::scalar("", origin) : parse(value_text, origin.source);
  // Give every node of the value the override's origin.
  std::function<void(Node&)> stamp = [&](Node& n) {
    n.set_origin(origin);
    if (n.is_sequence())
      for (auto& item : n.items()) stamp(item);
  };
  stamp(value);
  if (value.is_map()) {
    Node stamped = Node::map(origin);
    for (const auto& [k, v] : value.entries()) {
      Node child = v;
      stamp(child);
      stamped.set(k, child);
    }
    value = stamped;
  }

  if (root.is_null()) root = Node::map(origin);
  // A numeric key indexes a list (--set stages.1.epochs=20); `*` means every item
  // (--set stages.*.sampler.classes_per_batch=10).
  auto list_items = [&](Node& list, const std::string& key) {
    std::vector<Node*> out;
    if (key == "*") {
      for (auto& item : list.items()) out.push_back(&item);
      return out;
    }
    char* end = nullptr;
    const long index = std::strtol(key.c_str(), &end, 10);
    if (key.empty() || *end != '\0' || index < 0 ||
        static_cast<std::size_t>(index) >= list.items().size())
      throw ConfigError("--set '" + assignment + "': '" + key +
                        "' is not an index of the list at " + list.origin().describe() + " (0.." +
                        std::to_string(list.items().size()) + " exclusive, or *)");
    out.push_back(&list.items()[static_cast<std::size_t>(index)]);
    return out;
  };
  std::function<void(Node&, std::size_t)> assign = [&](Node& cursor, std::size_t i) {
    const bool last = i + 1 == keys.size();
    if (cursor.is_sequence()) {
      for (Node* item : list_items(cursor, keys[i])) {
        if (last)
          *item = value;
        else
          assign(*item, i + 1);
      }
      return;
    }
    if (!cursor.is_map())
      throw ConfigError("--set '" + assignment +
                        "': " + (i == 0 ? std::string("the config") : "'" + keys[i - 1] + "'") +
                        " is not a map (set at " + cursor.origin().describe() + ")");
    if (last) {
      cursor.set(keys[i], value);
      return;
    }
    Node* next = cursor.find(keys[i]);
    if (!next || next->is_null()) next = &cursor.set(keys[i], Node::map(origin));
    assign(*next, i + 1);
  };
  assign(root, 0);
}

// ---------------------------------------------------------------------------------------
// Components
// ---------------------------------------------------------------------------------------

Component decode_component(const Node& node, const std::string& path) {
  if (node.is_scalar()) return {node.text(), Node::map(node.origin()), path};
  if (!node.is_map())
    throw ConfigError(node.origin().describe() + ": '" + path +
                      "' must be a name or a map with a 'name' key");
  const Node* name = node.find("name");
  if (!name || !name->is_scalar())
    throw ConfigError(node.origin().describe() + ": '" + path + "' needs a 'name' key");
  Component c{name->text(), node, path};
  c.options.erase("name");
  return c;
}

Node encode_component(const Component& component) {
  Node out = Node::map();
  out.set("name", Node::scalar(component.name));
  if (component.options.is_map())
    for (const auto& [k, v] : component.options.entries()) out.set(k, v);
  return out;
}

// ---------------------------------------------------------------------------------------
// Scalar decoding
// ---------------------------------------------------------------------------------------
namespace detail {

std::string join_path(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

namespace {
std::string describe_value(const Node& node) {
  if (node.is_null()) return "nothing";
  if (node.is_map()) return "a map";
  if (node.is_sequence()) return "a list";
  return "'" + node.text() + "'";
}
std::string name_of(const std::string& path) { return path.empty() ? "<root>" : path; }
}  // namespace

void type_error(const Node& node, const std::string& path, const std::string& expected) {
  throw ConfigError(node.origin().describe() + ": key '" + name_of(path) + "' expects " + expected +
                    ", got " + describe_value(node));
}

void rethrow_with_origin(const Node& node, const std::string& path) {
  try {
    throw;
  } catch (const ConfigError&) {
    throw;
  } catch (const std::exception& e) {
    throw ConfigError(node.origin().describe() + ": " + name_of(path) + ": " + e.what());
  }
}

bool decode_bool(const Node& node, const std::string& path) {
  if (node.is_scalar()) {
    std::string t = node.text();
    std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
    if (t == "true" || t == "yes" || t == "on") return true;
    if (t == "false" || t == "no" || t == "off") return false;
  }
  type_error(node, path, "a boolean (true/false)");
}

std::int64_t decode_int(const Node& node, const std::string& path, std::int64_t lo,
                        std::int64_t hi) {
  if (!node.is_scalar()) type_error(node, path, "an integer");
  const std::string& t = node.text();
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(t.c_str(), &end, 10);
  if (t.empty() || *end != '\0' || errno == ERANGE) type_error(node, path, "an integer");
  if (v < lo || v > hi)
    type_error(node, path,
               "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return v;
}

std::uint64_t decode_uint(const Node& node, const std::string& path, std::uint64_t hi) {
  if (!node.is_scalar()) type_error(node, path, "a non-negative integer");
  const std::string& t = node.text();
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(t.c_str(), &end, 10);
  if (t.empty() || t.front() == '-' || *end != '\0' || errno == ERANGE || v > hi)
    type_error(node, path, "a non-negative integer up to " + std::to_string(hi));
  return v;
}

double decode_double(const Node& node, const std::string& path) {
  if (!node.is_scalar()) type_error(node, path, "a number");
  std::string t = node.text();
  std::string lower = t;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (lower == ".inf" || lower == "+.inf" || lower == "inf") return INFINITY;
  if (lower == "-.inf" || lower == "-inf") return -INFINITY;
  if (lower == ".nan" || lower == "nan") return NAN;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(t.c_str(), &end);
  if (t.empty() || *end != '\0' || errno == ERANGE) type_error(node, path, "a number");
  return v;
}

std::string decode_string(const Node& node, const std::string& path) {
  if (!node.is_scalar()) type_error(node, path, "a string");
  return node.text();
}

std::string format_double(double value) {
  if (std::isnan(value)) return ".nan";
  if (std::isinf(value)) return value > 0 ? ".inf" : "-.inf";
  char buffer[64];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  std::string s = buffer;
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

namespace {
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j)
      cur[j] =
          std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}
}  // namespace

void check_unknown_keys(const Node& map, const std::string& path,
                        const std::vector<std::string>& known) {
  for (const auto& [key, child] : map.entries()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    std::string list;
    std::string suggestion;
    std::size_t best = 3;
    for (const auto& k : known) {
      list += (list.empty() ? "" : ", ") + k;
      std::size_t d = edit_distance(key, k);
      if (d < best) {
        best = d;
        suggestion = k;
      }
    }
    std::string message =
        child.origin().describe() + ": unknown key '" + join_path(path, key) + "'";
    if (!suggestion.empty()) message += " (did you mean '" + suggestion + "'?)";
    message +=
        "; known keys" + (path.empty() ? std::string() : " under '" + path + "'") + ": " + list;
    throw ConfigError(message);
  }
}

}  // namespace detail
}  // namespace wtp::config
