#include "synth/synth_faces.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <opencv2/imgcodecs.hpp>
#include <set>
#include <thread>
#include <tuple>

#include "core/log.h"
#include "core/progress.h"
#include "core/random.h"
#include "core/threads.h"
#include "synth/face_renderer.h"

namespace wtp::synth {
namespace fs = std::filesystem;

namespace {

// Stream tags for mix_seed: every random decision has its own stream.
enum Stream : std::uint64_t {
  kNameStream = 1,
  kIdentityStream,
  kImageStream,
  kEyeStateStream,
  kFoldStream,
  kPairsStream,
  kPartitionStream,
  kCelebaIdStream,
  kCelebaOrderStream,
};

constexpr int kFolds = 10;
constexpr int kMaxPairsPerFold = 300;  // as in the official pairs.txt
constexpr const char* kLfwDir = "lfw/lfw-deepfunneled";
constexpr const char* kCelebaDir = "celeba/img_align_celeba";
constexpr const char* kCewDir = "cew/dataset_B_FacialImages";
// Top-level entries run_synth() writes (and, with overwrite, replaces).
const std::vector<std::string> kOutputs{"lfw", "celeba", "cew", "landmarks.csv", "synth.yaml"};

std::string printf_string(const char* format, ...) __attribute__((format(printf, 1, 2)));
std::string printf_string(const char* format, ...) {
  va_list args, copy;
  va_start(args, format);
  va_copy(copy, args);
  const int length = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  std::string out(static_cast<std::size_t>(std::max(length, 0)) + 1, '\0');
  std::vsnprintf(out.data(), out.size(), format, args);
  va_end(args);
  out.pop_back();
  return out;
}

/// One image to render; `paths` (relative to OUT) receive identical bytes.
struct Job {
  int identity = 0;  // global: LFW 0..N-1, CelebA N..2N-1
  int image = 0;     // 0-based within the identity
  EyeState state = EyeState::kOpen;
  std::vector<std::string> paths;
};

struct Landmarks {
  cv::Point2d left, right;
};

/// Exactly round(fraction * count) of `count` items closed, chosen by `rng`.
std::vector<EyeState> eye_states(int count, double fraction, Rng rng) {
  std::vector<int> order(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) order[static_cast<std::size_t>(i)] = i;
  rng.shuffle(order);
  const auto closed = static_cast<int>(std::lround(fraction * count));
  std::vector<EyeState> states(static_cast<std::size_t>(count), EyeState::kOpen);
  for (int i = 0; i < closed; ++i)
    states[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])] = EyeState::kClosed;
  return states;
}

// ---------------------------------------------------------------------------------------
// LFW protocol files
// ---------------------------------------------------------------------------------------

struct Pair {
  int a, i, b, j;  // identity indices (sorted-name order) and 1-based image numbers
  bool operator<(const Pair& o) const {
    return std::tie(a, i, b, j) < std::tie(o.a, o.i, o.b, o.j);
  }
};

/// Candidate identity pairs for fold f's different-person pairs: all pairs within the
/// fold, or (a fold with one identity) that identity with each of the next fold's.
std::vector<std::pair<int, int>> different_identity_pairs(
    const std::vector<std::vector<int>>& folds, int f) {
  std::vector<std::pair<int, int>> out;
  const auto& own = folds[static_cast<std::size_t>(f)];
  if (own.size() >= 2) {
    for (std::size_t x = 0; x < own.size(); ++x)
      for (std::size_t y = x + 1; y < own.size(); ++y)
        out.emplace_back(std::min(own[x], own[y]), std::max(own[x], own[y]));
  } else {
    for (int step = 1; step < kFolds && out.empty(); ++step)
      for (int other : folds[static_cast<std::size_t>((f + step) % kFolds)])
        out.emplace_back(std::min(own[0], other), std::max(own[0], other));
  }
  return out;
}

/// Picks `count` distinct pairs uniformly from `total` candidates given by `candidate(k)`
/// for k in [0, total): a partial shuffle when the candidates are few, rejection otherwise.
template <class Candidate>
std::vector<Pair> choose_pairs(std::int64_t total, int count, Rng& rng, Candidate candidate) {
  std::vector<Pair> chosen;
  if (total <= 200000) {
    std::vector<std::int64_t> index(static_cast<std::size_t>(total));
    for (std::int64_t k = 0; k < total; ++k) index[static_cast<std::size_t>(k)] = k;
    for (int k = 0; k < count; ++k) {
      const auto pick = static_cast<std::size_t>(rng.integer(k, total - 1));
      std::swap(index[static_cast<std::size_t>(k)], index[pick]);
      chosen.push_back(candidate(index[static_cast<std::size_t>(k)]));
    }
  } else {
    std::set<std::int64_t> seen;
    while (static_cast<int>(chosen.size()) < count) {
      const std::int64_t k = rng.integer(0, total - 1);
      if (seen.insert(k).second) chosen.push_back(candidate(k));
    }
  }
  std::sort(chosen.begin(), chosen.end());
  return chosen;
}

struct LfwProtocol {
  std::string pairs, people;
  int pairs_per_fold = 0;
};

LfwProtocol lfw_protocol(const std::vector<std::string>& names, int m, std::uint64_t seed) {
  const int n = static_cast<int>(names.size());
  std::vector<int> order(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
  Rng fold_rng(mix_seed(seed, kFoldStream));
  fold_rng.shuffle(order);
  std::vector<std::vector<int>> folds(kFolds);
  for (int p = 0; p < n; ++p)
    folds[static_cast<std::size_t>(p % kFolds)].push_back(order[static_cast<std::size_t>(p)]);
  for (auto& fold : folds) std::sort(fold.begin(), fold.end());

  const std::int64_t same_per_identity = static_cast<std::int64_t>(m) * (m - 1) / 2;
  std::int64_t pairs_per_fold = kMaxPairsPerFold;
  for (int f = 0; f < kFolds; ++f) {
    const auto size = static_cast<std::int64_t>(folds[static_cast<std::size_t>(f)].size());
    pairs_per_fold = std::min(pairs_per_fold, size * same_per_identity);
    pairs_per_fold =
        std::min(pairs_per_fold,
                 static_cast<std::int64_t>(different_identity_pairs(folds, f).size()) * m * m);
  }
  const int p = static_cast<int>(pairs_per_fold);

  LfwProtocol out;
  out.pairs_per_fold = p;
  out.pairs = printf_string("%d\t%d\n", kFolds, p);
  out.people = printf_string("%d\n", kFolds);
  // The image pairs (i, j), i < j, of one identity, enumerated in a fixed order.
  std::vector<std::pair<int, int>> image_pairs;
  for (int i = 1; i <= m; ++i)
    for (int j = i + 1; j <= m; ++j) image_pairs.emplace_back(i, j);

  for (int f = 0; f < kFolds; ++f) {
    const auto& fold = folds[static_cast<std::size_t>(f)];
    Rng rng(mix_seed(seed, kPairsStream, static_cast<std::uint64_t>(f)));
    const auto same = choose_pairs(
        static_cast<std::int64_t>(fold.size()) * same_per_identity, p, rng, [&](std::int64_t k) {
          const auto& ij = image_pairs[static_cast<std::size_t>(k % same_per_identity)];
          const int id = fold[static_cast<std::size_t>(k / same_per_identity)];
          return Pair{id, ij.first, id, ij.second};
        });
    const auto ids = different_identity_pairs(folds, f);
    const std::int64_t mm = static_cast<std::int64_t>(m) * m;
    const auto different =
        choose_pairs(static_cast<std::int64_t>(ids.size()) * mm, p, rng, [&](std::int64_t k) {
          const auto& ab = ids[static_cast<std::size_t>(k / mm)];
          const int r = static_cast<int>(k % mm);
          return Pair{ab.first, r / m + 1, ab.second, r % m + 1};
        });
    for (const auto& s : same)
      out.pairs +=
          printf_string("%s\t%d\t%d\n", names[static_cast<std::size_t>(s.a)].c_str(), s.i, s.j);
    for (const auto& d : different)
      out.pairs += printf_string("%s\t%d\t%s\t%d\n", names[static_cast<std::size_t>(d.a)].c_str(),
                                 d.i, names[static_cast<std::size_t>(d.b)].c_str(), d.j);
    out.people += printf_string("%zu\n", fold.size());
    for (int id : fold)
      out.people += printf_string("%s\t%d\n", names[static_cast<std::size_t>(id)].c_str(), m);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Output directory
// ---------------------------------------------------------------------------------------

void prepare_output(const SynthOptions& options) {
  const fs::path out(options.out);
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec || !fs::is_directory(out))
    throw UsageError("out: cannot create the output directory '" + options.out + "' (" +
                     (ec ? ec.message() : "not a directory") + "); choose a writable --out");
  const fs::path probe = out / ".wtp-synth-write-test";
  {
    std::ofstream test(probe);
    test << "x";
    test.close();
    if (!test)
      throw UsageError("out: the output directory '" + options.out +
                       "' is not writable; choose a writable --out");
  }
  fs::remove(probe, ec);

  std::vector<std::string> existing;
  for (const auto& name : kOutputs)
    if (fs::exists(out / name)) existing.push_back(name);
  if (existing.empty()) return;
  std::string list;
  for (const auto& name : existing) list += (list.empty() ? "" : ", ") + name;
  if (!options.overwrite)
    throw UsageError(
        "out: '" + options.out + "' already contains " + list +
        "; pass --overwrite to replace an earlier wtp-synth output, or choose another --out");
  if (!fs::exists(out / "synth.yaml"))
    throw UsageError("out: '" + options.out + "' contains " + list +
                     " but no synth.yaml, so it was not written by wtp-synth; refusing to delete "
                     "it even with --overwrite: choose another --out");
  for (const auto& name : existing) fs::remove_all(out / name);
}

}  // namespace

void SynthOptions::validate() const {
  require(!out.empty(), "out: the output directory is required (--out DIR)");
  require(
      identities >= 10,
      "identities: must be at least 10 (LFW's pairs.txt has 10 folds of distinct people), got " +
          std::to_string(identities));
  require(identities <= 100000,
          "identities: at most 100000 per dataset, got " + std::to_string(identities));
  require(images_per_identity >= 2,
          "images_per_identity: must be at least 2 (same-person pairs need two images), got " +
              std::to_string(images_per_identity));
  require(images_per_identity <= 9999,
          "images_per_identity: at most 9999 (LFW file names have 4 digits), got " +
              std::to_string(images_per_identity));
  require(static_cast<std::int64_t>(identities) * images_per_identity <= 999999,
          "identities x images_per_identity: at most 999999 images (CelebA file names have 6 "
          "digits), got " +
              std::to_string(static_cast<std::int64_t>(identities) * images_per_identity));
  require(size >= 32 && size <= 1024,
          "size: must be in [32, 1024] pixels, got " + std::to_string(size));
  require(closed_eye_fraction >= 0 && closed_eye_fraction <= 1,
          "closed_eye_fraction: must be in [0, 1], got " + std::to_string(closed_eye_fraction));
  require(jpeg_quality >= 50 && jpeg_quality <= 100,
          "jpeg_quality: must be in [50, 100], got " + std::to_string(jpeg_quality));
  require(threads >= 0, "threads: must be >= 0 (0 = all cores), got " + std::to_string(threads));
}

void write_bytes(const fs::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw std::runtime_error("wtp-synth: cannot write " + path.string());
}

FaceIdentity dataset_identity(std::uint64_t seed, int identity) {
  return sample_identity(mix_seed(seed, kIdentityStream, static_cast<std::uint64_t>(identity)));
}

std::vector<std::string> make_names(int count, std::uint64_t seed) {
  static const char* const kOnsets[] = {
      "b", "c", "d",  "f",  "g",  "h",  "j",  "k",  "l",  "m",  "n", "p", "r", "s", "t", "v",
      "w", "z", "br", "ch", "cl", "dr", "gr", "sh", "st", "tr", "",  "l", "m", "r", "n", "s"};
  static const char* const kVowels[] = {"a", "e", "i", "o",  "u",  "a", "e",
                                        "i", "o", "a", "ie", "ou", "ai"};
  static const char* const kCodas[] = {"",  "",  "",   "",   "n", "r",  "l",
                                       "s", "m", "nd", "rt", "x", "th", "ck"};
  Rng rng(mix_seed(seed, kNameStream));
  auto pick = [&](const auto& list) {
    return std::string(list[rng.integer(0, static_cast<std::int64_t>(std::size(list)) - 1)]);
  };
  auto word = [&](int syllables) {
    std::string w;
    for (int s = 0; s < syllables; ++s) w += pick(kOnsets) + pick(kVowels);
    w += pick(kCodas);
    w[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(w[0])));
    return w;
  };
  std::set<std::string> seen;
  std::vector<std::string> names;
  while (static_cast<int>(names.size()) < count) {
    std::string name = word(static_cast<int>(rng.integer(2, 3)));
    if (rng.bernoulli(0.1)) name += "_" + word(static_cast<int>(rng.integer(1, 2)));
    name += "_" + word(static_cast<int>(rng.integer(1, 3)));
    if (rng.bernoulli(0.05)) name += "-" + word(static_cast<int>(rng.integer(1, 2)));
    if (name.size() < 5 || !seen.insert(name).second) continue;
    names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

SynthSummary run_synth(const SynthOptions& options) {
  options.validate();
  prepare_output(options);
  const auto start = std::chrono::steady_clock::now();
  const fs::path out(options.out);
  const int n = options.identities, m = options.images_per_identity;
  const std::uint64_t seed = options.seed;

  // ---- LFW (identities 0..n-1, sorted by name) with CEW copies ----
  const auto names = make_names(n, seed);
  std::vector<Job> jobs;
  jobs.reserve(static_cast<std::size_t>(2 * n * m));
  const auto lfw_states =
      eye_states(n * m, options.closed_eye_fraction, Rng(mix_seed(seed, kEyeStateStream, 0)));
  std::vector<std::pair<std::string, std::size_t>> cew_open, cew_closed;  // file, job
  for (int id = 0; id < n; ++id) {
    const auto& name = names[static_cast<std::size_t>(id)];
    fs::create_directories(out / kLfwDir / name);
    for (int k = 0; k < m; ++k) {
      Job job;
      job.identity = id;
      job.image = k;
      job.state = lfw_states[static_cast<std::size_t>(id * m + k)];
      const std::string file = printf_string("%s_%04d.jpg", name.c_str(), k + 1);
      job.paths.push_back(std::string(kLfwDir) + "/" + name + "/" + file);
      if (job.state == EyeState::kOpen) {
        job.paths.push_back(std::string(kCewDir) + "/OpenFace/" + file);
        cew_open.emplace_back(file, jobs.size());
      } else {
        const std::string closed =
            printf_string("closed_eye_%04zu.jpg_face_1.jpg", cew_closed.size() + 1);
        job.paths.push_back(std::string(kCewDir) + "/ClosedFace/" + closed);
        cew_closed.emplace_back(closed, jobs.size());
      }
      jobs.push_back(std::move(job));
    }
  }
  const std::size_t lfw_jobs = jobs.size();

  // ---- CelebA (identities n..2n-1): identity-disjoint partition, files train first ----
  std::vector<int> by_partition(static_cast<std::size_t>(n));  // local id -> partition
  {
    std::vector<int> order(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
    Rng rng(mix_seed(seed, kPartitionStream));
    rng.shuffle(order);
    const int held_out = std::max(1, static_cast<int>(std::lround(n / 10.0)));
    for (int p = 0; p < n; ++p)
      by_partition[static_cast<std::size_t>(order[static_cast<std::size_t>(p)])] =
          p < held_out       ? 2
          : p < 2 * held_out ? 1
                             : 0;
  }
  std::vector<int> celeba_id(static_cast<std::size_t>(n));  // local id -> 1-based file id
  {
    for (int i = 0; i < n; ++i) celeba_id[static_cast<std::size_t>(i)] = i + 1;
    Rng rng(mix_seed(seed, kCelebaIdStream));
    rng.shuffle(celeba_id);
  }
  const auto celeba_states =
      eye_states(n * m, options.closed_eye_fraction, Rng(mix_seed(seed, kEyeStateStream, 1)));
  std::vector<std::pair<int, int>> celeba_files;  // (local id, image) in file order
  {
    Rng rng(mix_seed(seed, kCelebaOrderStream));
    for (int part = 0; part < 3; ++part) {
      std::vector<std::pair<int, int>> group;
      for (int id = 0; id < n; ++id)
        if (by_partition[static_cast<std::size_t>(id)] == part)
          for (int k = 0; k < m; ++k) group.emplace_back(id, k);
      rng.shuffle(group);
      celeba_files.insert(celeba_files.end(), group.begin(), group.end());
    }
  }
  std::string identity_txt, partition_txt;
  SynthSummary summary;
  for (std::size_t f = 0; f < celeba_files.size(); ++f) {
    const auto [id, k] = celeba_files[f];
    const std::string file = printf_string("%06zu.jpg", f + 1);
    Job job;
    job.identity = n + id;
    job.image = k;
    job.state = celeba_states[static_cast<std::size_t>(id * m + k)];
    job.paths.push_back(std::string(kCelebaDir) + "/" + file);
    jobs.push_back(std::move(job));
    identity_txt += printf_string("%s %d\n", file.c_str(), celeba_id[static_cast<std::size_t>(id)]);
    const int part = by_partition[static_cast<std::size_t>(id)];
    partition_txt += printf_string("%s %d\n", file.c_str(), part);
    ++summary.celeba_partition[part];
  }
  fs::create_directories(out / kCelebaDir);
  fs::create_directories(out / kCewDir / "OpenFace");
  fs::create_directories(out / kCewDir / "ClosedFace");

  // ---- Render and write, in parallel; every job has its own random streams ----
  std::vector<Landmarks> landmarks(jobs.size());
  const int threads =
      std::max(1, std::min<int>(options.threads > 0 ? options.threads : available_cores(),
                                static_cast<int>(jobs.size())));
  {
    Progress progress("wtp-synth", static_cast<std::int64_t>(jobs.size()), "img");
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr error;
    std::mutex error_mutex;
    const std::vector<int> params{cv::IMWRITE_JPEG_QUALITY,     options.jpeg_quality,
                                  cv::IMWRITE_JPEG_OPTIMIZE,    0,
                                  cv::IMWRITE_JPEG_PROGRESSIVE, 0};
    auto worker = [&] {
      try {
        std::vector<uchar> encoded;
        for (std::size_t j = next++; j < jobs.size() && !failed; j = next++) {
          const Job& job = jobs[j];
          const auto identity = dataset_identity(seed, job.identity);
          const auto variation = sample_variation(
              mix_seed(seed, kImageStream, static_cast<std::uint64_t>(job.identity),
                       static_cast<std::uint64_t>(job.image)),
              job.state);
          const RenderedFace face = render_face(identity, variation, options.size);
          if (!cv::imencode(".jpg", face.image, encoded, params))
            throw std::runtime_error("wtp-synth: JPEG encoding failed for " + job.paths[0]);
          const std::string bytes(encoded.begin(), encoded.end());
          for (const auto& path : job.paths) write_bytes(out / path, bytes);
          landmarks[j] = {face.left_eye, face.right_eye};
          progress.advance();
        }
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        failed = true;
      }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
    worker();
    for (auto& thread : pool) thread.join();
    if (error) std::rethrow_exception(error);
  }

  // ---- Text files ----
  const LfwProtocol protocol = lfw_protocol(names, m, seed);
  write_bytes(out / "lfw/pairs.txt", protocol.pairs);
  write_bytes(out / "lfw/people.txt", protocol.people);
  write_bytes(out / "celeba/identity_CelebA.txt", identity_txt);
  write_bytes(out / "celeba/list_eval_partition.txt", partition_txt);

  auto eye_line = [&](const std::string& file, std::size_t job) {
    const auto& l = landmarks[job];
    return printf_string("%s %ld %ld %ld %ld\n", file.c_str(), std::lround(l.left.x),
                         std::lround(l.left.y), std::lround(l.right.x), std::lround(l.right.y));
  };
  std::sort(cew_open.begin(), cew_open.end());
  std::sort(cew_closed.begin(), cew_closed.end());
  std::string open_txt, closed_txt;
  for (const auto& [file, job] : cew_open) open_txt += eye_line(file, job);
  for (const auto& [file, job] : cew_closed) closed_txt += eye_line(file, job);
  write_bytes(out / kCewDir / "EyeCoordinatesInfo_OpenFace.txt", open_txt);
  write_bytes(out / kCewDir / "EyeCoordinatesInfo_ClosedFace.txt", closed_txt);

  std::string csv = "path,left_eye_x,left_eye_y,right_eye_x,right_eye_y,eye_state\n";
  auto csv_line = [&](const std::string& path, std::size_t job) {
    const auto& l = landmarks[job];
    return printf_string("%s,%.4f,%.4f,%.4f,%.4f,%s\n", path.c_str(), l.left.x, l.left.y, l.right.x,
                         l.right.y, config::enum_name(jobs[job].state).c_str());
  };
  for (std::size_t j = 0; j < lfw_jobs; ++j) csv += csv_line(jobs[j].paths[0], j);
  for (std::size_t j = lfw_jobs; j < jobs.size(); ++j) csv += csv_line(jobs[j].paths[0], j);
  for (const auto& [file, job] : cew_open)
    csv += csv_line(std::string(kCewDir) + "/OpenFace/" + file, job);
  for (const auto& [file, job] : cew_closed)
    csv += csv_line(std::string(kCewDir) + "/ClosedFace/" + file, job);
  write_bytes(out / "landmarks.csv", csv);

  // The options that determine the content; reproduce with `wtp-synth --config synth.yaml --out
  // DIR`.
  config::Node resolved = config::encode(options);
  for (const char* key : {"out", "threads", "overwrite"}) resolved.erase(key);
  std::string yaml = config::to_yaml(resolved);
  if (yaml.empty() || yaml.back() != '\n') yaml += '\n';
  write_bytes(out / "synth.yaml", yaml);

  summary.out = options.out;
  summary.lfw_identities = n;
  summary.lfw_images = static_cast<int>(lfw_jobs);
  summary.pairs_per_fold = protocol.pairs_per_fold;
  summary.folds = kFolds;
  summary.celeba_identities = n;
  summary.celeba_images = static_cast<int>(jobs.size() - lfw_jobs);
  summary.cew_open = static_cast<int>(cew_open.size());
  summary.cew_closed = static_cast<int>(cew_closed.size());
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  log::debug("wtp-synth: wrote ", jobs.size(), " images to ", options.out, " in ", summary.seconds,
             " s");
  return summary;
}

}  // namespace wtp::synth
