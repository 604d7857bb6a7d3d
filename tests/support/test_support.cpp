#include "test_support.h"

#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <vector>

namespace wtp::test {

std::filesystem::path source_dir() { return WTP_SOURCE_DIR; }

std::filesystem::path bin_dir() { return WTP_BIN_DIR; }

std::optional<std::filesystem::path> shared_dir() {
  auto dir = source_dir().parent_path() / "shared";
  if (std::filesystem::is_directory(dir)) return dir;
  return std::nullopt;
}

bool skips_fail() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

void report_skip(const std::string& reason) { std::cout << "WTP-SKIPPED: " << reason << std::endl; }

TempDir::TempDir() {
  static std::atomic<int> counter{0};
  auto base = std::filesystem::temp_directory_path();
  for (int attempt = 0; attempt < 1000; ++attempt) {
    auto candidate =
        base / ("wtp-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    if (std::filesystem::create_directory(candidate)) {
      path_ = candidate;
      return;
    }
  }
  throw std::runtime_error("TempDir: could not create a temporary directory");
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) throw std::runtime_error("run_command: popen failed for: " + command);
  std::array<char, 4096> buffer{};
  size_t n;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    result.output.append(buffer.data(), n);
  int status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::optional<std::string> python_with_torch() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("WTP_PYTHON")) candidates.emplace_back(env);
  candidates.emplace_back("python3");
  candidates.emplace_back("/usr/bin/python3");
  for (const auto& python : candidates)
    if (run_command(python + " -c 'import torch'").status == 0) return python;
  return std::nullopt;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("read_file: cannot open " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string tiny_base_yaml(const std::filesystem::path& dir, int identities) {
  const std::string synth = (dir / "synth").string();
  std::ostringstream y;
  y << "seed: 3\n"
    << "out: " << (dir / "run").string() << "\n"
    << "synth: {out: " << synth << ", identities: " << identities
    << ", images_per_identity: 6, size: 32, seed: 1, threads: 1}\n"
    << "data:\n"
    << "  dataset: {name: celeba, root: " << synth << "/celeba}\n"
    << "  split: {mode: identity, train: 0.6, valid: 0.2, test: 0.2, seed: 0}\n"
    << "  workers: 1\n"
    << "  transforms: {train: [{name: resize, size: 32}], eval: [{name: resize, size: 32}]}\n"
    << "model:\n"
    << "  name: embedding_head\n"
    << "  backbone: {name: siamese_cnn, input_size: 32, channels: [8, 16, 32], hidden: [64],\n"
    << "             embedding_dim: 32, dropout: 0.0, init_gain: 1.0}\n"
    << "  num_classes: auto\n"
    << "validation: {kind: retrieval, metric: recall_at_1, retrieval: {ks: [1, 2]}}\n";
  return y.str();
}

std::filesystem::path write_tiny_base(const std::filesystem::path& dir, int identities) {
  const auto path = dir / "tiny_base.yaml";
  std::ofstream(path) << tiny_base_yaml(dir, identities);
  return path;
}

}  // namespace wtp::test
