#include "data/lfw.h"

#include <cstdio>
#include <limits>

#include "core/error.h"
#include "data/image_folder.h"
#include "data/text.h"

namespace wtp::data {

namespace fs = std::filesystem;

void LfwOptions::validate() const {
  require(!root.empty(), "lfw: root must be set to the folder holding the LFW image folder");
  require(min_images >= 1, "lfw: min_images must be >= 1");
}

fs::path LfwOptions::image_dir() const {
  if (images != "auto") return images.empty() ? fs::path(root) : fs::path(root) / images;
  std::error_code ec;
  for (const auto& folder : kLfwImageFolders)
    if (fs::is_directory(fs::path(root) / folder, ec)) return fs::path(root) / folder;
  return fs::path(root) / kLfwImageFolders.front();
}

Dataset load_lfw(const LfwOptions& options) {
  options.validate();
  const fs::path dir = options.image_dir();
  require_directory(
      dir, "LFW images",
      "expected <root>/" +
          (options.images == "auto" ? "{lfw-deepfunneled,lfw_funneled,lfw}" : options.images) +
          "/<Name>/<Name>_0001.jpg; run `wtp-download lfw --root DIR` (it installs "
          "DIR/lfw/lfw_funneled) or set lfw.images to the extracted folder name");
  std::vector<std::pair<std::string, Item>> items;
  for (const auto& name : list_subfolders(dir)) {
    const auto files = list_class_files(dir, name, image_extensions());
    if (files.empty())
      throw UsageError("LFW: person folder '" + (dir / name).string() +
                       "' holds no image; remove it or re-extract the archive");
    for (const auto& f : files) {
      Item it;
      it.file = f;
      it.identity = name;
      items.emplace_back(name, std::move(it));
    }
  }
  if (items.empty())
    throw UsageError("LFW: no person folder in '" + dir.string() +
                     "' (expected <Name>/<Name>_0001.jpg)");
  Dataset all =
      make_named_dataset("lfw", dir, std::move(items), IdentityKind::kName, options.on_corrupt);
  if (options.min_images <= 1) return all;
  Dataset kept = all.with_min_images(options.min_images);
  if (kept.empty())
    throw UsageError("LFW: no identity has at least " + std::to_string(options.min_images) +
                     " images (lfw.min_images)");
  return kept;
}

std::string lfw_file(const std::string& name, std::int64_t index) {
  char number[32];
  std::snprintf(number, sizeof number, "%04lld", static_cast<long long>(index));
  return name + "/" + name + "_" + number + ".jpg";
}

std::vector<LfwPair> LfwPairs::fold(int f) const {
  std::vector<LfwPair> out;
  for (const auto& p : pairs)
    if (p.fold == f) out.push_back(p);
  return out;
}

LfwPairs read_lfw_pairs(const fs::path& pairs_file, const fs::path& image_dir) {
  const auto lines = read_lines(pairs_file, "LFW pairs file");
  LfwPairs result;
  std::size_t first = 0;
  while (first < lines.size() && split_fields(lines[first]).empty()) ++first;
  if (first == lines.size())
    throw UsageError("LFW pairs file '" + pairs_file.string() + "' is empty");
  const auto header = split_fields(lines[first]);
  const std::string where = at_line(pairs_file, first + 1);
  std::int64_t folds = 1;
  if (header.size() == 2) {
    folds = parse_int(header[0], where, "number of folds");
    result.per_fold = parse_int(header[1], where, "pairs per fold");
  } else if (header.size() == 1) {
    result.per_fold = parse_int(header[0], where, "number of pairs");
  } else {
    throw UsageError(where + ": expected a header 'folds<TAB>pairs' or 'pairs', got '" +
                     lines[first] + "'");
  }
  if (folds < 1 || result.per_fold < 1)
    throw UsageError(where + ": the header must give positive counts, got '" + lines[first] + "'");
  std::int64_t per_fold_lines = 0;
  std::int64_t expected = 0;
  if (folds > std::numeric_limits<int>::max() ||
      __builtin_mul_overflow(result.per_fold, 2, &per_fold_lines) ||
      __builtin_mul_overflow(folds, per_fold_lines, &expected))
    throw UsageError(where + ": the header announces more pairs than a file can hold, got '" +
                     lines[first] + "'");
  result.folds = static_cast<int>(folds);
  std::int64_t k = 0;  // pair number
  for (std::size_t i = first + 1; i < lines.size(); ++i) {
    const auto fields = split_fields(lines[i]);
    if (fields.empty()) continue;
    const std::string at = at_line(pairs_file, i + 1);
    if (k >= expected)
      throw UsageError(at + ": more pairs than the header announces (" +
                       std::to_string(result.folds) + " folds x 2 x " +
                       std::to_string(result.per_fold) + ")");
    LfwPair p;
    p.line = i + 1;
    p.fold = static_cast<int>(k / per_fold_lines);
    p.same = (k % per_fold_lines) < result.per_fold;
    if (p.same) {
      if (fields.size() != 3)
        throw UsageError(at + ": expected a same-person pair 'Name<TAB>i<TAB>j' (pair " +
                         std::to_string(k % per_fold_lines + 1) + " of fold " +
                         std::to_string(p.fold + 1) + "), got '" + lines[i] + "'");
      p.name1 = p.name2 = fields[0];
      p.index1 = parse_int(fields[1], at, "image number");
      p.index2 = parse_int(fields[2], at, "image number");
    } else {
      if (fields.size() != 4)
        throw UsageError(at +
                         ": expected a different-person pair 'Name1<TAB>i<TAB>Name2<TAB>j' (pair " +
                         std::to_string(k % per_fold_lines + 1) + " of fold " +
                         std::to_string(p.fold + 1) + "), got '" + lines[i] + "'");
      p.name1 = fields[0];
      p.index1 = parse_int(fields[1], at, "image number");
      p.name2 = fields[2];
      p.index2 = parse_int(fields[3], at, "image number");
    }
    if (p.index1 < 1 || p.index2 < 1)
      throw UsageError(at + ": image numbers are 1-based (the _NNNN suffix), got '" + lines[i] +
                       "'");
    p.file1 = lfw_file(p.name1, p.index1);
    p.file2 = lfw_file(p.name2, p.index2);
    if (!image_dir.empty()) {
      for (const auto* file : {&p.file1, &p.file2}) {
        std::error_code ec;
        if (!fs::is_regular_file(image_dir / *file, ec))
          throw UsageError(at + ": image '" + *file + "' not found in '" + image_dir.string() +
                           "' (wrong image folder, or an incomplete extraction?)");
      }
    }
    result.pairs.push_back(std::move(p));
    ++k;
  }
  if (k != expected)
    throw UsageError(pairs_file.string() + ": the header announces " + std::to_string(expected) +
                     " pairs (" + std::to_string(result.folds) + " folds x 2 x " +
                     std::to_string(result.per_fold) + ") but the file holds " + std::to_string(k));
  return result;
}

std::vector<LfwPerson> read_lfw_people(const fs::path& people_file) {
  const auto lines = read_lines(people_file, "LFW people file");
  std::vector<LfwPerson> people;
  std::size_t i = 0;
  auto next_nonempty = [&]() -> bool {
    while (i < lines.size() && split_fields(lines[i]).empty()) ++i;
    return i < lines.size();
  };
  if (!next_nonempty()) throw UsageError("LFW people file '" + people_file.string() + "' is empty");
  auto header = split_fields(lines[i]);
  if (header.size() != 1)
    throw UsageError(at_line(people_file, i + 1) + ": expected the number of folds, got '" +
                     lines[i] + "'");
  const auto folds = parse_int(header[0], at_line(people_file, i + 1), "number of folds");
  ++i;
  for (int f = 0; f < folds; ++f) {
    if (!next_nonempty())
      throw UsageError(people_file.string() + ": fold " + std::to_string(f + 1) + " of " +
                       std::to_string(folds) + " is missing");
    const auto count_fields = split_fields(lines[i]);
    const std::string at = at_line(people_file, i + 1);
    if (count_fields.size() != 1)
      throw UsageError(at + ": expected the number of people of fold " + std::to_string(f + 1) +
                       ", got '" + lines[i] + "'");
    const auto count = parse_int(count_fields[0], at, "number of people");
    ++i;
    for (std::int64_t k = 0; k < count; ++k) {
      if (!next_nonempty())
        throw UsageError(people_file.string() + ": fold " + std::to_string(f + 1) + " announces " +
                         std::to_string(count) + " people but the file ends after " +
                         std::to_string(k));
      const auto fields = split_fields(lines[i]);
      const std::string where = at_line(people_file, i + 1);
      if (fields.size() != 2)
        throw UsageError(where + ": expected 'Name<TAB>num_images', got '" + lines[i] + "'");
      LfwPerson p;
      p.name = fields[0];
      p.images = parse_int(fields[1], where, "number of images");
      p.fold = f;
      p.line = i + 1;
      people.push_back(std::move(p));
      ++i;
    }
  }
  if (next_nonempty())
    throw UsageError(at_line(people_file, i + 1) + ": unexpected line after the last fold: '" +
                     lines[i] + "'");
  return people;
}

}  // namespace wtp::data
