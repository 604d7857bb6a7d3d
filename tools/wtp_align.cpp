// wtp-align: detects the face in every image of a folder tree and writes aligned crops.
#include <cstdio>

#include "align/align_folder.h"
#include "common/cli.h"

int main(int argc, char** argv) {
  wtp::cli::Tool tool("wtp-align",
                      "Detect and align faces in a folder tree (mirrored output + alignment.csv)");
  tool.bind("--input", "input", "folder tree of .jpg/.jpeg/.png images");
  tool.bind("--output", "output", "output folder (mirrors the input tree; resumable)");
  tool.bind("--detector", "detector", "haar (default, OpenCV cascades) or mtcnn");
  tool.bind("--weights", "weights", "MTCNN weight directory with pnet.pt, rnet.pt, onet.pt");
  tool.bind("--kind", "kind",
            "rotation (default: level the eyes), simple, or similarity (5 landmarks onto "
            "ArcFace's template: use --detector mtcnn --size 112)");
  tool.bind("--size", "size", "output side in pixels (default 224)");
  tool.bind("--select", "select", "face choice: largest (default), confidence or center");
  tool.bind_flag("--keep-all", "keep_all", "align every face (extra faces as <stem>_2, _3...)");
  tool.bind("--no-face", "no_face", "image without a face: whole (default) or skip");
  return tool.run(argc, argv, [&] {
    auto options = wtp::config::decode<wtp::align::AlignRunOptions>(tool.config());
    // --threads N: N worker threads over images, each running LibTorch on one thread.
    if (!tool.config().is_map() || !tool.config().find("threads")) options.threads = tool.threads();
    const auto s = wtp::align::run_align(options);
    std::printf("aligned %lld of %lld images in %.1f s (%lld already done)\n",
                static_cast<long long>(s.processed), static_cast<long long>(s.images), s.seconds,
                static_cast<long long>(s.skipped));
    std::printf("  with a face: %lld, no face: %lld, unreadable: %lld\n",
                static_cast<long long>(s.with_face), static_cast<long long>(s.no_face),
                static_cast<long long>(s.unreadable));
    std::printf("  faces written: %lld (%lld with estimated eyes)\n",
                static_cast<long long>(s.faces), static_cast<long long>(s.eyes_estimated));
    std::printf("  %s\n", s.csv.c_str());
  });
}
