// wtp-synth: writes procedural face datasets in the LFW, CelebA and CEW layouts.
#include <cstdio>

#include "common/cli.h"
#include "synth/synth_faces.h"

int main(int argc, char** argv) {
  wtp::cli::Tool tool("wtp-synth",
                      "Generate synthetic face images in the LFW, CelebA and CEW layouts");
  tool.bind("--out", "out", "output directory (created if missing)");
  tool.bind("--identities", "identities", "identities per dataset, >= 10 (default 40)");
  tool.bind("--images-per-identity", "images_per_identity", "images per identity (default 8)");
  tool.bind("--size", "size", "image side in pixels, 32..1024 (default 128)");
  tool.bind("--closed-eye-fraction", "closed_eye_fraction",
            "fraction of images with closed eyes (default 0.5)");
  tool.bind("--jpeg-quality", "jpeg_quality", "JPEG quality, 50..100 (default 92)");
  tool.bind_flag("--overwrite", "overwrite", "replace the output of an earlier wtp-synth run");
  return tool.run(argc, argv, [&] {
    auto options = wtp::config::decode<wtp::synth::SynthOptions>(tool.config());
    if (!tool.config().is_map() || !tool.config().find("threads")) options.threads = tool.threads();
    const auto s = wtp::synth::run_synth(options);
    std::printf("wrote %s in %.1f s\n", s.out.c_str(), s.seconds);
    std::printf("  lfw:    %d people, %d images, pairs.txt 10 folds x (%d same + %d different)\n",
                s.lfw_identities, s.lfw_images, s.pairs_per_fold, s.pairs_per_fold);
    std::printf("  celeba: %d identities, %d images (train %d, valid %d, test %d)\n",
                s.celeba_identities, s.celeba_images, s.celeba_partition[0], s.celeba_partition[1],
                s.celeba_partition[2]);
    std::printf("  cew:    %d open, %d closed (the LFW images)\n", s.cew_open, s.cew_closed);
    std::printf("  landmarks.csv: %d rows\n",
                s.lfw_images + s.celeba_images + s.cew_open + s.cew_closed);
  });
}
