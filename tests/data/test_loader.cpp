#include <chrono>
#include <opencv2/imgcodecs.hpp>
#include <thread>

#include "catch_torch.h"
#include "core/error.h"
#include "core/random.h"
#include "data/builtin_transforms.h"
#include "data/image_folder.h"
#include "data/loader.h"
#include "fixtures.h"
#include "test_support.h"

using namespace wtp;
using namespace wtp::data;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

// 12 noise PNGs of varying size in 3 classes: "c0/i00.png" ... "c2/i11.png".
std::shared_ptr<const Dataset> noise_folder(const fs::path& root,
                                            CorruptPolicy policy = CorruptPolicy::kFail) {
  for (int i = 0; i < 12; ++i) {
    cv::Mat m(10 + i, 14 + i % 3, CV_8UC3);
    Rng rng(static_cast<std::uint64_t>(i));
    for (auto it = m.begin<cv::Vec3b>(); it != m.end<cv::Vec3b>(); ++it)
      for (int c = 0; c < 3; ++c) (*it)[c] = static_cast<uchar>(rng.integer(0, 255));
    const fs::path path = root / ("c" + std::to_string(i / 4)) /
                          ("i" + std::string(i < 10 ? "0" : "") + std::to_string(i) + ".png");
    fs::create_directories(path.parent_path());
    cv::imwrite(path.string(), m);
  }
  ImageFolderOptions o;
  o.root = root.string();
  o.on_corrupt = policy;
  return std::make_shared<const Dataset>(load_image_folder(o));
}

std::shared_ptr<const Pipeline> augmenting_pipeline() {
  return std::make_shared<const Pipeline>(std::vector<TransformPtr>{
      std::make_shared<RandomResizedCrop>([] {
        RandomResizedCropOptions o;
        o.size = 8;
        return o;
      }()),
      std::make_shared<HorizontalFlip>(FlipOptions{0.5}),
      std::make_shared<ColorJitter>(ColorJitterOptions{0.3, 0.3}),
      std::make_shared<Normalize>(NormalizeOptions{NormalizePreset::kImagenet})});
}

const std::vector<IndexBatch> kBatches = {{0, 1, 2},      {3, 4, 5, 6}, {7},
                                          {8, 9, 10, 11}, {2, 2, 5},    {11, 0}};

std::vector<Batch> collect(const std::shared_ptr<const Dataset>& d, int workers, int prefetch,
                           std::uint64_t seed = 5) {
  LoaderOptions o;
  o.workers = workers;
  o.prefetch = prefetch;
  o.seed = seed;
  o.epoch = 3;
  BatchLoader loader(d, augmenting_pipeline(), fixed_batches(kBatches), o);
  std::vector<Batch> out;
  while (auto b = loader.next()) out.push_back(std::move(*b));
  return out;
}

struct PairBatch {  // the shape of wtp::samplers::Batch
  std::vector<std::int64_t> indices, partners, pair_labels;
};
struct PairSampler {  // the samplers' interface: next() -> optional<Batch>
  bool done = false;
  std::optional<PairBatch> next() {
    if (done) return std::nullopt;
    done = true;
    return PairBatch{{0, 5}, {1, 9}, {0, 1}};
  }
};

struct CountingSampler {  // a plain next() -> optional<vector<int64_t>>
  int calls = 0;
  std::optional<std::vector<std::int64_t>> next() {
    if (calls == 3) return std::nullopt;
    ++calls;
    return std::vector<std::int64_t>{calls, calls + 1};
  }
};

}  // namespace

TEST_CASE("loader: same batches for any thread count and prefetch depth", "[data][loader]") {
  test::TempDir tmp;
  const auto d = noise_folder(tmp.path());
  const auto reference = collect(d, 0, 1);
  REQUIRE(reference.size() == kBatches.size());
  for (const auto& [workers, prefetch] :
       std::vector<std::pair<int, int>>{{1, 1}, {4, 1}, {4, 8}, {2, 3}}) {
    const auto other = collect(d, workers, prefetch);
    REQUIRE(other.size() == reference.size());
    for (std::size_t b = 0; b < reference.size(); ++b) {
      INFO("workers " << workers << " prefetch " << prefetch << " batch " << b);
      REQUIRE(torch::equal(other[b].images, reference[b].images));
      REQUIRE(torch::equal(other[b].labels, reference[b].labels));
      REQUIRE(other[b].indices == reference[b].indices);
    }
  }
  // Batches dropped by the consumer recycle their buffers: still the same content.
  {
    LoaderOptions o;
    o.workers = 2;
    o.prefetch = 1;
    o.seed = 5;
    o.epoch = 3;
    BatchLoader loader(d, augmenting_pipeline(), fixed_batches(kBatches), o);
    std::size_t b = 0;
    while (auto batch = loader.next()) {
      REQUIRE(torch::equal(batch->images, reference[b].images));
      ++b;
    }
    CHECK(b == reference.size());
  }
  // Shapes, labels, contiguity, order of the source.
  for (std::size_t b = 0; b < kBatches.size(); ++b) {
    const auto& batch = reference[b];
    CHECK(batch.number == static_cast<std::int64_t>(b));
    CHECK(batch.indices == kBatches[b]);
    CHECK(batch.images.sizes() ==
          torch::IntArrayRef({static_cast<std::int64_t>(kBatches[b].size()), 3, 8, 8}));
    CHECK(batch.images.is_contiguous());
    CHECK(batch.images.dtype() == torch::kFloat32);
    for (std::size_t k = 0; k < kBatches[b].size(); ++k)
      CHECK(batch.labels[static_cast<std::int64_t>(k)].item<std::int64_t>() == kBatches[b][k] / 4);
  }
  // Each row is the pipeline applied with the documented per-item seed.
  const auto pipeline = augmenting_pipeline();
  const std::size_t b = 4, slot = 1;  // index 2, second time in this batch
  Rng rng(mix_seed(mix_seed(5, 3), b, slot, 2));
  const torch::Tensor expected = (*pipeline)(read_image(d->path(2), ChannelOrder::kBgr), rng);
  CHECK(torch::equal(reference[b].images[static_cast<std::int64_t>(slot)], expected));
  // The duplicate of index 2 in the same batch gets its own stream.
  CHECK_FALSE(torch::equal(reference[b].images[0], reference[b].images[1]));
  // Another seed changes the augmentation.
  CHECK_FALSE(torch::equal(collect(d, 2, 2, 6)[0].images, reference[0].images));
}

TEST_CASE("loader: first_batch continues an epoch with the same augmentation", "[data][loader]") {
  test::TempDir tmp;
  const auto d = noise_folder(tmp.path());
  const auto reference = collect(d, 1, 2);
  // Resume after the first two batches: the rest must be identical.
  LoaderOptions o;
  o.workers = 2;
  o.prefetch = 2;
  o.seed = 5;
  o.epoch = 3;
  o.first_batch = 2;
  BatchLoader loader(d, augmenting_pipeline(),
                     fixed_batches(std::vector<IndexBatch>(kBatches.begin() + 2, kBatches.end())),
                     o);
  std::size_t b = 2;
  while (auto batch = loader.next()) {
    INFO("batch " << b);
    CHECK(batch->number == static_cast<std::int64_t>(b));
    CHECK(torch::equal(batch->images, reference[b].images));
    ++b;
  }
  CHECK(b == kBatches.size());
}

TEST_CASE("loader: a corrupt image fails with its path in the batch that holds it",
          "[data][loader]") {
  test::TempDir tmp;
  const auto d = noise_folder(tmp.path());
  test::write_text(d->path(5), "garbage, not a PNG");
  for (int workers : {0, 3}) {
    LoaderOptions o;
    o.workers = workers;
    o.prefetch = 4;
    BatchLoader loader(d, augmenting_pipeline(), fixed_batches(kBatches), o);
    auto first = loader.next();
    REQUIRE(first);
    CHECK(first->indices == kBatches[0]);
    CHECK_THROWS_WITH(loader.next(),
                      Contains("i05.png") && Contains("not an image in a supported format"));
    CHECK_FALSE(loader.next());  // stopped after the error
  }
  // A missing file too.
  fs::remove(d->path(7));
  LoaderOptions o;
  o.workers = 2;
  BatchLoader loader(d, augmenting_pipeline(), fixed_batches({{7}}), o);
  CHECK_THROWS_WITH(loader.next(), Contains("i07.png") && Contains("no such file"));
}

TEST_CASE("loader: skip policy drops the item and counts it", "[data][loader]") {
  test::TempDir tmp;
  const auto good = noise_folder(tmp / "good");
  const auto d = noise_folder(tmp / "bad", CorruptPolicy::kSkip);
  test::write_text(d->path(5), "garbage");
  test::write_text(d->path(7), "garbage");
  const auto reference = collect(good, 0, 1);
  const auto got = collect(d, 3, 2);
  // Batch {7} vanishes entirely; {3,4,5,6} loses its third row; {2,2,5} its last.
  REQUIRE(got.size() == kBatches.size() - 1);
  CHECK(got[1].indices == IndexBatch({3, 4, 6}));
  CHECK(got[1].skipped == 1);
  CHECK(got[1].images.size(0) == 3);
  CHECK(got[1].labels.size(0) == 3);
  CHECK(torch::equal(got[1].images[0], reference[1].images[0]));
  CHECK(torch::equal(got[1].images[2], reference[1].images[3]));  // moved up, same content
  CHECK(got[1].labels[2].item<std::int64_t>() == 1);
  CHECK(got[2].number == 3);  // batch 2 ({7}) was dropped
  CHECK(got[3].indices == IndexBatch({2, 2}));
  LoaderOptions o;
  o.workers = 2;
  BatchLoader loader(d, augmenting_pipeline(), fixed_batches(kBatches), o);
  while (loader.next()) {
  }
  CHECK(loader.skipped() == 3);  // 5 twice, 7 once
  CHECK(loader.skipped_files().size() == 3);
}

TEST_CASE("loader: early stop and stop from another thread never deadlock", "[data][loader]") {
  test::TempDir tmp;
  const auto d = noise_folder(tmp.path());
  std::vector<IndexBatch> many;
  for (int i = 0; i < 500; ++i) many.push_back({i % 12, (i + 1) % 12, (i + 5) % 12});
  for (int prefetch : {1, 2, 16}) {
    LoaderOptions o;
    o.workers = 4;
    o.prefetch = prefetch;
    BatchLoader loader(d, augmenting_pipeline(), fixed_batches(many), o);
    REQUIRE(loader.next());
    REQUIRE(loader.next());
  }  // destroyed with work pending
  {
    LoaderOptions o;
    o.workers = 2;
    BatchLoader loader(d, augmenting_pipeline(), fixed_batches(many), o);
    std::thread stopper([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      loader.stop();
    });
    int n = 0;
    while (loader.next()) ++n;
    stopper.join();
    CHECK(n <= 500);
    loader.stop();  // idempotent
  }
}

TEST_CASE("loader: sampler adapter and bad indices and sizes", "[data][loader]") {
  test::TempDir tmp;
  const auto d = noise_folder(tmp.path());
  CountingSampler sampler;
  LoaderOptions o;
  o.workers = 1;
  o.prefetch = 1;
  BatchLoader loader(d, augmenting_pipeline(), batches_from(sampler), o);
  std::vector<IndexBatch> seen;
  while (auto b = loader.next()) seen.push_back(b->indices);
  CHECK(seen == std::vector<IndexBatch>({{1, 2}, {2, 3}, {3, 4}}));

  // Pair batches: first items, then partners; pair labels follow from the labels.
  PairSampler pairs;
  BatchLoader pair_loader(d, augmenting_pipeline(), batches_from(pairs), o);
  auto pb = pair_loader.next();
  REQUIRE(pb);
  CHECK(pb->indices == IndexBatch({0, 5, 1, 9}));
  CHECK((pb->labels[0] != pb->labels[2]).item<bool>() == false);  // 0 and 1: class c0
  CHECK((pb->labels[1] != pb->labels[3]).item<bool>() == true);   // 5 (c1) and 9 (c2)
  CHECK_FALSE(pair_loader.next());

  BatchLoader bad(d, augmenting_pipeline(), fixed_batches({{0}, {12}}), LoaderOptions{});
  CHECK(bad.next());  // the batch before the bad one comes out normally
  CHECK_THROWS_WITH(bad.next(), Contains("index 12") && Contains("outside"));

  // A pipeline that does not fix the size needs height/width.
  auto free = std::make_shared<const Pipeline>();
  CHECK_THROWS_WITH(BatchLoader(d, free, fixed_batches({{0}}), LoaderOptions{}),
                    Contains("do not fix"));
  // With height/width set, an image of another size is an error naming it.
  o.height = 10;
  o.width = 14;
  BatchLoader sized(d, free, fixed_batches({{0}, {1}}), o);
  CHECK(sized.next()->images.sizes() == torch::IntArrayRef({1, 3, 10, 14}));
  CHECK_THROWS_WITH(sized.next(), Contains("i01.png") && Contains("15x11"));
}
