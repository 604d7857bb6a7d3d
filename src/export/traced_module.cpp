#include "export/traced_module.h"

#include <stdexcept>
#include <torch/csrc/jit/frontend/tracer.h>
#include <unordered_set>

namespace wtp::exporter {

namespace {

/// The jit::Module mirror of `module` (see TracedModule): same tensors, same child names.
torch::jit::Module mirror(torch::nn::Module& module, const std::string& class_name,
                          const std::shared_ptr<torch::jit::CompilationUnit>& unit) {
  torch::jit::Module out(c10::QualifiedName("__torch__.wtp." + class_name), unit,
                         /*shouldMangle=*/true);
  for (const auto& p : module.named_parameters(/*recurse=*/false))
    out.register_parameter(p.key(), p.value(), /*is_buffer=*/false);
  for (const auto& b : module.named_buffers(/*recurse=*/false))
    out.register_buffer(b.key(), b.value());
  for (const auto& child : module.named_children())
    out.register_module(child.key(), mirror(*child.value(), class_name + "_" + child.key(), unit));
  return out;
}

/// True when every output of `graph` (each element of a tuple output) depends on one of
/// its inputs other than `self`.
bool outputs_depend_on_inputs(const torch::jit::Graph& graph, std::string* constant_output) {
  std::unordered_set<const torch::jit::Value*> live;
  const auto inputs = graph.inputs();
  for (std::size_t i = 1; i < inputs.size(); ++i) live.insert(inputs[i]);  // 0 is self
  for (const torch::jit::Node* node : graph.nodes()) {
    bool depends = false;
    for (const torch::jit::Value* v : node->inputs()) depends = depends || live.count(v) > 0;
    if (depends)
      for (const torch::jit::Value* v : node->outputs()) live.insert(v);
  }
  std::vector<const torch::jit::Value*> outputs;
  for (const torch::jit::Value* v : graph.outputs()) {
    if (v->node()->kind() == c10::prim::TupleConstruct) {
      for (const torch::jit::Value* e : v->node()->inputs()) outputs.push_back(e);
    } else {
      outputs.push_back(v);
    }
  }
  for (std::size_t i = 0; i < outputs.size(); ++i)
    if (!live.count(outputs[i])) {
      if (constant_output) *constant_output = "output " + std::to_string(i);
      return false;
    }
  return true;
}

}  // namespace

TracedModule::TracedModule(torch::nn::Module& root, const std::string& class_name)
    : module_(mirror(root, class_name, std::make_shared<torch::jit::CompilationUnit>())) {}

void TracedModule::add_method(const std::string& name, const std::vector<std::string>& args,
                              const std::vector<torch::Tensor>& example, const TracedFunction& fn) {
  if (args.size() != example.size())
    throw std::invalid_argument("TracedModule::add_method('" + name +
                                "'): " + std::to_string(args.size()) + " argument names for " +
                                std::to_string(example.size()) + " example inputs");
  torch::NoGradGuard no_grad;
  torch::jit::Stack inputs(example.begin(), example.end());
  auto traced = [&](torch::jit::Stack in) -> torch::jit::Stack {
    std::vector<torch::Tensor> tensors;
    for (const auto& v : in) tensors.push_back(v.toTensor());
    auto out = fn(tensors);
    if (out.empty()) throw std::invalid_argument("traced function '" + name + "' returned nothing");
    if (out.size() == 1) return {out.front()};
    return {c10::ivalue::Tuple::create(std::vector<c10::IValue>(out.begin(), out.end()))};
  };
  std::shared_ptr<torch::jit::Graph> graph;
  try {
    auto result = torch::jit::tracer::trace(
        std::move(inputs), traced, [](const torch::autograd::Variable&) { return std::string(); },
        /*strict=*/true, /*force_outplace=*/false, &module_, args);
    graph = result.first->graph;
  } catch (const c10::Error& e) {
    throw std::runtime_error("tracing '" + name + "' failed: " + e.what_without_backtrace());
  }
  std::string constant;
  if (!outputs_depend_on_inputs(*graph, &constant))
    throw std::runtime_error("tracing '" + name + "': " + constant +
                             " does not depend on the inputs (the traced code computes through "
                             "raw data or C++ values; see traced_module.h)");
  auto function = module_._ivalue()->compilation_unit()->create_function(
      c10::QualifiedName(*module_.type()->name(), name), graph);
  module_.type()->addMethod(function);
}

std::vector<torch::Tensor> run_method(torch::jit::Module& module, const std::string& method,
                                      const std::vector<torch::Tensor>& inputs) {
  torch::NoGradGuard no_grad;
  std::vector<c10::IValue> args(inputs.begin(), inputs.end());
  const c10::IValue out = module.get_method(method)(std::move(args));
  std::vector<torch::Tensor> tensors;
  if (out.isTuple()) {
    for (const auto& e : out.toTupleRef().elements()) tensors.push_back(e.toTensor());
  } else {
    tensors.push_back(out.toTensor());
  }
  return tensors;
}

}  // namespace wtp::exporter
