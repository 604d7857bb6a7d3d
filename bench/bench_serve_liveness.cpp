// The log-in service's decisions on wtp-synth people, as ISO/IEC 30107-3 reports them: the
// bona fide presentation classification error rate (BPCER: genuine blinking users refused)
// and the attack presentation classification error rate (APCER) of each attack type, plus
// the matching error rates (FNMR of enrolled users, FMR of people never enrolled). Runs
// Service (serve/service.h) on a temporary SQLite database with a fake clock, as wtp-serve
// does. Not a test (it needs trained archives); prints markdown tables and JSON.
//
//   bench_serve_liveness MODEL.ts LIVENESS.ts [people 12] [takes 3] [seed 2000] [size 128]
//                        [match_fmr 1e-3]
//
// People: identities of the wtp-synth dataset with `seed` (choose one the archives never
// saw) whose enrolment stills the service accepts; the first half are enrolled (4 stills
// each), the second half never. Each log-in sends 15 frames at 10 fps starting 200 ms before
// the server's cue; a blink clip blinks 4 frames (half-closed, closed, closed, half-closed)
// from frame 7. Presentations per enrolled person and take:
//   bona fide         the person's blink clip
//   no blink          the person never blinking (a photo held up)
//   blink before cue  the blink in frames 1-4, all before the cue
//   spliced           the person's clip with frames 11-14 of another enrolled person
//   replay            the bona fide request sent again with the same nonce
// and per never-enrolled person and take: a blink clip (a stranger: accepted = false match).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/threads.h"
#include "serve/service.h"
#include "serve/store.h"
#include "synth/clips.h"

using namespace wtp;
namespace fs = std::filesystem;

namespace {

constexpr int kFrames = 15;
constexpr double kFrameMs = 100.0;

std::string jpeg(const cv::Mat& image) {
  std::vector<unsigned char> bytes;
  cv::imencode(".jpg", image, bytes);
  return std::string(bytes.begin(), bytes.end());
}

struct Bench {
  std::uint64_t seed = 2000;
  int size = 128;
  std::int64_t now = 1'700'000'000'000;
  std::unique_ptr<serve::Service> service;

  std::vector<cv::Mat> clip(int identity, int take, bool blink, int blink_at = 7) const {
    synth::ClipOptions o;
    o.seed = seed;
    o.identity = identity;
    o.take = take;
    o.frames = kFrames;
    o.fps = 10;
    o.size = size;
    o.eyes = blink ? synth::EyeSchedule::kBlink : synth::EyeSchedule::kOpen;
    o.blink_at = blink_at;
    o.blink_frames = 4;
    std::vector<cv::Mat> out;
    for (const auto& f : synth::render_clip(o).frames) out.push_back(f.image);
    return out;
  }

  std::vector<std::string> stills(int identity) const {
    synth::EnrolOptions o;
    o.seed = seed;
    o.identity = identity;
    o.images = 4;
    o.size = size;
    std::vector<std::string> out;
    for (const auto& face : synth::render_enrolment(o)) out.push_back(jpeg(face.image));
    return out;
  }

  /// A log-in with `frames`, the first captured `before_cue` ms before the cue; `nonce`
  /// receives the challenge's nonce.
  serve::LoginResult login(const std::vector<cv::Mat>& frames, double before_cue,
                           std::vector<serve::Frame>* sent_out = nullptr,
                           std::string* nonce = nullptr) {
    const serve::Challenge c = service->challenge();
    std::vector<serve::Frame> sent;
    const double t0 = static_cast<double>(c.cue_after_ms) - before_cue;
    for (std::size_t i = 0; i < frames.size(); ++i)
      sent.push_back({jpeg(frames[i]), t0 + kFrameMs * static_cast<double>(i)});
    now += static_cast<std::int64_t>(sent.back().t_ms) + 50;
    if (sent_out) *sent_out = sent;
    if (nonce) *nonce = c.nonce;
    const serve::LoginResult r = service->login(c.nonce, sent);
    now += service_debounce;  // every log-in its own attendance event
    return r;
  }
  std::int64_t service_debounce = 0;
};

/// Accepted/total and the refusal reasons of one kind of presentation.
struct Tally {
  int total = 0, accepted = 0, accepted_as_other = 0;
  std::map<std::string, int> refusals;
  void add(const serve::LoginResult& r, std::optional<std::int64_t> expected_user) {
    ++total;
    if (r.refusal == serve::Refusal::kNone) {
      ++accepted;
      if (expected_user && r.user && r.user->id != *expected_user) ++accepted_as_other;
    } else {
      ++refusals[config::enum_name(r.refusal)];
    }
  }
  double accept_rate() const { return total ? static_cast<double>(accepted) / total : 0.0; }
  nlohmann::json json() const {
    return {{"total", total},
            {"accepted", accepted},
            {"accepted_as_other", accepted_as_other},
            {"refusals", refusals}};
  }
};

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 3) {
      std::fprintf(stderr,
                   "usage: bench_serve_liveness MODEL.ts LIVENESS.ts [people] [takes] [seed] "
                   "[size] [match_fmr]\n");
      return 2;
    }
    set_threads(1);
    const int people = argc > 3 ? std::stoi(argv[3]) : 12;
    const int takes = argc > 4 ? std::stoi(argv[4]) : 3;
    Bench b;
    b.seed = argc > 5 ? std::stoull(argv[5]) : 2000;
    b.size = argc > 6 ? std::stoi(argv[6]) : 128;
    const fs::path db =
        fs::temp_directory_path() / ("wtp-bench-liveness-" + std::to_string(::getpid()) + ".db");
    fs::remove(db);
    std::shared_ptr<serve::Store> store = serve::open_store("sqlite:" + db.string());
    serve::ServiceOptions options;
    options.model = argv[1];
    options.liveness = argv[2];
    if (argc > 7) options.match_fmr = std::stod(argv[7]);
    b.service_debounce = options.attendance_debounce_ms + 1000;
    b.service = std::make_unique<serve::Service>(options, store, [&b] { return b.now; });

    // People whose stills the service accepts: half enrolled, half strangers.
    std::vector<std::pair<int, std::int64_t>> enrolled;  // identity, user id
    std::vector<int> strangers;
    int skipped = 0;
    for (int identity = 0; static_cast<int>(enrolled.size() + strangers.size()) < people;
         ++identity) {
      const auto images = b.stills(identity);
      bool usable = true;
      for (const auto& image : images)
        usable = usable && b.service->check_image(image).refusal == serve::Refusal::kNone;
      if (!usable) {
        ++skipped;
        continue;
      }
      if (static_cast<int>(enrolled.size()) < people / 2) {
        const serve::User u = store->create_user("E" + std::to_string(identity),
                                                 "Person " + std::to_string(identity), b.now);
        b.service->enrol(u.id, images);
        enrolled.emplace_back(identity, u.id);
      } else {
        strangers.push_back(identity);
      }
    }

    Tally bona_fide, no_blink, early_blink, spliced, replay, stranger;
    for (int take = 1; take <= takes; ++take) {
      for (std::size_t i = 0; i < enrolled.size(); ++i) {
        const auto [identity, user] = enrolled[i];
        std::vector<serve::Frame> sent;
        std::string nonce;
        bona_fide.add(b.login(b.clip(identity, take, true), 200.0, &sent, &nonce), user);
        replay.add(b.service->login(nonce, sent), user);
        no_blink.add(b.login(b.clip(identity, take, false), 200.0), user);
        early_blink.add(b.login(b.clip(identity, take, true, 1), 550.0), user);
        auto mixed = b.clip(identity, take, true);
        const auto other = b.clip(enrolled[(i + 1) % enrolled.size()].first, take, false);
        for (int f = 11; f < kFrames; ++f) mixed[f] = other[f];
        spliced.add(b.login(mixed, 200.0), user);
      }
      for (const int identity : strangers)
        stranger.add(b.login(b.clip(identity, take, true), 200.0), std::nullopt);
    }
    fs::remove(db);

    const auto row = [](const char* name, const char* measure, const Tally& t,
                        bool error_is_accept) {
      const double rate = error_is_accept ? t.accept_rate() : 1.0 - t.accept_rate();
      std::string reasons;
      for (const auto& [code, n] : t.refusals)
        reasons += (reasons.empty() ? "" : ", ") + code + " " + std::to_string(n);
      std::printf("| %s | %s | %.3f | %d | %s |\n", name, measure, rate, t.total,
                  reasons.empty() ? "-" : reasons.c_str());
    };
    std::printf(
        "people: %zu enrolled, %zu never enrolled (%d skipped: stills refused); %d takes; "
        "match_fmr %g\n\n",
        enrolled.size(), strangers.size(), skipped, takes, options.match_fmr);
    std::printf(
        "| presentation | measure | rate | presentations | refusals |\n|---|---|---|---|---|\n");
    row("bona fide (blink after the cue)", "BPCER", bona_fide, false);
    row("no blink (photo held up)", "APCER", no_blink, true);
    row("blink before the cue", "APCER", early_blink, true);
    row("another person's frames spliced in", "APCER", spliced, true);
    row("replayed request (same nonce)", "APCER", replay, true);
    row("never-enrolled person blinking", "FMR (1:N)", stranger, true);
    std::printf("\nbona fide accepted as another user: %d\n", bona_fide.accepted_as_other);
    const nlohmann::json out = {{"enrolled", enrolled.size()},
                                {"strangers", strangers.size()},
                                {"takes", takes},
                                {"bona_fide", bona_fide.json()},
                                {"no_blink", no_blink.json()},
                                {"early_blink", early_blink.json()},
                                {"spliced", spliced.json()},
                                {"replay", replay.json()},
                                {"stranger", stranger.json()}};
    std::printf("%s\n", out.dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_serve_liveness: %s\n", e.what());
    return 1;
  }
}
