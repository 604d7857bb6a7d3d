// Loader throughput: decode + resize to 224 + horizontal flip + colour jitter + to-tensor on
// LFW-like 250x250 JPEGs, batches of 48, for each worker count. Not a test; run by
// bench/run_loader.sh side by side with torchvision (bench/loader_torchvision.py).
//
//   bench_loader --images DIR [--faces DIR] [--count 2000] [--batch 48] [--workers 1,2] [--epochs
//   3]
//
// When DIR holds no images, it is filled first with `count` JPEGs in an ImageFolder layout
// (class_<k>/img_<i>.jpg): random square crops of the *.jpg photos in --faces DIR (e.g.
// ../shared/faces: real photographic content, like LFW), else smooth synthetic faces.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/random.h"
#include "data/image_folder.h"
#include "data/loader.h"
#include "data/transforms.h"

namespace fs = std::filesystem;
using namespace wtp;
using namespace wtp::data;

namespace {

std::vector<fs::path> face_photos(const std::string& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  if (dir.empty() || !fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".jpg") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

cv::Mat synthetic_face(Rng& rng) {
  cv::Mat m(250, 250, CV_8UC3);
  const cv::Vec3b bg(static_cast<uchar>(rng.integer(40, 200)),
                     static_cast<uchar>(rng.integer(40, 200)),
                     static_cast<uchar>(rng.integer(40, 200)));
  for (int y = 0; y < 250; ++y)
    for (int x = 0; x < 250; ++x)
      m.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>((bg[0] + x / 3) % 256),
                                        static_cast<uchar>((bg[1] + y / 3) % 256), bg[2]);
  cv::ellipse(m, {125, 125}, {60, 80}, 0, 0, 360, cv::Scalar(120, 150, 200), -1, cv::LINE_AA);
  cv::circle(m, {100, 110}, 8, cv::Scalar(30, 30, 30), -1, cv::LINE_AA);
  cv::circle(m, {150, 110}, 8, cv::Scalar(30, 30, 30), -1, cv::LINE_AA);
  cv::Mat noise(m.size(), CV_8UC3);
  cv::randn(noise, 0, 6);
  m += noise;
  cv::GaussianBlur(m, m, {0, 0}, 1.0);
  return m;
}

void generate(const fs::path& dir, int count, const std::string& faces_dir) {
  const auto faces = face_photos(faces_dir);
  std::vector<cv::Mat> sources;
  for (const auto& f : faces) sources.push_back(cv::imread(f.string(), cv::IMREAD_COLOR));
  std::cerr << "bench_loader: writing " << count << " 250x250 JPEGs to " << dir << " ("
            << (sources.empty() ? "synthetic" : "crops of the face photos") << ")\n";
  Rng rng(2024);
  for (int i = 0; i < count; ++i) {
    cv::Mat image;
    if (sources.empty()) {
      image = synthetic_face(rng);
    } else {
      const cv::Mat& s = sources[static_cast<std::size_t>(i) % sources.size()];
      const int side = static_cast<int>(std::min(s.cols, s.rows) * rng.uniform(0.5, 1.0));
      const int x = static_cast<int>(rng.integer(0, s.cols - side));
      const int y = static_cast<int>(rng.integer(0, s.rows - side));
      cv::resize(s(cv::Rect(x, y, side, side)), image, {250, 250}, 0, 0, cv::INTER_AREA);
      if (rng.bernoulli(0.5)) cv::flip(image, image, 1);
    }
    const fs::path path =
        dir / ("class_" + std::to_string(i / 20)) / ("img_" + std::to_string(i) + ".jpg");
    fs::create_directories(path.parent_path());
    cv::imwrite(path.string(), image, {cv::IMWRITE_JPEG_QUALITY, 90});
  }
}

std::vector<int> parse_list(const std::string& text) {
  std::vector<int> out;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) out.push_back(std::stoi(part));
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::string images, faces;
  int count = 2000, batch = 48, epochs = 3;
  std::vector<int> workers{1, 2};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << arg << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--images")
      images = value();
    else if (arg == "--faces")
      faces = value();
    else if (arg == "--count")
      count = std::stoi(value());
    else if (arg == "--batch")
      batch = std::stoi(value());
    else if (arg == "--workers")
      workers = parse_list(value());
    else if (arg == "--epochs")
      epochs = std::stoi(value());
    else {
      std::cerr << "usage: bench_loader --images DIR [--faces DIR] [--count N] [--batch B] "
                   "[--workers 1,2] [--epochs E]\n";
      return 2;
    }
  }
  if (images.empty()) {
    std::cerr << "bench_loader: --images DIR is required\n";
    return 2;
  }
  std::error_code ec;
  if (!fs::is_directory(images, ec) || fs::is_empty(images, ec)) generate(images, count, faces);

  ImageFolderOptions fo;
  fo.root = images;
  const auto dataset = std::make_shared<const Dataset>(load_image_folder(fo));
  const auto pipeline = std::make_shared<const Pipeline>(build_pipeline([] {
    auto c = [](const std::string& yaml) {
      return config::decode_component(config::parse(yaml, "bench"), "t");
    };
    return std::vector<config::Component>{c("{name: resize, size: 224}"),
                                          c("{name: horizontal_flip, p: 0.5}"),
                                          c("{name: color_jitter, brightness: 0.2, contrast: 0.2}"),
                                          c("{name: normalize, preset: unit}")};
  }()));
  std::vector<IndexBatch> batches;
  for (std::int64_t start = 0; start < dataset->size(); start += batch) {
    IndexBatch b;
    for (std::int64_t i = start; i < std::min<std::int64_t>(dataset->size(), start + batch); ++i)
      b.push_back(i);
    batches.push_back(std::move(b));
  }
  std::printf("wtp: %lld images, batch %d, pipeline %s\n", static_cast<long long>(dataset->size()),
              batch, pipeline->describe().c_str());
  for (int w : workers) {
    double best = 0.0;
    for (int e = 0; e < epochs; ++e) {
      LoaderOptions lo;
      lo.workers = w;
      lo.prefetch = std::max(2, 2 * w);
      lo.epoch = e;
      const auto start = std::chrono::steady_clock::now();
      BatchLoader loader(dataset, pipeline, fixed_batches(batches), lo);
      std::int64_t n = 0;
      double checksum = 0.0;
      while (auto b = loader.next()) {
        n += b->images.size(0);
        checksum += b->images[0][0][0][0].item<float>();
      }
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      best = std::max(best, static_cast<double>(n) / seconds);
      if (checksum < -1) std::printf("?");  // keep the work observable
    }
    std::printf("RESULT wtp workers=%d img_per_s=%.0f\n", w, best);
    std::fflush(stdout);
  }
  return 0;
}
