#include "export/exported_eval.h"

#include <memory>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "core/error.h"
#include "core/progress.h"
#include "data/image.h"
#include "data/image_folder.h"
#include "eval/evaluate.h"
#include "export/traced_module.h"

namespace wtp::exporter {

std::string describe_exported(const LoadedModel& model) {
  const auto& m = model.meta;
  std::ostringstream s;
  auto text = [&](const nlohmann::json& j) {
    return j.is_string() ? j.get<std::string>() : j.dump();
  };
  s << "what:           " << text(m.value("what", nlohmann::json("?"))) << "\n";
  s << "model:          " << text(m.value("model", nlohmann::json("?"))) << "\n";
  if (m.contains("input") && m["input"].contains("height")) {
    const auto& in = m["input"];
    s << "input:          " << in["height"].dump() << " x " << in["width"].dump() << ", "
      << text(in["color_order"]) << ", normalisation " << text(in["normalization"]["preset"])
      << "\n";
  }
  if (m.contains("embedding_size")) s << "embedding size: " << m["embedding_size"].dump() << "\n";
  if (m.contains("verification"))
    s << "verification:   threshold "
      << m["verification"].value("threshold", nlohmann::json()).dump() << "\n";
  if (m.contains("liveness") && !m["liveness"].is_null())
    s << "liveness:       threshold " << m["liveness"]["threshold"].dump() << "\n";
  if (m.contains("methods"))
    for (auto it = m["methods"].begin(); it != m["methods"].end(); ++it)
      s << "method " << it.key() << ": " << text(it.value()) << "\n";
  s << "written by wtp " << text(m.value("wtp_version", nlohmann::json("?"))) << " (torch "
    << text(m.value("torch_version", nlohmann::json("?"))) << ")";
  if (m.contains("config_md5")) s << ", training config md5 " << text(m["config_md5"]);
  s << "\n";
  return s.str();
}

torch::Tensor embed_dataset(LoadedModel& model, const data::Dataset& ds, std::int64_t batch_size,
                            bool progress) {
  require(model.meta.value("what", "") == "embedding",
          "this archive computes '" + model.meta.value("what", std::string("?")) +
              "', not embeddings: evaluate an archive exported with --what embedding");
  require(batch_size >= 1, "batch size must be >= 1");
  require(ds.size() >= 1, "dataset '" + ds.name() + "' has no images");
  const auto spec = input_spec_from_meta(model.meta);
  const cv::Size size(static_cast<int>(spec.width), static_cast<int>(spec.height));
  std::unique_ptr<Progress> bar;
  const auto batches = (ds.size() + batch_size - 1) / batch_size;
  if (progress) bar = std::make_unique<Progress>("embedding " + ds.name(), batches, "batch");
  std::vector<torch::Tensor> out;
  for (std::int64_t start = 0; start < ds.size(); start += batch_size) {
    const auto n = std::min(batch_size, ds.size() - start);
    auto images = torch::empty({n, spec.height, spec.width, 3}, torch::kUInt8);
    for (std::int64_t i = 0; i < n; ++i) {
      cv::Mat rgb = data::read_image(ds.path(start + i), data::ChannelOrder::kRgb);
      cv::Mat resized;
      cv::resize(rgb, resized, size, 0, 0, cv::INTER_LINEAR);
      if (!resized.isContinuous()) resized = resized.clone();
      std::memcpy(images[i].data_ptr(), resized.data, static_cast<std::size_t>(3 * size.area()));
    }
    out.push_back(run_method(model.module, "forward_uint8", {images}).at(0));
    if (bar) bar->advance();
  }
  if (bar) bar->finish();
  return torch::cat(out);
}

std::filesystem::path write_folder_embeddings(LoadedModel& model, const std::string& images,
                                              const std::string& report_out) {
  data::ImageFolderOptions folder;
  folder.root = images;
  const auto ds = data::load_image_folder(folder);
  const auto npy = eval::report_path(report_out).parent_path() / "embeddings.npy";
  eval::save_embeddings(npy, embed_dataset(model, ds), torch::tensor(ds.labels()));
  return npy;
}

}  // namespace wtp::exporter
