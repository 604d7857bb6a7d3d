#pragma once
/// Reading files written by Python `torch.save` without Python and without executing
/// anything: both the zip format (torch >= 1.6: `<name>/data.pkl` + `<name>/data/<key>`
/// storages) and the legacy format (magic-number pickle, protocol pickle, sys-info pickle,
/// main pickle, storage-key list, raw storages), e.g. facenet-pytorch / MTCNN weights,
/// BN-Inception ports and PyTorch-Lightning `.ckpt` files.
///
/// Only an allow-list of globals is honoured (collections.OrderedDict / defaultdict,
/// builtins set/frozenset/list/tuple/dict/bytearray, _codecs.encode,
/// copyreg._reconstructor, torch.*Storage, torch._utils._rebuild_tensor(_v2),
/// torch._utils._rebuild_parameter(_with_state), torch.nn.parameter.Parameter, torch.Size,
/// torch.storage._load_from_bytes). Any other class or function (Lightning's
/// AttributeDict, argparse.Namespace, numpy arrays, quantized or sparse tensors, ...)
/// becomes an inert PickleValue::Kind::kObject, so the rest of the file still loads.
///
///     auto file = wtp::io::load_torch_file("epoch=17.ckpt");
///     double lr = file.root().at("hyper_parameters").at("lr").as_double();
///     for (auto& [name, tensor] : wtp::io::named_tensors(file.root().at("state_dict"))) ...
///
/// Errors: a malformed, truncated or unsupported file throws std::runtime_error whose
/// message starts with the file name and says what is wrong (never a crash). Sizes read
/// from the file are checked against the file's size before anything is allocated.
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <torch/torch.h>
#include <utility>
#include <vector>

#include "io/pickle_value.h"

namespace wtp::io {

enum class TorchFormat {
  kZip,     ///< torch >= 1.6 default
  kLegacy,  ///< _use_new_zipfile_serialization=False or torch < 1.6
  kPickle,  ///< a plain pickle without storages (load_pickle_bytes)
};

/// A loaded file: the unpickled value graph plus how it was stored.
class TorchFile {
 public:
  TorchFile(PickleDocument document, TorchFormat format, std::string source)
      : document_(std::move(document)), format_(format), source_(std::move(source)) {}
  /// The object given to torch.save (usually a dict). Valid while this TorchFile (or a
  /// copy) lives; calling it on a temporary is a compile error to prevent dangling.
  const PickleValue& root() const& { return document_.root(); }
  const PickleValue& root() const&& = delete;
  TorchFormat format() const { return format_; }
  /// The path or name the file was loaded from (used in messages).
  const std::string& source() const { return source_; }

 private:
  PickleDocument document_;
  TorchFormat format_;
  std::string source_;
};

/// Loads a torch.save file, detecting the format from its first bytes.
/// Ensures: every tensor is a CPU tensor with the saved dtype, shape, strides and storage
/// offset; tensors saved over one storage share one c10::Storage (views alias).
/// Throws std::runtime_error (message starts with `path`) on any problem.
TorchFile load_torch_file(const std::filesystem::path& path);

/// As load_torch_file, from the file's bytes; `source` names it in error messages.
TorchFile load_torch_bytes(std::string bytes, const std::string& source);

/// Loads a plain pickle (e.g. Python's pickle.dumps, protocols 0-5) with the same
/// allow-list; persistent ids are an error.
TorchFile load_pickle_bytes(std::string_view bytes, const std::string& source);

/// The whole content of a file. Throws std::runtime_error naming the path when it cannot
/// be opened or read.
std::string read_file_bytes(const std::filesystem::path& path);

/// Whether `bytes` start like a zip archive ("PK\3\4" or an empty-archive "PK\5\6").
bool looks_like_zip(std::string_view bytes);

/// The name of a dict key in dotted paths: strings as they are, ints in decimal,
/// True/False/None, floats with %g, anything else as its repr().
std::string key_string(const PickleValue& key);

/// Visits `value` and everything below it depth-first in file order, calling
/// visit(name, node) with dotted names. Children are named: dict entries by key_string;
/// list/tuple/set elements by index; an object's non-empty call arguments as "__args__",
/// its state dict by its keys (attributes; a non-dict state as "__state__"), then its dict
/// items by key and its list items by index; the state of a dict or list (e.g. a
/// state_dict's _metadata) last, as "__state__". A container reached a second
/// time (the file shares it) is visited but not expanded again. `visit` returns false to
/// skip the children of `node`.
void walk(const PickleValue& value,
          const std::function<bool(const std::string& name, const PickleValue& node)>& visit,
          const std::string& prefix = {});

/// Every tensor under `value` with its dotted name (see walk), in file order, e.g.
/// "state_dict.model.model.conv1.weight", "optimizer_states.0.state.0.exp_avg".
/// Bare storages are not included.
std::vector<std::pair<std::string, torch::Tensor>> named_tensors(const PickleValue& value,
                                                                 const std::string& prefix = {});

}  // namespace wtp::io
