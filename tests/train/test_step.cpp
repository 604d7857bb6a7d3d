// The trainer's pieces on their own: train_step (forward, loss, finite check, backward,
// clipping, optimizer step), the batch stream (sampler + loader -> complete batches) and
// the distributed context on one process (no-ops that return their input) and the meters.
#include <cmath>
#include <filesystem>
#include <map>
#include <opencv2/imgcodecs.hpp>
#include <torch/torch.h>

#include "catch_torch.h"
#include "core/config.h"
#include "data/image_folder.h"
#include "losses/loss.h"
#include "models/model_registry.h"
#include "samplers/sampler.h"
#include "test_support.h"
#include "train/batch_stream.h"
#include "train/dist_context.h"
#include "train/meters.h"
#include "train/optim.h"
#include "train/step.h"

using namespace wtp;
using train::TrainBatch;
namespace fs = std::filesystem;

namespace {

config::Component component(const std::string& yaml) {
  return config::decode_component(config::parse(yaml, "test_step"), "component");
}

/// A small embedding model with a 3-way classifier on 16 x 16 inputs, fixed weights.
models::EmbeddingModel tiny_model() {
  torch::manual_seed(5);
  return models::model_registry().create(
      component("{name: embedding_head, num_classes: 3, backbone: {name: siamese_cnn, "
                "input_size: 16, channels: [4], hidden: [8], embedding_dim: 6, dropout: 0.0}}"));
}

TrainBatch class_batch() {
  torch::manual_seed(9);
  TrainBatch b;
  b.images = torch::rand({6, 3, 16, 16});
  b.targets = torch::tensor(std::vector<std::int64_t>{0, 1, 2, 0, 1, 2});
  return b;
}

std::vector<torch::Tensor> copies(const torch::nn::Module& m) {
  std::vector<torch::Tensor> out;
  for (const auto& p : m.parameters()) out.push_back(p.detach().clone());
  return out;
}

/// The L2 norm of the change of every parameter.
double change_norm(const torch::nn::Module& m, const std::vector<torch::Tensor>& before) {
  double sum = 0;
  const auto now = m.parameters();
  for (std::size_t i = 0; i < now.size(); ++i)
    sum += (now[i].detach() - before[i]).pow(2).sum().item<double>();
  return std::sqrt(sum);
}

/// Image folder of n images in 2 classes, image i a flat grey of value 10 i + 5.
data::Dataset grey_folder(const fs::path& root, int n) {
  for (int i = 0; i < n; ++i) {
    const fs::path file = root / (i % 2 ? "b" : "a") / ("img_" + std::to_string(10 + i) + ".png");
    fs::create_directories(file.parent_path());
    cv::imwrite(file.string(), cv::Mat(4, 4, CV_8UC3, cv::Scalar::all(10 * i + 5)));
  }
  data::ImageFolderOptions o;
  o.root = root.string();
  return data::load_image_folder(o);
}

}  // namespace

TEST_CASE("train_step returns the batch's loss and takes one optimizer step", "[train][step]") {
  auto model = tiny_model();
  model->train();
  auto loss = losses::loss_registry().create(component("{name: cross_entropy}"));
  auto built = train::optimizer_registry().create(component("{name: sgd, lr: 0.5}"), *model);
  const auto batch = class_batch();
  // The loss before the step, computed here.
  const double expected =
      torch::nn::functional::cross_entropy(model->forward(batch.images).logits, batch.targets)
          .item<double>();
  const auto before = copies(*model);
  train::DistContext one;
  const auto r = train::train_step(*model, *loss, *built.optimizer, batch, one, {});
  CHECK(r.loss == Approx(expected).epsilon(1e-6));
  CHECK_FALSE(r.stop);
  CHECK(change_norm(*model, before) > 0);
  // Stepping again on the same batch lowers its loss.
  const auto again = train::train_step(*model, *loss, *built.optimizer, batch, one, {});
  CHECK(again.loss < r.loss);
}

TEST_CASE("train_step clips the gradient norm before the step", "[train][step]") {
  auto model = tiny_model();
  auto loss = losses::loss_registry().create(component("{name: cross_entropy}"));
  auto built = train::optimizer_registry().create(component("{name: sgd, lr: 1.0}"), *model);
  train::StepOptions options;
  options.clip_grad_norm = 1e-3;
  options.trainable = model->parameters();
  const auto before = copies(*model);
  train::DistContext one;
  train::train_step(*model, *loss, *built.optimizer, class_batch(), one, options);
  // Plain SGD with lr 1: the parameters moved by exactly the clipped gradient.
  CHECK(change_norm(*model, before) == Approx(1e-3).epsilon(1e-4));
}

TEST_CASE("train_step refuses a non-finite loss before touching the weights", "[train][step]") {
  auto model = tiny_model();
  auto loss = losses::loss_registry().create(component("{name: cross_entropy}"));
  auto built = train::optimizer_registry().create(component("{name: sgd, lr: 0.5}"), *model);
  auto batch = class_batch();
  batch.images[2][0][3][3] = std::numeric_limits<float>::quiet_NaN();
  const auto before = copies(*model);
  train::DistContext one;
  CHECK_THROWS_AS(train::train_step(*model, *loss, *built.optimizer, batch, one, {}),
                  train::NonFiniteLossError);
  CHECK(change_norm(*model, before) == 0);
  for (const auto& p : model->parameters()) CHECK_FALSE(p.grad().defined());
}

TEST_CASE("train_step on pairs feeds the two halves of the batch to the loss", "[train][step]") {
  auto model = tiny_model();
  model->eval();  // no BatchNorm statistics change between the two forward passes
  auto loss = losses::loss_registry().create(component("{name: contrastive, margin: 2.0}"));
  auto built = train::optimizer_registry().create(component("{name: sgd, lr: 0.1}"), *model);
  TrainBatch batch;
  torch::manual_seed(2);
  batch.images = torch::rand({4, 3, 16, 16});  // 2 firsts, then their 2 partners
  batch.targets = torch::tensor(std::vector<std::int64_t>{0, 1});
  batch.pairs = true;
  const auto e = model->forward(batch.images).embedding;
  losses::LossInputs in;
  in.embeddings = e.narrow(0, 0, 2);
  in.embeddings2 = e.narrow(0, 2, 2);
  in.labels = batch.targets;
  const double expected = loss->forward(in).total.item<double>();
  train::DistContext one;
  train::StepOptions options;
  options.stop_requested = [] { return true; };
  const auto r = train::train_step(*model, *loss, *built.optimizer, batch, one, options);
  CHECK(r.loss == Approx(expected).epsilon(1e-6));
  CHECK(r.stop);  // one process: its own request
}

TEST_CASE("the batch stream yields the sampler's batches decoded, with targets and states",
          "[train][batch_stream]") {
  test::TempDir dir;
  auto dataset = std::make_shared<const data::Dataset>(grey_folder(dir / "images", 7));
  auto pipeline = std::make_shared<const data::Pipeline>();
  samplers::SamplerInput input;
  input.labels = dataset->labels();
  input.seed = 4;
  const auto sampler_options = component("{name: random, batch_size: 3}");
  auto sampler = samplers::sampler_registry().create(sampler_options, input);
  auto reference = samplers::sampler_registry().create(sampler_options, input);
  sampler->set_epoch(1);
  reference->set_epoch(1);
  const std::vector<std::int64_t> targets{70, 71, 72, 73, 74, 75, 76};
  data::LoaderOptions lo;
  lo.workers = 2;
  lo.prefetch = 2;
  lo.height = lo.width = 4;
  train::BatchStream stream(dataset, pipeline, *sampler, targets, 2, lo);
  for (int k = 0; k < 2; ++k) {
    auto b = stream.next();
    REQUIRE(b);
    const auto expected = reference->next();
    REQUIRE(expected);
    CHECK(b->indices == expected->indices);
    CHECK_FALSE(b->pairs);
    REQUIRE(b->targets.size(0) == 3);
    for (int i = 0; i < 3; ++i) {
      const auto index = b->indices[static_cast<std::size_t>(i)];
      CHECK(b->targets[i].item<std::int64_t>() == 70 + index);
      // The decoded image is the item's: its grey value.
      const auto file = dataset->item(index).file;
      const int n = std::stoi(file.substr(file.find('_') + 1)) - 10;
      CHECK(b->images[i].mean().item<double>() == Approx((10 * n + 5) / 255.0).margin(1e-6));
    }
    CHECK(b->after.to_vector() == reference->state().to_vector());
  }
  CHECK_FALSE(stream.next());  // count = 2 batches
}

TEST_CASE("the batch stream gives pair batches 2P images and P pair labels",
          "[train][batch_stream]") {
  test::TempDir dir;
  auto dataset = std::make_shared<const data::Dataset>(grey_folder(dir / "images", 8));
  samplers::SamplerInput input;
  input.labels = dataset->labels();
  auto sampler =
      samplers::sampler_registry().create(component("{name: pairs, batch_size: 2}"), input);
  auto reference =
      samplers::sampler_registry().create(component("{name: pairs, batch_size: 2}"), input);
  sampler->set_epoch(0);
  reference->set_epoch(0);
  data::LoaderOptions lo;
  lo.workers = 0;
  lo.height = lo.width = 4;
  train::BatchStream stream(dataset, std::make_shared<const data::Pipeline>(), *sampler,
                            input.labels, 100, lo);
  int batches = 0;
  while (auto b = stream.next()) {
    const auto expected = reference->next();
    REQUIRE(expected);
    CHECK(b->pairs);
    CHECK(b->images.size(0) == 4);
    CHECK(b->indices == expected->indices);
    const std::vector<std::int64_t> pair_labels(b->targets.data_ptr<std::int64_t>(),
                                                b->targets.data_ptr<std::int64_t>() + 2);
    CHECK(pair_labels == expected->pair_labels);
    ++batches;
  }
  CHECK(batches == sampler->batches_per_epoch());  // the epoch ends before count
}

TEST_CASE("the distributed context of one process returns its input", "[train][dist_context]") {
  train::DistContext one;
  CHECK_FALSE(one.distributed());
  CHECK(one.rank() == 0);
  CHECK(one.world_size() == 1);
  CHECK(one.is_main());
  double loss = 1.25;
  std::map<std::string, double> parts{{"a", 0.5}};
  CHECK(one.agree_on_step(loss, parts, true));
  CHECK_FALSE(one.agree_on_step(loss, parts, false));
  CHECK(loss == 1.25);
  CHECK(parts.at("a") == 0.5);
  CHECK(one.any({true, false}, "x") == std::vector<bool>{true, false});
  auto model = tiny_model();
  const auto before = copies(*model);
  one.broadcast(*model, false, "weights");
  one.reduce_gradients(model->parameters());
  one.before_backward();
  one.after_backward();
  CHECK(change_norm(*model, before) == 0);
}

TEST_CASE("the distributed context on one process returns its input and waits for no one",
          "[train][dist_context]") {
  train::DistContext one;
  CHECK_FALSE(one.distributed());
  CHECK(one.is_main());
  CHECK(one.rank() == 0);
  CHECK(one.world_size() == 1);
  CHECK(one.describe().empty());
  const auto rows = torch::arange(6).reshape({3, 2});
  CHECK(torch::equal(one.gather_rows(rows, "test"), rows));
  CHECK(one.broadcast_value(2.5, "test") == 2.5);
  CHECK(one.any({true, false}, "test") == std::vector<bool>{true, false});
  double loss = 1.5;
  std::map<std::string, double> parts{{"p", 0.25}};
  CHECK(one.agree_on_step(loss, parts, true));
  CHECK(loss == 1.5);
  CHECK(parts.at("p") == 0.25);
  one.main_done("k");
  one.wait_for_main("k", "test");  // returns at once
  auto model = tiny_model();
  one.check_same_weights(*model);
}

TEST_CASE("the average meter is the running mean of what was added since reset",
          "[train][meters]") {
  train::AverageMeter m;
  CHECK(m.mean() == 0.0);  // nothing yet
  m.add(1.0);
  m.add(2.0);
  m.add(6.0);
  CHECK(m.count == 3);
  CHECK(m.sum == 9.0);
  CHECK(m.mean() == 3.0);
  m.reset();
  CHECK(m.count == 0);
  CHECK(m.mean() == 0.0);
  m.add(-0.5);
  CHECK(m.mean() == -0.5);
}
