#include <csignal>
#include <fstream>
#include <torch/torch.h>

#include "catch_torch.h"
#include "core/config.h"
#include "test_support.h"
#include "train/checkpoint.h"
#include "train/interrupt.h"
#include "train/optim.h"

namespace config = wtp::config;
using namespace wtp::train;

namespace {

struct TwoPartImpl : torch::nn::Module {
  TwoPartImpl() {
    backbone = register_module("backbone", torch::nn::Linear(4, 3));
    head = register_module("head", torch::nn::Linear(3, 1));
    bn = register_module("bn", torch::nn::BatchNorm1d(3));
  }
  torch::Tensor forward(torch::Tensor x) { return head(bn(backbone(x))); }
  torch::nn::Linear backbone{nullptr}, head{nullptr};
  torch::nn::BatchNorm1d bn{nullptr};
};
TORCH_MODULE(TwoPart);

config::Component component(const std::string& yaml) {
  return config::decode_component(config::parse(yaml, "test.yaml"), "optimizer");
}

double factor(const std::string& yaml, double epoch, int total = 10) {
  return schedule_registry().create(component(yaml))->factor(epoch, total);
}

}  // namespace

TEST_CASE("learning-rate schedules give the documented factors", "[train][schedule]") {
  CHECK(factor("name: constant", 7.3) == 1.0);
  // StepLR(10, 0.5) as in the old Group Loss recipe.
  CHECK(factor("{name: step, step_size: 10, gamma: 0.5}", 9.99, 30) == 1.0);
  CHECK(factor("{name: step, step_size: 10, gamma: 0.5}", 10.0, 30) == 0.5);
  CHECK(factor("{name: step, step_size: 10, gamma: 0.5}", 25.0, 30) == 0.25);
  CHECK(factor("{name: multistep, milestones: [2, 5], gamma: 0.1}", 1.5) == 1.0);
  CHECK(factor("{name: multistep, milestones: [2, 5], gamma: 0.1}", 2.0) == Approx(0.1));
  CHECK(factor("{name: multistep, milestones: [2, 5], gamma: 0.1}", 6.0) == Approx(0.01));
  CHECK(factor("{name: cosine, min_factor: 0.1}", 0.0) == Approx(1.0));
  CHECK(factor("{name: cosine, min_factor: 0.1}", 5.0) == Approx(0.55));
  CHECK(factor("{name: cosine, min_factor: 0.1}", 10.0) == Approx(0.1));
  // Linear warm-up from 0 over 2 epochs, per step.
  CHECK(factor("{name: constant, warmup_epochs: 2}", 0.5) == Approx(0.25));
  CHECK(factor("{name: constant, warmup_epochs: 2, warmup_start: 0.5}", 1.0) == Approx(0.75));
  CHECK(factor("{name: constant, warmup_epochs: 2}", 2.0) == 1.0);
  // poly: insightface's PolynomialLRWarmup(warmup_iters=2, total_iters=10), run here with
  // Debian's python3-torch, gave the rates 0.5, 1.0, 0.875, 0.75, ... 0.125, 0.0 at steps
  // 1..10 (power 1) and 0.765625, 0.5625, 0.390625, 0.25 at steps 3..6 (power 2). (At step
  // 0 it returns the base rate, skipping its own warm-up; here the warm-up starts at 0.)
  CHECK(factor("{name: poly, warmup_epochs: 2}", 1.0) == Approx(0.5));
  CHECK(factor("{name: poly, warmup_epochs: 2}", 2.0) == Approx(1.0));
  for (int e = 3; e <= 10; ++e)
    CHECK(factor("{name: poly, warmup_epochs: 2}", e) ==
          Approx(1.0 - 0.125 * (e - 2)).margin(1e-12));
  const double squared[] = {0.765625, 0.5625, 0.390625, 0.25};
  for (int e = 3; e <= 6; ++e)
    CHECK(factor("{name: poly, power: 2, warmup_epochs: 2}", e) == Approx(squared[e - 3]));
  CHECK(factor("{name: poly}", 5.0) == Approx(0.5));
  CHECK_THROWS_WITH(factor("{name: poly, power: 0}", 1), Catch::Contains("power must be > 0"));
  CHECK_THROWS_WITH(factor("{name: step, step_size: 0}", 1),
                    Catch::Contains("step_size must be > 0"));
  CHECK_THROWS_WITH(factor("{name: linear}", 1),
                    Catch::Contains("known: constant, cosine, multistep, poly, step"));
}

TEST_CASE("optimizers build per-prefix groups and skip frozen parameters", "[train][optim]") {
  torch::manual_seed(0);
  TwoPart model;
  for (auto& p : model->bn->parameters()) p.set_requires_grad(false);
  auto built =
      optimizer_registry().create(component("{name: adam, lr: 0.01, weight_decay: 0.001, groups: "
                                            "[{prefix: backbone., lr_scale: 0.1}]}"),
                                  *model);
  auto& groups = built.optimizer->param_groups();
  REQUIRE(groups.size() == 2);
  CHECK((built.group_names == std::vector<std::string>{"base", "backbone."}));
  CHECK(groups[0].params().size() == 2);  // head weight + bias; bn frozen
  CHECK(groups[1].params().size() == 2);
  CHECK(groups[1].options().get_lr() == Approx(0.001));
  built.set_lr_factor(0.5);
  CHECK(groups[0].options().get_lr() == Approx(0.005));
  CHECK(groups[1].options().get_lr() == Approx(0.0005));
  CHECK(built.lr() == Approx(0.005));

  CHECK_THROWS_WITH(
      optimizer_registry().create(component("{name: sgd, groups: [{prefix: trunk.}]}"), *model),
      Catch::Contains("'trunk.' matches no trainable parameter"));
  CHECK_THROWS_WITH(
      optimizer_registry().create(component("{name: sgd, nesterov: true, momentum: 0}"), *model),
      Catch::Contains("nesterov needs momentum > 0"));
  CHECK_THROWS_WITH(optimizer_registry().create(component("{name: adam, betas: [0.9]}"), *model),
                    Catch::Contains("betas must be"));
}

TEST_CASE("an optimizer step equals LibTorch's own optimizer", "[train][optim]") {
  for (const std::string name : {"adam", "adamw", "sgd"}) {
    INFO(name);
    torch::manual_seed(1);
    TwoPart a;
    TwoPart b;
    {
      torch::NoGradGuard no_grad;
      for (std::size_t i = 0; i < a->parameters().size(); ++i)
        b->parameters()[i].copy_(a->parameters()[i]);
    }
    auto ours = optimizer_registry().create(
        component("{name: " + name + ", lr: 0.05, weight_decay: 0.01}"), *a);
    std::unique_ptr<torch::optim::Optimizer> ref;
    if (name == "adam")
      ref = std::make_unique<torch::optim::Adam>(
          b->parameters(), torch::optim::AdamOptions(0.05).weight_decay(0.01));
    if (name == "adamw")
      ref = std::make_unique<torch::optim::AdamW>(
          b->parameters(), torch::optim::AdamWOptions(0.05).weight_decay(0.01));
    if (name == "sgd")
      ref = std::make_unique<torch::optim::SGD>(
          b->parameters(), torch::optim::SGDOptions(0.05).momentum(0.9).weight_decay(0.01));
    auto x = torch::randn({8, 4});
    for (int step = 0; step < 3; ++step) {
      for (auto [model, opt] :
           {std::pair<TwoPart*, torch::optim::Optimizer*>{&a, ours.optimizer.get()},
            {&b, ref.get()}}) {
        opt->zero_grad();
        (*model)->forward(x).pow(2).mean().backward();
        opt->step();
      }
    }
    for (std::size_t i = 0; i < a->parameters().size(); ++i)
      CHECK(torch::allclose(a->parameters()[i], b->parameters()[i], 1e-6, 1e-7));
  }
}

TEST_CASE("gradient clipping bounds the global norm", "[train][optim]") {
  auto p = torch::zeros({2}, torch::requires_grad());
  p.mutable_grad() = torch::tensor({3.0f, 4.0f});
  CHECK(clip_gradients({p}, 1.0) == Approx(5.0));
  CHECK(p.grad().norm().item<double>() == Approx(1.0).epsilon(1e-5));
}

TEST_CASE("checkpoints round-trip model, optimizer and state, atomically", "[train][checkpoint]") {
  wtp::test::TempDir dir;
  torch::manual_seed(2);
  TwoPart model;
  auto built = optimizer_registry().create(component("{name: adam, lr: 0.01}"), *model);
  auto x = torch::randn({8, 4});
  built.optimizer->zero_grad();
  model->forward(x).sum().backward();
  built.optimizer->step();

  TrainState state;
  state.stage = 1;
  state.epoch = 3;
  state.step = 42;
  state.global_step = 99;
  state.best_metric = 0.875;
  state.has_best = true;
  state.sampler = {7, 8, 9};
  state.stage_done = true;
  state.bad_epochs = 2;
  state.epoch_loss.sum = 1.5;
  state.epoch_loss.count = 4;
  state.config_yaml = "model: x\n";
  const std::string path = (dir / "checkpoints" / "last.pt").string();
  save_checkpoint(path, *model, built.optimizer.get(), state);
  CHECK(std::filesystem::exists(path));
  CHECK(std::distance(std::filesystem::directory_iterator(dir / "checkpoints"), {}) ==
        1);  // no temp left

  torch::manual_seed(3);
  TwoPart other;
  auto other_opt = optimizer_registry().create(component("{name: adam, lr: 0.01}"), *other);
  auto loaded = load_checkpoint(path, *other, other_opt.optimizer.get());
  CHECK(loaded.stage == 1);
  CHECK(loaded.epoch == 3);
  CHECK(loaded.step == 42);
  CHECK(loaded.global_step == 99);
  CHECK(loaded.best_metric == 0.875);
  CHECK(loaded.has_best);
  CHECK(loaded.sampler == state.sampler);
  CHECK(loaded.stage_done);
  CHECK(loaded.bad_epochs == 2);
  CHECK(loaded.epoch_loss.sum == 1.5);
  CHECK(loaded.epoch_loss.count == 4);
  CHECK(loaded.config_yaml == state.config_yaml);
  for (std::size_t i = 0; i < model->parameters().size(); ++i)
    CHECK(torch::equal(model->parameters()[i], other->parameters()[i]));
  CHECK(torch::equal(model->bn->running_mean, other->bn->running_mean));
  // Optimizer state restored: one more identical step keeps the models identical.
  for (auto [m, o] : {std::pair<TwoPart*, torch::optim::Optimizer*>{&model, built.optimizer.get()},
                      {&other, other_opt.optimizer.get()}}) {
    o->zero_grad();
    (*m)->forward(x).sum().backward();
    o->step();
  }
  for (std::size_t i = 0; i < model->parameters().size(); ++i)
    CHECK(torch::equal(model->parameters()[i], other->parameters()[i]));

  // A failed write leaves the previous checkpoint untouched.
  const auto before = wtp::test::read_file(path);
  std::filesystem::create_directories(dir / "blocked");
  CHECK_THROWS_WITH(save_checkpoint((dir / "blocked").string(), *model, nullptr, state),
                    Catch::Contains("cannot write checkpoint"));
  CHECK(wtp::test::read_file(path) == before);

  std::ofstream(dir / "garbage.pt") << "not a checkpoint";
  CHECK_THROWS_WITH(read_checkpoint_state((dir / "garbage.pt").string()),
                    Catch::Contains("cannot read checkpoint"));
  CHECK_THROWS_WITH(read_checkpoint_state((dir / "none.pt").string()),
                    Catch::Contains("does not exist"));
  auto truncated = before.substr(0, before.size() / 2);
  std::ofstream(dir / "truncated.pt", std::ios::binary) << truncated;
  CHECK_THROWS_AS(read_checkpoint_state((dir / "truncated.pt").string()), std::runtime_error);
}

TEST_CASE("InterruptGuard turns SIGINT into a flag", "[train][interrupt]") {
  {
    InterruptGuard guard;
    CHECK_FALSE(InterruptGuard::requested());
    std::raise(SIGINT);
    CHECK(InterruptGuard::requested());
    CHECK(InterruptGuard::signal_number() == SIGINT);
  }
  InterruptGuard::reset();
  CHECK_FALSE(InterruptGuard::requested());
}

TEST_CASE("checkpoint tensors can be read back by name", "[train][checkpoint]") {
  wtp::test::TempDir dir;
  torch::manual_seed(4);
  TwoPart model;
  TrainState state;
  state.torch_rng = torch::randint(0, 255, {16}, torch::kUInt8);
  const std::string path = (dir / "c.pt").string();
  save_checkpoint(path, *model, nullptr, state);
  auto tensors = read_checkpoint_tensors(path);
  std::map<std::string, torch::Tensor> by_name(tensors.begin(), tensors.end());
  REQUIRE(by_name.count("backbone.weight"));
  REQUIRE(by_name.count("bn.running_var"));
  CHECK(torch::equal(by_name.at("backbone.weight"), model->backbone->weight));
  CHECK(torch::equal(read_checkpoint_state(path).torch_rng, state.torch_rng));
}
