#pragma once
/// A generic labelled image tree `root/<class>/**/<file>.<ext>`, read exactly like
/// torchvision's `datasets.ImageFolder`: classes are the sub-folder names sorted by code
/// point, labels number them in that order, and the files of each class come from a
/// sorted recursive walk of its folder (sorted directory paths, then sorted file names),
/// keeping files whose extension (case-insensitive) is an image extension.
#include <string>
#include <vector>

#include "data/dataset.h"

namespace wtp::data {

struct ImageFolderOptions {
  std::string root;  ///< folder holding one sub-folder per class
  std::vector<std::string> extensions = image_extensions();  ///< accepted extensions, with dot
  bool allow_empty = false;  ///< accept class folders without images (torchvision: error)
  CorruptPolicy on_corrupt = CorruptPolicy::kFail;  ///< unreadable images: fail or skip

  template <class V>
  void visit(V& v) {
    v("root", root, "folder holding one sub-folder per class");
    v("extensions", extensions, "accepted file extensions (with the dot, any case)");
    v("allow_empty", allow_empty, "accept class folders that hold no image");
    v("on_corrupt", on_corrupt, "unreadable or corrupt image: fail | skip (and count)");
  }
  void validate() const;
};

/// Loads the tree. Throws UsageError when root is missing, has no class folder, or (unless
/// allow_empty) a class folder holds no image: the message names the folder.
/// Items: file = "<class>/<...>/<name>", identity = class name, IdentityKind::kName.
Dataset load_image_folder(const ImageFolderOptions& options);

/// One class folder's image files, relative to `root`, in torchvision's order (see above).
std::vector<std::string> list_class_files(const std::filesystem::path& root,
                                          const std::string& class_name,
                                          const std::vector<std::string>& extensions);
/// The sub-folder names of `dir`, sorted by code point (hidden folders included, as
/// torchvision does).
std::vector<std::string> list_subfolders(const std::filesystem::path& dir);

}  // namespace wtp::data
