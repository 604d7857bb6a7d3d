// MTCNN detection time per photo (not a test): wtp's MtcnnDetector on the *.jpg photos of a
// folder, from the decoded image to the faces, with the time of each step of the cascade.
// bench/run_mtcnn.sh runs it beside facenet-pytorch's own MTCNN (bench/mtcnn_facenet.py).
//
//   bench_mtcnn WEIGHTS_DIR FACES_DIR [REPEATS] [THREADS]
//     WEIGHTS_DIR  facenet-pytorch's pnet.pt, rnet.pt, onet.pt
//     FACES_DIR    the photos (e.g. ../shared/faces)
//     REPEATS      timed runs per photo after one warm-up run (default 5); the median is kept
//     THREADS      LibTorch intra-op threads (default 2)
//
// Prints per photo `RESULT wtp photo=NAME seconds=S faces=N`, then the steps of the median
// run: `STEPS photo=NAME table=.. resize=.. pnet=.. nms=.. rnet_crops=.. rnet=.. onet_crops=..
// onet=..` and one `LEVEL photo=NAME level=K size=HxW resize=.. pnet=..` per pyramid level.
#include <ATen/Parallel.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "align/mtcnn.h"

namespace fs = std::filesystem;
using namespace wtp::align;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: bench_mtcnn WEIGHTS_DIR FACES_DIR [REPEATS] [THREADS]\n");
    return 2;
  }
  const int repeats = argc > 3 ? std::stoi(argv[3]) : 5;
  at::set_num_threads(argc > 4 ? std::stoi(argv[4]) : 2);
  MtcnnOptions options;
  options.weights = argv[1];
  options.validate();
  MtcnnNets nets = load_mtcnn(options.weights);
  std::vector<fs::path> photos;
  for (const auto& e : fs::directory_iterator(argv[2]))
    if (e.path().extension() == ".jpg") photos.push_back(e.path());
  std::sort(photos.begin(), photos.end());
  for (const auto& path : photos) {
    const cv::Mat bgr = cv::imread(path.string(), cv::IMREAD_COLOR);
    if (bgr.empty()) {
      std::fprintf(stderr, "bench_mtcnn: cannot read %s\n", path.c_str());
      return 1;
    }
    const std::string name = path.stem().string();
    struct Run {
      double seconds;
      MtcnnTimes times;
      std::size_t faces;
    };
    std::vector<Run> runs;
    for (int r = 0; r <= repeats; ++r) {
      Run run;
      const auto start = std::chrono::steady_clock::now();
      run.faces = run_mtcnn(nets, mtcnn_input(bgr), options, &run.times).front().size();
      run.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (r > 0) runs.push_back(run);  // the first run warms up
    }
    std::sort(runs.begin(), runs.end(),
              [](const Run& a, const Run& b) { return a.seconds < b.seconds; });
    const Run& m = runs[runs.size() / 2];
    const MtcnnTimes& t = m.times;
    auto sum = [](const std::vector<double>& v) {
      return std::accumulate(v.begin(), v.end(), 0.0);
    };
    std::printf("RESULT wtp photo=%s seconds=%.4f faces=%zu size=%dx%d\n", name.c_str(), m.seconds,
                m.faces, bgr.cols, bgr.rows);
    std::printf(
        "STEPS photo=%s table=%.4f resize=%.4f pnet=%.4f nms=%.4f rnet_crops=%.4f rnet=%.4f "
        "onet_crops=%.4f onet=%.4f\n",
        name.c_str(), t.table, sum(t.resize), sum(t.pnet), t.nms, t.rnet_crops, t.rnet,
        t.onet_crops, t.onet);
    const auto scales = pyramid_scales(bgr.rows, bgr.cols, options.min_face, options.factor);
    for (std::size_t k = 0; k < t.pnet.size(); ++k)
      std::printf("LEVEL photo=%s level=%zu size=%dx%d resize=%.4f pnet=%.4f\n", name.c_str(), k,
                  static_cast<int>(bgr.cols * scales[k] + 1),
                  static_cast<int>(bgr.rows * scales[k] + 1), t.resize[k], t.pnet[k]);
    std::fflush(stdout);
  }
  return 0;
}
