// Training throughput of wtp-train's step (not a test; run by bench/run_train.sh side by side
// with the PyTorch peer bench/train_torch.py).
//
//   bench_train --model siamese_cnn|bn_inception|iresnet50|mobilefacenet --batch B
//               --mode compute|jpeg [--images DIR]
//               [--steps N] [--warmup W] [--threads 2] [--workers 2] [--classes 1000]
//
// The model, loss, optimizer, sampler, train transforms and loader are built from the
// registries exactly as configs/contrastive.yaml (siamese_cnn: contrastive loss, margin 2,
// Adam lr 1e-4, B/2 pairs per batch, horizontal flip + resize 128) and configs/group_loss.yaml
// (embedding_head over bn_inception with a `classes`-way classifier, Group Loss T = 12,
// Adam lr 1.602403e-4 with weight decay 8.465428e-5, random resized crop 224 + flip) make
// them; only the batch shape is the benchmark's (B/2 classes x 2 images, labelled_per_class
// 1). iresnet50 / mobilefacenet (compute only): configs/arcface_iresnet50.yaml's training,
// the backbone at 112 x 112 under a `classes`-way cosine classifier, ArcFace s = 64,
// m = 0.5, SGD lr 0.1, momentum 0.9, weight decay 5e-4. Each step is the trainer's own
// (train::train_step: forward, the loss, its value and parts, zero_grad, backward, optimizer
// step), fed by the trainer's train::BatchStream in jpeg mode.
//
// compute: the same in-memory random batch every step (pure compute). jpeg: a BatchLoader
// (workers threads, prefetch 4) over an ImageFolder tree of JPEGs (e.g. wtp-synth's
// lfw/lfw-deepfunneled), batches drawn by the recipe's sampler. Prints one line:
//   RESULT wtp model=... batch=... mode=... threads=... img_per_s=... median_step_ms=... params=...
#include <ATen/CPUGeneratorImpl.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <sys/resource.h>
#include <torch/torch.h>
#include <vector>

#include "core/config.h"
#include "core/threads.h"
#include "data/image_folder.h"
#include "losses/loss.h"
#include "models/model_registry.h"
#include "samplers/sampler.h"
#include "train/batch_stream.h"
#include "train/dist_context.h"
#include "train/optim.h"
#include "train/run_evaluator.h"
#include "train/step.h"

using namespace wtp;

namespace {

struct Args {
  std::string model = "siamese_cnn";
  std::string mode = "compute";
  std::string images;
  std::int64_t batch = 64;
  int steps = 10;
  int warmup = 3;
  int threads = 2;
  int workers = 2;
  std::int64_t classes = 1000;
};

[[noreturn]] void usage(const std::string& message) {
  std::fprintf(stderr,
               "bench_train: %s\nusage: bench_train --model siamese_cnn|bn_inception|iresnet50|"
               "mobilefacenet --batch B "
               "--mode compute|jpeg [--images DIR] [--steps N] [--warmup W] [--threads T] "
               "[--workers K] [--classes C]\n",
               message.c_str());
  std::exit(2);
}

Args parse_args(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--model")
      a.model = value();
    else if (arg == "--mode")
      a.mode = value();
    else if (arg == "--images")
      a.images = value();
    else if (arg == "--batch")
      a.batch = std::stoll(value());
    else if (arg == "--steps")
      a.steps = std::stoi(value());
    else if (arg == "--warmup")
      a.warmup = std::stoi(value());
    else if (arg == "--threads")
      a.threads = std::stoi(value());
    else if (arg == "--workers")
      a.workers = std::stoi(value());
    else if (arg == "--classes")
      a.classes = std::stoll(value());
    else
      usage("unknown argument '" + arg + "'");
  }
  const bool arcface = a.model == "iresnet50" || a.model == "mobilefacenet";
  if (a.model != "siamese_cnn" && a.model != "bn_inception" && !arcface)
    usage("--model must be siamese_cnn, bn_inception, iresnet50 or mobilefacenet");
  if (a.mode != "compute" && a.mode != "jpeg") usage("--mode must be compute or jpeg");
  if (a.mode == "jpeg" && a.images.empty()) usage("--mode jpeg needs --images DIR");
  if (a.batch < 4 || a.batch % 2 != 0) usage("--batch must be an even number >= 4");
  if (a.steps < 1 || a.warmup < 0) usage("--steps must be >= 1 and --warmup >= 0");
  if (arcface && a.mode != "compute") usage("--model " + a.model + " runs --mode compute only");
  if (a.model != "siamese_cnn" && a.classes < a.batch / 2)
    usage("--classes must be at least --batch / 2 (the classes of one batch)");
  return a;
}

config::Component component(const std::string& yaml, const std::string& path) {
  return config::decode_component(config::parse(yaml, "bench_train"), path);
}

/// The recipe's pieces (see the file comment).
struct Recipe {
  config::Component model, loss, optimizer, sampler;
  std::vector<config::Component> transforms;
};

Recipe recipe(const Args& a) {
  Recipe r;
  const std::string half = std::to_string(a.batch / 2);
  if (a.model == "siamese_cnn") {
    r.model = component("{name: siamese_cnn}", "model");
    r.loss = component("{name: contrastive, margin: 2.0}", "loss");
    r.optimizer = component("{name: adam, lr: 1.0e-4}", "optimizer");
    r.sampler = component("{name: pairs, batch_size: " + half + "}", "sampler");
    r.transforms = {component("{name: horizontal_flip}", "t"),
                    component("{name: resize, size: 128}", "t")};
  } else if (a.model == "iresnet50" || a.model == "mobilefacenet") {
    const std::string backbone =
        a.model == "iresnet50" ? "{name: iresnet, depth: 50}" : "{name: mobilefacenet}";
    r.model = component("{name: embedding_head, backbone: " + backbone +
                            ", classifier: cosine, num_classes: " + std::to_string(a.classes) + "}",
                        "model");
    r.loss = component("{name: arcface, scale: 64, margin: 0.5}", "loss");
    r.optimizer =
        component("{name: sgd, lr: 0.1, momentum: 0.9, weight_decay: 5.0e-4}", "optimizer");
    r.sampler = component(
        "{name: class_balanced, classes_per_batch: " + half + ", images_per_class: 2}", "sampler");
  } else {
    r.model = component("{name: embedding_head, backbone: {name: bn_inception}, num_classes: " +
                            std::to_string(a.classes) + "}",
                        "model");
    r.loss = component("{name: group_loss, temperature: 12, labelled_per_class: 1, iterations: 1}",
                       "loss");
    r.optimizer =
        component("{name: adam, lr: 1.602403e-4, weight_decay: 8.465428e-5}", "optimizer");
    r.sampler = component(
        "{name: class_balanced, classes_per_batch: " + half + ", images_per_class: 2}", "sampler");
    r.transforms = {component("{name: random_resized_crop, size: 224, scale: [0.16, 1.0]}", "t"),
                    component("{name: horizontal_flip}", "t")};
  }
  return r;
}

/// CPU seconds (user + system) of the process so far, all threads.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + 1e-6 * t.tv_usec; };
  return s(u.ru_utime) + s(u.ru_stime);
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse_args(argc, argv);
  set_threads(a.threads);
  torch::manual_seed(0);
  const Recipe r = recipe(a);
  models::EmbeddingModel model = models::model_registry().create(r.model);
  model->train();
  auto loss = losses::loss_registry().create(r.loss);
  auto built = train::optimizer_registry().create(r.optimizer, *model);
  std::int64_t params = 0;
  bool channels_last = false;  // the model's own layout (its conv weights)
  for (const auto& p : model->parameters()) {
    params += p.numel();
    if (p.dim() == 4) channels_last = p.is_contiguous(torch::MemoryFormat::ChannelsLast);
  }
  const bool pairs = loss->requirements().pairs;
  const auto spec = model->input_spec();

  // Batch sources: one fixed in-memory batch, or the trainer's batch stream, epoch after
  // epoch.
  std::shared_ptr<const data::Dataset> dataset;
  std::shared_ptr<const data::Pipeline> pipeline;
  std::unique_ptr<samplers::Sampler> sampler;
  std::unique_ptr<train::BatchStream> stream;
  std::vector<std::int64_t> targets;
  std::int64_t epoch = 0;
  train::TrainBatch fixed;
  if (a.mode == "compute") {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(1);
    fixed.images = torch::randn({a.batch, 3, spec.height, spec.width}, gen, torch::kFloat);
    fixed.pairs = pairs;
    std::vector<std::int64_t> labels;
    for (std::int64_t i = 0; i < (pairs ? a.batch / 2 : a.batch); ++i)
      labels.push_back(pairs ? i % 2 : i / 2);
    fixed.targets = torch::tensor(labels);
  } else {
    data::ImageFolderOptions fo;
    fo.root = a.images;
    dataset = std::make_shared<const data::Dataset>(data::load_image_folder(fo));
    pipeline =
        std::make_shared<const data::Pipeline>(train::make_pipeline(r.transforms, spec, "train"));
    samplers::SamplerInput input;
    input.labels = dataset->labels();
    targets = input.labels;
    sampler = samplers::sampler_registry().create(r.sampler, input);
  }
  auto next_batch = [&]() -> train::TrainBatch {
    if (!sampler) return fixed;
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!stream) {
        sampler->set_epoch(epoch++);
        data::LoaderOptions lo;
        lo.workers = a.workers;
        lo.prefetch = 4;
        stream = std::make_unique<train::BatchStream>(dataset, pipeline, *sampler, targets,
                                                      sampler->batches_per_epoch(), lo);
      }
      if (auto b = stream->next()) return std::move(*b);
      stream.reset();  // the epoch ended: the next one
    }
    throw std::runtime_error("bench_train: the sampler yields no batch");
  };

  // The trainer's step (the constant schedule: the learning rate stays the recipe's).
  train::DistContext single_process;
  train::StepOptions step_options;
  auto step = [&](const train::TrainBatch& batch) {
    const auto r =
        train::train_step(*model, *loss, *built.optimizer, batch, single_process, step_options);
    double logged = r.loss;
    for (const auto& part : r.parts) logged += part.second;
    return logged;
  };

  using Clock = std::chrono::steady_clock;
  std::vector<double> times;
  Clock::time_point start;
  double cpu_start = 0;
  double checksum = 0;
  for (int i = 0; i < a.warmup + a.steps; ++i) {
    if (i == a.warmup) start = Clock::now(), cpu_start = cpu_seconds();
    const auto t = Clock::now();
    checksum += step(next_batch());
    times.push_back(std::chrono::duration<double>(Clock::now() - t).count());
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu = cpu_seconds() - cpu_start;
  std::vector<double> measured(times.begin() + a.warmup, times.end());
  std::sort(measured.begin(), measured.end());
  const double median =
      measured.size() % 2
          ? measured[measured.size() / 2]
          : 0.5 * (measured[measured.size() / 2 - 1] + measured[measured.size() / 2]);
  if (!std::isfinite(checksum)) std::fprintf(stderr, "bench_train: non-finite loss\n");
  std::printf(
      "RESULT wtp model=%s batch=%lld mode=%s threads=%d img_per_s=%.2f median_step_ms=%.1f "
      "cpu_ms_per_img=%.1f params=%lld channels_last=%d\n",
      a.model.c_str(), static_cast<long long>(a.batch), a.mode.c_str(), a.threads,
      static_cast<double>(a.batch) * a.steps / seconds, 1000 * median,
      1000 * cpu / (static_cast<double>(a.batch) * a.steps), static_cast<long long>(params),
      channels_last ? 1 : 0);
  std::fflush(stdout);
  return 0;
}
