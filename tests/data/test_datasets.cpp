#include <algorithm>
#include <set>

#include "catch_torch.h"
#include "core/error.h"
#include "data/celeba.h"
#include "data/cew.h"
#include "data/dataset_registry.h"
#include "data/image_folder.h"
#include "data/lfw.h"
#include "data/overlap.h"
#include "data/split.h"
#include "fixtures.h"
#include "test_support.h"

using namespace wtp;
using namespace wtp::data;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

// LFW: A_Person 3 images, B_Person 1, C_Person 2.
void write_lfw(const fs::path& root) {
  const fs::path images = root / "lfw-deepfunneled";
  for (int i = 1; i <= 3; ++i) test::write_image(images / lfw_file("A_Person", i));
  test::write_image(images / lfw_file("B_Person", 1));
  for (int i = 1; i <= 2; ++i) test::write_image(images / lfw_file("C_Person", i));
  test::write_text(root / "pairs.txt",
                   "2\t1\n"
                   "A_Person\t1\t3\n"
                   "A_Person\t2\tB_Person\t1\n"
                   "C_Person\t1\t2\n"
                   "B_Person\t1\tC_Person\t2\n");
  test::write_text(root / "pairsDevTest.txt",
                   "1\n"
                   "A_Person\t2\t3\n"
                   "C_Person\t2\tA_Person\t1\n");
  test::write_text(root / "people.txt",
                   "2\n"
                   "2\n"
                   "A_Person\t3\n"
                   "B_Person\t1\n"
                   "1\n"
                   "C_Person\t2\n");
}

}  // namespace

TEST_CASE("image folder: torchvision ordering and labels", "[data][image_folder]") {
  test::TempDir tmp;
  // Class names sorted by code point: "B" < "a" < "b"; files sorted, sub-folders walked.
  test::write_image(tmp / "b/2.jpg");
  test::write_image(tmp / "b/10.png");
  test::write_image(tmp / "b/sub/0.jpg");
  test::write_image(tmp / "b/sub/x/z.jpg");
  test::write_image(tmp / "b/sub-2/a.jpg");
  test::write_image(tmp / "a/x.JPG");
  test::write_image(tmp / "B/y.jpeg");
  test::write_text(tmp / "a/notes.txt", "not an image");
  ImageFolderOptions o;
  o.root = tmp.path().string();
  const Dataset d = load_image_folder(o);
  REQUIRE(d.class_names() == std::vector<std::string>({"B", "a", "b"}));
  std::vector<std::string> files;
  for (const auto& it : d.items()) files.push_back(it.file);
  // torchvision: sorted(os.walk(dir)) sorts the (root, dirs, files) tuples by root path, so
  // "b" < "b/sub" < "b/sub-2" < "b/sub/x" ('-' < '/'), then file names: "10.png" < "2.jpg".
  // (Checked against torchvision 0.14 ImageFolder on the same tree.)
  CHECK(files == std::vector<std::string>({"B/y.jpeg", "a/x.JPG", "b/10.png", "b/2.jpg",
                                           "b/sub/0.jpg", "b/sub-2/a.jpg", "b/sub/x/z.jpg"}));
  CHECK(d.labels() == std::vector<std::int64_t>({0, 1, 2, 2, 2, 2, 2}));
  CHECK(d.class_indices()[2] == std::vector<std::int64_t>({2, 3, 4, 5, 6}));
  CHECK(d.item(0).identity == "B");
  CHECK(d.path(1) == tmp.path() / "a/x.JPG");
  CHECK(d.find("b/2.jpg") == 3);
  CHECK_FALSE(d.find("b/3.jpg"));
}

TEST_CASE("image folder: clear errors for bad input", "[data][image_folder]") {
  test::TempDir tmp;
  ImageFolderOptions o;
  o.root = (tmp / "missing").string();
  CHECK_THROWS_WITH(load_image_folder(o), Contains("is not a directory") && Contains("missing"));
  o.root = tmp.path().string();
  CHECK_THROWS_WITH(load_image_folder(o), Contains("no class sub-folders"));
  test::write_image(tmp / "full/a.jpg");
  fs::create_directories(tmp / "empty");
  CHECK_THROWS_AS(load_image_folder(o), UsageError);
  CHECK_THROWS_WITH(load_image_folder(o), Contains("empty") && Contains("hold no image"));
  o.allow_empty = true;
  const Dataset d = load_image_folder(o);
  CHECK(d.num_classes() == 2);
  CHECK(d.size() == 1);
  CHECK(d.item(0).label == 1);  // "empty" < "full"
}

TEST_CASE("LFW: images and labels and min_images subsets", "[data][lfw]") {
  test::TempDir tmp;
  write_lfw(tmp.path());
  LfwOptions o;
  o.root = tmp.path().string();
  const Dataset d = load_lfw(o);
  CHECK(d.size() == 6);
  CHECK(d.class_names() == std::vector<std::string>({"A_Person", "B_Person", "C_Person"}));
  CHECK(d.labels() == std::vector<std::int64_t>({0, 0, 0, 1, 2, 2}));
  CHECK(d.item(3).file == "B_Person/B_Person_0001.jpg");
  CHECK(d.identity_kind() == IdentityKind::kName);

  o.min_images = 2;
  const Dataset two = load_lfw(o);
  CHECK(two.class_names() == std::vector<std::string>({"A_Person", "C_Person"}));
  CHECK(two.labels() == std::vector<std::int64_t>({0, 0, 0, 1, 1}));
  o.min_images = 4;
  CHECK_THROWS_WITH(load_lfw(o), Contains("at least 4"));

  o.min_images = 1;
  o.root = (tmp / "nowhere").string();
  CHECK_THROWS_WITH(load_lfw(o), Contains("LFW images not found") && Contains("wtp-download lfw"));
}

TEST_CASE("LFW: any of the three archives' folders is found", "[data][lfw]") {
  test::TempDir tmp;
  write_lfw(tmp.path());
  LfwOptions o;
  o.root = tmp.path().string();
  const auto expected = load_lfw(o).labels();
  // wtp-download lfw installs lfw_funneled/, lfw-original installs lfw/.
  fs::rename(tmp / "lfw-deepfunneled", tmp / "lfw_funneled");
  CHECK(o.image_dir() == tmp / "lfw_funneled");
  CHECK(load_lfw(o).labels() == expected);
  fs::rename(tmp / "lfw_funneled", tmp / "lfw");
  CHECK(o.image_dir() == tmp / "lfw");
  CHECK(load_lfw(o).labels() == expected);
  o.images = "lfw-deepfunneled";  // an explicit folder is taken as it is
  CHECK_THROWS_WITH(load_lfw(o), Contains("lfw-deepfunneled/<Name>"));
}

TEST_CASE("LFW: pairs.txt folds and pairs exactly as written", "[data][lfw]") {
  test::TempDir tmp;
  write_lfw(tmp.path());
  const auto pairs = read_lfw_pairs(tmp / "pairs.txt", tmp / "lfw-deepfunneled");
  CHECK(pairs.folds == 2);
  CHECK(pairs.per_fold == 1);
  REQUIRE(pairs.pairs.size() == 4);
  const auto& p0 = pairs.pairs[0];
  CHECK(p0.fold == 0);
  CHECK(p0.same);
  CHECK(p0.name1 == "A_Person");
  CHECK(p0.name2 == "A_Person");
  CHECK(p0.index1 == 1);
  CHECK(p0.index2 == 3);
  CHECK(p0.file1 == "A_Person/A_Person_0001.jpg");
  CHECK(p0.file2 == "A_Person/A_Person_0003.jpg");
  CHECK(p0.line == 2);
  const auto& p1 = pairs.pairs[1];
  CHECK(p1.fold == 0);
  CHECK_FALSE(p1.same);
  CHECK(p1.file1 == "A_Person/A_Person_0002.jpg");
  CHECK(p1.file2 == "B_Person/B_Person_0001.jpg");
  CHECK(pairs.pairs[2].fold == 1);
  CHECK(pairs.pairs[2].same);
  CHECK(pairs.pairs[3].fold == 1);
  CHECK_FALSE(pairs.pairs[3].same);
  CHECK(pairs.pairs[3].file2 == "C_Person/C_Person_0002.jpg");
  CHECK(pairs.pairs[3].line == 5);
  CHECK(pairs.fold(1).size() == 2);

  // The pairs map onto dataset items.
  LfwOptions o;
  o.root = tmp.path().string();
  const Dataset d = load_lfw(o);
  CHECK(d.find(p1.file2) == 3);

  // View 1 file: a single count.
  const auto dev = read_lfw_pairs(tmp / "pairsDevTest.txt", tmp / "lfw-deepfunneled");
  CHECK(dev.folds == 1);
  REQUIRE(dev.pairs.size() == 2);
  CHECK(dev.pairs[0].same);
  CHECK_FALSE(dev.pairs[1].same);
  CHECK(dev.pairs[1].file1 == "C_Person/C_Person_0002.jpg");
}

TEST_CASE("LFW: pairs errors name file and line", "[data][lfw]") {
  test::TempDir tmp;
  write_lfw(tmp.path());
  const fs::path images = tmp / "lfw-deepfunneled";
  test::write_text(tmp / "bad.txt", "1\t1\nA_Person\t1\t4\nA_Person\t1\tB_Person\t1\n");
  CHECK_THROWS_AS(read_lfw_pairs(tmp / "bad.txt", images), UsageError);
  CHECK_THROWS_WITH(
      read_lfw_pairs(tmp / "bad.txt", images),
      Contains("bad.txt:2") && Contains("A_Person/A_Person_0004.jpg") && Contains("not found"));
  // Without an image folder, no existence check.
  CHECK(read_lfw_pairs(tmp / "bad.txt").pairs.size() == 2);
  test::write_text(tmp / "zero.txt", "1\t1\nA_Person\t0\t1\nA_Person\t1\tB_Person\t1\n");
  CHECK_THROWS_WITH(read_lfw_pairs(tmp / "zero.txt"),
                    Contains("zero.txt:2") && Contains("1-based"));
  test::write_text(tmp / "short.txt",
                   "1\t2\nA_Person\t1\t2\nA_Person\t1\t3\nA_Person\t1\tB_Person\t1\n");
  CHECK_THROWS_WITH(read_lfw_pairs(tmp / "short.txt"),
                    Contains("announces 4") && Contains("holds 3"));
  // Found by fuzz_lfw_text: counts whose product overflows (was undefined behaviour), and a
  // fold count beyond int (was silently truncated).
  test::write_text(tmp / "huge.txt", "6148914691236517206\n");
  CHECK_THROWS_WITH(read_lfw_pairs(tmp / "huge.txt"),
                    Contains("huge.txt:1") && Contains("more pairs than a file can hold"));
  test::write_text(tmp / "folds.txt", "4294967297\t1\nA_Person\t1\t2\n");
  CHECK_THROWS_WITH(read_lfw_pairs(tmp / "folds.txt"),
                    Contains("folds.txt:1") && Contains("more pairs than a file can hold"));
  test::write_text(tmp / "shape.txt", "1\t1\nA_Person\t1\tB_Person\t1\nA_Person\t1\t2\n");
  CHECK_THROWS_WITH(read_lfw_pairs(tmp / "shape.txt"),
                    Contains("shape.txt:2") && Contains("same-person"));
  test::write_text(tmp / "word.txt", "1\t1\nA_Person\tone\t2\nA_Person\t1\tB_Person\t1\n");
  CHECK_THROWS_WITH(read_lfw_pairs(tmp / "word.txt"), Contains("word.txt:2") && Contains("'one'"));
  CHECK_THROWS_WITH(read_lfw_pairs(tmp / "absent.txt"), Contains("LFW pairs file not found"));
}

TEST_CASE("LFW: people.txt", "[data][lfw]") {
  test::TempDir tmp;
  write_lfw(tmp.path());
  const auto people = read_lfw_people(tmp / "people.txt");
  REQUIRE(people.size() == 3);
  CHECK(people[0].name == "A_Person");
  CHECK(people[0].images == 3);
  CHECK(people[0].fold == 0);
  CHECK(people[2].name == "C_Person");
  CHECK(people[2].fold == 1);
  CHECK(people[2].line == 6);
  test::write_text(tmp / "p.txt", "2\n1\nA_Person\t3\n");
  CHECK_THROWS_WITH(read_lfw_people(tmp / "p.txt"), Contains("fold 2 of 2 is missing"));
}

TEST_CASE("CelebA: identities and counts and partitions", "[data][celeba]") {
  test::TempDir tmp;
  // ids: 10 -> 3 images, 2 -> 2 images, 7 -> 1 image.
  const std::vector<std::pair<std::string, int>> ids = {{"000001.jpg", 10}, {"000002.jpg", 2},
                                                        {"000003.jpg", 10}, {"000004.jpg", 7},
                                                        {"000005.jpg", 2},  {"000006.jpg", 10}};
  std::string identity, partition;
  const int parts[] = {0, 0, 1, 2, 0, 2};
  for (std::size_t i = 0; i < ids.size(); ++i) {
    test::write_image(tmp / "img_align_celeba" / ids[i].first, 6, 7);
    identity += ids[i].first + " " + std::to_string(ids[i].second) + "\n";
    partition += ids[i].first + " " + std::to_string(parts[i]) + "\n";
  }
  test::write_text(tmp / "identity_CelebA.txt", identity);
  test::write_text(tmp / "list_eval_partition.txt", partition);
  CelebaOptions o;
  o.root = tmp.path().string();
  const Dataset d = load_celeba(o);
  CHECK(d.size() == 6);
  // Numeric order of ids, not string order ("10" < "2" as text).
  CHECK(d.class_names() == std::vector<std::string>({"2", "7", "10"}));
  CHECK(d.labels() == std::vector<std::int64_t>({2, 0, 2, 1, 0, 2}));
  CHECK(d.item(3).identity == "7");
  CHECK(d.identity_kind() == IdentityKind::kId);

  o.partition = CelebaPartition::kTrain;
  const Dataset train = load_celeba(o);
  CHECK(train.size() == 3);
  CHECK(train.class_names() == std::vector<std::string>({"2", "10"}));
  CHECK(train.item(2).file == "000005.jpg");
  o.partition = CelebaPartition::kTest;
  CHECK(load_celeba(o).size() == 2);

  const Split official = read_celeba_partition(d, tmp / "list_eval_partition.txt");
  CHECK(official.train == std::vector<std::int64_t>({0, 1, 4}));
  CHECK(official.valid == std::vector<std::int64_t>({2}));
  CHECK(official.test == std::vector<std::int64_t>({3, 5}));

  o.partition = CelebaPartition::kAll;
  o.min_images = 2;
  CHECK(load_celeba(o).size() == 5);

  o.min_images = 1;
  test::write_text(tmp / "identity_CelebA.txt", identity + "000009.jpg 3\n");
  CHECK_THROWS_WITH(load_celeba(o), Contains("identity_CelebA.txt:7") && Contains("000009.jpg"));
  test::write_text(tmp / "identity_CelebA.txt", identity + "000009.jpg\n");
  CHECK_THROWS_WITH(load_celeba(o), Contains("identity_CelebA.txt:7") && Contains("expected"));
}

TEST_CASE("CEW: labels 1 = closed with eye coordinates and identities", "[data][cew]") {
  test::TempDir tmp;
  const fs::path dir = tmp / "dataset_B_FacialImages";
  test::write_image(dir / "OpenFace/Aaron_Guiel_0001.jpg", 10, 10);
  test::write_image(dir / "OpenFace/Zoe_Ball_0002.jpg", 10, 10);
  test::write_image(dir / "ClosedFace/closed_eye_0001.jpg_face_1.jpg", 10, 10);
  test::write_image(dir / "ClosedFace/closed_eye_0002.jpg_face_2.jpg", 10, 10);
  test::write_image(dir / "ClosedFace/closed_eye_0003.jpg_face_1.jpg", 10, 10);
  test::write_text(dir / "EyeCoordinatesInfo_OpenFace.txt",
                   "Aaron_Guiel_0001.jpg 30 40 70 41\nGone_Person_0001.jpg 1 2 3 4\n");
  test::write_text(dir / "EyeCoordinatesInfo_ClosedFace.txt",
                   "closed_eye_0002.jpg_face_2.jpg 31 45 68 44\n");
  CewOptions o;
  o.root = tmp.path().string();
  const Dataset d = load_cew(o);
  REQUIRE(d.size() == 5);
  CHECK(d.class_names() == std::vector<std::string>({"open", "closed"}));
  CHECK(d.labels() == std::vector<std::int64_t>({0, 0, 1, 1, 1}));
  CHECK(d.item(0).file == "OpenFace/Aaron_Guiel_0001.jpg");
  CHECK(d.item(0).identity == "Aaron_Guiel");
  CHECK(d.item(2).identity.empty());
  CHECK(d.item(3).eye_state == 1);
  CHECK(d.item(0).eye_state == 0);
  REQUIRE(d.item(0).eyes);
  CHECK(d.item(0).eyes->left_x == 30);
  CHECK(d.item(0).eyes->left_y == 40);
  CHECK(d.item(0).eyes->right_x == 70);
  CHECK(d.item(0).eyes->right_y == 41);
  CHECK_FALSE(d.item(1).eyes);
  REQUIRE(d.item(3).eyes);
  CHECK(d.item(3).eyes->right_x == 68);
  CHECK(d.class_indices()[1].size() == 3);

  test::write_text(dir / "EyeCoordinatesInfo_ClosedFace.txt",
                   "closed_eye_0002.jpg_face_2.jpg 31 45 68\n");
  CHECK_THROWS_WITH(load_cew(o),
                    Contains("EyeCoordinatesInfo_ClosedFace.txt:1") && Contains("lx ly rx ry"));
  fs::remove_all(dir / "ClosedFace");
  CHECK_THROWS_WITH(load_cew(o), Contains("ClosedFace"));
}

TEST_CASE("splits: identity-disjoint and seeded and written and read back", "[data][split]") {
  // 20 identities with 1..4 images each.
  std::vector<std::pair<std::string, Item>> named;
  for (int c = 0; c < 20; ++c)
    for (int k = 0; k <= c % 4; ++k) {
      Item it;
      it.file = "p" + std::to_string(c) + "/" + std::to_string(k) + ".jpg";
      it.identity = "p" + std::to_string(c);
      named.emplace_back(it.identity, it);
    }
  const Dataset d =
      make_named_dataset("toy", "/nonexistent", named, IdentityKind::kName, CorruptPolicy::kFail);
  SplitOptions o;
  o.seed = 7;
  o.train = 0.6;
  o.valid = 0.2;
  o.test = 0.2;
  const Split s = split_dataset(d, o);
  std::set<std::int64_t> all;
  std::set<std::int64_t> labels[3];
  const std::vector<std::int64_t>* parts[3] = {&s.train, &s.valid, &s.test};
  for (int p = 0; p < 3; ++p)
    for (auto i : *parts[p]) {
      all.insert(i);
      labels[p].insert(d.item(i).label);
    }
  CHECK(all.size() == static_cast<std::size_t>(d.size()));  // a partition of the items
  CHECK(s.train.size() + s.valid.size() + s.test.size() == static_cast<std::size_t>(d.size()));
  CHECK(labels[0].size() == 12);
  CHECK(labels[1].size() == 4);
  CHECK(labels[2].size() == 4);
  for (int a = 0; a < 3; ++a)
    for (int b = a + 1; b < 3; ++b)
      for (auto l : labels[a]) CHECK(labels[b].count(l) == 0);
  // Whole identities: every item of a train label is in train.
  for (auto l : labels[0])
    for (auto i : d.class_indices()[static_cast<std::size_t>(l)])
      CHECK(std::binary_search(s.train.begin(), s.train.end(), i));

  // Same seed -> same split; other seed -> other split.
  CHECK(split_dataset(d, o).train == s.train);
  o.seed = 8;
  CHECK(split_dataset(d, o).train != s.train);

  // By image: sizes by image count, identities shared.
  o.mode = SplitMode::kImage;
  const Split si = split_dataset(d, o);
  CHECK(si.train.size() == static_cast<std::size_t>(std::llround(d.size() * 0.6)));

  // File list round trip.
  test::TempDir tmp;
  write_split(tmp / "split.tsv", d, s, "seed=7");
  const Split back = read_split(tmp / "split.tsv", d);
  CHECK(back.train == s.train);
  CHECK(back.valid == s.valid);
  CHECK(back.test == s.test);
  test::write_text(tmp / "bad.tsv", "# comment\ntrain\tp0/0.jpg\ntrain\tp99/0.jpg\n");
  CHECK_THROWS_WITH(read_split(tmp / "bad.tsv", d), Contains("bad.tsv:3") && Contains("p99/0.jpg"));
  test::write_text(tmp / "bad2.tsv", "tarin\tp0/0.jpg\n");
  CHECK_THROWS_WITH(read_split(tmp / "bad2.tsv", d), Contains("bad2.tsv:1") && Contains("'tarin'"));

  // Subsets relabel compactly in sorted order.
  const Dataset train = d.subset(s.train);
  CHECK(train.num_classes() == 12);
  for (std::int64_t i = 0; i < train.size(); ++i)
    CHECK(train.class_names()[static_cast<std::size_t>(train.item(i).label)] ==
          train.item(i).identity);
  CHECK(std::is_sorted(train.class_names().begin(), train.class_names().end()));

  o.train = 0.5;
  CHECK_THROWS_AS(split_dataset(d, o), UsageError);
}

TEST_CASE("overlap: CEW open faces are LFW photos and CelebA ids are not comparable",
          "[data][overlap]") {
  test::TempDir tmp;
  write_lfw(tmp / "lfw");
  const fs::path cew = tmp / "cew/dataset_B_FacialImages";
  test::write_image(cew / "OpenFace/A_Person_0002.jpg");
  test::write_image(cew / "OpenFace/Other_Person_0001.jpg");
  test::write_image(cew / "ClosedFace/closed_eye_0001.jpg_face_1.jpg");
  LfwOptions lo;
  lo.root = (tmp / "lfw").string();
  CewOptions co;
  co.root = (tmp / "cew").string();
  const Overlap o = find_overlap(load_lfw(lo), load_cew(co));
  CHECK(o.identities_comparable);
  CHECK(o.identities == std::vector<std::string>({"A_Person"}));
  CHECK(o.files == std::vector<std::string>({"A_Person_0002.jpg"}));
  CHECK(o.items_a == 3);  // all of A_Person's images
  CHECK(o.items_b == 1);
  CHECK_THAT(o.summary("lfw", "cew"),
             Contains("1 shared identities") && Contains("A_Person_0002.jpg"));

  // CelebA gives ids only.
  test::write_image(tmp / "celeba/img_align_celeba/000001.jpg");
  test::write_text(tmp / "celeba/identity_CelebA.txt", "000001.jpg 5\n");
  CelebaOptions ce;
  ce.root = (tmp / "celeba").string();
  const Overlap oc = find_overlap(load_lfw(lo), load_celeba(ce));
  CHECK_FALSE(oc.identities_comparable);
  CHECK(oc.empty());
  CHECK_THAT(oc.summary("lfw", "celeba"), Contains("not comparable"));
}

TEST_CASE("dataset registry: names and strict options", "[data][registry]") {
  const auto& r = dataset_registry();
  CHECK(r.names() ==
        std::vector<std::string>({"celeba", "cew", "fashion_mnist", "image_folder", "lfw"}));
  test::TempDir tmp;
  write_lfw(tmp.path());
  const auto yaml = "name: lfw\nroot: " + tmp.path().string() + "\nmin_images: 2\n";
  const Dataset d = dataset_registry().create(
      config::decode_component(config::parse(yaml, "test.yaml"), "dataset"));
  CHECK(d.num_classes() == 2);
  const auto bad = "name: lfw\nroot: x\nmin_image: 2\n";
  CHECK_THROWS_WITH(dataset_registry().create(
                        config::decode_component(config::parse(bad, "test.yaml"), "dataset")),
                    Contains("dataset.min_image"));
  CHECK_THROWS_WITH(r.create({"lfx", config::Node::map()}), Contains("image_folder"));
}
