#pragma once
/// Loading foreign weights (PyTorch state dicts read by io/torch_file.h, our own
/// checkpoints) into a module by name, with the mapping researchers need:
///
///     auto file = wtp::io::load_torch_file("20180402-114759-vggface2.pt");
///     LoadOptions o;
///     o.ignore = {"^logits\\."};  // the pretrained classifier, not used
///     LoadReport r = load_weights(*model, wtp::io::named_tensors(file.root()), o);
///
/// Mapping of every source key, in order:
///   1. the first of `strip_prefixes` that the key starts with is removed;
///   2. with `auto_prefix`, the one further leading prefix (a run of whole dotted
///      components, e.g. "state_dict.", "model.model.", "module.") that makes the most keys
///      match the module is removed from every key that has it;
///   3. `rename` rules are applied in order (ECMAScript regex, "$1" back-references);
///   4. `add_prefix` is prepended (e.g. "backbone." to load a backbone inside a head);
///   5. keys matching any `ignore` regex (tested on the mapped key) are dropped.
/// Then every module tensor (parameters and buffers, PyTorch state-dict names) is matched:
/// shape must be equal (error naming the key and both shapes, whatever the strictness),
/// dtype is converted when `convert_dtype` (else an error), values are copied onto the
/// module's device. `num_batches_tracked` buffers missing on either side are never
/// reported (checkpoints older than PyTorch 0.4.1 lack them).
#include <cstdint>
#include <string>
#include <torch/torch.h>
#include <utility>
#include <vector>

#include "core/config.h"

namespace wtp::models {

/// Tensors by name, as read from a checkpoint or written by state_dict().
using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;

/// What to do with missing or unexpected keys.
enum class Strictness {
  kStrict,   ///< any missing or unexpected key is a UsageError
  kLenient,  ///< they are logged as a warning and listed in the report
};
WTP_ENUM_NAMES(Strictness, {Strictness::kStrict, "strict"}, {Strictness::kLenient, "lenient"})

/// One regex rename rule applied to source keys.
struct RenameRule {
  std::string pattern;      ///< ECMAScript regex searched in the key
  std::string replacement;  ///< replacement text ("$1" = first group)
  template <class V>
  void visit(V& v) {
    v("pattern", pattern, "ECMAScript regex searched in the key");
    v("replacement", replacement, "replacement text ($1 = first group)");
  }
  void validate() const;
};

struct LoadOptions {
  std::vector<std::string> strip_prefixes;  ///< literal prefixes removed (first match)
  bool auto_prefix = true;          ///< find and strip the leading prefix that matches most keys
  std::vector<RenameRule> rename;   ///< regex renames applied after prefix stripping
  std::string add_prefix;           ///< prepended to every source key after renaming
  std::vector<std::string> ignore;  ///< regexes of mapped source keys to drop silently
  Strictness strictness = Strictness::kStrict;  ///< missing/unexpected keys: error or warn
  bool convert_dtype = true;  ///< convert dtypes (e.g. float64/16 -> float32); else error
  /// Accept a source whose shape equals the target's once size-1 dimensions are removed
  /// from both (e.g. [1, 64] running means in some Caffe ports); the values are reshaped.
  bool squeeze_singleton_dims = false;

  template <class V>
  void visit(V& v) {
    v("strip_prefixes", strip_prefixes, "literal prefixes removed from source keys");
    v("auto_prefix", auto_prefix, "find and strip the prefix that matches most keys");
    v("rename", rename, "regex renames {pattern, replacement} applied in order");
    v("add_prefix", add_prefix, "prefix added to every source key after renaming");
    v("ignore", ignore, "regexes of source keys to drop");
    v("strictness", strictness, "missing/unexpected keys: strict (error) or lenient (warn)");
    v("convert_dtype", convert_dtype, "convert dtypes instead of failing");
    v("squeeze_singleton_dims", squeeze_singleton_dims,
      "accept shapes equal once size-1 dimensions are removed");
  }
  void validate() const;
};

/// What load_weights() did.
struct LoadReport {
  std::string auto_prefix;              ///< prefix found by auto_prefix ("" when none)
  std::vector<std::string> loaded;      ///< module keys that received values
  std::vector<std::string> missing;     ///< module keys with no source tensor
  std::vector<std::string> unexpected;  ///< mapped source keys with no module tensor
  std::vector<std::string> ignored;     ///< mapped source keys dropped by `ignore`
  std::vector<std::string> converted;   ///< module keys whose dtype was converted
  /// One-paragraph summary: counts, then up to 10 names of each problem kind.
  std::string summary() const;
};

/// Loads `source` into `module` as described at the top of this header.
/// Requires: `module` is not being used concurrently.
/// Ensures: on success every loaded tensor equals its source value (converted); on any
/// error nothing has been modified (every check runs before the first copy).
/// Throws UsageError on a shape or dtype mismatch, on two source keys mapping to the same
/// name, on an invalid regex, or (kStrict) on missing/unexpected keys; each message names
/// the keys and says which option fixes it.
LoadReport load_weights(torch::nn::Module& module, const NamedTensors& source,
                        const LoadOptions& options = {});

/// The module's parameters and buffers with PyTorch state-dict names, in PyTorch's order
/// (per module: its parameters, then its buffers; modules depth-first).
/// The tensors are detached and share storage with the module (clone to snapshot).
NamedTensors state_dict(const torch::nn::Module& module);

/// The mapped name of one source key under `options` and a given auto prefix (steps 1-4
/// above; `ignore` not applied). Exposed for tools that preview a mapping.
std::string map_key(const std::string& key, const LoadOptions& options,
                    const std::string& auto_prefix = "");

}  // namespace wtp::models
