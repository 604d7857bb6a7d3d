#pragma once
/// The dataset contract used by every later stage: a list of items (an image file, decoded
/// lazily, with an identity label and optional attributes), a stable label mapping and the
/// per-class index lists that samplers need.
///
/// Labels never depend on file-system order: every loader sorts class names (or numeric
/// ids) before numbering them, so the same files give the same labels on every machine.
///
///     LfwOptions options;
///     options.root = "data/lfw";
///     Dataset lfw = load_lfw(options);
///     auto big = lfw.with_min_images(2);          // identities with >= 2 images
///     const auto& per_class = big.class_indices();  // for an n x m sampler
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/config.h"

namespace wtp::data {

/// What to do with an image that cannot be read or decoded.
enum class CorruptPolicy {
  kFail,  ///< stop with an error naming the file
  kSkip,  ///< leave the item out, count it and log a warning
};
WTP_ENUM_NAMES(CorruptPolicy, {CorruptPolicy::kFail, "fail"}, {CorruptPolicy::kSkip, "skip"})

/// How `Dataset::subset` numbers the labels of the result.
enum class Relabel {
  kKeep,     ///< same labels and class list as the parent (some classes may be empty)
  kCompact,  ///< only the classes present, renumbered 0..k-1 in the parent's (sorted) order
};

/// Eye centres in pixel coordinates of the stored image, in the order the annotation gives
/// them (CEW: `lx ly rx ry`, "left" = smaller x in the image for a frontal face).
struct EyePoints {
  float left_x = 0, left_y = 0;
  float right_x = 0, right_y = 0;
};

/// One dataset entry. The image itself is decoded lazily (see image.h / loader.h).
struct Item {
  std::string file;               ///< path relative to Dataset::root(), '/'-separated
  std::int64_t label = 0;         ///< class index into Dataset::class_names()
  std::string identity;           ///< identity name/id when known ("" otherwise)
  std::optional<int> eye_state;   ///< 0 = open, 1 = closed (CEW)
  std::optional<EyePoints> eyes;  ///< eye centres when annotated
};

/// Whether Item::identity holds person names (comparable across datasets) or
/// dataset-specific ids (CelebA's numbers), or nothing.
enum class IdentityKind { kNone, kName, kId };

/// An immutable list of items with their class structure.
class Dataset {
 public:
  Dataset() = default;
  /// Requires every item's label in [0, class_names.size()). Throws std::invalid_argument
  /// otherwise (a loader bug, not user input).
  Dataset(std::string name, std::filesystem::path root, std::vector<std::string> class_names,
          std::vector<Item> items, IdentityKind identity_kind = IdentityKind::kName,
          CorruptPolicy policy = CorruptPolicy::kFail);

  /// Short name of the source ("lfw", "celeba", "cew", "image_folder", ...).
  const std::string& name() const { return name_; }
  /// Folder the item files are relative to.
  const std::filesystem::path& root() const { return root_; }
  std::int64_t size() const { return static_cast<std::int64_t>(items_.size()); }
  bool empty() const { return items_.empty(); }
  /// Item `i`; throws std::out_of_range when i is not in [0, size()).
  const Item& item(std::int64_t i) const;
  const std::vector<Item>& items() const { return items_; }
  /// root() / item(i).file.
  std::filesystem::path path(std::int64_t i) const;
  /// Class names indexed by label (sorted names, or ids in numeric order).
  const std::vector<std::string>& class_names() const { return class_names_; }
  std::int64_t num_classes() const { return static_cast<std::int64_t>(class_names_.size()); }
  /// Labels of all items, in item order.
  std::vector<std::int64_t> labels() const;
  /// For each label, the ascending indices of its items (possibly empty after kKeep subsets).
  const std::vector<std::vector<std::int64_t>>& class_indices() const { return class_indices_; }
  IdentityKind identity_kind() const { return identity_kind_; }
  CorruptPolicy corrupt_policy() const { return policy_; }
  void set_corrupt_policy(CorruptPolicy policy) { policy_ = policy; }
  /// Index of the (first) item whose relative file is `file`, if any. O(1).
  std::optional<std::int64_t> find(const std::string& file) const;

  /// The items at `indices` (in that order; duplicates allowed). Throws std::out_of_range
  /// on a bad index.
  Dataset subset(const std::vector<std::int64_t>& indices,
                 Relabel relabel = Relabel::kCompact) const;
  /// Only the classes with at least `min_images` items, relabelled compactly.
  Dataset with_min_images(std::int64_t min_images) const;

 private:
  std::string name_;
  std::filesystem::path root_;
  std::vector<std::string> class_names_;
  std::vector<Item> items_;
  std::vector<std::vector<std::int64_t>> class_indices_;
  std::unordered_map<std::string, std::int64_t> by_file_;
  IdentityKind identity_kind_ = IdentityKind::kName;
  CorruptPolicy policy_ = CorruptPolicy::kFail;
};

/// File extensions accepted as images, lower case with the dot (torchvision's list:
/// .jpg .jpeg .png .ppm .bmp .pgm .tif .tiff .webp).
const std::vector<std::string>& image_extensions();
/// True when `file`'s extension, compared case-insensitively, is in `extensions`.
bool has_extension(const std::filesystem::path& file, const std::vector<std::string>& extensions);
/// Builds a Dataset from a label per item given as class names: classes are the sorted
/// distinct names and labels index them. Used by the loaders; handy for tests.
Dataset make_named_dataset(std::string name, std::filesystem::path root,
                           std::vector<std::pair<std::string, Item>> named_items,
                           IdentityKind identity_kind, CorruptPolicy policy);

}  // namespace wtp::data
