// wtp-export: TorchScript archives for deployment (torch::jit::load / torch.jit.load).
//
//   wtp-export --checkpoint RUN_DIR/checkpoints/best.pt --out model.ts [--what embedding]
//   wtp-export --checkpoint ... --what siamese|liveness --out model.ts
//   wtp-export --what detector --weights DIR --out mtcnn.ts       MTCNN's three networks
//
// Methods and meta.json: see src/export/export_model.h. Every archive is reloaded and
// checked against the C++ model before it is written (max abs difference <= --tolerance).
#include <cstdio>
#include <string>

#include "align/mtcnn.h"
#include "common/cli.h"
#include "core/config.h"
#include "core/error.h"
#include "export/export_checkpoint.h"
#include "export/export_model.h"

int main(int argc, char** argv) {
  namespace ex = wtp::exporter;
  wtp::cli::Tool tool("wtp-export",
                      "Export a trained model (or MTCNN) as a TorchScript archive with metadata",
                      wtp::cli::ConfigFlags::kNone);
  std::string checkpoint, out, what = "embedding", weights;
  ex::ExportOptions options;
  tool.app().add_option("--checkpoint", checkpoint,
                        "wtp checkpoint to export (RUN_DIR/checkpoints/best.pt)");
  tool.app().add_option("--out", out, "archive to write (e.g. model.ts)")->required();
  tool.app()
      .add_option(
          "--what", what,
          "what the archive computes, one of: " + wtp::config::enum_choices<ex::ExportKind>() +
              " (embedding: L2-normalised embeddings, siamese: pair logit, liveness: "
              "P(eyes closed), detector: MTCNN from --weights)")
      ->capture_default_str();
  tool.app().add_option("--weights", weights,
                        "--what detector: directory with facenet-pytorch's pnet.pt, rnet.pt, "
                        "onet.pt");
  tool.app()
      .add_option("--tolerance", options.tolerance,
                  "largest max-abs difference allowed between the archive and the C++ model")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  tool.app()
      .add_option("--check-batch-sizes", options.check_batch_sizes,
                  "batch sizes the reloaded archive is checked on, comma-separated")
      ->delimiter(',')
      ->capture_default_str();
  return tool.run(argc, argv, [&] {
    options.what = wtp::config::parse_enum<ex::ExportKind>(what, "--what");
    ex::ExportReport report;
    if (options.what == ex::ExportKind::kDetector) {
      wtp::require(checkpoint.empty(),
                   "--what detector exports MTCNN from --weights DIR; drop --checkpoint");
      wtp::require(!weights.empty(),
                   "--what detector needs --weights DIR (facenet-pytorch's pnet.pt, rnet.pt, "
                   "onet.pt)");
      auto nets = wtp::align::load_mtcnn(weights);
      report = ex::export_detector(nets, out, options);
    } else {
      wtp::require(!checkpoint.empty(),
                   "give the model to export with --checkpoint RUN_DIR/checkpoints/best.pt");
      wtp::require(weights.empty(), "--weights is for --what detector only");
      report = ex::export_checkpoint(checkpoint, out, options);
    }
    std::printf("wrote %s (%s", report.path.c_str(), what.c_str());
    for (const auto& m : report.methods) std::printf(", %s", m.c_str());
    std::printf(")\nchecked against the C++ model: max abs difference %.3g (tolerance %.3g)\n",
                report.max_abs_diff, options.tolerance);
  });
}
