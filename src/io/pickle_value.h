#pragma once
/// The values a Python pickle can hold, as read by the safe unpickler (`io/torch_file.h`).
///
/// A PickleValue is a node of an immutable graph owned by a PickleDocument; nodes refer
/// to each other by pointer (Python's reference semantics: a list memoised once and
/// referenced twice is one node). The loader guarantees the graph is acyclic and at most
/// kMaxPickleDepth deep, so plain recursion over it terminates; a node may still be
/// reached along several paths when the file shares it.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <torch/torch.h>
#include <vector>

namespace wtp::io {

namespace detail {
struct NodeAccess;
}

/// Maximum nesting of containers accepted by the loader.
inline constexpr int kMaxPickleDepth = 1000;

class PickleValue {
 public:
  enum class Kind {
    kNone,
    kBool,
    kInt,     ///< fits in int64
    kBigInt,  ///< a Python int beyond int64: bytes() holds little-endian two's complement
    kFloat,
    kString,  ///< Python str (UTF-8), or a Python 2 byte string
    kBytes,   ///< Python bytes / bytearray
    kList,
    kTuple,
    kSet,  ///< set or frozenset
    kDict,
    kTensor,   ///< a torch tensor rebuilt from a storage
    kStorage,  ///< a bare torch storage (tensor() is its 1-D content)
    kGlobal,   ///< a reference to a Python class or function, never called
    kObject,   ///< an inert instance of a class outside the allow-list
  };

  /// One key/value pair of a dict, in insertion (file) order.
  struct Entry {
    const PickleValue* key;
    const PickleValue* value;
  };

  Kind kind() const { return kind_; }
  bool is(Kind kind) const { return kind_ == kind; }
  /// "none", "bool", "int", ..., "object" (for messages).
  static const char* kind_name(Kind kind);
  const char* kind_name() const { return kind_name(kind_); }

  /// kBool.
  bool as_bool() const;
  /// kInt (a kBool counts as 0/1, as in Python). Throws for other kinds.
  std::int64_t as_int() const;
  /// kFloat, kInt or kBool as a double.
  double as_double() const;
  /// kString.
  const std::string& as_string() const;
  /// kBytes (also the raw bytes of a kBigInt).
  const std::string& as_bytes() const;
  /// Elements of a list, tuple or set; for a kObject, the items appended to it (list
  /// subclasses). Empty for other kinds.
  const std::vector<const PickleValue*>& elements() const { return elements_; }
  /// Entries of a dict; for a kObject, the items set on it (dict subclasses such as
  /// Lightning's AttributeDict). Empty for other kinds.
  const std::vector<Entry>& entries() const { return entries_; }
  /// The value of string key `key` in entries(), or, for a kObject whose state is a dict,
  /// in that state; nullptr when absent.
  const PickleValue* find(std::string_view key) const;
  /// As find(), but throws std::out_of_range naming the key when absent.
  const PickleValue& at(std::string_view key) const;
  /// kTensor, kStorage: the CPU tensor (dtype, shape, strides and storage offset as saved;
  /// tensors over one storage alias each other). requires_grad is always false.
  const torch::Tensor& tensor() const;
  /// kTensor: whether the file saved it as requiring grad (e.g. an nn.Parameter).
  bool requires_grad() const { return requires_grad_; }
  /// kGlobal, kObject: the class's module and name, e.g. "pytorch_lightning.utilities.parsing"
  /// and "AttributeDict".
  const std::string& module() const;
  const std::string& name() const;
  std::string qualified_name() const { return module() + "." + name(); }
  /// kObject: the arguments the class was called with (a tuple), or nullptr.
  const PickleValue* args() const { return args_; }
  /// The state given by BUILD (an object's __dict__ / __setstate__ argument, a dict's
  /// attributes), or nullptr.
  const PickleValue* state() const { return state_; }

  /// A short Python-like rendering, cut to about `max_chars` characters.
  std::string repr(std::size_t max_chars = 200) const;

 private:
  friend struct detail::NodeAccess;
  friend class PickleDocument;
  explicit PickleValue(Kind kind) : kind_(kind) {}
  void expect(Kind kind) const;

  Kind kind_;
  bool requires_grad_ = false;
  std::int64_t int_ = 0;  // kBool, kInt; for kTensor/kStorage: index of its pending record
  double float_ = 0;
  std::string text_;  // string, bytes, big int; module of a global/object
  std::string name_;  // name of a global/object
  std::vector<const PickleValue*> elements_;
  std::vector<Entry> entries_;
  const PickleValue* args_ = nullptr;
  const PickleValue* state_ = nullptr;
  torch::Tensor tensor_;
};

/// Owns every node of one unpickled value graph. Cheap to copy (shared ownership).
class PickleDocument {
 public:
  PickleDocument();
  /// The unpickled top-level value.
  const PickleValue& root() const { return *root_; }

 private:
  friend struct detail::NodeAccess;
  PickleValue* make(PickleValue::Kind kind);

  std::shared_ptr<std::vector<std::unique_ptr<PickleValue>>> nodes_;
  const PickleValue* root_ = nullptr;
};

}  // namespace wtp::io
