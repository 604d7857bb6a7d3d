// Eye-state accuracy of a liveness archive on wtp-synth clips, per frame, with the frames
// aligned as wtp-serve aligns them (Haar detector, eye-levelling alignment at the archive's
// input size, forward_uint8). Not a test (it needs a trained archive); prints JSON.
//
//   bench_clip_liveness LIVENESS.ts [clips 20] [seed 1] [size 256]
//
// Clips: identities 0..clips-1 of the wtp-synth dataset with `seed` (choose a seed whose
// people the archive was not trained on), 20 frames at 15 fps, a 4-frame blink at frame 8
// (half-closed, closed, closed, half-closed), plus the same people never blinking. Reports
// the open/closed frames' accuracy at the archive's decision threshold, AUC and EER, the
// hysteresis pair's recall and error rates (meta.json liveness.open_threshold /
// closed_threshold), the half-closed frames' mean score, frames without exactly one face,
// and the share of blink clips in which the pair sees open -> closed -> open and of
// never-blinking clips in which it wrongly does.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <string>
#include <torch/script.h>
#include <vector>

#include "align/alignment.h"
#include "align/haar_detector.h"
#include "core/threads.h"
#include "eval/liveness.h"
#include "eval/roc.h"
#include "export/export_model.h"
#include "synth/clips.h"

using namespace wtp;

int main(int argc, char** argv) {
  try {
    if (argc < 2) {
      std::fprintf(stderr, "usage: bench_clip_liveness LIVENESS.ts [clips] [seed] [size]\n");
      return 2;
    }
    const std::string archive = argv[1];
    const int clips = argc > 2 ? std::stoi(argv[2]) : 20;
    const std::uint64_t seed = argc > 3 ? std::stoull(argv[3]) : 1;
    const int size = argc > 4 ? std::stoi(argv[4]) : 256;
    set_threads(0);
    auto loaded = exporter::load_exported(archive);
    const auto spec = exporter::input_spec_from_meta(loaded.meta);
    const auto& live = loaded.meta["liveness"];
    const double threshold = live.value("threshold", 0.5);
    eval::BlinkRuleOptions rule;
    rule.open_threshold = live.value("open_threshold", threshold);
    rule.closed_threshold = live.value("closed_threshold", threshold);
    rule.frames = 0;
    rule.pattern = eval::BlinkPattern::kOpenClosedOpen;
    // eval::detect_blink: open iff p < open_threshold; the service: open iff p <= it.
    rule.open_threshold = std::nextafter(rule.open_threshold, 1.0);

    align::HaarDetector detector;
    align::AlignOptions align_options;
    align_options.kind = align::AlignKind::kRotation;
    align_options.size = static_cast<int>(spec.height);

    std::vector<double> scores, half_scores;
    std::vector<std::int64_t> labels;
    int frames = 0, not_one_face = 0, blinks_seen = 0, false_blinks = 0;
    for (int c = 0; c < clips; ++c) {
      for (auto eyes : {synth::EyeSchedule::kBlink, synth::EyeSchedule::kOpen}) {
        synth::ClipOptions o;
        o.seed = seed;
        o.identity = c;
        o.take = c % 4;
        o.frames = 20;
        o.fps = 15;
        o.size = size;
        o.eyes = eyes;
        o.blink_at = 8;
        o.blink_frames = 4;
        const auto clip = synth::render_clip(o);
        std::vector<double> sequence;
        for (const auto& frame : clip.frames) {
          ++frames;
          const auto faces = detector.detect(frame.image);
          if (faces.size() != 1) {
            ++not_one_face;
            continue;
          }
          cv::Mat rgb;
          cv::cvtColor(align::align_face(frame.image, faces[0], align_options).image, rgb,
                       cv::COLOR_BGR2RGB);
          const auto input = torch::from_blob(rgb.data, {1, rgb.rows, rgb.cols, 3}, torch::kUInt8);
          const double p = loaded.module.get_method("forward_uint8")({input})
                               .toTensor()
                               .flatten()[0]
                               .item<double>();
          sequence.push_back(p);
          if (frame.phase == synth::EyePhase::kHalfClosed) {
            half_scores.push_back(p);
          } else {
            scores.push_back(p);
            labels.push_back(frame.phase == synth::EyePhase::kClosed ? 1 : 0);
          }
        }
        const bool blink = eval::detect_blink(sequence, rule);
        if (eyes == synth::EyeSchedule::kBlink)
          blinks_seen += blink ? 1 : 0;
        else
          false_blinks += blink ? 1 : 0;
      }
    }
    const auto s = torch::tensor(scores);
    const auto y = torch::tensor(labels);
    const auto m = eval::eye_state_metrics(s, y, threshold);
    std::int64_t open = 0, closed = 0, open_ok = 0, closed_ok = 0, open_bad = 0, closed_bad = 0;
    for (std::size_t i = 0; i < scores.size(); ++i) {
      if (labels[i]) {
        ++closed;
        closed_ok += scores[i] >= live.value("closed_threshold", threshold);
        closed_bad += scores[i] <= live.value("open_threshold", threshold);
      } else {
        ++open;
        open_ok += scores[i] <= live.value("open_threshold", threshold);
        open_bad += scores[i] >= live.value("closed_threshold", threshold);
      }
    }
    double half_mean = 0;
    for (double p : half_scores) half_mean += p / static_cast<double>(half_scores.size());
    nlohmann::json out = {
        {"archive", archive},
        {"clips", clips},
        {"seed", seed},
        {"frame_size", size},
        {"frames", frames},
        {"frames_without_one_face", not_one_face},
        {"open_frames", open},
        {"closed_frames", closed},
        {"accuracy_at_threshold", m.accuracy},
        {"threshold", threshold},
        {"auc", m.auc},
        {"eer", eval::equal_error_rate(eval::roc_curve(scores, labels))},
        {"open_threshold", live.value("open_threshold", threshold)},
        {"closed_threshold", live.value("closed_threshold", threshold)},
        {"open_read_open", open ? static_cast<double>(open_ok) / open : 0.0},
        {"closed_read_closed", closed ? static_cast<double>(closed_ok) / closed : 0.0},
        {"open_read_closed", open ? static_cast<double>(open_bad) / open : 0.0},
        {"closed_read_open", closed ? static_cast<double>(closed_bad) / closed : 0.0},
        {"half_closed_mean_score", half_mean},
        {"blink_clips_with_blink_seen", static_cast<double>(blinks_seen) / clips},
        {"open_clips_with_blink_seen", static_cast<double>(false_blinks) / clips}};
    std::cout << out.dump(1) << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_clip_liveness: %s\n", e.what());
    return 1;
  }
}
