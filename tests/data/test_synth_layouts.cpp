// The loaders on wtp-synth output (the real LFW / CelebA / CEW layouts), end to end.
#include <fstream>
#include <map>
#include <set>

#include "catch_torch.h"
#include "data/celeba.h"
#include "data/cew.h"
#include "data/lfw.h"
#include "data/overlap.h"
#include "data/split.h"
#include "data/text.h"
#include "test_support.h"

using namespace wtp;
using namespace wtp::data;
namespace fs = std::filesystem;

TEST_CASE("loaders read wtp-synth output exactly", "[data][synth]") {
  const fs::path synth = test::bin_dir() / "wtp-synth";
  if (!fs::exists(synth)) {
    WTP_SKIP(synth << " is not built");
  }
  test::TempDir tmp;
  const auto run = test::run_command(synth.string() + " --out " + tmp.path().string() +
                                     " --identities 20 --images-per-identity 3 --size 48 --seed 4");
  INFO(run.output);
  REQUIRE(run.status == 0);

  // LFW: every line of pairs.txt, in order, with its fold.
  LfwOptions lo;
  lo.root = (tmp / "lfw").string();
  const Dataset lfw = load_lfw(lo);
  CHECK(lfw.size() == 60);
  CHECK(lfw.num_classes() == 20);
  const auto pairs = read_lfw_pairs(tmp / "lfw/pairs.txt", lo.image_dir());
  const auto lines = read_lines(tmp / "lfw/pairs.txt", "pairs");
  const auto header = split_fields(lines.at(0));
  REQUIRE(header.size() == 2);
  CHECK(pairs.folds == 10);
  CHECK(pairs.per_fold == std::stoll(header[1]));
  REQUIRE(pairs.pairs.size() + 1 == lines.size());
  for (std::size_t k = 0; k < pairs.pairs.size(); ++k) {
    const auto& p = pairs.pairs[k];
    const auto f = split_fields(lines[k + 1]);
    REQUIRE(p.line == k + 2);
    REQUIRE(p.fold == static_cast<int>(k / static_cast<std::size_t>(2 * pairs.per_fold)));
    REQUIRE(p.same == (f.size() == 3));
    REQUIRE(p.name1 == f[0]);
    REQUIRE(p.index1 == std::stoll(f[1]));
    REQUIRE(p.name2 == (p.same ? f[0] : f[2]));
    REQUIRE(p.index2 == std::stoll(p.same ? f[2] : f[3]));
    REQUIRE(lfw.find(p.file1));
    REQUIRE(lfw.find(p.file2));
    REQUIRE((lfw.item(*lfw.find(p.file1)).label == lfw.item(*lfw.find(p.file2)).label) == p.same);
  }
  const auto people = read_lfw_people(tmp / "lfw/people.txt");
  CHECK(people.size() == 20);
  for (const auto& person : people) CHECK(person.images == 3);

  // CelebA: counts and official partition.
  CelebaOptions co;
  co.root = (tmp / "celeba").string();
  const Dataset celeba = load_celeba(co);
  CHECK(celeba.size() == 60);
  CHECK(celeba.num_classes() == 20);
  const Split official = read_celeba_partition(celeba, tmp / "celeba/list_eval_partition.txt");
  co.partition = CelebaPartition::kValid;
  CHECK(load_celeba(co).size() == static_cast<std::int64_t>(official.valid.size()));
  CHECK(official.train.size() + official.valid.size() + official.test.size() == 60);

  // CEW: the LFW images, split by eye state, every image with eye coordinates.
  CewOptions we;
  we.root = (tmp / "cew").string();
  const Dataset cew = load_cew(we);
  CHECK(cew.size() == 60);
  for (const auto& it : cew.items()) {
    REQUIRE(it.eyes);
    REQUIRE(it.eyes->left_x < it.eyes->right_x);
    REQUIRE(it.label == (it.file.rfind("ClosedFace/", 0) == 0 ? 1 : 0));
  }
  const Overlap o = find_overlap(lfw, cew);
  CHECK_FALSE(o.files.empty());  // the open faces keep their LFW names
  CHECK(find_overlap(lfw, celeba).files.empty());

  // Identity-disjoint split of the LFW people.
  const Split s = split_dataset(lfw, SplitOptions{});
  std::set<std::int64_t> train_labels;
  for (auto i : s.train) train_labels.insert(lfw.item(i).label);
  for (auto i : s.test) CHECK(train_labels.count(lfw.item(i).label) == 0);
  for (auto i : s.valid) CHECK(train_labels.count(lfw.item(i).label) == 0);
}
