#include "data/celeba.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "core/error.h"
#include "data/text.h"

namespace wtp::data {

namespace fs = std::filesystem;

void CelebaOptions::validate() const {
  require(!root.empty(), "celeba: root must be set to the folder holding img_align_celeba/");
  require(!identity_file.empty(), "celeba: identity_file must not be empty");
  require(min_images >= 1, "celeba: min_images must be >= 1");
}

namespace {

// file name -> partition (0, 1, 2), with the line for messages.
std::unordered_map<std::string, int> read_partition_file(const fs::path& path) {
  const auto lines = read_lines(path, "CelebA partition file");
  std::unordered_map<std::string, int> out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto fields = split_fields(lines[i]);
    if (fields.empty()) continue;
    const std::string at = at_line(path, i + 1);
    if (fields.size() != 2)
      throw UsageError(at + ": expected '<file> <partition 0|1|2>', got '" + lines[i] + "'");
    const auto part = parse_int(fields[1], at, "partition");
    if (part < 0 || part > 2)
      throw UsageError(at + ": partition must be 0 (train), 1 (valid) or 2 (test), got " +
                       fields[1]);
    out[fields[0]] = static_cast<int>(part);
  }
  return out;
}

}  // namespace

Dataset load_celeba(const CelebaOptions& options) {
  options.validate();
  const fs::path root(options.root);
  require_directory(root, "CelebA root", "set celeba.root");
  const fs::path image_dir = options.images.empty() ? root : root / options.images;
  require_directory(
      image_dir, "CelebA images",
      "expected <root>/" + options.images +
          "/000001.jpg; run `wtp-download celeba --root <root>` or set celeba.images");
  const fs::path identity_path = root / options.identity_file;
  const auto lines = read_lines(identity_path, "CelebA identity file");

  std::unordered_map<std::string, int> partition;
  if (options.partition != CelebaPartition::kAll)
    partition = read_partition_file(root / options.partition_file);
  const int wanted = static_cast<int>(options.partition) - 1;  // kTrain -> 0, ...

  struct Entry {
    std::string file;
    std::int64_t id;
  };
  std::vector<Entry> entries;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto fields = split_fields(lines[i]);
    if (fields.empty()) continue;
    const std::string at = at_line(identity_path, i + 1);
    if (fields.size() != 2)
      throw UsageError(at + ": expected '<file> <identity id>', got '" + lines[i] + "'");
    const auto id = parse_int(fields[1], at, "identity id");
    if (id < 1) throw UsageError(at + ": identity ids are 1-based, got " + fields[1]);
    if (options.partition != CelebaPartition::kAll) {
      auto it = partition.find(fields[0]);
      if (it == partition.end())
        throw UsageError(at + ": '" + fields[0] + "' is not listed in '" +
                         (root / options.partition_file).string() + "'");
      if (it->second != wanted) continue;
    }
    if (options.check_files) {
      std::error_code ec;
      if (!fs::is_regular_file(image_dir / fields[0], ec))
        throw UsageError(
            at + ": image '" + fields[0] + "' not found in '" + image_dir.string() +
            "' (incomplete extraction? set celeba.check_files: false to skip this check)");
    }
    entries.push_back({fields[0], id});
  }
  if (entries.empty())
    throw UsageError("CelebA: no image selected from '" + identity_path.string() + "' (partition " +
                     config::enum_name(options.partition) + ")");
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.file < b.file; });

  std::map<std::int64_t, std::int64_t> labels;
  for (const auto& e : entries) labels.emplace(e.id, 0);
  std::vector<std::string> names;
  for (auto& [id, label] : labels) {
    label = static_cast<std::int64_t>(names.size());
    names.push_back(std::to_string(id));
  }
  std::vector<Item> items;
  items.reserve(entries.size());
  for (const auto& e : entries) {
    Item it;
    it.file = e.file;
    it.label = labels.at(e.id);
    it.identity = std::to_string(e.id);
    items.push_back(std::move(it));
  }
  Dataset all("celeba", image_dir, std::move(names), std::move(items), IdentityKind::kId,
              options.on_corrupt);
  if (options.min_images <= 1) return all;
  return all.with_min_images(options.min_images);
}

Split read_celeba_partition(const Dataset& dataset, const fs::path& partition_file) {
  const auto partition = read_partition_file(partition_file);
  Split split;
  for (std::int64_t i = 0; i < dataset.size(); ++i) {
    const auto& file = dataset.item(i).file;
    auto it = partition.find(file);
    if (it == partition.end())
      throw UsageError("CelebA: '" + file + "' is not listed in '" + partition_file.string() + "'");
    (it->second == 0 ? split.train : it->second == 1 ? split.valid : split.test).push_back(i);
  }
  return split;
}

}  // namespace wtp::data
