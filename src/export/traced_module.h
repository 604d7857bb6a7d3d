#pragma once
/// The one place where wtp turns C++ modules into TorchScript: LibTorch's tracer (the engine
/// behind Python's torch.jit.trace) run on a C++ function, recorded as a method of a
/// torch::jit::Module that mirrors the torch::nn::Module tree.
///
/// The mirror has the same submodule names, and its parameters and buffers are the very
/// same tensors as the nn::Module's, registered as attributes, so the traced graph reads
/// them with GetAttr (they stay named weights in the archive, as with torch.jit.trace)
/// instead of baking them in as constants.
///
///     TracedModule traced(*model, "EmbeddingModel");
///     traced.add_method("forward", {"images"}, {example},
///                       [&](const std::vector<torch::Tensor>& in) {
///                         return std::vector<torch::Tensor>{model->forward(in[0]).embedding};
///                       });
///     traced.module().save("model.ts");
///
/// Contract of a traced function: it uses only tensor operations on its inputs and the
/// module's parameters and buffers. Its shapes must not be read into C++ integers that then
/// size a tensor (`x.view({x.size(0), -1})` bakes the batch size in: use `flatten(1)`), and
/// it must not compute through raw data pointers (the result would be a constant). Callers
/// check the traced method on other batch sizes (see export_model.h); add_method() itself
/// refuses a graph whose outputs do not depend on its inputs.
#include <functional>
#include <string>
#include <torch/script.h>
#include <torch/torch.h>
#include <vector>

namespace wtp::exporter {

/// A function to trace: input tensors -> one output tensor (returned as is) or several
/// (returned as a tuple).
using TracedFunction = std::function<std::vector<torch::Tensor>(const std::vector<torch::Tensor>&)>;

class TracedModule {
 public:
  /// Mirrors `root` (its parameters, buffers and submodules, recursively) in a new
  /// torch::jit::Module of class `__torch__.wtp.<class_name>`; submodule classes are named
  /// after their path. `root` must outlive add_method() calls and stay in eval mode while
  /// tracing; the mirror shares its tensors.
  TracedModule(torch::nn::Module& root, const std::string& class_name);

  /// Traces `fn` on `example` (with gradients off) and adds the graph as method `name` with
  /// argument names `args` (args.size() == example.size()). Throws std::runtime_error when
  /// tracing fails or when an output of the graph does not depend on the inputs (a function
  /// that computes through raw data pointers).
  void add_method(const std::string& name, const std::vector<std::string>& args,
                  const std::vector<torch::Tensor>& example, const TracedFunction& fn);

  /// The module with every method added so far.
  torch::jit::Module& module() { return module_; }

 private:
  torch::jit::Module module_;
};

/// Calls `method` of `module` on `inputs` (gradients off) and returns its tensor outputs (a
/// tuple output flattened to its elements).
std::vector<torch::Tensor> run_method(torch::jit::Module& module, const std::string& method,
                                      const std::vector<torch::Tensor>& inputs);

}  // namespace wtp::exporter
