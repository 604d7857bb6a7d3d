#include <fstream>

#include "catch_torch.h"
#include "core/config.h"
#include "core/registry.h"
#include "test_support.h"

namespace {

using wtp::ConfigError;
namespace config = wtp::config;

enum class Mode { kFast, kCareful };
WTP_ENUM_NAMES(Mode, {Mode::kFast, "fast"}, {Mode::kCareful, "careful"})

struct Inner {
  double lr = 0.1;
  std::vector<int> milestones{10, 20};
  template <class V>
  void visit(V& v) {
    v("lr", lr, "learning rate");
    v("milestones", milestones, "epochs at which lr drops");
  }
  void validate() const { wtp::require(lr > 0, "lr must be > 0"); }
};

struct Outer {
  int epochs = 3;
  bool verbose = false;
  std::string name = "run";
  Mode mode = Mode::kFast;
  std::optional<double> margin;
  Inner optimizer;
  std::map<std::string, double> weights;
  template <class V>
  void visit(V& v) {
    v("epochs", epochs, "number of epochs");
    v("verbose", verbose, "print more");
    v("name", name, "run name");
    v("mode", mode, "fast or careful");
    v("margin", margin, "optional margin");
    v("optimizer", optimizer, "optimizer options");
    v("weights", weights, "per-part weights");
  }
};

void write(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
}

}  // namespace

TEST_CASE("config decodes every field type and keeps defaults", "[config]") {
  auto node = config::parse(
      "epochs: 7\nverbose: true\nmode: careful\nmargin: 2.5\noptimizer:\n  lr: 1e-3\n"
      "weights: {a: 1, b: 0.5}\n",
      "test.yaml");
  auto o = config::decode<Outer>(node);
  CHECK(o.epochs == 7);
  CHECK(o.verbose);
  CHECK(o.name == "run");
  CHECK(o.mode == Mode::kCareful);
  REQUIRE(o.margin);
  CHECK(*o.margin == 2.5);
  CHECK(o.optimizer.lr == Approx(1e-3));
  CHECK(o.optimizer.milestones == std::vector<int>{10, 20});
  CHECK(o.weights.at("b") == 0.5);
}

TEST_CASE("config rejects an unknown key naming key, file, line and known keys", "[config]") {
  auto node = config::parse("epochs: 7\noptimizer:\n  lr: 0.1\n  lrr: 0.2\n", "recipe.yaml");
  try {
    config::decode<Outer>(node);
    FAIL("expected ConfigError");
  } catch (const ConfigError& e) {
    const std::string msg = e.what();
    CHECK_THAT(msg, Catch::Contains("recipe.yaml:4"));
    CHECK_THAT(msg, Catch::Contains("optimizer.lrr"));
    CHECK_THAT(msg, Catch::Contains("did you mean 'lr'"));
    CHECK_THAT(msg, Catch::Contains("lr, milestones"));
  }
}

TEST_CASE("config type errors name the key, the expected type and the line", "[config]") {
  auto check = [](const std::string& yaml, const std::string& expect) {
    try {
      config::decode<Outer>(config::parse(yaml, "t.yaml"));
      FAIL("expected ConfigError for " << yaml);
    } catch (const ConfigError& e) {
      CHECK_THAT(std::string(e.what()), Catch::Contains(expect));
    }
  };
  check("epochs: three\n", "t.yaml:1: key 'epochs' expects an integer, got 'three'");
  check("epochs: 2.5\n", "expects an integer");
  check("\nverbose: maybe\n", "t.yaml:2: key 'verbose' expects a boolean");
  check("mode: slow\n", "unknown value 'slow' (choose one of: fast, careful)");
  check("optimizer: 3\n", "key 'optimizer' expects a map of options");
  check("optimizer:\n  milestones: 5\n", "key 'optimizer.milestones' expects a list");
  check("optimizer:\n  lr: -1\n", "t.yaml:1: optimizer: lr must be > 0");
  check("epochs: 99999999999\n", "expects an integer in");
}

TEST_CASE("config include merges bases under the including file", "[config]") {
  wtp::test::TempDir dir;
  std::filesystem::create_directories(dir / "sub");
  write(dir / "base.yaml", "epochs: 5\nname: base\noptimizer:\n  lr: 0.5\n  milestones: [1]\n");
  write(dir / "sub" / "mid.yaml", "include: ../base.yaml\nverbose: true\n");
  write(dir / "top.yaml", "include: [sub/mid.yaml]\nname: top\noptimizer:\n  lr: 0.25\n");
  auto o = config::decode<Outer>(config::load_file((dir / "top.yaml").string()));
  CHECK(o.epochs == 5);
  CHECK(o.verbose);
  CHECK(o.name == "top");
  CHECK(o.optimizer.lr == 0.25);
  CHECK(o.optimizer.milestones == std::vector<int>{1});

  write(dir / "a.yaml", "include: b.yaml\n");
  write(dir / "b.yaml", "include: a.yaml\n");
  CHECK_THROWS_WITH(config::load_file((dir / "a.yaml").string()), Catch::Contains("include cycle"));
  write(dir / "c.yaml", "include: missing.yaml\n");
  CHECK_THROWS_WITH(config::load_file((dir / "c.yaml").string()),
                    Catch::Contains("does not exist"));
  CHECK_THROWS_AS(config::load_file((dir / "nope.yaml").string()), ConfigError);
}

TEST_CASE("config expands YAML aliases but refuses cycles and exponential expansion", "[config]") {
  const auto tree = config::parse("x: &x {lr: 0.5}\ny: *x\n", "t.yaml");
  REQUIRE(tree.find("y") != nullptr);
  CHECK(tree.find("y")->find("lr")->text() == "0.5");

  // Found by fuzz_config: an alias inside its own anchor used to recurse until the stack ran out.
  CHECK_THROWS_WITH(config::parse("a: &x \n[*x, *x]\n", "t.yaml"),
                    Catch::Contains("an alias refers to a value that contains it"));
  std::string laughs = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    const auto prev = "*l" + std::to_string(i - 1);
    laughs += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) laughs += (k ? ", " : "") + prev;
    laughs += "]\n";
  }
  CHECK_THROWS_WITH(config::parse(laughs, "t.yaml"), Catch::Contains("expands to more than"));
}

TEST_CASE("config --set overrides are parsed as YAML and checked like files", "[config]") {
  auto node = config::parse("epochs: 1\n", "t.yaml");
  config::apply_override(node, "optimizer.lr=0.01");
  config::apply_override(node, "optimizer.milestones=[3, 4]");
  config::apply_override(node, "epochs=9");
  auto o = config::decode<Outer>(node);
  CHECK(o.epochs == 9);
  CHECK(o.optimizer.lr == 0.01);
  CHECK(o.optimizer.milestones == std::vector<int>{3, 4});

  // A numeric key indexes a list.
  config::apply_override(node, "optimizer.milestones.1=7");
  CHECK(config::decode<Outer>(node).optimizer.milestones == std::vector<int>{3, 7});
  CHECK_THROWS_WITH(config::apply_override(node, "optimizer.milestones.2=1"),
                    Catch::Contains("'2' is not an index of the list"));
  CHECK_THROWS_WITH(config::apply_override(node, "optimizer.milestones.x=1"),
                    Catch::Contains("'x' is not an index"));
  // `*` sets every item; on a list of maps, a key of each.
  config::apply_override(node, "optimizer.milestones.*=5");
  CHECK(config::decode<Outer>(node).optimizer.milestones == std::vector<int>{5, 5});
  auto staged = config::parse("stages: [{epochs: 1}, {epochs: 2, sampler: {m: 4}}]", "s.yaml");
  config::apply_override(staged, "stages.*.sampler.n=10");
  CHECK(config::to_yaml(staged) ==
        config::to_yaml(config::parse(
            "stages: [{epochs: 1, sampler: {n: 10}}, {epochs: 2, sampler: {m: 4, n: 10}}]", "e")));
  CHECK_THROWS_WITH(config::apply_override(staged, "stages.*.epochs.x=1"),
                    Catch::Contains("'epochs' is not a map"));

  config::apply_override(node, "optimizer.lrr=1");
  CHECK_THROWS_WITH(config::decode<Outer>(node), Catch::Contains("--set optimizer.lrr=1"));
  CHECK_THROWS_AS(config::apply_override(node, "novalue"), ConfigError);
  CHECK_THROWS_AS(config::apply_override(node, "epochs.x=1"), ConfigError);
}

TEST_CASE("config encode writes every default and round-trips through YAML", "[config]") {
  Outer o;
  o.margin = 0.125;
  o.name = "a: b";  // needs quoting
  o.weights = {{"x", 1.5}};
  const std::string yaml = config::to_yaml(config::encode(o));
  CHECK_THAT(yaml, Catch::Contains("epochs: 3"));
  CHECK_THAT(yaml, Catch::Contains("milestones:\n    - 10\n    - 20"));
  auto back = config::decode<Outer>(config::parse(yaml, "resolved.yaml"));
  CHECK(back.name == o.name);
  CHECK(back.margin == o.margin);
  CHECK(back.optimizer.milestones == o.optimizer.milestones);
  CHECK(back.weights == o.weights);
  CHECK(config::to_yaml(config::encode(back)) == yaml);
  CHECK(config::detail::format_double(1.602403e-4) == "0.0001602403");
  CHECK(config::detail::format_double(0.1) == "0.1");
  CHECK(config::detail::format_double(2) == "2.0");
}

TEST_CASE("registry creates components by name with strict options", "[config][registry]") {
  wtp::Registry<double> registry("optimizer");
  registry.add<Inner>("inner", "test entry", [](const Inner& o) { return o.lr; });
  auto c = config::decode_component(config::parse("name: inner\nlr: 0.5\n", "r.yaml"), "optimizer");
  CHECK(registry.create(c) == 0.5);
  CHECK(registry.create(config::decode_component(config::parse("inner", "r"), "x")) == 0.1);
  auto resolved = config::to_yaml(config::encode_component(registry.resolve(c)));
  CHECK_THAT(resolved, Catch::Contains("name: inner\nlr: 0.5\nmilestones:"));
  CHECK_THROWS_WITH(registry.create({"outer", config::Node::map()}),
                    Catch::Contains("unknown optimizer 'outer' (known: inner)"));
  auto bad = config::decode_component(config::parse("name: inner\nlx: 1\n", "r.yaml"), "opt");
  CHECK_THROWS_WITH(registry.create(bad), Catch::Contains("r.yaml:2: unknown key 'opt.lx'"));
  CHECK_THROWS_WITH(registry.resolve(bad), Catch::Contains("r.yaml:2: unknown key 'opt.lx'"));
}

namespace {
/// Options that count their decodes (validate() runs once per decode).
struct Counted {
  static inline int decodes = 0;
  double lr = 0.1;
  template <class V>
  void visit(V& v) {
    v("lr", lr, "learning rate");
  }
  void validate() const { ++decodes; }
};
}  // namespace

TEST_CASE("registry: a resolved component is decoded once and built from its typed options",
          "[config][registry]") {
  wtp::Registry<double> registry("optimizer");
  registry.add<Counted>("counted", "test entry", [](const Counted& o) { return o.lr; });
  Counted::decodes = 0;
  const auto raw = config::decode_component(config::parse("{name: counted, lr: 0.5}", "r"), "opt");
  CHECK(raw.path == "opt");
  CHECK_FALSE(raw.decoded.has_value());
  const auto resolved = registry.resolve(raw);
  CHECK(Counted::decodes == 1);
  CHECK(resolved.path == "opt");
  REQUIRE(std::any_cast<Counted>(&resolved.decoded) != nullptr);
  for (int i = 0; i < 3; ++i) CHECK(registry.create(resolved) == 0.5);
  CHECK(Counted::decodes == 1);  // built from `decoded`, never decoded again
  CHECK(registry.create(raw) == 0.5);
  CHECK(Counted::decodes == 2);  // an unresolved component is decoded when built
  // The resolved options are the typed struct encoded: every default written out.
  CHECK(config::to_yaml(config::encode_component(resolved)) == "name: counted\nlr: 0.5\n");
}
