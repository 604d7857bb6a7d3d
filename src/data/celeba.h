#pragma once
/// CelebA (aligned): `<root>/img_align_celeba/NNNNNN.jpg`, `identity_CelebA.txt` (lines
/// `000001.jpg 2880`, ids 1-based) and `list_eval_partition.txt` (lines `000001.jpg 0`,
/// 0 train / 1 valid / 2 test). CelebA gives only numeric ids, never names.
#include <cstdint>
#include <filesystem>
#include <string>

#include "data/dataset.h"
#include "data/split.h"

namespace wtp::data {

/// Which images of CelebA to load.
enum class CelebaPartition { kAll, kTrain, kValid, kTest };
WTP_ENUM_NAMES(CelebaPartition, {CelebaPartition::kAll, "all"}, {CelebaPartition::kTrain, "train"},
               {CelebaPartition::kValid, "valid"}, {CelebaPartition::kTest, "test"})

struct CelebaOptions {
  std::string root;                                   ///< folder holding the images and text files
  std::string images = "img_align_celeba";            ///< image folder under root ("" = root)
  std::string identity_file = "identity_CelebA.txt";  ///< under root
  std::string partition_file = "list_eval_partition.txt";  ///< under root
  CelebaPartition partition = CelebaPartition::kAll;       ///< official partition to load
  std::int64_t min_images = 1;  ///< keep identities with at least this many images
  bool check_files = true;      ///< require every listed image to exist
  CorruptPolicy on_corrupt = CorruptPolicy::kFail;  ///< unreadable images: fail or skip

  template <class V>
  void visit(V& v) {
    v("root", root, "folder holding img_align_celeba/ and the text files");
    v("images", images, "image folder under root ('' = root)");
    v("identity_file", identity_file, "identity list under root");
    v("partition_file", partition_file, "official partition list under root");
    v("partition", partition, "official partition to load: all | train | valid | test");
    v("min_images", min_images, "keep identities with at least this many images");
    v("check_files", check_files, "require every listed image to exist");
    v("on_corrupt", on_corrupt, "unreadable or corrupt image: fail | skip (and count)");
  }
  void validate() const;
};

/// Loads the identity list (items sorted by file name; labels number the present ids in
/// numeric order; class names and Item::identity are the ids as text; IdentityKind::kId).
/// With partition != all, only that official partition. Malformed lines, a listed image
/// missing (check_files) or a file absent from the partition list are UsageErrors naming
/// file:line.
Dataset load_celeba(const CelebaOptions& options);

/// The official partition of the items of `dataset` (a CelebA dataset, any subset) as a
/// Split, read from `partition_file`. Every item must be listed.
Split read_celeba_partition(const Dataset& dataset, const std::filesystem::path& partition_file);

}  // namespace wtp::data
