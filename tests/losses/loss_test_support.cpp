#include "loss_test_support.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>

#include "test_support.h"

namespace wtp::losses::test {

const nlohmann::json& upstream_reference() {
  static const nlohmann::json reference = [] {
    const auto path = wtp::test::source_dir() / "tests/losses/reference/upstream_losses.json";
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot read " + path.string());
    return nlohmann::json::parse(in);
  }();
  return reference;
}

torch::Tensor tensor_from_json(const nlohmann::json& values) {
  std::vector<double> flat;
  std::vector<int64_t> shape;
  const nlohmann::json* level = &values;
  while (level->is_array()) {
    shape.push_back(static_cast<int64_t>(level->size()));
    if (level->empty()) break;
    level = &level->front();
  }
  std::function<void(const nlohmann::json&)> collect = [&](const nlohmann::json& v) {
    if (v.is_array()) {
      for (const auto& item : v) collect(item);
    } else {
      flat.push_back(v.get<double>());
    }
  };
  collect(values);
  return torch::tensor(flat, torch::kDouble).reshape(shape);
}

std::vector<UpstreamCase> upstream_cases(const std::string& name) {
  std::vector<UpstreamCase> cases;
  for (const auto& c : upstream_reference().at("cases")) {
    if (c.at("name") != name) continue;
    cases.push_back({name, c.at("options"), tensor_from_json(c.at("embeddings")),
                     tensor_from_json(c.at("labels")).to(torch::kLong), tensor_from_json(c.at("w")),
                     c.at("loss").get<double>(), tensor_from_json(c.at("grad_embeddings")),
                     tensor_from_json(c.at("grad_w"))});
  }
  if (cases.empty()) throw std::runtime_error("upstream_losses.json has no case of " + name);
  return cases;
}

torch::Tensor cosines(const torch::Tensor& embeddings, const torch::Tensor& w) {
  namespace F = torch::nn::functional;
  const auto unit = F::NormalizeFuncOptions().dim(1);
  return F::normalize(embeddings, unit).matmul(F::normalize(w, unit).t());
}

torch::Tensor randn(at::IntArrayRef shape, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return torch::randn(shape, gen, torch::dtype(torch::kDouble));
}

double gradient_error(const std::function<torch::Tensor(const std::vector<torch::Tensor>&)>& f,
                      const std::vector<torch::Tensor>& inputs, double h) {
  std::vector<torch::Tensor> leaves;
  for (const auto& x : inputs) {
    if (x.scalar_type() != torch::kDouble)
      throw std::invalid_argument("gradient_error: use doubles");
    leaves.push_back(x.detach().clone().requires_grad_(true));
  }
  const torch::Tensor value = f(leaves);
  const auto analytic = torch::autograd::grad({value}, leaves, {}, false, false, true);

  double worst = 0;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> probe;
  for (const auto& x : leaves) probe.push_back(x.detach().clone());
  for (size_t t = 0; t < probe.size(); ++t) {
    torch::Tensor flat = probe[t].view({-1});
    const torch::Tensor grad =
        analytic[t].defined() ? analytic[t].reshape({-1}) : torch::zeros_like(flat);
    for (int64_t k = 0; k < flat.numel(); ++k) {
      const double original = flat[k].item<double>();
      flat[k] = original + h;
      const double up = f(probe).item<double>();
      flat[k] = original - h;
      const double down = f(probe).item<double>();
      flat[k] = original;
      const double numeric = (up - down) / (2 * h);
      const double error = std::abs(grad[k].item<double>() - numeric) / (1 + std::abs(numeric));
      worst = std::max(worst, error);
    }
  }
  return worst;
}

StderrCapture::StderrCapture() {
  std::ostringstream name;
  name << "wtp_stderr_" << ::getpid() << "_" << reinterpret_cast<uintptr_t>(this) << ".txt";
  path_ = (std::filesystem::temp_directory_path() / name.str()).string();
  std::cerr.flush();
  std::fflush(stderr);
  saved_ = ::dup(2);
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (saved_ < 0 || fd < 0) throw std::runtime_error("StderrCapture: cannot redirect stderr");
  ::dup2(fd, 2);
  ::close(fd);
}

StderrCapture::~StderrCapture() { finish(); }

std::string StderrCapture::finish() {
  if (saved_ >= 0) {
    std::cerr.flush();
    std::fflush(stderr);
    ::dup2(saved_, 2);
    ::close(saved_);
    saved_ = -1;
    std::ifstream in(path_);
    std::stringstream buffer;
    buffer << in.rdbuf();
    text_ = buffer.str();
    std::filesystem::remove(path_);
  }
  return text_;
}

}  // namespace wtp::losses::test
