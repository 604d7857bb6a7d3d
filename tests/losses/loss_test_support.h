#pragma once
/// Helpers for the loss tests: numerical gradient checks and stderr capture.
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <torch/torch.h>
#include <vector>

namespace wtp::losses::test {

/// A double tensor of the given shape with N(0, 1) entries from a seeded generator.
torch::Tensor randn(at::IntArrayRef shape, uint64_t seed);

/// Compares autograd's gradient of the scalar `f(inputs)` with central differences
/// (f(x + h e_k) - f(x - h e_k)) / 2h for every element of every input. Inputs must be
/// double tensors; they are copied, the caller's tensors are not modified. Returns the
/// largest |autograd - numeric| / (1 + |numeric|) over all elements.
double gradient_error(const std::function<torch::Tensor(const std::vector<torch::Tensor>&)>& f,
                      const std::vector<torch::Tensor>& inputs, double h = 1e-6);

/// One case of tests/losses/reference/upstream_losses.json: a batch, the loss the upstream
/// project (pytorch-metric-learning) computed on it, and its gradients.
struct UpstreamCase {
  std::string name;          ///< our registry name of the loss
  nlohmann::json options;    ///< the loss's options, in our names
  torch::Tensor embeddings;  ///< [B, D] double
  torch::Tensor labels;      ///< [B] int64
  torch::Tensor w;           ///< [C, D] class centres (cosine head weights / proxies)
  double loss = 0;
  torch::Tensor grad_embeddings;  ///< d loss / d embeddings
  torch::Tensor grad_w;           ///< d loss / d w (zero for losses without centres)
};

/// The cases of upstream_losses.json for the loss `name`.
std::vector<UpstreamCase> upstream_cases(const std::string& name);
/// The whole of upstream_losses.json (provenance, and the insightface margin logits).
const nlohmann::json& upstream_reference();
/// A double tensor from nested JSON lists.
torch::Tensor tensor_from_json(const nlohmann::json& values);

/// The cosines between the L2-normalised rows of `embeddings` and of `w`: what a cosine
/// classifier head outputs.
torch::Tensor cosines(const torch::Tensor& embeddings, const torch::Tensor& w);

/// Redirects file descriptor 2 (stderr) to a temporary file while alive.
class StderrCapture {
 public:
  StderrCapture();
  ~StderrCapture();
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;
  /// Restores stderr (if not yet done) and returns what was written meanwhile.
  std::string finish();

 private:
  std::string path_;
  int saved_ = -1;
  std::string text_;
};

}  // namespace wtp::losses::test
