#include "data/image_folder.h"

#include <algorithm>
#include <utility>

#include "core/error.h"
#include "data/text.h"

namespace wtp::data {

namespace fs = std::filesystem;

void ImageFolderOptions::validate() const {
  require(!root.empty(), "image_folder: root must be set to the folder holding the class folders");
  require(!extensions.empty(), "image_folder: extensions must not be empty");
  for (const auto& ext : extensions)
    require(ext.size() > 1 && ext[0] == '.',
            "image_folder: extension '" + ext + "' must start with a dot, e.g. '.jpg'");
}

std::vector<std::string> list_subfolders(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_directory()) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> list_class_files(const fs::path& root, const std::string& class_name,
                                          const std::vector<std::string>& extensions) {
  // torchvision: for root, _, fnames in sorted(os.walk(dir, followlinks=True)):
  //                for fname in sorted(fnames): ...
  std::vector<std::pair<std::string, std::vector<std::string>>> walk;
  std::vector<fs::path> pending{root / class_name};
  while (!pending.empty()) {
    fs::path dir = pending.back();
    pending.pop_back();
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.is_directory())
        pending.push_back(entry.path());
      else if (has_extension(entry.path(), extensions))
        files.push_back(entry.path().filename().string());
    }
    std::sort(files.begin(), files.end());
    walk.emplace_back(dir.string(), std::move(files));
  }
  std::sort(walk.begin(), walk.end());
  std::vector<std::string> out;
  for (const auto& [dir, files] : walk)
    for (const auto& f : files) out.push_back(relative_file(fs::path(dir) / f, root));
  return out;
}

Dataset load_image_folder(const ImageFolderOptions& options) {
  options.validate();
  const fs::path root(options.root);
  require_directory(root, "image folder",
                    "expected <root>/<class>/<image>.jpg; set image_folder.root");
  const auto classes = list_subfolders(root);
  if (classes.empty())
    throw UsageError("image folder '" + root.string() +
                     "' has no class sub-folders (expected <root>/<class>/<image>.jpg)");
  std::vector<std::pair<std::string, Item>> items;
  std::vector<std::string> empty;
  for (const auto& name : classes) {
    const auto files = list_class_files(root, name, options.extensions);
    if (files.empty()) empty.push_back(name);
    for (const auto& f : files) {
      Item it;
      it.file = f;
      it.identity = name;
      items.emplace_back(name, std::move(it));
    }
  }
  if (!empty.empty() && !options.allow_empty) {
    std::string list;
    for (const auto& e : empty) list += (list.empty() ? "'" : ", '") + (root / e).string() + "'";
    std::string exts;
    for (const auto& e : options.extensions) exts += (exts.empty() ? "" : " ") + e;
    throw UsageError("image folder: class folder(s) " + list +
                     " hold no image file (accepted extensions: " + exts +
                     "); remove them or set allow_empty: true");
  }
  // make_named_dataset numbers classes by sorted name, the same order as `classes`; with
  // allow_empty the empty classes would vanish, so number them explicitly instead.
  std::vector<Item> plain;
  plain.reserve(items.size());
  for (auto& [name, it] : items) {
    it.label = std::lower_bound(classes.begin(), classes.end(), name) - classes.begin();
    plain.push_back(std::move(it));
  }
  return Dataset("image_folder", root, classes, std::move(plain), IdentityKind::kName,
                 options.on_corrupt);
}

}  // namespace wtp::data
