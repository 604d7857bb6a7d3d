#include "data/cew.h"

#include <map>
#include <regex>

#include "core/error.h"
#include "core/log.h"
#include "data/image_folder.h"
#include "data/text.h"

namespace wtp::data {

namespace fs = std::filesystem;

void CewOptions::validate() const {
  require(!root.empty(), "cew: root must be set to the folder holding dataset_B_FacialImages/");
}

namespace {

std::map<std::string, EyePoints> read_eye_coordinates(const fs::path& path) {
  std::map<std::string, EyePoints> out;
  const auto lines = read_lines(path, "CEW eye coordinate file");
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto fields = split_fields(lines[i]);
    if (fields.empty()) continue;
    const std::string at = at_line(path, i + 1);
    if (fields.size() != 5)
      throw UsageError(at + ": expected '<file> lx ly rx ry', got '" + lines[i] + "'");
    EyePoints e;
    e.left_x = static_cast<float>(parse_number(fields[1], at, "coordinate"));
    e.left_y = static_cast<float>(parse_number(fields[2], at, "coordinate"));
    e.right_x = static_cast<float>(parse_number(fields[3], at, "coordinate"));
    e.right_y = static_cast<float>(parse_number(fields[4], at, "coordinate"));
    out[fields[0]] = e;
  }
  return out;
}

}  // namespace

Dataset load_cew(const CewOptions& options) {
  options.validate();
  const fs::path dir =
      options.images.empty() ? fs::path(options.root) : fs::path(options.root) / options.images;
  require_directory(dir, "CEW images",
                    "expected <root>/" + options.images +
                        "/OpenFace/ and ClosedFace/; run `wtp-download cew --root <root>` or set "
                        "cew.images");
  static const std::regex lfw_name(R"((.+)_[0-9]{4}\.[A-Za-z]+)");
  const std::pair<const char*, int> folders[] = {{"OpenFace", 0}, {"ClosedFace", 1}};
  std::vector<Item> items;
  for (const auto& [folder, state] : folders) {
    require_directory(dir / folder, "CEW folder",
                      "the CEW face images come in OpenFace/ and ClosedFace/");
    auto files = list_class_files(dir, folder, image_extensions());
    if (files.empty())
      throw UsageError("CEW: folder '" + (dir / folder).string() + "' holds no image");
    std::map<std::string, EyePoints> eyes;
    const fs::path coord_file = dir / (std::string("EyeCoordinatesInfo_") + folder + ".txt");
    std::error_code ec;
    if (options.eye_coordinates && fs::is_regular_file(coord_file, ec))
      eyes = read_eye_coordinates(coord_file);
    std::size_t used = 0;
    for (const auto& f : files) {
      Item it;
      it.file = f;
      it.label = state;
      it.eye_state = state;
      const std::string base = fs::path(f).filename().string();
      auto e = eyes.find(base);
      if (e != eyes.end()) {
        it.eyes = e->second;
        ++used;
      }
      std::smatch m;
      if (state == 0 && std::regex_match(base, m, lfw_name)) it.identity = m[1].str();
      items.push_back(std::move(it));
    }
    if (used < eyes.size())
      log::warn("CEW: ", eyes.size() - used, " line(s) of '", coord_file.string(),
                "' name images that are not in ", folder, "/ (ignored)");
  }
  return Dataset("cew", dir, {"open", "closed"}, std::move(items), IdentityKind::kName,
                 options.on_corrupt);
}

}  // namespace wtp::data
