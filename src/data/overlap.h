#pragma once
/// What two datasets share: identities (when both name people) and image file names.
/// Known cases: CEW's open faces are LFW photos (same file names, same people); CelebA and
/// LFW share celebrities, but CelebA gives only numeric ids, so that overlap cannot be
/// determined from the annotations (reported as such).
#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace wtp::data {

struct Overlap {
  bool identities_comparable = false;   ///< both datasets name people
  std::vector<std::string> identities;  ///< shared identity names, sorted
  std::vector<std::string> files;       ///< shared image file names (base names), sorted
  std::int64_t items_a = 0;  ///< items of the first dataset with a shared identity or file name
  std::int64_t items_b = 0;  ///< same for the second
  /// A few lines for the log: counts, examples, and the caveat when identities cannot be
  /// compared.
  std::string summary(const std::string& name_a, const std::string& name_b) const;
  bool empty() const { return identities.empty() && files.empty(); }
};

/// Compares identities (only if both datasets have IdentityKind::kName) and base file
/// names (always).
Overlap find_overlap(const Dataset& a, const Dataset& b);

}  // namespace wtp::data
