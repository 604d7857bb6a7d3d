#include "align/align_folder.h"

#include <ATen/Parallel.h>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <opencv2/imgcodecs.hpp>
#include <set>
#include <thread>

#include "core/csv.h"
#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/threads.h"
#include "data/dataset.h"
#include "data/image.h"
#include "data/text.h"

namespace wtp::align {

namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kCsvColumns{"file",
                                           "face",
                                           "found",
                                           "status",
                                           "x1",
                                           "y1",
                                           "x2",
                                           "y2",
                                           "left_eye_x",
                                           "left_eye_y",
                                           "right_eye_x",
                                           "right_eye_y",
                                           "eyes_estimated",
                                           "confidence",
                                           "angle",
                                           "detector",
                                           "output"};

// One alignment.csv row, kept as text fields (file, face number, ..., output).
struct Row {
  std::vector<std::string> fields;
  const std::string& file() const { return fields[0]; }
  int face() const { return std::stoi(fields[1]); }
  const std::string& output() const { return fields[16]; }
};

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

Row face_row(const std::string& file, int index, const AlignedFace& a, const std::string& detector,
             const std::string& output) {
  const Face& f = a.face;
  return Row{{file, std::to_string(index), "1", "face", fixed(f.box.x1, 2), fixed(f.box.y1, 2),
              fixed(f.box.x2, 2), fixed(f.box.y2, 2), fixed(f.left_eye().x, 2),
              fixed(f.left_eye().y, 2), fixed(f.right_eye().x, 2), fixed(f.right_eye().y, 2),
              f.eyes_estimated ? "1" : "0", fixed(f.confidence, 4), fixed(a.angle, 2), detector,
              output}};
}

Row empty_row(const std::string& file, const std::string& status, const std::string& detector,
              const std::string& output) {
  std::vector<std::string> fields(kCsvColumns.size());
  fields[0] = file;
  fields[1] = "0";
  fields[2] = "0";
  fields[3] = status;
  fields[15] = detector;
  fields[16] = output;
  return Row{std::move(fields)};
}

// The images under `input` (relative '/'-paths, sorted), leaving out `exclude` if inside.
std::vector<std::string> list_images(const fs::path& input, const fs::path& exclude) {
  static const std::vector<std::string> extensions{".jpg", ".jpeg", ".png"};
  std::vector<std::string> files;
  const fs::path excluded = fs::weakly_canonical(exclude);
  for (auto it = fs::recursive_directory_iterator(input); it != fs::recursive_directory_iterator();
       ++it) {
    if (it->is_directory() && fs::weakly_canonical(it->path()) == excluded) {
      it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && data::has_extension(it->path(), extensions))
      files.push_back(data::relative_file(it->path(), input));
  }
  std::sort(files.begin(), files.end());
  return files;
}

// The output name of the k-th face (0-based) of `file`.
std::string face_output(const std::string& file, std::size_t k) {
  if (k == 0) return file;
  const fs::path p(file);
  return (p.parent_path() /
          (p.stem().string() + "_" + std::to_string(k + 1) + p.extension().string()))
      .generic_string();
}

void write_image(const fs::path& path, const cv::Mat& image, int jpeg_quality) {
  fs::create_directories(path.parent_path());
  std::vector<int> params;
  const std::string ext = path.extension().string();
  if (data::has_extension(path, {".jpg", ".jpeg"}))
    params = {cv::IMWRITE_JPEG_QUALITY, jpeg_quality};
  bool ok = false;
  try {
    ok = cv::imwrite(path.string(), image, params);
  } catch (const cv::Exception& e) {
    throw std::runtime_error("cannot write " + path.string() + ": " + e.what());
  }
  if (!ok) throw std::runtime_error("cannot write " + path.string());
}

// The rows of an existing alignment.csv grouped by file, only for files whose every
// output exists. Columns are read by name; malformed (e.g. half-written) lines are ignored.
std::map<std::string, std::vector<Row>> completed_rows(const fs::path& csv, const fs::path& out) {
  std::map<std::string, std::vector<Row>> by_file;
  if (!fs::exists(csv) || fs::file_size(csv) == 0) return by_file;
  const auto table = csv::Table::read(csv, kCsvColumns, csv::BadRows::kSkip);
  std::vector<std::size_t> columns;
  for (const auto& name : kCsvColumns) columns.push_back(table.column(name));
  for (const auto& line : table.rows()) {
    Row row;
    for (std::size_t c : columns) row.fields.push_back(line.fields[c]);
    try {
      (void)row.face();
    } catch (const std::exception&) {
      continue;
    }
    by_file[row.file()].push_back(std::move(row));
  }
  for (auto it = by_file.begin(); it != by_file.end();) {
    bool complete = true;
    for (const auto& row : it->second)
      if (!row.output().empty() && !fs::is_regular_file(out / row.output())) complete = false;
    it = complete ? std::next(it) : by_file.erase(it);
  }
  return by_file;
}

// The options that determine the output (all but threads), as YAML.
std::string determining_options(const AlignRunOptions& options) {
  config::Node node = config::encode(options);
  node.erase("threads");
  node.erase("seed");
  return config::to_yaml(node);
}

}  // namespace

void AlignRunOptions::validate() const {
  require(!input.empty(), "align: input must be set (--input DIR)");
  require(!output.empty(), "align: output must be set (--output DIR)");
  align_options().validate();
  require(threads >= 0, "align: threads must be >= 0 (0 = all cores)");
  require(jpeg_quality >= 50 && jpeg_quality <= 100, "align: jpeg_quality must be in [50, 100]");
  require(center_weight >= 0.0, "align: center_weight must be >= 0");
  require(!detector.name.empty(), "align: detector must be set (haar or mtcnn)");
}

AlignOptions AlignRunOptions::align_options() const {
  AlignOptions o;
  o.kind = kind;
  o.size = size;
  o.margin = margin;
  o.interpolation = interpolation;
  o.landmark_template = landmark_template;
  o.template_size = template_size;
  return o;
}

config::Component AlignRunOptions::detector_component() const {
  config::Component c = detector;
  if (weights.empty()) return c;
  require(c.name == "mtcnn",
          "align: weights (--weights) applies to the mtcnn detector only, "
          "but the detector is '" +
              c.name + "'");
  if (!c.options.is_map()) c.options = config::Node::map();
  c.options.set("weights", config::Node::scalar(weights, config::Origin{"--weights", 0}));
  return c;
}

std::vector<AlignedFace> align_image(const cv::Mat& bgr, FaceDetector& detector,
                                     const AlignRunOptions& options) {
  const AlignOptions align = options.align_options();
  auto faces = rank_faces(detector.detect(bgr), options.select, bgr.size(), options.center_weight);
  std::vector<AlignedFace> out;
  if (faces.empty()) {
    if (options.no_face == NoFace::kWhole) out.push_back(align_whole(bgr, align));
    return out;
  }
  if (!options.keep_all) faces.resize(1);
  for (const auto& face : faces) out.push_back(align_face(bgr, face, align));
  return out;
}

AlignSummary run_align(const AlignRunOptions& options) {
  options.validate();
  const auto start = std::chrono::steady_clock::now();
  const fs::path input(options.input), output(options.output);
  data::require_directory(input, "align input", "pass an existing folder with --input");
  const config::Component component = detector_registry().resolve(options.detector_component());
  const std::string detector_name = component.name;

  // Refuse to mix outputs of different options.
  const fs::path settings = output / "alignment.yaml";
  const std::string determining = determining_options(options);
  if (fs::exists(settings)) {
    const std::string previous = [&] {
      std::ifstream in(settings);
      return std::string(std::istreambuf_iterator<char>(in), {});
    }();
    require(previous == determining,
            "align: " + output.string() +
                " holds an alignment made with different options (see alignment.yaml): choose "
                "another --output, or delete it to start over");
  }

  AlignSummary summary;
  summary.csv = (output / "alignment.csv").string();
  const auto files = list_images(input, output);
  summary.images = static_cast<std::int64_t>(files.size());
  auto done = completed_rows(summary.csv, output);
  std::vector<std::string> pending;
  for (const auto& f : files)
    if (!done.count(f)) pending.push_back(f);
  summary.skipped = summary.images - static_cast<std::int64_t>(pending.size());

  // One detector per worker, built before anything is written (option errors first).
  const int wanted = options.threads > 0 ? options.threads : available_cores();
  const int workers = std::max(1, std::min<int>(wanted, static_cast<int>(pending.size())));
  std::vector<DetectorPtr> detectors;
  for (int i = 0; i < workers; ++i) detectors.push_back(detector_registry().create(component));
  if (summary.skipped > 0)
    log::info("align: resuming, ", summary.skipped, " of ", summary.images,
              " images already aligned");

  fs::create_directories(output);
  {
    std::ofstream out(settings, std::ios::trunc);
    out << determining;
    if (!out) throw std::runtime_error("cannot write " + settings.string());
  }
  // Start the CSV afresh with the completed rows (stale rows of unfinished files dropped).
  std::vector<Row> all_rows;
  for (auto& [file, rows] : done)
    for (auto& row : rows) all_rows.push_back(std::move(row));
  auto write_csv = [&](const std::vector<Row>& rows) {
    const fs::path tmp = summary.csv + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << csv::join(kCsvColumns) << "\n";
      for (const auto& row : rows) out << csv::join(row.fields) << "\n";
      if (!out) throw std::runtime_error("cannot write " + tmp.string());
    }
    fs::rename(tmp, summary.csv);
  };
  write_csv(all_rows);

  struct Result {
    std::vector<Row> rows;
    bool unreadable = false, found = false;
    int faces = 0, estimated = 0;
  };
  auto process = [&](const std::string& file, FaceDetector& detector) {
    Result r;
    cv::Mat image;
    try {
      image = data::read_image(input / file, data::ChannelOrder::kBgr);
    } catch (const data::ImageError& e) {
      log::warn("align: skipping unreadable image: ", e.what());
      r.unreadable = true;
      r.rows.push_back(empty_row(file, "unreadable", detector_name, ""));
      return r;
    }
    const auto aligned = align_image(image, detector, options);
    if (aligned.empty() || !aligned.front().found) {
      const std::string out_file = aligned.empty() ? "" : file;
      if (!aligned.empty())
        write_image(output / out_file, aligned.front().image, options.jpeg_quality);
      r.rows.push_back(empty_row(file, "no_face", detector_name, out_file));
      return r;
    }
    r.found = true;
    for (std::size_t k = 0; k < aligned.size(); ++k) {
      const std::string out_file = face_output(file, k);
      write_image(output / out_file, aligned[k].image, options.jpeg_quality);
      r.rows.push_back(
          face_row(file, static_cast<int>(k + 1), aligned[k], detector_name, out_file));
      ++r.faces;
      if (aligned[k].face.eyes_estimated) ++r.estimated;
    }
    return r;
  };

  Progress progress("align", static_cast<std::int64_t>(pending.size()), "img");
  const std::size_t chunk = static_cast<std::size_t>(16 * workers);
  const int torch_threads = at::get_num_threads();
  std::vector<Result> results;
  for (std::size_t begin = 0; begin < pending.size(); begin += chunk) {
    const std::size_t end = std::min(pending.size(), begin + chunk);
    results.assign(end - begin, Result{});
    if (workers == 1) {
      for (std::size_t i = begin; i < end; ++i) {
        results[i - begin] = process(pending[i], *detectors[0]);
        progress.advance();
      }
    } else {
      std::atomic<std::size_t> next{begin};
      std::exception_ptr error;
      std::mutex error_mutex;
      std::vector<std::thread> threads;
      for (int w = 0; w < workers; ++w)
        threads.emplace_back([&, w] {
          at::set_num_threads(1);  // one intra-op thread per worker: no oversubscription
          for (std::size_t i = next++; i < end; i = next++) {
            try {
              results[i - begin] = process(pending[i], *detectors[static_cast<std::size_t>(w)]);
              progress.advance();
            } catch (...) {
              std::lock_guard<std::mutex> lock(error_mutex);
              if (!error) error = std::current_exception();
              next = end;
            }
          }
        });
      for (auto& t : threads) t.join();
      at::set_num_threads(torch_threads);
      if (error) std::rethrow_exception(error);
    }
    // Append this chunk's rows in file order.
    std::ofstream out(summary.csv, std::ios::app);
    for (auto& r : results) {
      for (auto& row : r.rows) {
        out << csv::join(row.fields) << "\n";
        all_rows.push_back(std::move(row));
      }
      ++summary.processed;
      summary.unreadable += r.unreadable;
      if (!r.unreadable) (r.found ? summary.with_face : summary.no_face)++;
      summary.faces += r.faces;
      summary.eyes_estimated += r.estimated;
    }
    if (!out) throw std::runtime_error("cannot append to " + summary.csv);
  }
  progress.finish();

  std::stable_sort(all_rows.begin(), all_rows.end(), [](const Row& a, const Row& b) {
    return a.file() != b.file() ? a.file() < b.file() : a.face() < b.face();
  });
  write_csv(all_rows);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

}  // namespace wtp::align
