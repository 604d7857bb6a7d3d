#include "export/export_model.h"

#include <ATen/CPUGeneratorImpl.h>
#include <algorithm>
#include <caffe2/serialize/inline_container.h>
#include <cmath>
#include <filesystem>
#include <functional>
#include <torch/version.h>

#include "core/error.h"
#include "core/log.h"
#include "core/random.h"
#include "data/transforms.h"
#include "download/md5.h"
#include "eval/liveness.h"
#include "export/traced_module.h"
#include "models/heads.h"

#ifndef WTP_VERSION
#define WTP_VERSION "unknown"
#endif

namespace wtp::exporter {

namespace fs = std::filesystem;
using torch::Tensor;
using Tensors = std::vector<Tensor>;

namespace {

constexpr const char* kMetaFile = "meta.json";
/// MD5 of meta.json's text, so that an edited meta.json is detected too.
constexpr const char* kMetaDigestFile = "meta.md5";
/// MD5 of every record of the archive except its extra files, stored in meta.json.
constexpr const char* kContentDigestKey = "content_md5";
/// MTCNN's input normalisation (facenet-pytorch): (v - 127.5) * 0.0078125.
constexpr double kMtcnnMean = 127.5;
constexpr double kMtcnnScale = 0.0078125;

/// A method of an archive: the function traced into it, the C++ computation its output is
/// checked against (default: the same function run eagerly) and its sample inputs.
struct MethodSpec {
  std::string name;
  std::vector<std::string> args;
  TracedFunction fn;
  TracedFunction reference;  ///< empty: fn
  /// Inputs for a batch of `n` (seeded by `seed`).
  std::function<Tensors(std::int64_t n, std::uint64_t seed)> sample;
  std::string doc;  ///< one line for meta.json "methods"
};

at::Generator generator(std::uint64_t seed) {
  return at::make_generator<at::CPUGeneratorImpl>(seed);
}

/// Random RGB images uint8 [n, h, w, 3].
Tensor random_images(std::int64_t n, std::int64_t h, std::int64_t w, std::uint64_t seed) {
  return torch::randint(0, 256, {n, h, w, 3}, generator(seed), torch::kUInt8);
}

/// uint8 [N, H, W, 3] RGB -> what a model with `preset` consumes [N, 3, H, W].
Tensor model_input(const Tensor& rgb_u8, models::Normalization preset) {
  return models::preprocess(rgb_u8.permute({0, 3, 1, 2}).to(torch::kFloat).div(255.0), preset)
      .contiguous();
}

/// uint8 [N, H, W, 3] RGB -> MTCNN's input [N, 3, H, W].
Tensor mtcnn_normalize(const Tensor& rgb_u8) {
  return ((rgb_u8.permute({0, 3, 1, 2}).to(torch::kFloat) - kMtcnnMean) * kMtcnnScale).contiguous();
}

std::string md5_hex(const std::string& text) {
  download::Md5 md5;
  md5.update(text);
  return md5.hex_digest();
}

/// MD5 over the names and bytes of every record of a TorchScript archive except its extra
/// files (in name order).
std::string content_digest(caffe2::serialize::PyTorchStreamReader& reader) {
  auto names = reader.getAllRecords();
  std::sort(names.begin(), names.end());
  download::Md5 md5;
  for (const auto& name : names) {
    if (name.rfind("extra/", 0) == 0) continue;
    auto [data, size] = reader.getRecord(name);
    md5.update(name);
    md5.update(std::string_view("\0", 1));
    md5.update(data.get(), size);
  }
  return md5.hex_digest();
}

/// Opens `path` as a zip archive, naming the file in the error.
std::unique_ptr<caffe2::serialize::PyTorchStreamReader> open_archive(const std::string& path) {
  if (!fs::exists(path))
    throw UsageError("model '" + path + "' does not exist (write one with wtp-export)");
  try {
    return std::make_unique<caffe2::serialize::PyTorchStreamReader>(path);
  } catch (const std::exception&) {
    throw UsageError("model '" + path +
                     "' is not a readable TorchScript archive (truncated, damaged or another kind "
                     "of file); export it again with wtp-export");
  }
}

/// The first non-empty line of an error message.
std::string first_line(const std::string& message) {
  std::size_t start = message.find_first_not_of("\n ");
  if (start == std::string::npos) return message;
  return message.substr(start, message.find('\n', start) - start);
}

std::string record_text(caffe2::serialize::PyTorchStreamReader& reader, const std::string& name) {
  auto [data, size] = reader.getRecord(name);
  return std::string(static_cast<const char*>(data.get()), size);
}

/// meta.json of an open archive, checked against meta.md5 and the content digest.
nlohmann::json checked_meta(caffe2::serialize::PyTorchStreamReader& reader,
                            const std::string& path) {
  const std::string meta_name = std::string("extra/") + kMetaFile;
  const std::string digest_name = std::string("extra/") + kMetaDigestFile;
  if (!reader.hasRecord(meta_name) || !reader.hasRecord(digest_name))
    throw UsageError("model '" + path +
                     "' is a TorchScript archive without wtp's meta.json/meta.md5: it was not "
                     "written by wtp-export (export the checkpoint with wtp-export)");
  std::string text, digest, content;
  try {
    text = record_text(reader, meta_name);
    digest = record_text(reader, digest_name);
    content = content_digest(reader);
  } catch (const std::exception&) {
    throw UsageError("model '" + path +
                     "' is damaged (a record cannot be read); export it again with wtp-export");
  }
  if (md5_hex(text) != digest)
    throw UsageError("model '" + path +
                     "' was modified or is damaged: its meta.json does not match the digest "
                     "written at export; export it again with wtp-export");
  nlohmann::json meta = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (meta.is_discarded() || !meta.is_object() || meta.value("format", "") != "wtp-torchscript")
    throw UsageError("model '" + path + "' has a meta.json that is not wtp's");
  if (meta.value(kContentDigestKey, "") != content)
    throw UsageError("model '" + path +
                     "' was modified or is damaged: its code or weights do not match the digest "
                     "written at export; export it again with wtp-export");
  return meta;
}

/// Saves `module` with `meta` (+ its content digest) to `path`.
void save_with_meta(torch::jit::Module& module, nlohmann::json meta, const std::string& path) {
  auto save = [&](const nlohmann::json& m) {
    const std::string text = m.dump(2);
    module.save(path, {{kMetaFile, text}, {kMetaDigestFile, md5_hex(text)}});
  };
  // The content digest is only known once the records are written: write, hash, rewrite
  // (only the extra files change; the hash is checked again below).
  meta[kContentDigestKey] = "";
  save(meta);
  std::string content;
  {
    caffe2::serialize::PyTorchStreamReader reader(path);
    content = content_digest(reader);
  }
  meta[kContentDigestKey] = content;
  save(meta);
  caffe2::serialize::PyTorchStreamReader reader(path);
  if (content_digest(reader) != content)
    throw std::runtime_error("export: TorchScript serialisation of '" + path +
                             "' is not deterministic; cannot record its digest");
}

double max_abs_diff(const Tensors& a, const Tensors& b, const std::string& what) {
  if (a.size() != b.size())
    throw std::runtime_error(what + ": " + std::to_string(a.size()) + " outputs, expected " +
                             std::to_string(b.size()));
  double worst = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].sizes() != b[i].sizes())
      throw std::runtime_error(what + ": output " + std::to_string(i) + " has shape " +
                               c10::str(a[i].sizes()) + ", expected " + c10::str(b[i].sizes()));
    if (a[i].numel() == 0) continue;
    const double d = (a[i].to(torch::kDouble) - b[i].to(torch::kDouble)).abs().max().item<double>();
    if (!std::isfinite(d))
      throw std::runtime_error(what + ": output " + std::to_string(i) + " is not finite");
    worst = std::max(worst, d);
  }
  return worst;
}

/// Traces every method of `specs` on `root`, writes the archive to a temporary file beside
/// `path`, reloads it, checks every method at every check batch size, then renames it.
ExportReport build_and_check(torch::nn::Module& root, const std::string& class_name,
                             const std::vector<MethodSpec>& specs, const std::string& path,
                             const ExportOptions& options, nlohmann::json meta) {
  require(!options.check_batch_sizes.empty(), "export: check_batch_sizes must not be empty");
  for (auto n : options.check_batch_sizes)
    require(n >= 1, "export: check batch sizes must be >= 1");
  root.eval();
  TracedModule traced(root, class_name);
  ExportReport report;
  report.path = path;
  nlohmann::json methods = nlohmann::json::object();
  for (const auto& spec : specs) {
    // Trace on a batch size that is not checked, so a size baked into the graph shows.
    const std::int64_t trace_batch = 2;
    traced.add_method(spec.name, spec.args, spec.sample(trace_batch, mix_seed(options.seed, 99)),
                      spec.fn);
    report.methods.push_back(spec.name);
    methods[spec.name] = spec.doc;
  }
  meta["methods"] = methods;
  meta["check"] = {{"tolerance", options.tolerance},
                   {"batch_sizes", options.check_batch_sizes},
                   {"seed", options.seed}};

  const fs::path target(path);
  if (target.has_parent_path()) fs::create_directories(target.parent_path());
  const std::string tmp = path + ".tmp";
  try {
    save_with_meta(traced.module(), meta, tmp);
    LoadedModel loaded = load_exported(tmp);
    torch::NoGradGuard no_grad;
    for (const auto& spec : specs)
      for (auto n : options.check_batch_sizes) {
        const auto inputs = spec.sample(n, mix_seed(options.seed, static_cast<std::uint64_t>(n)));
        const Tensors expected = spec.reference ? spec.reference(inputs) : spec.fn(inputs);
        const std::string what =
            "export check of " + spec.name + " (batch " + std::to_string(n) + ")";
        Tensors got;
        try {
          got = run_method(loaded.module, spec.name, inputs);
        } catch (const std::exception& e) {
          // TorchScript errors end with the Python-style "RuntimeError: <cause>" line.
          const std::string message = e.what();
          const auto cause = message.rfind("Error: ");
          throw std::runtime_error(
              what + ": the reloaded archive fails (" +
              first_line(cause == std::string::npos ? message : message.substr(cause + 7)) +
              "); was a shape read into C++ while tracing? (see "
              "export/traced_module.h)");
        }
        const double d = max_abs_diff(got, expected, what);
        if (d > options.tolerance)
          throw std::runtime_error(what + ": the reloaded archive differs from the C++ model by " +
                                   c10::str(d) + " (max abs) > " + c10::str(options.tolerance));
        report.max_abs_diff = std::max(report.max_abs_diff, d);
      }
    report.meta = loaded.meta;
    fs::rename(tmp, target);
  } catch (...) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw;
  }
  log::info("exported " + path + " (" + std::to_string(specs.size()) +
            " methods, max abs difference " + c10::str(report.max_abs_diff) + ")");
  return report;
}

nlohmann::json base_meta(ExportKind what) {
  return {{"format", "wtp-torchscript"},
          {"format_version", kMetaFormatVersion},
          {"wtp_version", WTP_VERSION},
          {"torch_version", TORCH_VERSION},
          {"what", config::enum_name(what)}};
}

void merge_into(nlohmann::json& meta, const nlohmann::json& extra) {
  require(extra.is_object(), "export: extra metadata must be a JSON object");
  for (auto it = extra.begin(); it != extra.end(); ++it) {
    if (meta[it.key()].is_object() && it.value().is_object())
      meta[it.key()].update(it.value());
    else
      meta[it.key()] = it.value();
  }
}

nlohmann::json input_meta(const models::InputSpec& spec) {
  const auto n = data::Normalization::preset(spec.normalization);
  return {{"height", spec.height},
          {"width", spec.width},
          {"layout", "NCHW float32 (forward); NHWC uint8 RGB (forward_uint8)"},
          {"color_order", config::enum_name(n.order)},
          {"normalization",
           {{"preset", config::enum_name(spec.normalization)},
            {"formula", "out[c] = (v * scale - mean[c]) / std[c], v = 8-bit value of channel c"},
            {"scale", n.scale},
            {"mean", n.mean},
            {"std", n.std}}}};
}

}  // namespace

ExportReport export_model(models::EmbeddingModel model, const std::string& path,
                          const ExportOptions& options, const nlohmann::json& extra_meta) {
  require(static_cast<bool>(model), "export: no model");
  model->to(torch::kCPU);
  model->eval();
  const models::InputSpec spec = model->input_spec();
  const auto preset = spec.normalization;
  auto float_images = [spec, preset](std::int64_t n, std::uint64_t seed) {
    return model_input(random_images(n, spec.height, spec.width, seed), preset);
  };
  auto u8_images = [spec](std::int64_t n, std::uint64_t seed) {
    return random_images(n, spec.height, spec.width, seed);
  };
  auto normalize = [](const Tensor& x) {
    return torch::nn::functional::normalize(
        x, torch::nn::functional::NormalizeFuncOptions().p(2).dim(1));
  };

  nlohmann::json meta = base_meta(options.what);
  meta["model"] = model->name();
  meta["input"] = input_meta(spec);
  meta["embedding_size"] = model->embedding_dim();
  meta["liveness"] = nullptr;
  std::vector<MethodSpec> specs;
  switch (options.what) {
    case ExportKind::kEmbedding: {
      auto embed = [m = model.ptr(), normalize](const Tensor& x) {
        return normalize(m->forward(x).embedding);
      };
      specs.push_back(
          {"forward",
           {"images"},
           [embed](const Tensors& in) { return Tensors{embed(in[0])}; },
           {},
           [float_images](std::int64_t n, std::uint64_t s) { return Tensors{float_images(n, s)}; },
           "float [N, 3, H, W] normalised as input.normalization, channels in "
           "input.color_order -> L2-normalised embeddings [N, embedding_size]"});
      specs.push_back(
          {"forward_uint8",
           {"images"},
           [embed, preset](const Tensors& in) {
             return Tensors{embed(model_input(in[0], preset))};
           },
           {},
           [u8_images](std::int64_t n, std::uint64_t s) { return Tensors{u8_images(n, s)}; },
           "uint8 [N, H, W, 3] RGB 0-255 -> L2-normalised embeddings [N, "
           "embedding_size] (normalisation inside)"});
      break;
    }
    case ExportKind::kSiamese: {
      require(model->has_pair_head(),
              "export --what siamese: model '" + model->name() +
                  "' has no pair head (only siamese_bce has); export --what embedding and compare "
                  "embedding distances instead");
      auto pair = [m = model.ptr()](const Tensor& left, const Tensor& right) {
        return m->pair_logits(m->forward(left).embedding, m->forward(right).embedding);
      };
      // The reference is the trainer's own pair path when the model has one (both sides in
      // one batch), else the same computation run eagerly.
      auto reference = [m = model.ptr(), pair](const Tensor& left, const Tensor& right) {
        if (auto* bce = dynamic_cast<models::SiameseBceImpl*>(m.get()))
          return bce->forward_pair(left, right);
        return pair(left, right);
      };
      auto two = [](auto images) {
        return [images](std::int64_t n, std::uint64_t s) {
          return Tensors{images(n, mix_seed(s, 1)), images(n, mix_seed(s, 2))};
        };
      };
      specs.push_back({"forward",
                       {"left", "right"},
                       [pair](const Tensors& in) { return Tensors{pair(in[0], in[1])}; },
                       [reference](const Tensors& in) { return Tensors{reference(in[0], in[1])}; },
                       two(float_images),
                       "float [N, 3, H, W] x 2 (left, right; normalised as forward of an embedding "
                       "archive) -> pair logit [N]; sigmoid = probability that the two faces are "
                       "different people"});
      specs.push_back(
          {"forward_uint8",
           {"left", "right"},
           [pair, preset](const Tensors& in) {
             return Tensors{pair(model_input(in[0], preset), model_input(in[1], preset))};
           },
           [reference, preset](const Tensors& in) {
             return Tensors{reference(model_input(in[0], preset), model_input(in[1], preset))};
           },
           two(u8_images),
           "uint8 [N, H, W, 3] x 2 RGB 0-255 -> pair logit [N] (normalisation inside)"});
      break;
    }
    case ExportKind::kLiveness: {
      require(model->num_classes() == 1, "export --what liveness: model '" + model->name() +
                                             "' has no single-logit eye-state head (num_classes " +
                                             std::to_string(model->num_classes()) +
                                             "); train a liveness model");
      auto closed = [m = model.ptr()](const Tensor& x) {
        return torch::sigmoid(m->forward(x).logits.flatten());
      };
      specs.push_back(
          {"forward",
           {"images"},
           [closed](const Tensors& in) { return Tensors{closed(in[0])}; },
           {},
           [float_images](std::int64_t n, std::uint64_t s) { return Tensors{float_images(n, s)}; },
           "float [N, 3, H, W] normalised -> probability that the eyes are closed [N]"});
      specs.push_back(
          {"forward_uint8",
           {"images"},
           [closed, preset](const Tensors& in) {
             return Tensors{closed(model_input(in[0], preset))};
           },
           {},
           [u8_images](std::int64_t n, std::uint64_t s) { return Tensors{u8_images(n, s)}; },
           "uint8 [N, H, W, 3] RGB 0-255 -> probability that the eyes are closed [N]"});
      const eval::BlinkRuleOptions blink;
      meta["liveness"] = {
          {"threshold", 0.5},
          {"decision", "eyes closed iff probability >= threshold (the rule of validation)"},
          {"blink",
           {{"closed_threshold", blink.closed_threshold},
            {"open_threshold", blink.open_threshold},
            {"frames", blink.frames},
            {"pattern", config::enum_name(blink.pattern)}}}};
      break;
    }
    case ExportKind::kDetector:
      throw UsageError(
          "export --what detector exports MTCNN (give --weights DIR), not a "
          "trained checkpoint");
  }
  merge_into(meta, extra_meta);
  if (auto& live = meta["liveness"]; live.is_object() && live.contains("open_threshold")) {
    // The blink rule uses the hysteresis pair chosen on validation.
    live["blink"]["open_threshold"] = live["open_threshold"];
    live["blink"]["closed_threshold"] = live["closed_threshold"];
  }
  return build_and_check(*model, "EmbeddingModel", specs, path, options, meta);
}

ExportReport export_detector(align::MtcnnNets& nets, const std::string& path,
                             const ExportOptions& options, const nlohmann::json& extra_meta) {
  require(options.what == ExportKind::kDetector, "export_detector: options.what must be detector");
  // The networks' weights live under pnet_layers/rnet_layers/onet_layers: the methods
  // pnet/rnet/onet would hide attributes of the same name.
  torch::nn::Module root;
  root.register_module("pnet_layers", nets.pnet.ptr());
  root.register_module("rnet_layers", nets.rnet.ptr());
  root.register_module("onet_layers", nets.onet.ptr());
  auto& r = *nets.rnet;
  auto& o = *nets.onet;
  // The networks' own forwards run oneDNN convolutions, in-place PReLU loops and dense layers
  // that sum in a fixed order through raw data (untraceable, CPU only): the same layers with
  // LibTorch's modules, checked against the originals below.
  auto& p = *nets.pnet;
  auto pnet = [&p](const Tensor& input) {
    auto x = p.pool1(p.prelu1(p.conv1(input)));
    x = p.prelu3(p.conv3(p.prelu2(p.conv2(x))));
    return Tensors{p.conv4_2(x), torch::softmax(p.conv4_1(x), 1)};
  };
  auto rnet = [&r](const Tensor& input) {
    auto x = r.pool1(r.prelu1(r.conv1(input)));
    x = r.pool2(r.prelu2(r.conv2(x)));
    x = r.prelu3(r.conv3(x));
    x = r.prelu4(r.dense4(align::caffe_flatten(x)));
    return Tensors{r.dense5_2(x), torch::softmax(r.dense5_1(x), 1)};
  };
  auto onet = [&o](const Tensor& input) {
    auto x = o.pool1(o.prelu1(o.conv1(input)));
    x = o.pool2(o.prelu2(o.conv2(x)));
    x = o.pool3(o.prelu3(o.conv3(x)));
    x = o.prelu4(o.conv4(x));
    x = o.prelu5(o.dense5(align::caffe_flatten(x)));
    return Tensors{o.dense6_2(x), o.dense6_3(x), torch::softmax(o.dense6_1(x), 1)};
  };
  auto pnet_ref = [&nets](const Tensor& x) {
    auto [reg, probs] = nets.pnet->forward(x);
    return Tensors{reg, probs};
  };
  auto rnet_ref = [&nets](const Tensor& x) {
    auto [reg, probs] = nets.rnet->forward(x);
    return Tensors{reg, probs};
  };
  auto onet_ref = [&nets](const Tensor& x) {
    auto [reg, landmarks, probs] = nets.onet->forward(x);
    return Tensors{reg, landmarks, probs};
  };
  using Net = std::function<Tensors(const Tensor&)>;
  // P-Net is fully convolutional: its samples change height and width with the batch size.
  using Size = std::function<std::pair<std::int64_t, std::int64_t>(std::int64_t)>;
  struct NetSpec {
    std::string name;
    Net traced, reference;
    Size size;
    std::string doc;
  };
  const std::vector<NetSpec> nets_specs{
      {"pnet", pnet, pnet_ref,
       [](std::int64_t n) { return std::make_pair(12 + 7 * n, 14 + 9 * n); },
       "x [N, 3, H, W] (H, W >= 12) -> (regression [N, 4, H', W'], probabilities [N, 2, H', W'])"},
      {"rnet", rnet, rnet_ref, [](std::int64_t) { return std::make_pair(24, 24); },
       "x [N, 3, 24, 24] -> (regression [N, 4], probabilities [N, 2])"},
      {"onet", onet, onet_ref, [](std::int64_t) { return std::make_pair(48, 48); },
       "x [N, 3, 48, 48] -> (regression [N, 4], landmarks [N, 10], probabilities [N, 2])"}};
  std::vector<MethodSpec> specs;
  for (const auto& net : nets_specs) {
    auto size = net.size;
    specs.push_back({net.name,
                     {"x"},
                     [f = net.traced](const Tensors& in) { return f(in[0]); },
                     [f = net.reference](const Tensors& in) { return f(in[0]); },
                     [size](std::int64_t n, std::uint64_t s) {
                       auto [h, w] = size(n);
                       return Tensors{mtcnn_normalize(random_images(n, h, w, s))};
                     },
                     net.doc + "; x = (v - 127.5) * 0.0078125 of RGB values v"});
    specs.push_back({net.name + "_uint8",
                     {"images"},
                     [f = net.traced](const Tensors& in) { return f(mtcnn_normalize(in[0])); },
                     [f = net.reference](const Tensors& in) { return f(mtcnn_normalize(in[0])); },
                     [size](std::int64_t n, std::uint64_t s) {
                       auto [h, w] = size(n);
                       return Tensors{random_images(n, h, w, s)};
                     },
                     "uint8 [N, H, W, 3] RGB 0-255 -> as " + net.name + " (normalisation inside)"});
  }
  nlohmann::json meta = base_meta(ExportKind::kDetector);
  meta["model"] = "mtcnn";
  meta["input"] = {{"layout", "NCHW float32 (pnet, rnet, onet); NHWC uint8 RGB (*_uint8)"},
                   {"color_order", "rgb"},
                   {"normalization",
                    {{"formula", "x = (v - 127.5) * 0.0078125 for the 8-bit value v"},
                     {"mean", kMtcnnMean},
                     {"scale", kMtcnnScale}}},
                   {"rnet_size", 24},
                   {"onet_size", 48},
                   {"pnet_min_size", 12}};
  meta["cascade"] =
      "pyramid, NMS and box regression are not in the archive: see wtp's src/align/mtcnn.h "
      "or facenet-pytorch's detect_face for the steps around the three networks";
  merge_into(meta, extra_meta);
  return build_and_check(root, "Mtcnn", specs, path, options, meta);
}

LoadedModel load_exported(const std::string& path) {
  auto reader = open_archive(path);
  LoadedModel out;
  out.meta = checked_meta(*reader, path);
  reader.reset();
  try {
    out.module = torch::jit::load(path, torch::kCPU);
  } catch (const c10::Error& e) {
    throw UsageError("model '" + path + "' cannot be loaded by torch::jit::load (" +
                     first_line(e.what_without_backtrace()) + "); export it again with wtp-export");
  } catch (const std::exception& e) {  // TorchScript compilation errors
    throw UsageError("model '" + path + "' cannot be loaded by torch::jit::load (" +
                     first_line(e.what()) + "); export it again with wtp-export");
  }
  out.module.eval();
  return out;
}

nlohmann::json read_meta(const std::string& path) {
  auto reader = open_archive(path);
  return checked_meta(*reader, path);
}

models::InputSpec input_spec_from_meta(const nlohmann::json& meta) {
  try {
    const auto& input = meta.at("input");
    models::InputSpec spec;
    spec.height = input.at("height").get<std::int64_t>();
    spec.width = input.at("width").get<std::int64_t>();
    spec.normalization = config::parse_enum<models::Normalization>(
        input.at("normalization").at("preset").get<std::string>(), "meta.json input.normalization");
    return spec;
  } catch (const nlohmann::json::exception& e) {
    throw UsageError(std::string("meta.json has no input size and normalisation (") + e.what() +
                     "); is it an image model archive (not a detector)?");
  }
}

}  // namespace wtp::exporter
