#include "data/dataset.h"

#include <algorithm>
#include <map>
#include <stdexcept>

namespace wtp::data {

Dataset::Dataset(std::string name, std::filesystem::path root, std::vector<std::string> class_names,
                 std::vector<Item> items, IdentityKind identity_kind, CorruptPolicy policy)
    : name_(std::move(name)),
      root_(std::move(root)),
      class_names_(std::move(class_names)),
      items_(std::move(items)),
      identity_kind_(identity_kind),
      policy_(policy) {
  class_indices_.assign(class_names_.size(), {});
  for (std::size_t i = 0; i < items_.size(); ++i) {
    const std::int64_t label = items_[i].label;
    if (label < 0 || label >= static_cast<std::int64_t>(class_names_.size()))
      throw std::invalid_argument("Dataset '" + name_ + "': item '" + items_[i].file +
                                  "' has label " + std::to_string(label) + " outside [0, " +
                                  std::to_string(class_names_.size()) + ")");
    class_indices_[static_cast<std::size_t>(label)].push_back(static_cast<std::int64_t>(i));
    by_file_.emplace(items_[i].file, static_cast<std::int64_t>(i));
  }
}

const Item& Dataset::item(std::int64_t i) const {
  if (i < 0 || i >= size())
    throw std::out_of_range("Dataset '" + name_ + "': index " + std::to_string(i) +
                            " outside [0, " + std::to_string(size()) + ")");
  return items_[static_cast<std::size_t>(i)];
}

std::filesystem::path Dataset::path(std::int64_t i) const { return root_ / item(i).file; }

std::vector<std::int64_t> Dataset::labels() const {
  std::vector<std::int64_t> out;
  out.reserve(items_.size());
  for (const auto& it : items_) out.push_back(it.label);
  return out;
}

std::optional<std::int64_t> Dataset::find(const std::string& file) const {
  auto it = by_file_.find(file);
  if (it == by_file_.end()) return std::nullopt;
  return it->second;
}

Dataset Dataset::subset(const std::vector<std::int64_t>& indices, Relabel relabel) const {
  std::vector<Item> items;
  items.reserve(indices.size());
  for (std::int64_t i : indices) items.push_back(item(i));
  if (relabel == Relabel::kKeep)
    return Dataset(name_, root_, class_names_, std::move(items), identity_kind_, policy_);
  std::vector<std::int64_t> remap(class_names_.size(), -1);
  for (const auto& it : items) remap[static_cast<std::size_t>(it.label)] = 0;
  std::vector<std::string> names;
  for (std::size_t c = 0; c < remap.size(); ++c) {
    if (remap[c] < 0) continue;
    remap[c] = static_cast<std::int64_t>(names.size());
    names.push_back(class_names_[c]);
  }
  for (auto& it : items) it.label = remap[static_cast<std::size_t>(it.label)];
  return Dataset(name_, root_, std::move(names), std::move(items), identity_kind_, policy_);
}

Dataset Dataset::with_min_images(std::int64_t min_images) const {
  std::vector<std::int64_t> keep;
  for (std::size_t i = 0; i < items_.size(); ++i)
    if (static_cast<std::int64_t>(
            class_indices_[static_cast<std::size_t>(items_[i].label)].size()) >= min_images)
      keep.push_back(static_cast<std::int64_t>(i));
  return subset(keep, Relabel::kCompact);
}

const std::vector<std::string>& image_extensions() {
  static const std::vector<std::string> extensions{".jpg", ".jpeg", ".png",  ".ppm", ".bmp",
                                                   ".pgm", ".tif",  ".tiff", ".webp"};
  return extensions;
}

bool has_extension(const std::filesystem::path& file, const std::vector<std::string>& extensions) {
  std::string ext = file.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::find(extensions.begin(), extensions.end(), ext) != extensions.end();
}

Dataset make_named_dataset(std::string name, std::filesystem::path root,
                           std::vector<std::pair<std::string, Item>> named_items,
                           IdentityKind identity_kind, CorruptPolicy policy) {
  std::map<std::string, std::int64_t> index;
  for (const auto& entry : named_items) index.emplace(entry.first, 0);
  std::vector<std::string> names;
  for (auto& [class_name, label] : index) {
    label = static_cast<std::int64_t>(names.size());
    names.push_back(class_name);
  }
  std::vector<Item> items;
  items.reserve(named_items.size());
  for (auto& [class_name, it] : named_items) {
    it.label = index.at(class_name);
    items.push_back(std::move(it));
  }
  return Dataset(std::move(name), std::move(root), std::move(names), std::move(items),
                 identity_kind, policy);
}

}  // namespace wtp::data
