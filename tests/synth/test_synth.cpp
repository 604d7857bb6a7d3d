#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "catch_torch.h"
#include "core/config.h"
#include "core/error.h"
#include "core/random.h"
#include "synth/face_renderer.h"
#include "synth/synth_faces.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace wtp;
using namespace wtp::synth;

namespace {

SynthOptions small_options(const fs::path& out) {
  SynthOptions o;
  o.out = out.string();
  o.identities = 12;
  o.images_per_identity = 4;
  o.size = 64;
  o.seed = 3;
  o.threads = 2;
  return o;
}

std::vector<std::string> split(const std::string& line, char delim) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(line);
  while (std::getline(in, part, delim)) parts.push_back(part);
  return parts;
}

std::vector<std::string> lines_of(const fs::path& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  REQUIRE(in.good());
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

/// Every regular file under `root`, relative path -> bytes.
std::map<std::string, std::string> read_tree(const fs::path& root) {
  std::map<std::string, std::string> tree;
  for (const auto& entry : fs::recursive_directory_iterator(root))
    if (entry.is_regular_file())
      tree[fs::relative(entry.path(), root).string()] = test::read_file(entry.path());
  return tree;
}

struct LandmarkRow {
  double lx, ly, rx, ry;
  std::string state;
};

std::map<std::string, LandmarkRow> read_landmarks(const fs::path& out) {
  const auto lines = lines_of(out / "landmarks.csv");
  REQUIRE(!lines.empty());
  REQUIRE(lines[0] == "path,left_eye_x,left_eye_y,right_eye_x,right_eye_y,eye_state");
  std::map<std::string, LandmarkRow> rows;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const auto f = split(lines[i], ',');
    REQUIRE(f.size() == 6);
    rows[f[0]] = {std::stod(f[1]), std::stod(f[2]), std::stod(f[3]), std::stod(f[4]), f[5]};
  }
  REQUIRE(rows.size() == lines.size() - 1);  // no duplicate paths
  return rows;
}

/// Name -> fold index from people.txt (and checks its format).
std::map<std::string, int> read_people(const fs::path& path, int images_per_identity) {
  const auto lines = lines_of(path);
  REQUIRE(lines.at(0) == "10");
  std::map<std::string, int> fold_of;
  std::size_t at = 1;
  for (int fold = 0; fold < 10; ++fold) {
    const int count = std::stoi(lines.at(at++));
    for (int k = 0; k < count; ++k) {
      const auto f = split(lines.at(at++), '\t');
      REQUIRE(f.size() == 2);
      REQUIRE(std::stoi(f[1]) == images_per_identity);
      REQUIRE(fold_of.emplace(f[0], fold).second);
    }
  }
  REQUIRE(at == lines.size());
  return fold_of;
}

std::string lfw_file(const std::string& name, int index) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "_%04d.jpg", index);
  return "lfw/lfw-deepfunneled/" + name + "/" + name + buffer;
}

/// Checks pairs.txt against people.txt; returns P. With `disjoint`, every pair's people
/// must both belong to the pair's fold; otherwise at least the first or second must.
int check_pairs(const fs::path& out, const std::map<std::string, int>& fold_of, int m,
                bool disjoint) {
  const auto lines = lines_of(out / "lfw/pairs.txt");
  const auto head = split(lines.at(0), '\t');
  REQUIRE(head.size() == 2);
  REQUIRE(head[0] == "10");
  const int p = std::stoi(head[1]);
  REQUIRE(p > 0);
  REQUIRE(lines.size() == 1 + 20 * static_cast<std::size_t>(p));
  std::set<std::string> seen;
  for (int fold = 0; fold < 10; ++fold) {
    for (int k = 0; k < 2 * p; ++k) {
      const std::string& line = lines[1 + static_cast<std::size_t>(fold * 2 * p + k)];
      REQUIRE(seen.insert(line).second);  // no pair twice
      const auto f = split(line, '\t');
      std::string a, b;
      int i, j;
      if (k < p) {
        REQUIRE(f.size() == 3);
        a = b = f[0];
        i = std::stoi(f[1]);
        j = std::stoi(f[2]);
        REQUIRE(i < j);
      } else {
        REQUIRE(f.size() == 4);
        a = f[0];
        b = f[2];
        i = std::stoi(f[1]);
        j = std::stoi(f[3]);
        REQUIRE(a < b);
      }
      REQUIRE(i >= 1);
      REQUIRE(j <= m);
      REQUIRE(fs::is_regular_file(out / lfw_file(a, i)));
      REQUIRE(fs::is_regular_file(out / lfw_file(b, j)));
      const bool a_in = fold_of.at(a) == fold, b_in = fold_of.at(b) == fold;
      if (disjoint || k < p)
        REQUIRE((a_in && b_in));
      else
        REQUIRE((a_in || b_in));
    }
  }
  return p;
}

/// Intensity-weighted centroid of pixels darker than `threshold` within `radius` of `c`.
cv::Point2d dark_centroid(const cv::Mat& grey, cv::Point2d c, double radius, double threshold) {
  double sw = 0, sx = 0, sy = 0;
  for (int r = static_cast<int>(c.y - radius) - 1; r <= static_cast<int>(c.y + radius) + 1; ++r)
    for (int col = static_cast<int>(c.x - radius) - 1; col <= static_cast<int>(c.x + radius) + 1;
         ++col) {
      if (std::hypot(col - c.x, r - c.y) > radius) continue;
      const double w = std::max(0.0, threshold - grey.at<unsigned char>(r, col));
      sw += w;
      sx += w * col;
      sy += w * r;
    }
  REQUIRE(sw > 0);
  return {sx / sw, sy / sw};
}

/// Recall@1 of 1-nearest-neighbour (L2, self excluded) on row vectors.
double recall_at_1(const std::vector<cv::Mat>& x, const std::vector<int>& label) {
  int hits = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    double best = 1e300;
    int best_label = -1;
    for (std::size_t j = 0; j < x.size(); ++j) {
      if (i == j) continue;
      const double d = cv::norm(x[i], x[j], cv::NORM_L2SQR);
      if (d < best) best = d, best_label = label[j];
    }
    hits += best_label == label[i];
  }
  return static_cast<double>(hits) / static_cast<double>(x.size());
}

}  // namespace

TEST_CASE("SynthOptions::validate names the field to fix", "[synth]") {
  SynthOptions ok = small_options("/tmp/unused");
  REQUIRE_NOTHROW(ok.validate());
  auto fails = [&](auto change, const std::string& field) {
    SynthOptions o = ok;
    change(o);
    try {
      o.validate();
      FAIL("no error for a bad " << field);
    } catch (const UsageError& e) {
      CHECK_THAT(e.what(), Catch::Contains(field));
    }
  };
  fails([](SynthOptions& o) { o.identities = 0; }, "identities");
  fails([](SynthOptions& o) { o.identities = 9; }, "identities");
  fails([](SynthOptions& o) { o.images_per_identity = 1; }, "images_per_identity");
  fails([](SynthOptions& o) { o.size = 31; }, "size");
  fails([](SynthOptions& o) { o.size = 2000; }, "size");
  fails([](SynthOptions& o) { o.closed_eye_fraction = 1.5; }, "closed_eye_fraction");
  fails([](SynthOptions& o) { o.closed_eye_fraction = -0.1; }, "closed_eye_fraction");
  fails([](SynthOptions& o) { o.jpeg_quality = 10; }, "jpeg_quality");
  fails([](SynthOptions& o) { o.threads = -1; }, "threads");
  fails([](SynthOptions& o) { o.out.clear(); }, "out");
  fails([](SynthOptions& o) { o.identities = 1000, o.images_per_identity = 1000; }, "999999");
}

TEST_CASE("SynthOptions decode strictly from YAML", "[synth]") {
  const auto o = config::decode<SynthOptions>(config::parse(
      "out: /x\nidentities: 20\nsize: 48\nseed: 9\nclosed_eye_fraction: 0.25\n", "t.yaml"));
  CHECK(o.identities == 20);
  CHECK(o.size == 48);
  CHECK(o.seed == 9);
  CHECK(o.closed_eye_fraction == 0.25);
  CHECK(o.images_per_identity == 8);  // default kept
  CHECK_THROWS_AS(config::decode<SynthOptions>(config::parse("out: /x\nidentitys: 20\n", "t.yaml")),
                  ConfigError);
  CHECK_THROWS_AS(config::decode<SynthOptions>(config::parse("out: /x\nidentities: 3\n", "t.yaml")),
                  ConfigError);
}

TEST_CASE("run_synth refuses unusable output directories", "[synth]") {
  test::TempDir tmp;
  {
    std::ofstream file(tmp / "file");
    file << "not a directory";
  }
  SynthOptions o = small_options(tmp / "file" / "sub");
  CHECK_THROWS_AS(run_synth(o), UsageError);

  // A folder that looks like real datasets (no synth.yaml) is never deleted.
  fs::create_directories(tmp / "data" / "lfw");
  o = small_options(tmp / "data");
  CHECK_THROWS_AS(run_synth(o), UsageError);
  o.overwrite = true;
  CHECK_THROWS_AS(run_synth(o), UsageError);
  CHECK(fs::is_directory(tmp / "data" / "lfw"));

  // An earlier wtp-synth output: an error without overwrite, replaced with it.
  o = small_options(tmp / "out");
  run_synth(o);
  CHECK_THROWS_AS(run_synth(o), UsageError);
  o.overwrite = true;
  o.identities = 10;
  run_synth(o);
  CHECK(lines_of(tmp / "out" / "lfw" / "people.txt").size() == 1 + 10 + 10);
}

TEST_CASE("make_names: unique LFW-style names, sorted, seeded", "[synth]") {
  const auto names = make_names(500, 1);
  REQUIRE(names.size() == 500);
  CHECK(std::is_sorted(names.begin(), names.end()));
  CHECK(std::set<std::string>(names.begin(), names.end()).size() == 500);
  for (const auto& name : names) {
    const auto parts = split(name, '_');
    REQUIRE(parts.size() >= 2);
    for (const auto& part : parts) {
      REQUIRE(!part.empty());
      CHECK(std::isupper(static_cast<unsigned char>(part[0])));
      for (char c : part) CHECK((std::isalpha(static_cast<unsigned char>(c)) || c == '-'));
    }
  }
  CHECK(make_names(500, 1) == names);
  CHECK(make_names(500, 2) != names);
}

TEST_CASE("run_synth writes the LFW, CelebA and CEW layouts", "[synth]") {
  test::TempDir tmp;
  const SynthOptions o = small_options(tmp.path());
  const int n = o.identities, m = o.images_per_identity;
  const SynthSummary s = run_synth(o);
  const fs::path out = tmp.path();

  // LFW images and people.txt.
  const auto fold_of = read_people(out / "lfw/people.txt", m);
  REQUIRE(static_cast<int>(fold_of.size()) == n);
  int dirs = 0;
  for (const auto& entry : fs::directory_iterator(out / "lfw/lfw-deepfunneled")) {
    ++dirs;
    const std::string name = entry.path().filename().string();
    REQUIRE(fold_of.count(name) == 1);
    for (int i = 1; i <= m; ++i) REQUIRE(fs::is_regular_file(out / lfw_file(name, i)));
    REQUIRE(std::distance(fs::directory_iterator(entry.path()), fs::directory_iterator()) == m);
  }
  CHECK(dirs == n);
  std::map<int, int> fold_sizes;
  for (const auto& [name, fold] : fold_of) ++fold_sizes[fold];
  CHECK(fold_sizes.size() == 10);  // 12 people: every fold has one or two

  // pairs.txt: hand-computed P = min(300, 1 * C(4,2), 1 * 1 * 4 * 4) = 6.
  CHECK(check_pairs(out, fold_of, m, false) == 6);
  CHECK(s.pairs_per_fold == 6);

  // CelebA.
  const auto ids = lines_of(out / "celeba/identity_CelebA.txt");
  const auto parts = lines_of(out / "celeba/list_eval_partition.txt");
  REQUIRE(static_cast<int>(ids.size()) == n * m);
  REQUIRE(parts.size() == ids.size());
  std::map<int, int> images_of, partition_of;
  int last_partition = 0;
  int per_partition[3] = {0, 0, 0};
  for (std::size_t k = 0; k < ids.size(); ++k) {
    char expected[32];
    std::snprintf(expected, sizeof expected, "%06zu.jpg", k + 1);
    const auto a = split(ids[k], ' '), b = split(parts[k], ' ');
    REQUIRE(a.size() == 2);
    REQUIRE(b.size() == 2);
    REQUIRE(a[0] == expected);
    REQUIRE(b[0] == expected);
    REQUIRE(fs::is_regular_file(out / "celeba/img_align_celeba" / expected));
    const int id = std::stoi(a[1]), part = std::stoi(b[1]);
    REQUIRE(id >= 1);
    REQUIRE(id <= n);
    REQUIRE(part >= 0);
    REQUIRE(part <= 2);
    REQUIRE(part >= last_partition);  // files numbered train, then valid, then test
    last_partition = part;
    ++images_of[id];
    ++per_partition[part];
    const auto [it, inserted] = partition_of.emplace(id, part);
    REQUIRE(it->second == part);  // identity-disjoint partition
  }
  CHECK(images_of.size() == static_cast<std::size_t>(n));
  for (const auto& [id, count] : images_of) CHECK(count == m);
  CHECK(per_partition[0] == 10 * m);  // max(1, round(12 / 10)) = 1 identity each held out
  CHECK(per_partition[1] == m);
  CHECK(per_partition[2] == m);
  CHECK(s.celeba_partition[1] == m);

  // landmarks.csv covers every image; eyes inside the image, left.x < right.x.
  const auto landmarks = read_landmarks(out);
  std::set<std::string> images;
  for (const auto& entry : fs::recursive_directory_iterator(out))
    if (entry.path().extension() == ".jpg") images.insert(fs::relative(entry.path(), out).string());
  REQUIRE(images.size() == static_cast<std::size_t>(3 * n * m));
  REQUIRE(landmarks.size() == images.size());
  for (const auto& [path, row] : landmarks) {
    REQUIRE(images.count(path) == 1);
    for (double v : {row.lx, row.ly, row.rx, row.ry}) {
      CHECK(v >= 0);
      CHECK(v <= o.size - 1);
    }
    CHECK(row.lx < row.rx);
    CHECK((row.state == "open" || row.state == "closed"));
    // |angle| <= 20 degrees (the generator's rotation range).
    CHECK(std::abs(std::atan2(row.ry - row.ly, row.rx - row.lx)) <= 20.0 * M_PI / 180 + 1e-9);
  }

  // CEW: the LFW images themselves, split by eye state; coordinates are the rounded landmarks.
  const fs::path cew = out / "cew/dataset_B_FacialImages";
  int closed_total = 0;
  for (const std::string kind : {"OpenFace", "ClosedFace"}) {
    const auto lines = lines_of(cew / ("EyeCoordinatesInfo_" + kind + ".txt"));
    CHECK(static_cast<int>(lines.size()) ==
          std::distance(fs::directory_iterator(cew / kind), fs::directory_iterator()));
    for (const auto& line : lines) {
      const auto f = split(line, ' ');
      REQUIRE(f.size() == 5);
      const std::string rel = "cew/dataset_B_FacialImages/" + kind + "/" + f[0];
      const auto& row = landmarks.at(rel);
      CHECK(row.state == (kind == "OpenFace" ? "open" : "closed"));
      CHECK(std::stol(f[1]) == std::lround(row.lx));
      CHECK(std::stol(f[2]) == std::lround(row.ly));
      CHECK(std::stol(f[3]) == std::lround(row.rx));
      CHECK(std::stol(f[4]) == std::lround(row.ry));
      if (kind == "OpenFace") {
        // Same file name as the LFW photo, same bytes.
        const std::string name = f[0].substr(0, f[0].size() - std::string("_0001.jpg").size());
        CHECK(test::read_file(cew / kind / f[0]) ==
              test::read_file(out / "lfw/lfw-deepfunneled" / name / f[0]));
      } else {
        CHECK(f[0].rfind("closed_eye_", 0) == 0);
        ++closed_total;
      }
    }
  }
  CHECK(closed_total == n * m / 2);  // closed_eye_fraction 0.5, exact
  CHECK(s.cew_closed == closed_total);
  CHECK(s.cew_open + s.cew_closed == n * m);

  // Images decode to size x size colour.
  const cv::Mat img = cv::imread((out / *images.begin()).string(), cv::IMREAD_UNCHANGED);
  CHECK(img.rows == o.size);
  CHECK(img.cols == o.size);
  CHECK(img.channels() == 3);
  CHECK(fs::is_regular_file(out / "synth.yaml"));
}

TEST_CASE("pairs.txt folds are identity-disjoint with >= 20 identities", "[synth]") {
  test::TempDir tmp;
  SynthOptions o = small_options(tmp.path());
  o.identities = 23;
  o.images_per_identity = 3;
  o.size = 32;
  o.closed_eye_fraction = 0.25;
  run_synth(o);
  const auto fold_of = read_people(tmp / "lfw/people.txt", 3);
  // Folds hold 2 or 3 people: P = min(300, 2 * C(3,2), 1 * 3 * 3) = 6.
  CHECK(check_pairs(tmp.path(), fold_of, 3, true) == 6);
  CHECK(lines_of(tmp / "cew/dataset_B_FacialImages/EyeCoordinatesInfo_ClosedFace.txt").size() ==
        17);  // round(0.25 * 69)
}

TEST_CASE("run_synth output is byte-identical across runs and thread counts", "[synth]") {
  test::TempDir a, b, c;
  SynthOptions o = small_options(a.path());
  o.threads = 1;
  run_synth(o);
  o.out = b.path().string();
  o.threads = 3;
  run_synth(o);
  const auto tree = read_tree(a.path());
  CHECK(tree.size() == 3 * 12 * 4 + 8);
  CHECK(tree == read_tree(b.path()));
  o.out = c.path().string();
  o.seed = 4;
  run_synth(o);
  const auto other = read_tree(c.path());
  CHECK(other.at("lfw/pairs.txt") != tree.at("lfw/pairs.txt"));
  CHECK(other.at("celeba/img_align_celeba/000001.jpg") !=
        tree.at("celeba/img_align_celeba/000001.jpg"));
}

TEST_CASE("render_face: ground-truth eye centres are the drawn pupils", "[synth]") {
  const int size = 256;
  for (std::uint64_t k = 0; k < 6; ++k) {
    FaceIdentity id = sample_identity(mix_seed(11, k));
    id.iris = cv::Scalar(200, 160, 120);  // light iris: the dark pupil alone is measured
    id.eye_w = id.face_a * 0.25;          // large eyes keep the lid lines out of the window
    id.eye_h = id.eye_w * 0.75;
    id.iris_ratio = 0.9;
    id.glasses = GlassesStyle::kNone;
    for (double rotation : {-20.0, -7.5, 0.0, 3.0, 13.0, 20.0}) {
      FaceVariation v = sample_variation(mix_seed(12, k), EyeState::kOpen);
      v.rotation = rotation;
      v.gain = 1, v.light_strength = 0, v.gamma = 1, v.cast = {1, 1, 1};
      v.blur_sigma = 0, v.noise_sigma = 0;
      const RenderedFace face = render_face(id, v, size);
      REQUIRE(face.image.size() == cv::Size(size, size));
      REQUIRE(face.image.type() == CV_8UC3);
      cv::Mat grey;
      cv::cvtColor(face.image, grey, cv::COLOR_BGR2GRAY);
      const double pupil_px = id.eye_h * id.iris_ratio * 0.45 * v.scale * size / 128;
      const double radius = pupil_px + 1.5;
      const auto left = dark_centroid(grey, face.left_eye, radius, 120);
      const auto right = dark_centroid(grey, face.right_eye, radius, 120);
      INFO("identity " << k << " rotation " << rotation << " pupil radius " << pupil_px);
      CHECK(cv::norm(left - face.left_eye) < 0.25);
      CHECK(cv::norm(right - face.right_eye) < 0.25);
      const double measured = std::atan2(right.y - left.y, right.x - left.x) * 180 / M_PI;
      CHECK(std::abs(measured - rotation) < 0.5);
      CHECK(face.left_eye.x < face.right_eye.x);
      // The pose maps face units exactly: the eye line's angle is the rotation.
      const double truth =
          std::atan2(face.right_eye.y - face.left_eye.y, face.right_eye.x - face.left_eye.x) * 180 /
          M_PI;
      CHECK(truth == Approx(rotation).margin(1e-9));
    }
  }
}

TEST_CASE("render_face: closed eyes differ from open eyes only around the eyes", "[synth]") {
  const int size = 128;
  for (std::uint64_t k = 0; k < 8; ++k) {
    const FaceIdentity id = sample_identity(mix_seed(21, k));
    FaceVariation v = sample_variation(mix_seed(22, k), EyeState::kOpen);
    const RenderedFace open = render_face(id, v, size);
    v.eye_state = EyeState::kClosed;
    const RenderedFace closed = render_face(id, v, size);
    CHECK(closed.left_eye == open.left_eye);
    CHECK(closed.eye_state == EyeState::kClosed);
    cv::Mat a, b, diff;
    cv::cvtColor(open.image, a, cv::COLOR_BGR2GRAY);
    cv::cvtColor(closed.image, b, cv::COLOR_BGR2GRAY);
    cv::absdiff(a, b, diff);
    const double px = v.scale * size / 128.0;
    const double eye_r = id.eye_h * px;  // inside the eye opening
    const double far = (id.eye_w * 1.1 + std::max(id.lash, 0.8) + 1.5) * px +
                       std::ceil(3 * v.blur_sigma * size / 128.0) + 2;
    double inside = 0;
    int inside_n = 0, far_changed = 0;
    for (int r = 0; r < size; ++r)
      for (int c = 0; c < size; ++c) {
        const double d = std::min(cv::norm(cv::Point2d(c, r) - open.left_eye),
                                  cv::norm(cv::Point2d(c, r) - open.right_eye));
        if (d <= eye_r) inside += diff.at<unsigned char>(r, c), ++inside_n;
        if (d > far && diff.at<unsigned char>(r, c) != 0) ++far_changed;
      }
    INFO("identity " << k);
    CHECK(inside / inside_n > 15);  // clearly visible
    CHECK(far_changed == 0);        // nothing else changes
  }
}

TEST_CASE("default set: hard for raw-pixel nearest neighbour, consistent once aligned", "[synth]") {
  test::TempDir tmp;
  SynthOptions o;
  o.out = tmp.path().string();
  o.threads = 2;
  const SynthSummary s = run_synth(o);
  CHECK(s.lfw_images == 320);
  CHECK(s.pairs_per_fold == 112);  // min(300, 4 * C(8,2), 6 * 8 * 8)
  const auto landmarks = read_landmarks(tmp.path());
  std::vector<cv::Mat> raw, aligned;
  std::vector<int> label;
  int identity = 0;
  std::vector<fs::path> dirs;
  for (const auto& entry : fs::directory_iterator(tmp / "lfw/lfw-deepfunneled"))
    dirs.push_back(entry.path());
  std::sort(dirs.begin(), dirs.end());
  for (const auto& dir : dirs) {
    for (int i = 1; i <= 8; ++i) {
      const std::string rel = lfw_file(dir.filename().string(), i);
      cv::Mat grey = cv::imread((tmp.path() / rel).string(), cv::IMREAD_GRAYSCALE);
      REQUIRE(!grey.empty());
      grey.convertTo(grey, CV_32F);
      raw.push_back(grey.reshape(1, 1).clone());
      // Align with the ground-truth eyes: eye midpoint to (32, 24), eye distance 24 px.
      const auto& l = landmarks.at(rel);
      const double angle = std::atan2(l.ry - l.ly, l.rx - l.lx) * 180 / M_PI;
      const cv::Point2f mid(static_cast<float>((l.lx + l.rx) / 2),
                            static_cast<float>((l.ly + l.ry) / 2));
      cv::Mat t = cv::getRotationMatrix2D(mid, angle, 24 / std::hypot(l.rx - l.lx, l.ry - l.ly));
      t.at<double>(0, 2) += 32 - mid.x;
      t.at<double>(1, 2) += 24 - mid.y;
      cv::Mat face;
      cv::warpAffine(grey, face, t, cv::Size(64, 64));
      cv::Scalar mean, stddev;
      cv::meanStdDev(face, mean, stddev);
      face = (face - mean[0]) / (stddev[0] + 1e-6);
      aligned.push_back(face.reshape(1, 1).clone());
      label.push_back(identity);
    }
    ++identity;
  }
  const double raw_recall = recall_at_1(raw, label), aligned_recall = recall_at_1(aligned, label);
  WARN("raw grey-pixel 1-NN Recall@1 " << raw_recall << ", eye-aligned " << aligned_recall
                                       << ", generated in " << s.seconds << " s");
  CHECK(raw_recall < 0.5);
  CHECK(aligned_recall > 0.75);
}

TEST_CASE("wtp-synth: two runs with the same arguments write identical trees", "[synth][cli]") {
  const fs::path tool = test::bin_dir() / "wtp-synth";
  REQUIRE(fs::is_regular_file(tool));
  test::TempDir tmp;
  const std::string args = " --identities 12 --images-per-identity 4 --seed 3 --log-level warn";
  const auto first = test::run_command(tool.string() + " --out " + (tmp / "a").string() + args);
  INFO(first.output);
  REQUIRE(first.status == 0);
  CHECK_THAT(first.output, Catch::Contains("12 people, 48 images"));
  const auto second = test::run_command(tool.string() + " --out " + (tmp / "b").string() + args);
  REQUIRE(second.status == 0);
  const auto tree = read_tree(tmp / "a");
  CHECK(tree.size() == 3 * 48 + 8);
  CHECK(tree == read_tree(tmp / "b"));
  const auto again = test::run_command(tool.string() + " --out " + (tmp / "a").string() + args);
  CHECK(again.status == 2);  // existing output without --overwrite
  CHECK_THAT(again.output, Catch::Contains("--overwrite"));
  const auto replaced =
      test::run_command(tool.string() + " --out " + (tmp / "a").string() + args + " --overwrite");
  CHECK(replaced.status == 0);
  CHECK(read_tree(tmp / "a") == tree);
}

TEST_CASE("wtp-synth: bad arguments exit 2 with a message", "[synth][cli]") {
  const fs::path tool = test::bin_dir() / "wtp-synth";
  REQUIRE(fs::is_regular_file(tool));
  test::TempDir tmp;
  const std::string out = " --out " + (tmp / "c").string();
  const auto zero = test::run_command(tool.string() + out + " --identities 0");
  CHECK(zero.status == 2);
  CHECK_THAT(zero.output, Catch::Contains("identities"));
  const auto small = test::run_command(tool.string() + out + " --size 16");
  CHECK(small.status == 2);
  CHECK_THAT(small.output, Catch::Contains("size"));
  const auto fraction = test::run_command(tool.string() + out + " --closed-eye-fraction 2");
  CHECK(fraction.status == 2);
  CHECK_THAT(fraction.output, Catch::Contains("closed_eye_fraction"));
  const auto unwritable = test::run_command(tool.string() + " --out /dev/null/x");
  CHECK(unwritable.status == 2);
  CHECK_THAT(unwritable.output, Catch::Contains("/dev/null/x"));
  const auto typo = test::run_command(tool.string() + out + " --identites 5");
  CHECK(typo.status == 2);
  const auto missing = test::run_command(tool.string() + " --identities 12");
  CHECK(missing.status == 2);
  CHECK_THAT(missing.output, Catch::Contains("out"));
  CHECK(!fs::exists(tmp / "c" / "lfw"));
}
