#pragma once
/// Internal: the pickle virtual machine behind `io/torch_file.h`. Not for use outside
/// src/io (the public entry points are load_torch_file / load_pickle_bytes).
///
/// The machine never executes anything: GLOBAL only names a class or function; calling it
/// (REDUCE, NEWOBJ, INST, OBJ) builds plain data for a small allow-list of pure
/// constructors (OrderedDict, dict, defaultdict, set, frozenset, list, tuple, bytearray,
/// _codecs.encode, copyreg._reconstructor), defers to UnpicklerHooks for torch's rebuild
/// functions, and otherwise produces an inert kObject (module, name, args, state, items).
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>

#include "io/pickle_value.h"

namespace wtp::io::detail {

/// A malformed byte stream. The loader prefixes the file name and record.
class FormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Mutable access to nodes while a document is being built (loader-internal).
struct NodeAccess {
  static PickleValue* make(PickleDocument& doc, PickleValue::Kind kind) { return doc.make(kind); }
  static void set_root(PickleDocument& doc, const PickleValue* root) { doc.root_ = root; }
  static PickleValue* mut(const PickleValue* v) { return const_cast<PickleValue*>(v); }
  static std::int64_t& int_value(PickleValue* v) { return v->int_; }
  static bool& requires_grad(PickleValue* v) { return v->requires_grad_; }
  static torch::Tensor& tensor(PickleValue* v) { return v->tensor_; }
  static std::string& text(PickleValue* v) { return v->text_; }
  static std::string& name(PickleValue* v) { return v->name_; }
  static std::vector<const PickleValue*>& elements(PickleValue* v) { return v->elements_; }
  static std::vector<PickleValue::Entry>& entries(PickleValue* v) { return v->entries_; }
  static const PickleValue*& args(PickleValue* v) { return v->args_; }
  static const PickleValue*& state(PickleValue* v) { return v->state_; }
  static double& float_value(PickleValue* v) { return v->float_; }
};

/// Gives meaning to persistent ids and to torch's allow-listed globals.
class UnpicklerHooks {
 public:
  virtual ~UnpicklerHooks() = default;
  /// BINPERSID / PERSID: the value `pid` stands for. Throws FormatError when invalid.
  virtual PickleValue* persistent_load(PickleDocument& doc, const PickleValue& pid) = 0;
  /// A call of the kGlobal `callable` with the tuple `args`: the resulting value, or
  /// nullptr when the hook does not handle this global.
  virtual PickleValue* call(PickleDocument& doc, const PickleValue& callable,
                            const PickleValue& args) = 0;
};

/// Runs one pickle starting at data[pos]; on return `pos` is just past its STOP opcode.
/// `hooks` may be nullptr (persistent ids are then an error). Returns the top value.
/// Throws FormatError (with the byte offset) on any malformed or truncated input.
const PickleValue* unpickle(PickleDocument& doc, std::string_view data, std::size_t& pos,
                            UnpicklerHooks* hooks);

/// Throws FormatError when the graph under `root` has a cycle or is deeper than
/// kMaxPickleDepth. Linear in the number of nodes and edges.
void check_graph(const PickleValue& root);

/// Little-endian two's complement bytes -> int64 when they fit.
bool small_int_from_bytes(std::string_view bytes, std::int64_t& out);

}  // namespace wtp::io::detail
