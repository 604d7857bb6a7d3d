#pragma once
/// Seeded train/valid/test splits of a Dataset, by image or identity-disjoint, and their
/// file lists (written with a run so that it can be reproduced exactly).
///
/// File list format (UTF-8 text): comment lines start with '#', then one line per item
/// `<split><TAB><relative file>` with split one of train, valid, test.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/config.h"
#include "data/dataset.h"

namespace wtp::data {

enum class SplitMode {
  kIdentity,  ///< whole identities go to one split (train/valid/test never share a person)
  kImage,     ///< images are shuffled individually (identities are shared between splits)
};
WTP_ENUM_NAMES(SplitMode, {SplitMode::kIdentity, "identity"}, {SplitMode::kImage, "image"})

struct SplitOptions {
  SplitMode mode = SplitMode::kIdentity;  ///< identity-disjoint unless asked otherwise
  double train = 0.8;                     ///< fraction of identities (or images) for training
  double valid = 0.1;                     ///< fraction for validation
  double test = 0.1;                      ///< fraction for testing
  std::uint64_t seed = 0;                 ///< shuffling seed

  template <class V>
  void visit(V& v) {
    v("mode", mode, "identity (disjoint people, default) | image");
    v("train", train, "fraction of identities (or images) for training");
    v("valid", valid, "fraction for validation");
    v("test", test, "fraction for testing");
    v("seed", seed, "shuffling seed");
  }
  /// Fractions in [0, 1] summing to 1 (within 1e-6).
  void validate() const;
};

/// Item indices (into the split dataset) of each part, each ascending.
struct Split {
  std::vector<std::int64_t> train, valid, test;
};

/// Splits `dataset`. kIdentity: the labels that have items are shuffled with Rng(seed) and
/// cut into round(n*train), round(n*valid) and the rest; kImage: the item indices are.
/// Same dataset + options -> same split on every machine.
Split split_dataset(const Dataset& dataset, const SplitOptions& options);

/// Writes the split as a file list (see above); `comment` goes on a '#' line (e.g. the
/// options used). Written to a temporary file, then renamed.
void write_split(const std::filesystem::path& path, const Dataset& dataset, const Split& split,
                 const std::string& comment = "");
/// Reads a file list back into indices of `dataset`. A file not in the dataset or an
/// unknown split name is a UsageError naming file:line.
Split read_split(const std::filesystem::path& path, const Dataset& dataset);

}  // namespace wtp::data
