// Data-parallel scaling of BN-Inception training steps, and the cost of all-reducing its
// gradients over c10d/Gloo. Not a test; run by bench/run_dist.sh. Run it plainly (1 rank)
// or under wtp-launch (each process is a rank; rank 0 prints the results):
//
//   bench_dist [--mode train|allreduce] [--steps 4] [--warmup 1] [--batch 8] [--size 224]
//              [--threads N] [--overlap 1] [--bucket-mb 25]
//
// train:     random 3 x size x size images, random labels of 100 classes, cross-entropy on
//            BN-Inception's classifier, SGD; per step: forward, backward, gradient
//            all-reduce (GradientReducer, overlapped with backward or not), optimizer step.
//            Prints global images/s and the fraction of the step spent waiting for the
//            all-reduce (the communication not hidden by the backward pass).
// allreduce: only the all-reduce of BN-Inception's gradients (no compute): ms per step and
//            the algorithm bandwidth (gradient bytes / time).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <torch/torch.h>

#include "core/config.h"
#include "core/threads.h"
#include "dist/gradient_reducer.h"
#include "dist/group.h"
#include "models/model_registry.h"

using namespace wtp;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  std::string mode = "train";
  int steps = 4, warmup = 1, batch = 8, size = 224, threads = 0;
  bool overlap = true;
  double bucket_mb = 25;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (i + 1 >= argc) throw std::runtime_error("bench_dist: " + k + " needs a value");
    const std::string v = argv[++i];
    if (k == "--mode")
      a.mode = v;
    else if (k == "--steps")
      a.steps = std::stoi(v);
    else if (k == "--warmup")
      a.warmup = std::stoi(v);
    else if (k == "--batch")
      a.batch = std::stoi(v);
    else if (k == "--size")
      a.size = std::stoi(v);
    else if (k == "--threads")
      a.threads = std::stoi(v);
    else if (k == "--overlap")
      a.overlap = v == "1";
    else if (k == "--bucket-mb")
      a.bucket_mb = std::stod(v);
    else
      throw std::runtime_error("bench_dist: unknown option " + k);
  }
  if (a.mode != "train" && a.mode != "allreduce")
    throw std::runtime_error("bench_dist: --mode is train or allreduce");
  return a;
}

double seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

int main(int argc, char** argv) try {
  const Args args = parse(argc, argv);
  const int threads = set_threads(args.threads > 0 ? args.threads : dist::default_threads());
  std::unique_ptr<dist::Group> group;
  if (auto env = dist::LaunchEnv::from_environment(); env && env->world_size > 1)
    group = std::make_unique<dist::Group>(*env, torch::kCPU);
  const int world = group ? group->world_size() : 1;
  const bool main_rank = !group || group->is_main();

  auto options =
      config::parse("{num_classes: 100, input_size: " + std::to_string(args.size) + "}", "bench");
  auto model = models::model_registry().create({"bn_inception", options});
  model->train();
  std::vector<torch::Tensor> params;
  std::int64_t numel = 0;
  for (auto& p : model->parameters())
    if (p.requires_grad()) {
      params.push_back(p);
      numel += p.numel();
    }
  if (group) group->broadcast_module(*model, false, "initial weights");
  dist::ReducerOptions ro;
  ro.overlap = args.overlap;
  ro.bucket_mb = args.bucket_mb;
  std::unique_ptr<dist::GradientReducer> reducer;
  if (group) reducer = std::make_unique<dist::GradientReducer>(*group, params, ro);
  const double mb = static_cast<double>(numel) * 4 / 1e6;

  if (args.mode == "allreduce") {
    if (!group) throw std::runtime_error("bench_dist --mode allreduce: start it with wtp-launch");
    for (auto& p : params) p.mutable_grad() = torch::randn_like(p);
    Clock::time_point start;
    for (int s = 0; s < args.warmup + args.steps; ++s) {
      if (s == args.warmup) start = Clock::now();
      reducer->prepare();  // no backward: finish() reduces .grad of every parameter
      reducer->finish();
    }
    const double per_step = seconds(start, Clock::now()) / args.steps;
    if (main_rank)
      std::printf(
          "RESULT allreduce world=%d params=%lld grad_MB=%.1f buckets=%zu ms_per_step=%.1f "
          "algbw_MB_per_s=%.0f\n",
          world, static_cast<long long>(numel), mb, reducer->buckets(), per_step * 1000,
          mb / per_step);
    return 0;
  }

  torch::optim::SGD sgd(params, torch::optim::SGDOptions(0.01).momentum(0.9));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(1000 + (group ? group->rank() : 0));
  auto images = torch::randn({args.batch, 3, args.size, args.size}, gen, torch::kFloat);
  auto labels = torch::randint(0, 100, {args.batch}, gen, torch::kLong);
  Clock::time_point start;
  double wait_at_start = 0;
  for (int s = 0; s < args.warmup + args.steps; ++s) {
    if (s == args.warmup) {
      start = Clock::now();
      wait_at_start = reducer ? reducer->wait_seconds() : 0;
    }
    auto out = model->forward(images);
    auto loss = torch::nn::functional::cross_entropy(out.logits, labels);
    sgd.zero_grad();
    if (reducer) reducer->prepare();
    loss.backward();
    if (reducer) reducer->finish();
    sgd.step();
    if (main_rank)
      std::fprintf(stderr, "step %d/%d loss %.4f\n", s + 1, args.warmup + args.steps,
                   loss.item<double>());
  }
  const double total = seconds(start, Clock::now());
  const double wait = reducer ? reducer->wait_seconds() - wait_at_start : 0;
  if (main_rank)
    std::printf(
        "RESULT train world=%d threads=%d batch_per_rank=%d overlap=%d step_s=%.2f "
        "img_per_s=%.2f comm_wait_s_per_step=%.3f comm_fraction=%.3f grad_MB=%.1f\n",
        world, threads, args.batch, reducer ? static_cast<int>(args.overlap) : 0,
        total / args.steps, static_cast<double>(args.batch) * world * args.steps / total,
        wait / args.steps, wait / total, mb);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_dist: failed: %s\n", e.what());
  return 1;
}
