#pragma once
/// Helpers for the loss tests: numerical gradient checks and stderr capture.
#include <functional>
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
