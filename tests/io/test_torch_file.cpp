// Reading torch.save files: the shared fixtures (zip, legacy, Lightning-like) against
// expected.tsv, storage sharing, the MTCNN weights, and clean rejection of bad files.
#include <cmath>
#include <fstream>

#include "io/inspect.h"
#include "io/torch_file.h"
#include "io_test_util.h"  // first: torch before Catch2
#include "test_support.h"

using wtp::io::load_torch_bytes;
using wtp::io::load_torch_file;
using wtp::io::named_tensors;
using wtp::io::PickleValue;
using wtp::io::TorchFormat;
using Kind = PickleValue::Kind;

namespace {

std::filesystem::path checkpoints() { return *wtp::test::shared_dir() / "fixtures/checkpoints"; }

/// Checks `tensors` (names with `prefix` stripped) against expected.tsv, in order.
void check_expected(const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                    const std::string& prefix) {
  auto expected = wtp::io::test::read_expected(checkpoints() / "expected.tsv");
  REQUIRE(expected.size() == 11);
  REQUIRE(tensors.size() >= expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const auto& e = expected[i];
    const auto& [name, t] = tensors[i];
    INFO("tensor " << name);
    CHECK(name == prefix + e.key);
    CHECK(wtp::io::dtype_name(t.scalar_type()) == e.dtype);
    CHECK(wtp::io::shape_string(t) == e.shape);
    double sum = t.to(torch::kDouble).sum().item<double>();
    CHECK(std::abs(sum - e.sum) <= 2e-6 + 1e-6 * std::abs(e.sum));
    auto flat = t.reshape({-1}).to(torch::kDouble);
    REQUIRE(flat.numel() >= static_cast<int64_t>(e.first.size()));
    bool exact = !t.is_floating_point();
    for (std::size_t k = 0; k < e.first.size(); ++k) {
      double v = flat[static_cast<int64_t>(k)].item<double>();
      if (exact)
        CHECK(v == e.first[k]);
      else
        CHECK(std::abs(v - e.first[k]) <= 1e-6 + 1e-5 * std::abs(e.first[k]));
    }
  }
}

}  // namespace

TEST_CASE("zip state dict matches expected.tsv", "[io][torch_file]") {
  WTP_REQUIRE_SHARED();
  auto file = load_torch_file(checkpoints() / "state_dict_zip.pt");
  CHECK(file.format() == TorchFormat::kZip);
  CHECK(file.root().is(Kind::kDict));
  auto tensors = named_tensors(file.root());
  CHECK(tensors.size() == 11);
  check_expected(tensors, "");
}

TEST_CASE("legacy state dict matches expected.tsv and the zip file", "[io][torch_file]") {
  WTP_REQUIRE_SHARED();
  auto legacy = load_torch_file(checkpoints() / "state_dict_legacy.pt");
  CHECK(legacy.format() == TorchFormat::kLegacy);
  auto tensors = named_tensors(legacy.root());
  CHECK(tensors.size() == 11);
  check_expected(tensors, "");

  auto zip_file = load_torch_file(checkpoints() / "state_dict_zip.pt");
  auto zip = named_tensors(zip_file.root());
  REQUIRE(zip.size() == tensors.size());
  for (std::size_t i = 0; i < zip.size(); ++i) {
    INFO(zip[i].first);
    CHECK(zip[i].first == tensors[i].first);
    CHECK(zip[i].second.scalar_type() == tensors[i].second.scalar_type());
    CHECK(zip[i].second.sizes() == tensors[i].second.sizes());
    CHECK(zip[i].second.strides() == tensors[i].second.strides());
    CHECK(zip[i].second.storage_offset() == tensors[i].second.storage_offset());
    CHECK(torch::equal(zip[i].second, tensors[i].second));
  }
}

TEST_CASE("views keep strides, offsets and shared storage", "[io][torch_file]") {
  WTP_REQUIRE_SHARED();
  for (const char* name : {"state_dict_zip.pt", "state_dict_legacy.pt"}) {
    INFO(name);
    auto file = load_torch_file(checkpoints() / name);
    torch::Tensor weight = file.root().at("fc.weight").tensor();
    torch::Tensor view = file.root().at("fc.bias_view").tensor();
    // fc.weight is a transposed 6x4 (strides 1, 6); fc.bias_view = storage[8::6][:2].
    CHECK(weight.strides() == torch::IntArrayRef({1, 6}));
    CHECK(!weight.is_contiguous());
    CHECK(view.storage_offset() == 8);
    CHECK(view.strides() == torch::IntArrayRef({6}));
    CHECK(weight.storage().data() == view.storage().data());
    CHECK(view[0].item<float>() == 8.0f);
    CHECK(view[1].item<float>() == 14.0f);
    // Writing through one is seen through the other: storage element 8 is weight[2][1].
    weight.index_put_({2, 1}, 100.0f);
    CHECK(view[0].item<float>() == 100.0f);
    // Distinct storages do not alias.
    CHECK(file.root().at("conv1.bias").tensor().storage().data() !=
          file.root().at("bn1.weight").tensor().storage().data());
    CHECK(!weight.requires_grad());
  }
}

TEST_CASE("Lightning checkpoint: state dict, AttributeDict and optimizer state",
          "[io][torch_file]") {
  WTP_REQUIRE_SHARED();
  auto file = load_torch_file(checkpoints() / "lightning_like.ckpt");
  const auto& root = file.root();
  CHECK(root.at("epoch").as_int() == 17);
  CHECK(root.at("global_step").as_int() == 3400);
  CHECK(root.at("pytorch-lightning_version").as_string() == "1.1.6");

  check_expected(named_tensors(root.at("state_dict")), "model.model.");

  const auto& hp = root.at("hyper_parameters");
  REQUIRE(hp.is(Kind::kObject));
  CHECK(hp.qualified_name() == "pytorch_lightning.utilities.parsing.AttributeDict");
  CHECK(hp.entries().size() == 4);
  CHECK(hp.at("lr").as_double() == 0.0001602403);
  CHECK(hp.at("weight_decay").as_double() == 8.465428e-05);
  CHECK(hp.at("temperature").as_int() == 12);
  CHECK(hp.at("num_labeled_points_class").as_int() == 2);
  CHECK(hp.find("missing") == nullptr);
  CHECK_THROWS_WITH(hp.at("missing"), Catch::Contains("missing"));

  const auto& opt = root.at("optimizer_states");
  REQUIRE(opt.is(Kind::kList));
  REQUIRE(opt.elements().size() == 1);
  const auto& state0 = opt.elements()[0]->at("state").entries().at(0);
  CHECK(state0.key->as_int() == 0);
  CHECK(state0.value->at("step").as_int() == 10);
  CHECK(torch::equal(state0.value->at("exp_avg").tensor(), torch::zeros({2})));
  const auto& group = *opt.elements()[0]->at("param_groups").elements().at(0);
  CHECK(group.at("lr").as_double() == 0.0001);
  CHECK(group.at("params").elements().at(0)->as_int() == 0);
  CHECK(root.at("lr_schedulers").elements().at(0)->at("gamma").as_double() == 0.5);

  auto all = named_tensors(root);
  std::vector<std::string> names;
  for (auto& [name, t] : all) names.push_back(name);
  REQUIRE(names.size() == 13);
  CHECK(names[0] == "state_dict.model.model.conv1.weight");
  CHECK(names[11] == "optimizer_states.0.state.0.exp_avg");
  CHECK(names[12] ==
        "callbacks.<class 'pytorch_lightning.callbacks.early_stopping.EarlyStopping'>.best_score");
  CHECK(all[12].second.dim() == 0);
  CHECK(all[12].second.item<float>() == Approx(81.12f));
}

TEST_CASE("MTCNN legacy weights load with the facenet-pytorch names and shapes",
          "[io][torch_file]") {
  WTP_REQUIRE_SHARED();
  struct Expect {
    const char* file;
    std::vector<std::pair<std::string, std::vector<int64_t>>> shapes;
    int64_t total;
    double conv1_weight_sum;
    std::vector<int64_t> conv1_weight_strides;  // the Caffe-converted weights are transposed
  };
  std::vector<Expect> files = {
      {"pnet.pt",
       {{"conv1.weight", {10, 3, 3, 3}},
        {"conv1.bias", {10}},
        {"prelu1.weight", {10}},
        {"conv2.weight", {16, 10, 3, 3}},
        {"conv2.bias", {16}},
        {"prelu2.weight", {16}},
        {"conv3.weight", {32, 16, 3, 3}},
        {"conv3.bias", {32}},
        {"prelu3.weight", {32}},
        {"conv4_1.weight", {2, 32, 1, 1}},
        {"conv4_1.bias", {2}},
        {"conv4_2.weight", {4, 32, 1, 1}},
        {"conv4_2.bias", {4}}},
       6632,
       2.3487670375034213,
       {1, 10, 30, 90}},
      {"rnet.pt",
       {{"conv1.weight", {28, 3, 3, 3}},
        {"conv1.bias", {28}},
        {"prelu1.weight", {28}},
        {"conv2.weight", {48, 28, 3, 3}},
        {"conv2.bias", {48}},
        {"prelu2.weight", {48}},
        {"conv3.weight", {64, 48, 2, 2}},
        {"conv3.bias", {64}},
        {"prelu3.weight", {64}},
        {"dense4.weight", {128, 576}},
        {"dense4.bias", {128}},
        {"prelu4.weight", {128}},
        {"dense5_1.weight", {2, 128}},
        {"dense5_1.bias", {2}},
        {"dense5_2.weight", {4, 128}},
        {"dense5_2.bias", {4}}},
       100178,
       0.2354865306042484,
       {1, 28, 84, 252}},
      {"onet.pt",
       {{"conv1.weight", {32, 3, 3, 3}},
        {"conv1.bias", {32}},
        {"prelu1.weight", {32}},
        {"conv2.weight", {64, 32, 3, 3}},
        {"conv2.bias", {64}},
        {"prelu2.weight", {64}},
        {"conv3.weight", {64, 64, 3, 3}},
        {"conv3.bias", {64}},
        {"prelu3.weight", {64}},
        {"conv4.weight", {128, 64, 2, 2}},
        {"conv4.bias", {128}},
        {"prelu4.weight", {128}},
        {"dense5.weight", {256, 1152}},
        {"dense5.bias", {256}},
        {"prelu5.weight", {256}},
        {"dense6_1.weight", {2, 256}},
        {"dense6_1.bias", {2}},
        {"dense6_2.weight", {4, 256}},
        {"dense6_2.bias", {4}},
        {"dense6_3.weight", {10, 256}},
        {"dense6_3.bias", {10}}},
       389040,
       -0.9298089276562678,
       {1, 32, 96, 288}},
  };
  for (const auto& f : files) {
    INFO(f.file);
    auto file = load_torch_file(*wtp::test::shared_dir() / "weights/mtcnn" / f.file);
    CHECK(file.format() == TorchFormat::kLegacy);
    auto tensors = named_tensors(file.root());
    REQUIRE(tensors.size() == f.shapes.size());
    int64_t total = 0;
    for (std::size_t i = 0; i < tensors.size(); ++i) {
      CHECK(tensors[i].first == f.shapes[i].first);
      CHECK(tensors[i].second.sizes() == torch::IntArrayRef(f.shapes[i].second));
      CHECK(tensors[i].second.scalar_type() == torch::kFloat);
      total += tensors[i].second.numel();
    }
    CHECK(total == f.total);
    CHECK(tensors[0].second.strides() == torch::IntArrayRef(f.conv1_weight_strides));
    // Sums computed by Python torch 1.13 in double precision.
    double sum = tensors[0].second.to(torch::kDouble).sum().item<double>();
    CHECK(sum == Approx(f.conv1_weight_sum).epsilon(1e-9));
  }
}

TEST_CASE("bad files are rejected with a message naming the file", "[io][torch_file]") {
  wtp::test::TempDir dir;
  auto missing = dir / "missing.pt";
  CHECK_THROWS_WITH(load_torch_file(missing),
                    Catch::Contains("missing.pt") && Catch::Contains("cannot open"));
  CHECK_THROWS_WITH(load_torch_bytes("", "empty.pt"),
                    Catch::Contains("empty.pt") && Catch::Contains("not a torch.save file"));
  CHECK_THROWS_WITH(load_torch_bytes("hello world, not a checkpoint", "text.pt"),
                    Catch::Contains("text.pt") && Catch::Contains("68656c6c"));
  // An empty zip archive (end-of-central-directory record only).
  std::string empty_zip("PK\x05\x06", 4);
  empty_zip.append(18, '\0');
  CHECK_THROWS_WITH(load_torch_bytes(empty_zip, "empty.zip"), Catch::Contains("empty.zip"));
  // A pickle that is not torch's legacy magic number.
  CHECK_THROWS_WITH(load_torch_bytes(std::string("\x80\x02K\x07.", 5), "int.pt"),
                    Catch::Contains("int.pt") && Catch::Contains("magic number"));
  // Truncated legacy header.
  CHECK_THROWS_WITH(load_torch_bytes(std::string("\x80\x02\x8a\x0a\x6c\xfc", 6), "cut.pt"),
                    Catch::Contains("cut.pt") && Catch::Contains("truncated"));
}

TEST_CASE("truncated and altered fixtures give precise errors", "[io][torch_file]") {
  WTP_REQUIRE_SHARED();
  auto legacy = wtp::test::read_file(checkpoints() / "state_dict_legacy.pt");
  // Cut inside the last storage's bytes.
  CHECK_THROWS_WITH(
      load_torch_bytes(legacy.substr(0, legacy.size() - 3), "cut.pt"),
      Catch::Contains("cut.pt") && Catch::Contains("storage data") && Catch::Contains("truncated"));
  // Cut inside the main pickle.
  CHECK_THROWS_WITH(load_torch_bytes(legacy.substr(0, 300), "cut.pt"),
                    Catch::Contains("main pickle") && Catch::Contains("truncated"));

  auto python = wtp::io::test::find_python("zipfile");
  if (!python) {
    WTP_SKIP("the zip-record cases: no python3");
  }
  wtp::test::TempDir dir;
  // Rewrite the zip without one storage record, and with one storage record shortened.
  wtp::io::test::run_python(*python, dir.path(),
                            R"(
import zipfile, sys
src = zipfile.ZipFile(')" + (checkpoints() / "state_dict_zip.pt").string() +
                                R"(')
for out, mode in (('no_record.pt', 'drop'), ('short_record.pt', 'short')):
    with zipfile.ZipFile(')" + dir.path().string() +
                                R"(/' + out, 'w') as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename.endswith('data/3'):
                if mode == 'drop':
                    continue
                data = data[:-4]
            dst.writestr(info.filename, data)
)");
  CHECK_THROWS_WITH(load_torch_file(dir / "no_record.pt"),
                    Catch::Contains("no_record.pt") && Catch::Contains("data/3"));
  CHECK_THROWS_WITH(load_torch_file(dir / "short_record.pt"), Catch::Contains("short_record.pt") &&
                                                                  Catch::Contains("storage '3'") &&
                                                                  Catch::Contains("12 bytes"));
}
