#include "data/augment.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>

#include "core/error.h"
#include "core/progress.h"
#include "core/random.h"
#include "data/dataset.h"
#include "data/image.h"
#include "data/text.h"
#include "data/transforms.h"

namespace wtp::data {

namespace fs = std::filesystem;

namespace {

config::Component component(const std::string& name,
                            const std::vector<std::pair<std::string, std::string>>& options) {
  config::Component c;
  c.name = name;
  c.options = config::Node::map();
  for (const auto& [key, value] : options) c.options.set(key, config::Node::scalar(value));
  return c;
}

std::uint64_t fnv1a(const std::string& text) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string csv_field(const std::string& value) {
  if (value.find_first_of(",\"\n") == std::string::npos) return value;
  std::string out = "\"";
  for (char c : value) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

std::vector<config::Component> AugmentOptions::default_transforms() {
  return {component("gaussian_blur", {{"min_sigma", "0"}, {"max_sigma", "1"}}),
          component("horizontal_flip", {{"p", "0.5"}}),
          component("brightness_shift", {{"max_delta", "30"}})};
}

void AugmentOptions::validate() const {
  require(!input.empty(), "augment: input must be set");
  require(!output.empty(), "augment: output must be set");
  require(factor >= 1, "augment: factor must be >= 1");
  require(jpeg_quality >= 1 && jpeg_quality <= 100, "augment: jpeg_quality must be in [1, 100]");
}

AugmentSummary run_augment(const AugmentOptions& options) {
  options.validate();
  const fs::path input(options.input), output(options.output);
  require_directory(input, "augment input", "set --input to the image tree to enlarge");
  std::error_code ec;
  if (fs::exists(output, ec) && fs::equivalent(input, output, ec))
    throw UsageError("augment: output must differ from input ('" + output.string() + "')");
  const Pipeline pipeline = build_pipeline(options.transforms);

  std::vector<std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(input))
    if (entry.is_regular_file() && has_extension(entry.path(), image_extensions()))
      files.push_back(relative_file(entry.path(), input));
  std::sort(files.begin(), files.end());
  if (files.empty()) throw UsageError("augment: no image file under '" + input.string() + "'");

  fs::create_directories(output);
  AugmentSummary summary;
  summary.sources = static_cast<std::int64_t>(files.size());
  summary.provenance = (output / "augment_provenance.csv").string();
  const std::string tmp = summary.provenance + ".tmp";
  std::ofstream csv(tmp, std::ios::binary);
  if (!csv) throw std::runtime_error("augment: cannot write '" + tmp + "'");
  csv << "file,source,copy,seed,params\n";

  Progress progress("augment", summary.sources, "img");
  for (const auto& rel : files) {
    const fs::path source = input / rel;
    const fs::path target = output / rel;
    fs::create_directories(target.parent_path());
    if (options.keep_originals) {
      fs::copy_file(source, target, fs::copy_options::overwrite_existing);
      csv << csv_field(rel) << ',' << csv_field(rel) << ",0,,\n";
      ++summary.written;
    }
    if (options.factor > 1) {
      const cv::Mat image = read_image(source, ChannelOrder::kBgr);
      for (int k = 1; k < options.factor; ++k) {
        const std::uint64_t seed =
            mix_seed(options.seed, fnv1a(rel), static_cast<std::uint64_t>(k));
        Rng rng(seed);
        TransformRecord record;
        const cv::Mat copy = pipeline.apply(image.clone(), rng, &record);
        const fs::path name =
            fs::path(rel).parent_path() / (fs::path(rel).stem().string() + "_aug" +
                                           std::to_string(k) + fs::path(rel).extension().string());
        const std::vector<int> params{cv::IMWRITE_JPEG_QUALITY, options.jpeg_quality};
        if (!cv::imwrite((output / name).string(), copy, params))
          throw std::runtime_error("augment: cannot write '" + (output / name).string() + "'");
        csv << csv_field(name.generic_string()) << ',' << csv_field(rel) << ',' << k << ',' << seed
            << ',' << csv_field(record.str()) << '\n';
        ++summary.written;
      }
    }
    progress.advance();
  }
  csv.close();
  if (!csv) throw std::runtime_error("augment: error while writing '" + tmp + "'");
  fs::rename(tmp, summary.provenance);
  progress.finish();
  return summary;
}

}  // namespace wtp::data
