#include <algorithm>
#include <cmath>
#include <set>

#include "catch_torch.h"
#include "core/config.h"
#include "tune/sampler.h"
#include "tune/search_space.h"
#include "tune/test_functions.h"

namespace config = wtp::config;
using namespace wtp::tune;

namespace {

SearchSpace parse_space(const std::string& yaml) {
  return SearchSpace::decode(config::parse(yaml, "space.yaml"));
}

/// The Group Loss space with a conditional parameter: momentum only for sgd.
const char* kSpace =
    "lr: {path: a.lr, type: float, low: 1.0e-5, high: 1.0e-3, log: true}\n"
    "wd: {path: a.wd, type: float, low: 0.0, high: 0.5}\n"
    "temperature: {path: a.t, type: int, low: 10, high: 60}\n"
    "width: {path: a.w, type: int, low: 8, high: 512, log: true}\n"
    "labelled: {path: a.k, type: categorical, choices: [1, 2, 3]}\n"
    "optimizer: {path: a.o, type: categorical, choices: [adam, sgd]}\n"
    "momentum: {path: a.m, type: float, low: 0.5, high: 0.99, when: {param: optimizer, in: "
    "[sgd]}}\n";

std::string error_of(const std::string& yaml) {
  try {
    parse_space(yaml);
  } catch (const wtp::UsageError& e) {
    return e.what();
  }
  return "";
}

/// Draws n points with the sampler, feeding back a noisy objective so TPE leaves its
/// random start-up.
std::vector<Params> draw(Sampler& sampler, const SearchSpace& space, int n) {
  std::vector<Params> out;
  auto trials = run_in_memory(sampler, space, Direction::kMinimize, n, [&](const Params& p) {
    return std::log(p.at("lr")) + p.at("temperature") * 0.01 + p.at("labelled");
  });
  for (auto& t : trials) out.push_back(t.params);
  return out;
}

}  // namespace

TEST_CASE("search space: bad entries fail with a message naming the parameter", "[tune][space]") {
  CHECK_THAT(error_of("lr: {path: a, type: float, low: 1.0, high: 0.5}"),
             Catch::Contains("space.lr: low (1.0) must be < high (0.5)"));
  CHECK_THAT(error_of("lr: {path: a, type: float, low: 0.0, high: 1.0, log: true}"),
             Catch::Contains("space.lr: a log-scale range needs low > 0"));
  CHECK_THAT(error_of("t: {path: a, type: int, low: 1.5, high: 4}"),
             Catch::Contains("int bounds must be whole numbers"));
  CHECK_THAT(error_of("k: {path: a, type: categorical, choices: [1, 1]}"),
             Catch::Contains("'1' is listed twice"));
  CHECK_THAT(error_of("k: {path: a, type: categorical}"), Catch::Contains("needs `choices"));
  CHECK_THAT(error_of("m: {path: a, type: float, low: 0, high: 1, when: {param: o, in: [x]}}"),
             Catch::Contains("'o' is not an earlier parameter"));
  CHECK_THAT(error_of("o: {path: a, type: categorical, choices: [adam]}\n"
                      "m: {path: b, type: float, low: 0, high: 1, when: {param: o, in: [sgd]}}"),
             Catch::Contains("'sgd' is not a value of 'o'"));
  CHECK_THAT(error_of("lr: {path: a, type: float, lo: 1}"), Catch::Contains("lo"));
  CHECK_THAT(error_of("lr: {path: a, type: flot, low: 0, high: 1}"), Catch::Contains("flot"));
}

TEST_CASE("search space: values, text and grids", "[tune][space]") {
  auto space = parse_space(kSpace);
  const Param& t = space.at("temperature");
  CHECK(t.contains(10));
  CHECK(t.contains(60));
  CHECK_FALSE(t.contains(61));
  CHECK_FALSE(t.contains(12.5));
  CHECK(t.snap(12.4) == 12);
  CHECK(t.to_text(12) == "12");
  CHECK(space.at("labelled").to_text(2) == "3");
  CHECK(space.at("lr").to_text(1.602403e-4) == "0.0001602403");
  // A log float grid of 3 points: 1e-5, 1e-4, 1e-3.
  ParamOptions o;
  o.low = 1e-5;
  o.high = 1e-3;
  o.log = true;
  o.grid_points = 3;
  o.path = config::Node::scalar("x");
  SearchSpace s2;
  s2.add("lr", o);
  auto g = s2.at("lr").grid_values();
  REQUIRE(g.size() == 3);
  CHECK(g[1] == Approx(1e-4).epsilon(1e-12));
  // An int range with fewer values than grid_points is enumerated.
  CHECK(parse_space("t: {path: a, type: int, low: 1, high: 3}").at("t").grid_values() ==
        std::vector<double>{1, 2, 3});
  // Overrides in space order; inactive parameters are absent.
  Params p{{"lr", 1e-4},  {"wd", 0.25},    {"temperature", 12},
           {"width", 64}, {"labelled", 1}, {"optimizer", 0}};
  CHECK(space.valid_point(p));
  CHECK(space.overrides(p) == std::vector<std::string>{"a.lr=0.0001", "a.wd=0.25", "a.t=12",
                                                       "a.w=64", "a.k=2", "a.o=adam"});
  p["momentum"] = 0.9;
  CHECK_FALSE(space.valid_point(p));  // momentum is inactive with adam
  p["optimizer"] = 1;
  CHECK(space.valid_point(p));
}

TEST_CASE("samplers respect the space: types, bounds, log scale, conditionals", "[tune][sampler]") {
  const auto space = parse_space(kSpace);
  for (const char* name : {"random", "tpe"}) {
    INFO(name);
    auto sampler = search_sampler_registry().create({name, config::Node::map()}, 7);
    const auto points = draw(*sampler, space, 200);
    REQUIRE(points.size() == 200);
    int below_1e4 = 0, sgd = 0, lower_half_width = 0;
    std::set<double> labelled;
    for (const auto& p : points) {
      REQUIRE(space.valid_point(p));  // in bounds, integral ints, indices, conditionals
      if (p.at("lr") < 1e-4) ++below_1e4;
      if (p.at("width") <= 64) ++lower_half_width;
      labelled.insert(p.at("labelled"));
      if (p.at("optimizer") == 1) {
        ++sgd;
        CHECK(p.count("momentum") == 1);
      } else {
        CHECK(p.count("momentum") == 0);
      }
    }
    CHECK(labelled.size() >= 2);
    if (std::string(name) == "random") {
      // Log-uniform: half of the draws below the geometric middle 1e-4 (a linear draw
      // would put 9 % there); width log[8, 512]: 50 % at most 64.
      CHECK(below_1e4 > 70);
      CHECK(below_1e4 < 130);
      CHECK(lower_half_width > 70);
      CHECK(lower_half_width < 130);
      CHECK(sgd > 70);
      CHECK(sgd < 130);
    } else {
      // The objective grows with log(lr): TPE concentrates on small learning rates.
      CHECK(below_1e4 > 130);
    }
  }
}

TEST_CASE("samplers are seeded: same seed gives the same points, another seed others",
          "[tune][sampler]") {
  const auto space = parse_space(kSpace);
  for (const char* name : {"random", "tpe", "grid"}) {
    INFO(name);
    auto a = search_sampler_registry().create({name, config::Node::map()}, 3);
    auto b = search_sampler_registry().create({name, config::Node::map()}, 3);
    auto c = search_sampler_registry().create({name, config::Node::map()}, 4);
    const auto pa = draw(*a, space, 30), pb = draw(*b, space, 30), pc = draw(*c, space, 30);
    CHECK(pa == pb);
    CHECK(pa != pc);
  }
}

TEST_CASE("grid sampler: every combination once, conditionals only where active, then done",
          "[tune][sampler]") {
  const auto space = parse_space(
      "k: {path: a, type: categorical, choices: [1, 2, 3]}\n"
      "o: {path: b, type: categorical, choices: [adam, sgd]}\n"
      "m: {path: c, type: float, low: 0.5, high: 0.9, grid_points: 3, when: {param: o, in: "
      "[sgd]}}\n");
  auto grid = search_sampler_registry().create({"grid", config::Node::map()}, 0);
  std::vector<TrialRecord> none;
  std::set<std::string> seen;
  std::int64_t n = 0;
  while (auto p = grid->sample(space, none, n, Direction::kMinimize)) {
    REQUIRE(space.valid_point(*p));
    CHECK(seen.insert(space.describe(*p)).second);
    ++n;
  }
  // 3 x (adam + sgd x 3 momenta) = 12 points.
  CHECK(n == 12);
  CHECK(seen.count("k=2 o=sgd m=0.7") == 1);
  CHECK(seen.count("k=1 o=adam") == 1);
}

TEST_CASE("TPE internals match Optuna's Parzen estimator", "[tune][sampler][tpe]") {
  using wtp::tune::detail::log_gauss_mass;
  CHECK(std::exp(log_gauss_mass(-1, 1)) == Approx(0.6826894921370859).epsilon(1e-12));
  CHECK(std::exp(log_gauss_mass(0, 1e9)) == Approx(0.5).epsilon(1e-12));
  // Far tail: log(Phi(-30) - Phi(-31)) = log(Phi(-30)) + log(1 - Phi(-31)/Phi(-30)).
  CHECK(log_gauss_mass(-31, -30) == Approx(-454.321402).epsilon(1e-6));
  CHECK(log_gauss_mass(30, 31) == Approx(-454.321402).epsilon(1e-6));

  CHECK(wtp::tune::detail::tpe_weights(3, 25) == std::vector<double>{1, 1, 1});
  const auto w = wtp::tune::detail::tpe_weights(27, 25);  // linspace(1/27, 1, 2) + 25 ones
  REQUIRE(w.size() == 27);
  CHECK(w[0] == Approx(1.0 / 27));
  CHECK(w[1] == Approx(1.0));

  // Uniform x in [0, 10], observations 2, 3, 7 (+ prior at 5): sorted centres 2 3 5 7
  // between the bounds 0 and 10; width = the larger gap to a neighbour: 2 (2), 3 (2),
  // 5 (2), 7 (3), then the extremes without endpoints: 2 -> 3 - 2 = 1, 7 -> 7 - 5 = 2;
  // magic clip at 10 / min(100, 1 + 4) = 2 lifts 1 to 2; the prior's width is 10.
  ParamOptions o;
  o.path = config::Node::scalar("x");
  o.low = 0;
  o.high = 10;
  SearchSpace s;
  s.add("x", o);
  TpeSamplerOptions to;
  to.normalized_kernels = true;
  wtp::tune::detail::Parzen parzen(s.at("x"), {2, 3, 7}, to);
  CHECK(parzen.mus() == std::vector<double>{2, 3, 7, 5});
  CHECK(parzen.sigmas() == std::vector<double>{2, 2, 2, 10});
  CHECK(parzen.weights() == std::vector<double>{0.25, 0.25, 0.25, 0.25});
  // The density integrates to 1 over [0, 10].
  double integral = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) integral += std::exp(parzen.log_pdf((i + 0.5) * 10.0 / n)) * 10.0 / n;
  CHECK(integral == Approx(1.0).epsilon(1e-4));
  // An int parameter's probabilities sum to 1 over its values.
  ParamOptions oi;
  oi.path = config::Node::scalar("t");
  oi.type = ParamType::kInt;
  oi.low = 10;
  oi.high = 20;
  SearchSpace si;
  si.add("t", oi);
  wtp::tune::detail::Parzen pi(si.at("t"), {12, 12, 19}, to);
  double total = 0;
  for (int v = 10; v <= 20; ++v) total += std::exp(pi.log_pdf(v));
  CHECK(total == Approx(1.0).epsilon(1e-9));
  // Categorical kernels: prior weight 1/(n+1) per choice, +1 on the observed choice.
  ParamOptions oc;
  oc.path = config::Node::scalar("k");
  oc.type = ParamType::kCategorical;
  oc.choices = {config::Node::scalar("a"), config::Node::scalar("b")};
  SearchSpace sc;
  sc.add("k", oc);
  wtp::tune::detail::Parzen pc(sc.at("k"), {0}, to);
  // kernels: [1.5, 0.5]/2 and [0.5, 0.5]; weights 1/2 each -> P(a) = (0.75 + 0.5)/2.
  CHECK(std::exp(pc.log_pdf(0)) == Approx(0.625));
  CHECK(std::exp(pc.log_pdf(1)) == Approx(0.375));
}

TEST_CASE(
    "TPE (multivariate and univariate) beats random search on a quadratic bowl (10 seeds, 60 "
    "trials)",
    "[tune][sampler][tpe]") {
  const auto f = test_function("quadratic", 4);
  const auto space = test_function_space(f);
  for (const char* multivariate : {"true", "false"}) {
    INFO("multivariate: " << multivariate);
    std::vector<double> tpe_best, random_best;
    for (std::uint64_t seed = 0; seed < 10; ++seed) {
      for (const char* name : {"tpe", "random"}) {
        config::Node options = config::Node::map();
        if (std::string(name) == "tpe")
          options.set("multivariate", config::Node::scalar(multivariate));
        auto sampler = search_sampler_registry().create({name, options}, seed);
        auto trials = run_in_memory(*sampler, space, Direction::kMinimize, 60,
                                    [&](const Params& p) { return evaluate(f, space, p); });
        double best = 1e300;
        for (const auto& t : trials) best = std::min(best, *t.value);
        (std::string(name) == "tpe" ? tpe_best : random_best).push_back(best);
      }
    }
    std::sort(tpe_best.begin(), tpe_best.end());
    std::sort(random_best.begin(), random_best.end());
    const double tpe_median = 0.5 * (tpe_best[4] + tpe_best[5]);
    const double random_median = 0.5 * (random_best[4] + random_best[5]);
    INFO("median best: tpe " << tpe_median << ", random " << random_median);
    // Margin: TPE's median best is at most a quarter of random search's (measured: 1/9-1/16).
    CHECK(tpe_median < 0.25 * random_median);
    int wins = 0;
    for (std::size_t i = 0; i < 10; ++i) wins += tpe_best[i] < random_best[i];
    CHECK(wins >= 8);  // also rank-wise (sorted) on at least 8 of 10 quantiles
  }
}

TEST_CASE("Parzen estimators equal Optuna 3.1's on the same observations (known answers)",
          "[tune][sampler][tpe]") {
  // Kernels (centres, widths, weights) and log_pdf values printed by Optuna 3.1.0's
  // _ParzenEstimator (default parameters, univariate) for the same observations. With
  // normalized_kernels, continuous log densities are instead the exact mixture of
  // truncated normals (scipy.stats.truncnorm.logpdf with those kernels); Optuna 3.1.0's
  // _truncnorm.logpdf leaves out each kernel's -log(sigma) (our default, see sampler.h).
  using wtp::tune::detail::Parzen;
  TpeSamplerOptions o, exact;
  exact.normalized_kernels = true;
  auto one = [](const std::string& yaml) { return parse_space("x: " + yaml); };
  {
    const auto s = one("{path: a, type: float, low: -5, high: 10}");
    Parzen p(s.at("x"), {1.0, -3.0, 7.5, 2.0}, o), e(s.at("x"), {1.0, -3.0, 7.5, 2.0}, exact);
    CHECK(p.mus() == std::vector<double>{1, -3, 7.5, 2, 2.5});
    CHECK(p.sigmas() == std::vector<double>{4, 4, 5, 2.5, 15});
    CHECK(p.log_pdf(0.0) == Approx(-0.74958154).epsilon(1e-7));
    CHECK(p.log_pdf(-4.9) == Approx(-1.12700234).epsilon(1e-7));
    CHECK(p.log_pdf(9.0) == Approx(-1.15327364).epsilon(1e-7));
    CHECK(e.log_pdf(0.0) == Approx(-2.43844481).epsilon(1e-7));
    CHECK(e.log_pdf(-4.9) == Approx(-3.05389911).epsilon(1e-7));
    CHECK(e.log_pdf(9.0) == Approx(-3.24943721).epsilon(1e-7));
  }
  {
    const auto s = one("{path: a, type: float, low: 1.0e-5, high: 1.0e-3, log: true}");
    Parzen p(s.at("x"), {1e-4, 2e-5, 5e-4}, o), e(s.at("x"), {1e-4, 2e-5, 5e-4}, exact);
    CHECK(p.sigmas()[0] == Approx(1.60943791));
    CHECK(p.sigmas()[3] == Approx(4.60517019));
    CHECK(p.log_pdf(1e-5) == Approx(-0.87239878).epsilon(1e-7));
    CHECK(p.log_pdf(3e-4) == Approx(-0.64055512).epsilon(1e-7));
    CHECK(e.log_pdf(1e-5) == Approx(-1.79106819).epsilon(1e-7));
    CHECK(e.log_pdf(3e-4) == Approx(-1.49110759).epsilon(1e-7));
  }
  {
    // Discrete: the kernels' mass over [x - 0.5, x + 0.5] (no sigma question).
    const auto s = one("{path: a, type: int, low: 10, high: 60}");
    Parzen p(s.at("x"), {12, 12, 40, 55}, o);
    CHECK(p.sigmas() == std::vector<double>{8.5, 23, 15, 15, 51});
    CHECK(p.log_pdf(10) == Approx(-3.65287806).epsilon(1e-7));
    CHECK(p.log_pdf(12) == Approx(-3.62288539).epsilon(1e-7));
    CHECK(p.log_pdf(33) == Approx(-4.05577977).epsilon(1e-7));
  }
  {
    const auto s = one("{path: a, type: int, low: 8, high: 512, log: true}");
    Parzen p(s.at("x"), {16, 300}, o), e(s.at("x"), {16, 300}, exact);
    CHECK(p.sigmas()[0] == Approx(1.35451314));
    CHECK(p.sigmas()[1] == Approx(1.57668061));
    CHECK(p.log_pdf(8) == Approx(-0.71532772).epsilon(1e-7));
    CHECK(p.log_pdf(64) == Approx(-0.52641708).epsilon(1e-7));
    CHECK(e.log_pdf(8) == Approx(-1.58676356).epsilon(1e-7));
    CHECK(e.log_pdf(64) == Approx(-1.39349977).epsilon(1e-7));
  }
  {
    const auto s = one("{path: a, type: categorical, choices: [1, 2, 3]}");
    Parzen p(s.at("x"), {0, 2, 2}, o);
    CHECK(p.log_pdf(0) == Approx(-1.09861229).epsilon(1e-7));
    CHECK(p.log_pdf(1) == Approx(-1.65822808).epsilon(1e-7));
    CHECK(p.log_pdf(2) == Approx(-0.74193734).epsilon(1e-7));
  }
  {
    // 30 observations: older ones ramp down (weights), widths clipped at 15 / 32.
    const auto s = one("{path: a, type: float, low: -5, high: 10}");
    std::vector<double> obs;
    for (int i = 0; i < 30; ++i) obs.push_back(-4.0 + 13.0 * i / 29.0);
    Parzen p(s.at("x"), obs, o), e(s.at("x"), obs, exact);
    CHECK(p.weights()[0] == Approx(0.00116618).epsilon(1e-5));
    CHECK(p.weights()[1] == Approx(0.00962099).epsilon(1e-5));
    CHECK(p.weights()[30] == Approx(0.03498542).epsilon(1e-5));
    CHECK(p.sigmas()[5] == Approx(0.46875));
    CHECK(p.log_pdf(0.5) == Approx(-2.62128202).epsilon(1e-7));
    CHECK(e.log_pdf(0.5) == Approx(-2.52008432).epsilon(1e-7));
  }
}
