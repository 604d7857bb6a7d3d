#include "data/split.h"

#include <algorithm>
#include <cmath>
#include <fstream>

#include "core/error.h"
#include "core/random.h"
#include "data/text.h"

namespace wtp::data {

void SplitOptions::validate() const {
  for (double f : {train, valid, test})
    require(f >= 0.0 && f <= 1.0, "split: fractions must be in [0, 1]");
  require(std::abs(train + valid + test - 1.0) < 1e-6,
          "split: train + valid + test must sum to 1, got " + std::to_string(train + valid + test));
}

Split split_dataset(const Dataset& dataset, const SplitOptions& options) {
  options.validate();
  std::vector<std::int64_t> units;  // labels or item indices
  if (options.mode == SplitMode::kIdentity) {
    for (std::int64_t c = 0; c < dataset.num_classes(); ++c)
      if (!dataset.class_indices()[static_cast<std::size_t>(c)].empty()) units.push_back(c);
  } else {
    for (std::int64_t i = 0; i < dataset.size(); ++i) units.push_back(i);
  }
  Rng rng(options.seed);
  rng.shuffle(units);
  const auto n = static_cast<double>(units.size());
  const auto n_train = static_cast<std::size_t>(std::llround(n * options.train));
  const auto n_valid =
      std::min(units.size() - n_train, static_cast<std::size_t>(std::llround(n * options.valid)));
  Split split;
  for (std::size_t k = 0; k < units.size(); ++k) {
    auto& part = k < n_train ? split.train : k < n_train + n_valid ? split.valid : split.test;
    if (options.mode == SplitMode::kIdentity) {
      const auto& members = dataset.class_indices()[static_cast<std::size_t>(units[k])];
      part.insert(part.end(), members.begin(), members.end());
    } else {
      part.push_back(units[k]);
    }
  }
  for (auto* part : {&split.train, &split.valid, &split.test})
    std::sort(part->begin(), part->end());
  return split;
}

void write_split(const std::filesystem::path& path, const Dataset& dataset, const Split& split,
                 const std::string& comment) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) throw std::runtime_error("cannot write split file '" + tmp + "'");
    out << "# wtp split of dataset '" << dataset.name() << "' (" << dataset.size() << " items)\n";
    if (!comment.empty()) out << "# " << comment << "\n";
    const std::pair<const char*, const std::vector<std::int64_t>*> parts[] = {
        {"train", &split.train}, {"valid", &split.valid}, {"test", &split.test}};
    for (const auto& [name, indices] : parts)
      for (std::int64_t i : *indices) out << name << '\t' << dataset.item(i).file << '\n';
    out.flush();
    if (!out) throw std::runtime_error("error while writing split file '" + tmp + "'");
  }
  std::filesystem::rename(tmp, path);
}

Split read_split(const std::filesystem::path& path, const Dataset& dataset) {
  const auto lines = read_lines(path, "split file");
  Split split;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (line.empty() || line[0] == '#') continue;
    const std::string at = at_line(path, i + 1);
    const auto tab = line.find('\t');
    if (tab == std::string::npos)
      throw UsageError(at + ": expected '<train|valid|test><TAB><file>', got '" + line + "'");
    const std::string name = line.substr(0, tab);
    const std::string file = line.substr(tab + 1);
    const auto index = dataset.find(file);
    if (!index)
      throw UsageError(at + ": '" + file + "' is not an item of dataset '" + dataset.name() +
                       "' (root '" + dataset.root().string() +
                       "'): the split was written for other data");
    if (name == "train")
      split.train.push_back(*index);
    else if (name == "valid")
      split.valid.push_back(*index);
    else if (name == "test")
      split.test.push_back(*index);
    else
      throw UsageError(at + ": unknown split '" + name + "' (expected train, valid or test)");
  }
  return split;
}

}  // namespace wtp::data
