#include "train/checkpoint.h"

#include <unistd.h>

#include <filesystem>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/torch.h>

namespace wtp::train {
namespace fs = std::filesystem;

namespace {

constexpr const char* kMagic = "wtp-checkpoint";

void write_state(torch::serialize::OutputArchive& archive, TrainState s) {
  archive.write("magic", c10::IValue(std::string(kMagic)));
  auto write = [&](const char* key, const auto& value) { archive.write(key, c10::IValue(value)); };
  s.visit(write);
  if (s.torch_rng.defined()) archive.write("torch_rng", s.torch_rng, /*is_buffer=*/true);
}

c10::IValue read_value(torch::serialize::InputArchive& archive, const std::string& key,
                       const std::string& path) {
  c10::IValue value;
  if (!archive.try_read(key, value))
    throw std::runtime_error("checkpoint '" + path + "' has no '" + key +
                             "': not a wtp checkpoint, or written by an incompatible version");
  return value;
}

/// Reads each TrainState field by its key (TrainState::visit).
struct StateReader {
  torch::serialize::InputArchive& archive;
  const std::string& path;
  void operator()(const char* key, std::int64_t& v) { v = read_value(archive, key, path).toInt(); }
  void operator()(const char* key, bool& v) { v = read_value(archive, key, path).toBool(); }
  void operator()(const char* key, double& v) { v = read_value(archive, key, path).toDouble(); }
  void operator()(const char* key, std::string& v) {
    v = read_value(archive, key, path).toStringRef();
  }
  void operator()(const char* key, std::vector<std::int64_t>& v) {
    v = read_value(archive, key, path).toIntVector();
  }
};

TrainState read_state(torch::serialize::InputArchive& archive, const std::string& path) {
  c10::IValue magic;
  if (!archive.try_read("magic", magic) || !magic.isString() || magic.toStringRef() != kMagic)
    throw std::runtime_error("'" + path + "' is not a wtp training checkpoint");
  TrainState s;
  const std::int64_t version = read_value(archive, "format_version", path).toInt();
  if (version != s.format_version)
    throw std::runtime_error("checkpoint '" + path + "' has format version " +
                             std::to_string(version) + "; this build reads version " +
                             std::to_string(s.format_version));
  StateReader reader{archive, path};
  s.visit(reader);
  torch::Tensor rng;
  if (archive.try_read("torch_rng", rng, /*is_buffer=*/true)) s.torch_rng = rng;
  return s;
}

void load_archive(torch::serialize::InputArchive& archive, const std::string& path) {
  if (!fs::exists(path)) throw std::runtime_error("checkpoint '" + path + "' does not exist");
  try {
    archive.load_from(path);
  } catch (const c10::Error& e) {
    throw std::runtime_error(
        "cannot read checkpoint '" + path +
        "' (truncated or not a LibTorch archive): " + e.what_without_backtrace());
  }
}

}  // namespace

void save_checkpoint(const std::string& path, const torch::nn::Module& model,
                     const torch::optim::Optimizer* optimizer, const TrainState& state) {
  torch::serialize::OutputArchive archive;
  write_state(archive, state);
  torch::serialize::OutputArchive model_archive;
  for (const auto& p : model.named_parameters(/*recurse=*/true))
    model_archive.write(p.key(), p.value());
  for (const auto& b : model.named_buffers(/*recurse=*/true))
    model_archive.write(b.key(), b.value(), /*is_buffer=*/true);
  archive.write("model", model_archive);
  if (optimizer) {
    torch::serialize::OutputArchive optimizer_archive;
    optimizer->save(optimizer_archive);
    archive.write("optimizer", optimizer_archive);
  }
  const fs::path target(path);
  if (target.has_parent_path()) fs::create_directories(target.parent_path());
  const fs::path temp = target.string() + ".tmp-" + std::to_string(::getpid());
  try {
    archive.save_to(temp.string());
    fs::rename(temp, target);
  } catch (const std::exception& e) {
    std::error_code ec;
    fs::remove(temp, ec);
    throw std::runtime_error("cannot write checkpoint '" + path + "': " + e.what());
  }
}

TrainState load_checkpoint(const std::string& path, torch::nn::Module& model,
                           torch::optim::Optimizer* optimizer) {
  torch::serialize::InputArchive archive;
  load_archive(archive, path);
  TrainState state = read_state(archive, path);
  try {
    torch::serialize::InputArchive model_archive;
    archive.read("model", model_archive);
    torch::NoGradGuard no_grad;
    for (auto& p : model.named_parameters(/*recurse=*/true)) {
      torch::Tensor value = p.value();
      model_archive.read(p.key(), value);
    }
    for (auto& b : model.named_buffers(/*recurse=*/true)) {
      torch::Tensor value = b.value();
      model_archive.read(b.key(), value, /*is_buffer=*/true);
    }
    torch::serialize::InputArchive optimizer_archive;
    if (optimizer && archive.try_read("optimizer", optimizer_archive))
      optimizer->load(optimizer_archive);
  } catch (const c10::Error& e) {
    throw std::runtime_error("checkpoint '" + path + "' does not match the configured model: " +
                             e.what_without_backtrace());
  }
  return state;
}

std::vector<std::pair<std::string, torch::Tensor>> read_checkpoint_tensors(
    const std::string& path) {
  torch::serialize::InputArchive archive;
  load_archive(archive, path);
  read_state(archive, path);
  torch::serialize::InputArchive model_archive;
  archive.read("model", model_archive);
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& key : model_archive.keys()) {
    torch::Tensor t;
    if (model_archive.try_read(key, t) || model_archive.try_read(key, t, /*is_buffer=*/true))
      out.emplace_back(key, t);
  }
  return out;
}

TrainState read_checkpoint_state(const std::string& path) {
  torch::serialize::InputArchive archive;
  load_archive(archive, path);
  return read_state(archive, path);
}

}  // namespace wtp::train
