// The log-in service end to end on the SQLite store and the fixture archives: enrolment,
// log-in with a blink clip (attendance), every refusal, 1:1 verification.
#include <opencv2/imgcodecs.hpp>

#include "catch_torch.h"
#include "core/error.h"
#include "serve/service.h"
#include "serve/store.h"
#include "serve_fixture.h"
#include "synth/clips.h"
#include "test_support.h"

using namespace wtp::serve;
using Catch::Matchers::Contains;
using wtp::test::TempDir;

namespace {

using wtp::test::kFrameMs;
using wtp::test::kFrameSize;
using wtp::test::kPeople;
/// People of serve_fixture.h (the fixture models train on the datasets of seeds 11 and 12).
constexpr int kAnn = kPeople[0], kBob = kPeople[1], kStranger = kPeople[2];
using wtp::test::login_clip;

std::string png(const cv::Mat& image) {
  std::vector<unsigned char> bytes;
  REQUIRE(cv::imencode(".png", image, bytes));
  return std::string(bytes.begin(), bytes.end());
}

std::string jpeg(const cv::Mat& image) {
  std::vector<unsigned char> bytes;
  REQUIRE(cv::imencode(".jpg", image, bytes));
  return std::string(bytes.begin(), bytes.end());
}

/// PNG bytes of `identity`'s enrolment stills.
std::vector<std::string> stills(int identity, int images = 4) {
  std::vector<std::string> out;
  for (const auto& face : wtp::test::enrolment_stills(identity, images))
    out.push_back(png(face.image));
  return out;
}

/// A service on a fresh SQLite database with a fake clock, and helpers to run log-ins.
struct Fixture {
  TempDir dir;
  std::shared_ptr<Store> store;
  std::int64_t now = 1700000000000;  // fake Unix ms
  std::unique_ptr<Service> service;
  ServiceOptions options;

  explicit Fixture(const wtp::test::ServeArchives& archives) {
    options.model = archives.model.string();
    options.liveness = archives.liveness.string();
    store = open_store("sqlite:" + (dir / "wtp.db").string());
    service = std::make_unique<Service>(options, store, [this] { return now; });
  }

  std::int64_t enrol(const std::string& employee, int identity) {
    const User user = store->create_user(employee, "Person " + employee, now);
    const EnrolResult r = service->enrol(user.id, stills(identity));
    INFO(r.detail);
    REQUIRE(r.refusal == Refusal::kNone);
    REQUIRE(r.added == 4);
    return user.id;
  }

  /// Log-in with `frames` captured from `start_before_cue` ms before the cue, one every
  /// `frame_ms`; the clock moves to just after the last frame.
  LoginResult login(const std::vector<cv::Mat>& frames, double start_before_cue = 200.0,
                    double frame_ms = kFrameMs) {
    const Challenge c = service->challenge();
    return login_with(c, frames, start_before_cue, frame_ms);
  }

  LoginResult login_with(const Challenge& c, const std::vector<cv::Mat>& frames,
                         double start_before_cue, double frame_ms) {
    std::vector<Frame> sent;
    const double t0 = static_cast<double>(c.cue_after_ms) - start_before_cue;
    for (std::size_t i = 0; i < frames.size(); ++i)
      sent.push_back({jpeg(frames[i]), t0 + frame_ms * static_cast<double>(i)});
    now += static_cast<std::int64_t>(sent.back().t_ms) + 50;
    return service->login(c.nonce, sent);
  }
};

#define REQUIRE_ARCHIVES(archives)                       \
  std::string why_;                                      \
  const auto archives = wtp::test::serve_archives(why_); \
  if (!archives) WTP_SKIP(why_)

}  // namespace

TEST_CASE("enrol, then log in with a blink: the right user and attendance", "[serve][service]") {
  REQUIRE_ARCHIVES(archives);
  Fixture fx(*archives);
  const auto alice = fx.enrol("E1", kAnn);
  const auto bob = fx.enrol("E2", kBob);
  LoginResult r = fx.login(login_clip(kAnn, 1, true));
  INFO(describe(r.refusal) << " " << r.detail);
  REQUIRE(r.refusal == Refusal::kNone);
  REQUIRE(r.user);
  CHECK(r.user->id == alice);
  REQUIRE(r.event);
  CHECK(r.event->kind == AttendanceKind::kCheckIn);
  CHECK(r.distance <= 2.0);
  // Within the debounce: the same event, nothing new.
  r = fx.login(login_clip(kAnn, 2, true));
  REQUIRE(r.refusal == Refusal::kNone);
  CHECK(r.event->kind == AttendanceKind::kCheckIn);
  // After it: check-out.
  fx.now += fx.options.attendance_debounce_ms + 1000;
  r = fx.login(login_clip(kAnn, 3, true));
  INFO(r.detail);
  REQUIRE(r.refusal == Refusal::kNone);
  CHECK(r.event->kind == AttendanceKind::kCheckOut);
  CHECK(fx.store->attendance(alice, "", "").size() == 2);
  // Bob logs in as Bob.
  r = fx.login(login_clip(kBob, 1, true));
  INFO(r.detail);
  REQUIRE(r.refusal == Refusal::kNone);
  CHECK(r.user->id == bob);
}

TEST_CASE("log-in refusals: no blink, blink before the cue, other people", "[serve][service]") {
  REQUIRE_ARCHIVES(archives);
  Fixture fx(*archives);
  fx.enrol("E1", kAnn);
  fx.enrol("E2", kBob);
  SECTION("a clip that never blinks (a photo held up)") {
    const LoginResult r = fx.login(login_clip(kAnn, 1, false));
    INFO(r.detail);
    CHECK(r.refusal == Refusal::kNoBlink);
    CHECK_FALSE(r.user);
    CHECK_FALSE(r.event);
  }
  SECTION("a blink only before the cue") {
    // Frames 0-5 before the cue, the blink in frames 1-3.
    const LoginResult r = fx.login(login_clip(kAnn, 1, true, 1), 550.0);
    INFO(r.detail);
    CHECK(r.refusal == Refusal::kNoBlink);
  }
  SECTION("blink frames of one person with frames of another") {
    auto frames = login_clip(kAnn, 1, true);
    const auto other = login_clip(kBob, 1, false);
    for (std::size_t i = 11; i < frames.size(); ++i) frames[i] = other[i];
    const LoginResult r = fx.login(frames);
    INFO(r.detail);
    CHECK(r.refusal == Refusal::kDifferentPeople);
  }
  CHECK(fx.store->attendance(std::nullopt, "", "").empty());
}

TEST_CASE("frames without a detected face take the previous box and must still match",
          "[serve][service]") {
  REQUIRE_ARCHIVES(archives);
  Fixture fx(*archives);
  fx.enrol("E1", kAnn);
  cv::Mat noise(kFrameSize, kFrameSize, CV_8UC3);
  cv::theRNG().state = 7;
  cv::randu(noise, cv::Scalar::all(60), cv::Scalar::all(200));
  // Ann's blink clip with noise (no face) in frames `noisy`; the refusal and its detail.
  const auto login_with_noise = [&](std::initializer_list<int> noisy) {
    auto frames = login_clip(kAnn, 1, true);
    for (const int f : noisy) frames[static_cast<std::size_t>(f)] = noise;
    const LoginResult r = fx.login(frames);
    INFO(r.detail);
    return std::make_pair(r.refusal, r.detail);
  };
  // Two frames in a row: tracked, and refused because they are not the person.
  auto [refusal, detail] = login_with_noise({3, 4});
  CHECK(refusal == Refusal::kDifferentPeople);
  CHECK_THAT(detail, Contains("frame 3"));
  // More than max_tracked_frames in a row: no face.
  std::tie(refusal, detail) = login_with_noise({3, 4, 5});
  CHECK(refusal == Refusal::kNoFace);
  CHECK_THAT(detail, Contains("frame 5"));
  // The first frame has nothing to track.
  std::tie(refusal, detail) = login_with_noise({0});
  CHECK(refusal == Refusal::kNoFace);
  CHECK_THAT(detail, Contains("frame 0"));
}

TEST_CASE("repeated failures matched to one user lock that user's log-in for a while",
          "[serve][service]") {
  REQUIRE_ARCHIVES(archives);
  Fixture fx(*archives);
  fx.options.user_lockout_failures = 2;
  fx.service = std::make_unique<Service>(fx.options, fx.store, [&fx] { return fx.now; });
  fx.enrol("E1", kAnn);
  fx.enrol("E2", kBob);
  // Two photos of Ann held up (no blink): the second locks Ann's log-in.
  for (int take = 1; take <= 2; ++take)
    CHECK(fx.login(login_clip(kAnn, take, false)).refusal == Refusal::kNoBlink);
  LoginResult r = fx.login(login_clip(kAnn, 1, true));
  INFO(r.detail);
  CHECK(r.refusal == Refusal::kLockedOut);
  CHECK(r.retry_after_ms > 0);
  CHECK(r.retry_after_ms <= fx.options.user_lockout_ms);
  CHECK_FALSE(r.user);
  CHECK_FALSE(r.event);
  // Bob is not affected; Ann logs in again once the lock-out is over.
  CHECK(fx.login(login_clip(kBob, 1, true)).refusal == Refusal::kNone);
  fx.now += fx.options.user_lockout_ms;
  r = fx.login(login_clip(kAnn, 2, true));
  INFO(r.detail);
  CHECK(r.refusal == Refusal::kNone);
  CHECK(fx.store->attendance(std::nullopt, "", "").size() == 2);
}

TEST_CASE("an unenrolled person is unknown", "[serve][service]") {
  REQUIRE_ARCHIVES(archives);
  Fixture fx(*archives);
  fx.enrol("E1", kAnn);
  fx.enrol("E2", kBob);
  const LoginResult r = fx.login(login_clip(kStranger, 1, true));
  INFO(r.detail);
  CHECK(r.refusal == Refusal::kUnknownFace);
  CHECK_FALSE(r.user);
}

TEST_CASE("a challenge is single-use and expires", "[serve][service]") {
  REQUIRE_ARCHIVES(archives);
  Fixture fx(*archives);
  fx.enrol("E1", kAnn);
  const auto frames = login_clip(kAnn, 1, true);
  Challenge c = fx.service->challenge();
  CHECK(c.nonce.size() >= 43);  // 256 random bits
  CHECK(c.cue_after_ms >= fx.options.cue_min_ms);
  CHECK(c.cue_after_ms <= fx.options.cue_max_ms);
  CHECK(c.expires_in_ms == fx.options.challenge_ttl_ms);
  // Used once (whatever the outcome), then replayed.
  CHECK(fx.login_with(c, frames, 200.0, kFrameMs).refusal != Refusal::kBadChallenge);
  CHECK(fx.login_with(c, frames, 200.0, kFrameMs).refusal == Refusal::kBadChallenge);
  // Expired.
  c = fx.service->challenge();
  fx.now += fx.options.challenge_ttl_ms;
  CHECK(fx.login_with(c, frames, 200.0, kFrameMs).refusal == Refusal::kBadChallenge);
  // Unknown.
  CHECK(fx.service->login("not-a-nonce", {}).refusal == Refusal::kBadChallenge);
  // A refused log-in consumes its nonce too.
  c = fx.service->challenge();
  CHECK(fx.login_with(c, {frames.begin(), frames.begin() + 3}, 200.0, kFrameMs).refusal ==
        Refusal::kBadTiming);
  CHECK(fx.login_with(c, frames, 200.0, kFrameMs).refusal == Refusal::kBadChallenge);
}

TEST_CASE("log-in timing: too few frames, too slow, older than the challenge", "[serve][service]") {
  REQUIRE_ARCHIVES(archives);
  Fixture fx(*archives);
  fx.enrol("E1", kAnn);
  const auto frames = login_clip(kAnn, 1, true);
  LoginResult r = fx.login({frames.begin(), frames.begin() + 9});
  CHECK(r.refusal == Refusal::kBadTiming);
  CHECK_THAT(r.detail, Contains("9 frames"));
  r = fx.login(frames, 200.0, 200.0);  // 5 fps
  CHECK(r.refusal == Refusal::kBadTiming);
  CHECK_THAT(r.detail, Contains("frames per second"));
  // Frames spanning more time than has passed since the challenge.
  const Challenge c = fx.service->challenge();
  std::vector<Frame> sent;
  for (std::size_t i = 0; i < frames.size(); ++i)
    sent.push_back({jpeg(frames[i]), 100.0 * static_cast<double>(i)});
  fx.now += 500;
  r = fx.service->login(c.nonce, sent);
  CHECK(r.refusal == Refusal::kBadTiming);
  CHECK_THAT(r.detail, Contains("since the challenge"));
}

TEST_CASE("bad images are refused with a message", "[serve][service]") {
  REQUIRE_ARCHIVES(archives);
  Fixture fx(*archives);
  const std::string good = jpeg(login_clip(kAnn, 1, false, 7, 1)[0]);
  const std::string bomb =
      std::string("\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\x01\x86\xa0\0\x01\x86\xa0\x08\x02\0\0\0", 29) +
      std::string(4, '\0') + std::string("\0\0\0\0IEND\xae\x42\x60\x82", 12);
  for (const std::string& bad :
       {good.substr(0, good.size() / 2), std::string(), std::string("just some text"), bomb}) {
    const QualityResult q = fx.service->check_image(bad);
    CHECK(q.refusal == Refusal::kBadImage);
    CHECK_FALSE(q.detail.empty());
  }
  CHECK_THAT(fx.service->check_image(bomb).detail, Contains("too many pixels"));
  const QualityResult q = fx.service->check_image(good);
  INFO(q.detail);
  CHECK(q.refusal == Refusal::kNone);
  CHECK(q.face_px >= fx.options.min_face_px);
  CHECK(q.sharpness > 0.0);
  // A log-in frame that is not an image.
  fx.enrol("E1", kAnn);
  auto frames = login_clip(kAnn, 1, true);
  const Challenge c = fx.service->challenge();
  std::vector<Frame> sent;
  for (std::size_t i = 0; i < frames.size(); ++i)
    sent.push_back({i == 4 ? std::string("GIF89a") : jpeg(frames[i]),
                    static_cast<double>(c.cue_after_ms) + 100.0 * static_cast<double>(i)});
  fx.now += 5000;
  const LoginResult r = fx.service->login(c.nonce, sent);
  CHECK(r.refusal == Refusal::kBadImage);
  CHECK_THAT(r.detail, Contains("frame 4"));
}

TEST_CASE("enrolment is all-or-nothing and checks every image", "[serve][service]") {
  REQUIRE_ARCHIVES(archives);
  Fixture fx(*archives);
  const User user = fx.store->create_user("E1", "Ann", fx.now);
  auto images = stills(kAnn);
  images[2] = images[2].substr(0, images[2].size() / 3);
  EnrolResult r = fx.service->enrol(user.id, images);
  CHECK(r.refusal == Refusal::kBadImage);
  CHECK(r.image == 2);
  CHECK_THAT(r.detail, Contains("image 3"));
  CHECK(r.added == 0);
  CHECK(fx.store->all_templates().empty());
  // Two faces in one image.
  images = stills(kAnn);
  cv::Mat a = cv::imdecode(std::vector<unsigned char>(images[0].begin(), images[0].end()),
                           cv::IMREAD_COLOR);
  cv::Mat two;
  cv::hconcat(a, a, two);
  images[1] = png(two);
  r = fx.service->enrol(user.id, images);
  CHECK(r.refusal == Refusal::kSeveralFaces);
  CHECK(r.image == 1);
  // A blank image has no face.
  images = stills(kAnn);
  images[0] = png(cv::Mat(kFrameSize, kFrameSize, CV_8UC3, cv::Scalar(128, 128, 128)));
  CHECK(fx.service->enrol(user.id, images).refusal == Refusal::kNoFace);
  CHECK(fx.store->all_templates().empty());
  // Counts and unknown users.
  CHECK_THROWS_AS(fx.service->enrol(user.id, stills(kAnn, 2)), wtp::UsageError);
  CHECK_THROWS_AS(fx.service->enrol(user.id + 100, stills(kAnn)), std::invalid_argument);
  // All good: 4 templates of the archive's model.
  r = fx.service->enrol(user.id, stills(kAnn));
  REQUIRE(r.refusal == Refusal::kNone);
  const auto templates = fx.store->all_templates();
  REQUIRE(templates.size() == 4);
  CHECK(templates[0].model_md5.size() == 32);
}

TEST_CASE("templates of another model are never compared: re-enrol", "[serve][service]") {
  REQUIRE_ARCHIVES(archives);
  Fixture fx(*archives);
  const User user = fx.store->create_user("E1", "Ann", fx.now);
  REQUIRE(fx.service->enrol(user.id, stills(kAnn)).refusal == Refusal::kNone);
  // Move Ann's templates to an older model: same vectors, another MD5.
  auto templates = fx.store->all_templates();
  std::vector<std::vector<float>> vectors;
  for (const auto& t : templates) vectors.push_back(t.embedding);
  REQUIRE(fx.store->delete_user(user.id));
  const User again = fx.store->create_user("E1", "Ann", fx.now);
  fx.store->add_templates(again.id, "0123456789abcdef0123456789abcdef", vectors, fx.now);
  LoginResult r = fx.login(login_clip(kAnn, 1, true));
  INFO(r.detail);
  CHECK(r.refusal == Refusal::kReenrol);
  CHECK_THAT(describe(r.refusal), Contains("enrol you again"));
  r = fx.service->verify(again.id, stills(kAnn)[0]);
  CHECK(r.refusal == Refusal::kReenrol);
}

TEST_CASE("1:1 verification of a claimed user", "[serve][service]") {
  REQUIRE_ARCHIVES(archives);
  Fixture fx(*archives);
  const auto alice = fx.enrol("E1", kAnn);
  const auto bob = fx.enrol("E2", kBob);
  const std::string probe = jpeg(login_clip(kAnn, 4, false, 7, 1)[0]);
  LoginResult r = fx.service->verify(alice, probe);
  INFO(r.detail);
  CHECK(r.refusal == Refusal::kNone);
  REQUIRE(r.user);
  CHECK(r.user->id == alice);
  r = fx.service->verify(bob, probe);
  CHECK(r.refusal == Refusal::kUnknownFace);
  const User carol = fx.store->create_user("E3", "Carol", fx.now);
  CHECK(fx.service->verify(carol.id, probe).refusal == Refusal::kUnknownFace);
  // No attendance for verification.
  CHECK(fx.store->attendance(std::nullopt, "", "").empty());
}

TEST_CASE("the service refuses missing or wrong archives and bad options", "[serve][service]") {
  REQUIRE_ARCHIVES(archives);
  TempDir dir;
  std::shared_ptr<Store> store = open_store("sqlite:" + (dir / "wtp.db").string());
  ServiceOptions o;
  o.model = (dir / "missing.ts").string();
  o.liveness = archives->liveness.string();
  CHECK_THROWS_WITH(Service(o, store), Contains("missing.ts"));
  o.model = archives->liveness.string();  // a liveness archive as the embedding model
  CHECK_THROWS_WITH(Service(o, store), Contains("liveness archive"));
  o.model = archives->model.string();
  o.detector = "no-such-detector";
  CHECK_THROWS_AS(Service(o, store), wtp::UsageError);
  o.detector = "haar";
  o.timezone = "Mars/Olympus";
  CHECK_THROWS_WITH(Service(o, store), Contains("Mars/Olympus"));
  o.timezone = "UTC";
  o.open_threshold = 0.2;  // without closed_threshold
  CHECK_THROWS_AS(Service(o, store), wtp::UsageError);
  o.open_threshold = -1.0;
  o.match_fmr = 0.05;  // the archive records 1e-2, 1e-3 and 1e-4
  CHECK_THROWS_WITH(Service(o, store), Contains("match_fmr 0.05") && Contains("0.001"));
  o.match_fmr = 1.5;
  CHECK_THROWS_WITH(Service(o, store), Contains("match_fmr must be in [0, 1)"));
  o.match_fmr = 1e-2;
  CHECK_NOTHROW(Service(o, store));
}

TEST_CASE("attendance days are local days of the configured time zone", "[serve][service]") {
  // 2024-03-10 23:30 UTC.
  const std::int64_t t = 1710113400000;
  CHECK(local_day(t, "UTC") == "2024-03-10");
  if (!std::filesystem::exists("/usr/share/zoneinfo/Europe/Rome"))
    WTP_SKIP("tzdata is not installed (apt-get install tzdata)");
  CHECK(local_day(t, "Europe/Rome") == "2024-03-11");       // UTC+1
  CHECK(local_day(t, "America/New_York") == "2024-03-10");  // UTC-4 (DST began that day)
  CHECK(local_day(t - 86400000LL * 2, "America/New_York") == "2024-03-08");
  CHECK_THROWS_AS(local_day(t, "../etc/passwd"), wtp::UsageError);
}
