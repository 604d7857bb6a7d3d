// Data-parallel training through the real launch contract: wtp-launch / wtp-train processes
// on 127.0.0.1, tiny synthetic runs.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "catch_torch.h"
#include "dist_helpers.h"
#include "samplers/sampler.h"
#include "test_support.h"
#include "train/checkpoint.h"
#include "train/metrics_csv.h"

namespace fs = std::filesystem;
using wtp::test::bin_dir;
using wtp::test::free_port;
using wtp::test::run_command;
using wtp::test::TempDir;

namespace {

/// Synthetic faces shared by the tests of this file (generated once, by wtp-train's synth).
const fs::path& synth_dir() {
  static TempDir dir;
  return dir.path();
}

/// A tiny run (tests/support's tiny base: 30 identities x 6 images at 32 px, small CNN,
/// the synthetic data shared by this file's tests) as a config file in `dir`; `stages` is
/// the YAML list of stages, `model_extra` extra keys of the model (indented by 2).
fs::path write_config(const fs::path& dir, const std::string& stages,
                      const std::string& model_extra = "") {
  std::ofstream(dir / "tiny_base.yaml") << wtp::test::tiny_base_yaml(synth_dir());
  std::ostringstream y;
  y << "include: tiny_base.yaml\n"
    << "seed: 5\n"
    << "out: " << (dir / "run").string() << "\n";
  if (!model_extra.empty()) y << "model:\n" << model_extra;
  y << "stages:\n" << stages;
  const fs::path path = dir / "config.yaml";
  std::ofstream(path) << y.str();
  return path;
}

std::string train_bin() { return (bin_dir() / "wtp-train").string(); }

/// "step -> value" of metric `metric` (split train) in a metrics.csv.
std::map<long, double> train_metric(const fs::path& csv, const std::string& metric) {
  std::map<long, double> out;
  for (const auto& row : wtp::train::read_metric_rows(csv))
    if (row.split == "train" && row.metric == metric) out[row.step] = row.value;
  return out;
}

/// The "rank R final weights checksum X" values logged by the ranks.
std::map<int, std::string> checksums(const std::string& output) {
  std::map<int, std::string> out;
  std::regex re("rank ([0-9]+) final weights checksum ([0-9]+)");
  for (auto it = std::sregex_iterator(output.begin(), output.end(), re);
       it != std::sregex_iterator(); ++it)
    out[std::stoi((*it)[1])] = (*it)[2];
  return out;
}

const char* kTwoStages =
    "  - {name: classification, epochs: 2, loss: cross_entropy,\n"
    "     sampler: {name: class_balanced, classes_per_batch: 4, images_per_class: 3},\n"
    "     optimizer: {name: adam, lr: 0.002}}\n"
    "  - {name: group, epochs: 1, loss: {name: group_loss, labelled_per_class: 1},\n"
    "     sampler: {name: class_balanced, classes_per_batch: 4, images_per_class: 3},\n"
    "     optimizer: {name: adam, lr: 0.001}}\n";

}  // namespace

TEST_CASE("2 local ranks train a quick-start-like run and end with bit-identical weights",
          "[dist][train]") {
  TempDir dir;
  const fs::path config = write_config(dir.path(), kTwoStages);
  auto r = run_command(bin_dir().string() + "/wtp-launch --nproc 2 --master-port " +
                       std::to_string(free_port()) + " --dist-timeout 60 -- " + train_bin() +
                       " --config " + config.string() + " --no-progress --threads 1");
  INFO(r.output);
  REQUIRE(r.status == 0);
  const auto sums = checksums(r.output);
  REQUIRE(sums.size() == 2);
  CHECK(sums.at(0) == sums.at(1));
  // Rank 0 wrote the run directory; the steps are those of one shard.
  const fs::path run = dir / "run";
  for (const char* f : {"metrics.csv", "curves.png", "eval.json", "train.log",
                        "checkpoints/last.pt", "checkpoints/best.pt"})
    CHECK(fs::exists(run / f));
  CHECK_THAT(wtp::test::read_file(run / "train.log"),
             Catch::Contains("distributed: rank 0 of 2 (gloo, 1 threads"));
  // 18 training identities x 6 images, 4 classes x 3 images per batch: Q = 36 chunks,
  // B = ceil(36 / 4) = 9 global batches rounded up to a multiple of R = 2 -> 10, 5 per rank;
  // 2 + 1 epochs -> 15 steps.
  const auto loss = train_metric(run / "metrics.csv", "loss");
  CHECK(loss.size() == 15);
  // The saved model is rank 0's, which is every rank's.
  auto state = wtp::train::read_checkpoint_state((run / "checkpoints" / "last.pt").string());
  CHECK(state.global_step == 15);
}

TEST_CASE("the 2-rank loss equals the 1-rank loss at the same global batch", "[dist][train]") {
  // Frozen backbone (its BatchNorm uses running statistics): every remaining layer is
  // per-sample, so a global batch of 12 split 6 + 6 over two ranks must give the same loss
  // and, with averaged gradients, the same updates as 12 on one rank. The random sampler's
  // epoch order does not depend on the batch size: 1-rank batch k = 2-rank batches 2k, 2k+1.
  auto stages = [](int batch) {
    return "  - {name: head, epochs: 2, max_steps_per_epoch: 4, loss: cross_entropy,\n"
           "     sampler: {name: random, batch_size: " +
           std::to_string(batch) +
           ", drop_last: true},\n"
           "     optimizer: {name: sgd, lr: 0.5, momentum: 0.9}}\n";
  };
  const std::string frozen = "  freeze_backbone: true\n";
  TempDir one, two;
  auto a = run_command(train_bin() + " --config " +
                       write_config(one.path(), stages(12), frozen).string() +
                       " --no-progress --threads 1");
  INFO(a.output);
  REQUIRE(a.status == 0);
  auto b = run_command(bin_dir().string() + "/wtp-launch --nproc 2 --master-port " +
                       std::to_string(free_port()) + " -- " + train_bin() + " --config " +
                       write_config(two.path(), stages(6), frozen).string() +
                       " --no-progress --threads 1");
  INFO(b.output);
  REQUIRE(b.status == 0);
  const auto la = train_metric(one / "run" / "metrics.csv", "loss");
  const auto lb = train_metric(two / "run" / "metrics.csv", "loss");
  REQUIRE(la.size() == 8);
  REQUIRE(lb.size() == 8);
  double worst = 0;
  for (const auto& [step, value] : la) {
    INFO("step " << step << ": 1 rank " << value << ", 2 ranks " << lb.at(step));
    worst = std::max(worst, std::abs(value - lb.at(step)) / std::abs(value));
    CHECK(std::abs(value - lb.at(step)) <= 1e-5 * std::abs(value));
  }
  WARN("largest relative difference of the loss over 8 steps, 1 vs 2 ranks: " << worst);
  // The loss moved: the steps were not all the same (the test would not see a broken update).
  CHECK(std::abs(la.at(1) - la.at(8)) > 1e-3);
}

TEST_CASE("the training shards of an epoch are disjoint and cover it", "[dist][train]") {
  // As the trainer builds them: one sampler per rank with its shard, full rounds only.
  std::vector<std::int64_t> labels;
  for (int c = 0; c < 18; ++c)
    for (int i = 0; i < 6; ++i) labels.push_back(c);
  auto shards = [&](const std::string& name, const std::string& options, int world) {
    std::vector<std::vector<wtp::samplers::Batch>> out;
    std::vector<wtp::samplers::Batch> plan;
    for (int rank = 0; rank < world; ++rank) {
      wtp::samplers::SamplerInput input;
      input.labels = labels;
      input.seed = 9;
      input.shard = {rank, world};
      auto sampler = wtp::samplers::sampler_registry().create(
          {name, wtp::config::parse(options, "test")}, input);
      auto* planned = dynamic_cast<wtp::samplers::PlannedSampler*>(sampler.get());
      REQUIRE(planned);
      plan = planned->global_plan(3);
      const std::int64_t steps = planned->global_batches() / world;
      sampler->set_epoch(3);
      out.emplace_back();
      for (std::int64_t k = 0; k < steps; ++k) out.back().push_back(*sampler->next());
    }
    return std::make_pair(out, plan);
  };
  SECTION("class_balanced: every global batch goes to exactly one rank") {
    for (int world : {1, 2, 3}) {
      auto [ranks, plan] =
          shards("class_balanced", "{classes_per_batch: 4, images_per_class: 3}", world);
      INFO("world " << world);
      // 36 chunks of 3 -> 9 batches, rounded up to a multiple of the world size.
      CHECK(plan.size() == static_cast<std::size_t>((9 + world - 1) / world * world));
      std::vector<int> taken(plan.size(), 0);
      std::set<std::int64_t> items;
      for (const auto& mine : ranks) {
        CHECK(mine.size() == plan.size() / static_cast<std::size_t>(world));  // equal steps
        for (const auto& b : mine) {
          auto it = std::find(plan.begin(), plan.end(), b);
          REQUIRE(it != plan.end());
          ++taken[static_cast<std::size_t>(it - plan.begin())];
          items.insert(b.indices.begin(), b.indices.end());
        }
      }
      for (int t : taken) CHECK(t == 1);     // disjoint, and together the whole epoch
      CHECK(items.size() == labels.size());  // every image seen in the epoch
    }
  }
  SECTION("random: the items of the ranks are disjoint; full rounds cover the epoch") {
    for (int world : {2, 3, 4}) {
      auto [ranks, plan] = shards("random", "{batch_size: 6, drop_last: true}", world);
      INFO("world " << world);
      std::multiset<std::int64_t> seen;
      for (const auto& mine : ranks)
        for (const auto& b : mine) seen.insert(b.indices.begin(), b.indices.end());
      std::set<std::int64_t> unique(seen.begin(), seen.end());
      CHECK(unique.size() == seen.size());  // disjoint
      // 108 items = 18 batches of 6: whole rounds of 2 and 3 ranks cover them; 4 ranks
      // take 4 rounds (16 batches) and leave 2 batches out rather than repeat any.
      CHECK(seen.size() == (world == 4 ? 96u : 108u));
    }
  }
}

TEST_CASE("a killed rank makes the other exit non-zero within the timeout, and the run resumes",
          "[dist][train][fault]") {
  TempDir dir;
  const std::string stages =
      "  - {name: classification, epochs: 3, loss: cross_entropy,\n"
      "     sampler: {name: class_balanced, classes_per_batch: 4, images_per_class: 3},\n"
      "     optimizer: {name: adam, lr: 0.002}}\n";
  const fs::path config = write_config(dir.path(), stages);
  const fs::path run = dir / "run";
  const int port = free_port();
  // Two ranks started by hand (no launcher to stop the survivor), collective timeout 6 s
  // (it also bounds joining and the other rank's validation: room for a loaded machine).
  auto start = [&](int rank) {
    const std::string log = (dir / ("rank" + std::to_string(rank) + ".log")).string();
    const std::string cmd =
        "cd " + dir.path().string() + " && (RANK=" + std::to_string(rank) +
        " WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port) +
        " WTP_DIST_TIMEOUT=6 " + train_bin() + " --config " + config.string() +
        " --no-progress --threads 1 > " + log + " 2>&1; echo $? > rank" + std::to_string(rank) +
        ".code) &";
    REQUIRE(std::system(cmd.c_str()) == 0);
  };
  start(0);
  start(1);
  auto wait_for = [](const fs::path& file, double seconds) {
    const auto until = std::chrono::steady_clock::now() +
                       std::chrono::milliseconds(static_cast<long>(seconds * 1000));
    while (!fs::exists(file) && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return fs::exists(file);
  };
  // After the first epoch's checkpoint, rank 1 dies.
  REQUIRE(wait_for(run / "checkpoints" / "last.pt", 120));
  const std::string find_rank1 =
      "for p in $(pgrep -f '" + config.string() +
      "'); do "
      "if tr '\\0' '\\n' < /proc/$p/environ 2>/dev/null | grep -qx RANK=1; then echo $p; fi; done";
  auto found = run_command(find_rank1);
  REQUIRE_FALSE(found.output.empty());
  const int rank1 = std::stoi(found.output);
  const auto killed = std::chrono::steady_clock::now();
  REQUIRE(::kill(rank1, SIGKILL) == 0);
  REQUIRE(wait_for(dir / "rank0.code", 60));
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - killed).count();
  const std::string code = wtp::test::read_file(dir / "rank0.code");
  const std::string log0 = wtp::test::read_file(dir / "rank0.log");
  INFO(log0);
  CHECK(std::stoi(code) == 1);
  CHECK_THAT(log0, Catch::Contains("wtp-train: failed: distributed: rank 0 of 2:") &&
                       Catch::Contains("collective timeout 6 s") &&
                       Catch::Contains("resume with wtp-train --resume"));
  CHECK(took < 6 + 10);  // within the timeout (plus the step in flight)

  // Resume on one rank (a different world size) from the last epoch checkpoint.
  auto state = wtp::train::read_checkpoint_state((run / "checkpoints" / "last.pt").string());
  REQUIRE(state.epoch >= 1);
  auto resumed =
      run_command(train_bin() + " --resume " + run.string() + " --no-progress --threads 1");
  INFO(resumed.output);
  REQUIRE(resumed.status == 0);
  auto done = wtp::train::read_checkpoint_state((run / "checkpoints" / "last.pt").string());
  CHECK(done.stage_done);
  CHECK(done.epoch == 3);
  CHECK(fs::exists(run / "eval.json"));
  // metrics.csv continues the failed run: epoch losses for all 3 epochs, once each.
  CHECK(train_metric(run / "metrics.csv", "epoch_loss").size() == 3);
}

TEST_CASE("an interrupted 2-rank run resumed on 2 ranks equals an uninterrupted one",
          "[dist][train][resume]") {
  const std::string stages =
      "  - {name: classification, epochs: 2, loss: cross_entropy,\n"
      "     sampler: {name: random, batch_size: 4, drop_last: true},\n"
      "     optimizer: {name: adam, lr: 0.002}}\n";
  // 108 images / 4 = 27 global batches: 13 full rounds of 2, 13 steps per rank and epoch.
  auto launch = [&](const std::string& args) {
    return bin_dir().string() + "/wtp-launch --nproc 2 --master-port " +
           std::to_string(free_port()) + " -- " + train_bin() + " " + args +
           " --no-progress --threads 1";
  };
  TempDir a, b;
  auto full = run_command(launch("--config " + write_config(a.path(), stages).string()));
  INFO(full.output);
  REQUIRE(full.status == 0);

  // Ctrl-C to the launcher once training is under way: it forwards SIGINT, the ranks agree
  // on the step to stop at, rank 0 writes last.pt, everyone exits 130.
  const fs::path metrics = b / "run" / "metrics.csv";
  const std::string cmd =
      "sh -c '" + launch("--config " + write_config(b.path(), stages).string()) +
      " & pid=$!; while ! grep -q \",train,loss,\" " + metrics.string() +
      " 2>/dev/null; do sleep 0.02; done; kill -INT $pid; wait $pid; echo code=$?'";
  auto stopped = run_command(cmd);
  INFO(stopped.output);
  REQUIRE_THAT(stopped.output, Catch::Contains("code=130"));
  auto state = wtp::train::read_checkpoint_state((b / "run" / "checkpoints" / "last.pt").string());
  CHECK(state.global_step < 26);  // stopped before the end
  const bool mid_epoch = !state.sampler.empty();
  if (!mid_epoch) WARN("the run stopped at an epoch boundary: the mid-epoch paths were not used");

  // A copy resumed on 1 rank (another world size): the interrupted epoch restarts.
  TempDir c;
  fs::copy(b / "run", c / "run", fs::copy_options::recursive);
  auto other =
      run_command(train_bin() + " --resume " + (c / "run").string() + " --no-progress --threads 1");
  INFO(other.output);
  REQUIRE(other.status == 0);
  if (mid_epoch)
    CHECK_THAT(wtp::test::read_file(c / "run" / "train.log"),
               Catch::Contains("taken mid-epoch by a run with another world size"));
  CHECK(wtp::train::read_checkpoint_state((c / "run" / "checkpoints" / "last.pt").string())
            .stage_done);

  auto resumed = run_command(launch("--resume " + (b / "run").string()));
  INFO(resumed.output);
  REQUIRE(resumed.status == 0);
  // Same world size: each rank continues its own shard where it stopped, so the loss of
  // every step is the uninterrupted run's, bit for bit.
  const auto la = train_metric(a / "run" / "metrics.csv", "loss");
  const auto lb = train_metric(metrics, "loss");
  REQUIRE(la.size() == 26);
  CHECK(la == lb);
}
