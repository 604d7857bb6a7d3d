// wtp-synth: writes procedural face datasets in the LFW, CelebA and CEW layouts, and clips
// and enrolment stills of one synthetic person (`wtp-synth clip`, `wtp-synth enrol`).
#include <cstdio>

#include "common/cli.h"
#include "synth/clips.h"
#include "synth/synth_faces.h"

int main(int argc, char** argv) {
  wtp::cli::Tool tool("wtp-synth",
                      "Generate synthetic face images in the LFW, CelebA and CEW layouts; "
                      "`clip` renders a clip of one person (PNG frames + Y4M), `enrol` their "
                      "enrolment stills");
  auto* clip = tool.app()
                   .add_subcommand("clip",
                                   "render a clip of one person: frame_NNNN.png, "
                                   "clip.y4m (a browser's fake camera) and clip.json")
                   ->fallthrough();
  auto* enrol = tool.app()
                    .add_subcommand("enrol",
                                    "render enrolment stills of one person (eyes open, "
                                    "small poses): still_N.png and enrol.json")
                    ->fallthrough();
  tool.app().require_subcommand(0, 1);
  tool.bind("--out", "out", "output directory (created if missing)");
  tool.bind("--identities", "identities", "identities per dataset, >= 10 (default 40)");
  tool.bind("--images-per-identity", "images_per_identity", "images per identity (default 8)");
  tool.bind("--size", "size",
            "image side in pixels, 32..1024 (default 128; clip and enrol: even, default 256)");
  tool.bind("--closed-eye-fraction", "closed_eye_fraction",
            "fraction of images with closed eyes (default 0.5)");
  tool.bind("--jpeg-quality", "jpeg_quality", "JPEG quality, 50..100 (default 92)");
  tool.bind_flag("--overwrite", "overwrite", "replace the output of an earlier wtp-synth run");
  tool.bind("--identity", "identity",
            "clip, enrol: the person, identity N of the dataset with the same --seed (default 0)");
  tool.bind("--take", "take", "clip: recording number (background, lighting, motion; default 0)");
  tool.bind("--frames", "frames", "clip: number of frames (default 30)");
  tool.bind("--fps", "fps", "clip: frames per second, an integer (default 15)");
  tool.bind("--blink-at", "blink_at", "clip: first frame of the blink, 0-based (default 12)");
  tool.bind("--blink-frames", "blink_frames", "clip: frames of the blink (default 4)");
  tool.bind("--motion", "motion", "clip: head motion amplitude factor, 0..4 (default 1)");
  tool.bind("--images", "images", "enrol: number of stills (default 4)");
  bool no_blink = false;
  clip->add_flag("--no-blink", no_blink, "never blink (a photo held up) [config key: eyes=open]");
  return tool.run(argc, argv, [&] {
    if (clip->parsed()) {
      auto options = wtp::config::decode<wtp::synth::ClipOptions>(tool.config());
      if (no_blink) options.eyes = wtp::synth::EyeSchedule::kOpen;
      const auto c = wtp::synth::run_clip(options);
      std::printf("wrote %s: %zu frames of identity %d at %d fps, %dx%d, blink frames:",
                  options.out.c_str(), c.frames.size(), options.identity, options.fps, options.size,
                  options.size);
      for (int i : c.blink_frames()) std::printf(" %d", i);
      std::printf("%s\n", c.blink_frames().empty() ? " none" : "");
      return;
    }
    if (enrol->parsed()) {
      const auto options = wtp::config::decode<wtp::synth::EnrolOptions>(tool.config());
      const auto stills = wtp::synth::run_enrolment(options);
      std::printf("wrote %s: %zu enrolment stills of identity %d\n", options.out.c_str(),
                  stills.size(), options.identity);
      return;
    }
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
