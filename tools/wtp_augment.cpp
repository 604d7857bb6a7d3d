// wtp-augment: enlarge an image tree by a factor with seeded transforms, writing the copies
// beside the originals and a provenance CSV (see src/data/augment.h).
#include "common/cli.h"
#include "core/log.h"
#include "data/augment.h"

int main(int argc, char** argv) {
  wtp::cli::Tool tool("wtp-augment",
                      "Enlarge an image folder by a factor with seeded augmentation "
                      "(default: blur sigma 0-1, flip, brightness +-30)");
  tool.bind("--input", "input", "source image tree")->required();
  tool.bind("--output", "output", "destination tree (mirrors the input)")->required();
  tool.bind("--factor", "factor", "images per source image (original + factor-1 copies)");
  return tool.run(argc, argv, [&] {
    const auto options = wtp::config::decode<wtp::data::AugmentOptions>(tool.config());
    const auto summary = wtp::data::run_augment(options);
    wtp::log::info("wtp-augment: ", summary.sources, " source images, ", summary.written,
                   " files written to ", options.output, "; provenance in ", summary.provenance);
  });
}
