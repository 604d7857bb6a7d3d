// wtp-serve's face routes over 127.0.0.1 with the real archives (tests/serve/serve_fixture.h)
// and wtp-synth's clips and enrolment stills of synthetic people: quality check, enrolment,
// the log-in with a server-enforced blink, 1:1 verification, bad images, brute force and
// concurrent clients; on SQLite and on a real PostgreSQL 15 server.
#include <opencv2/imgcodecs.hpp>
#include <thread>

#include "catch_torch.h"
#include "serve_fixture.h"
#include "synth/clips.h"
#include "test_api_support.h"

using namespace wtp::serve;
using namespace wtp::test;
using json = nlohmann::json;

namespace {

/// wtp-synth people (serve_fixture.h).
constexpr int kAlice = kPeople[0], kBob = kPeople[1], kStranger = kPeople[2];

#define FACES_TEST(name, tags, fn)                              \
  TEST_CASE("sqlite: " name, "[api][faces][sqlite]" tags) {     \
    auto archives = fixture_options();                          \
    if (!archives) return;                                      \
    auto db = sqlite_test_db();                                 \
    fn(db.url, *archives);                                      \
  }                                                             \
  TEST_CASE("postgres: " name, "[api][faces][postgres]" tags) { \
    auto archives = fixture_options();                          \
    if (!archives) return;                                      \
    WTP_REQUIRE_POSTGRES(server);                               \
    fn(server->create_database(), *archives);                   \
  }

/// wtp-serve options on the fixture's archives, or nullopt after WTP_SKIP.
std::optional<ServeOptions> fixture_options() {
  std::string why;
  auto archives = serve_archives(why);
  if (!archives) {
    [&] { WTP_SKIP(why); }();
    return std::nullopt;
  }
  ServeOptions o;
  o.service.model = archives->model.string();
  o.service.liveness = archives->liveness.string();
  return o;
}

std::string encode(const cv::Mat& image, const char* ext = ".png") {
  std::vector<unsigned char> bytes;
  REQUIRE(cv::imencode(ext, image, bytes));
  return std::string(bytes.begin(), bytes.end());
}

json enrolment_images(int identity, int count = 4) {
  json images = json::array();
  for (const auto& face : enrolment_stills(identity, count))
    images.push_back(base64(encode(face.image)));
  return images;
}

/// A clip of `identity` as log-in frames timed so the blink (if any) comes after the cue.
struct ClipSpec {
  int identity = 0;
  int take = 1;
  wtp::synth::EyeSchedule eyes = wtp::synth::EyeSchedule::kBlink;
};

std::vector<cv::Mat> clip_frames(const ClipSpec& spec) {
  return login_clip(spec.identity, spec.take, spec.eyes == wtp::synth::EyeSchedule::kBlink);
}

/// Challenge, wait (on the fake clock) while "recording", log in. Frame 0 is captured 200 ms
/// before the cue, so the blink at frame 7 comes 500 ms after it.
httplib::Result log_in_with(ApiServer& api, const std::vector<cv::Mat>& frames,
                            std::string* nonce_out = nullptr) {
  auto c = api.client();
  auto r = c.Post("/api/v1/login/challenge", "{}", "application/json");
  REQUIRE(r);
  REQUIRE(r->status == 200);
  const json challenge = body_json(r);
  const double dt = kFrameMs;
  const double start = challenge["cue_after_ms"].get<double>() - 200.0;
  json body = {{"nonce", challenge["nonce"]}, {"frames", json::array()}};
  for (std::size_t i = 0; i < frames.size(); ++i)
    body["frames"].push_back(
        {{"image", base64(encode(frames[i], ".jpg"))}, {"t_ms", start + i * dt}});
  api.advance(static_cast<std::int64_t>(start + (frames.size() - 1) * dt) + 50);
  if (nonce_out) *nonce_out = challenge["nonce"];
  return c.Post("/api/v1/login", body.dump(), "application/json");
}

std::int64_t create_user(httplib::Client& c, const AdminSession& s,
                         const std::string& employee_id) {
  auto r = c.Post("/api/v1/users", s.headers(),
                  json({{"employee_id", employee_id}, {"name", "N " + employee_id}}).dump(),
                  "application/json");
  REQUIRE(r);
  REQUIRE(r->status == 201);
  return body_json(r)["id"].get<std::int64_t>();
}

void enrol(httplib::Client& c, const AdminSession& s, std::int64_t id, int identity) {
  auto r = c.Post(("/api/v1/users/" + std::to_string(id) + "/faces").c_str(), s.headers(),
                  json({{"images", enrolment_images(identity)}}).dump(), "application/json");
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == 200);
  CHECK(body_json(r)["added"] == 4);
}

void blink_login(const std::string& url, const ServeOptions& base) {
  ServeOptions options = base;
  options.limits.lockout_failures = 20;  // this case fails on purpose several times
  ApiServer api(url, options, ApiServer::Models::kLoad);
  add_admin(api, "root");
  auto c = api.client();
  AdminSession s = log_in(api, "root");
  const auto alice = create_user(c, s, "E-1"), bob = create_user(c, s, "E-2");
  enrol(c, s, alice, kAlice);
  enrol(c, s, bob, kBob);

  // Alice blinks after the cue: logged in as Alice, one check-in recorded.
  std::string nonce;
  auto r = log_in_with(api, clip_frames({kAlice, 1}), &nonce);
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == 200);
  json ok = body_json(r);
  CHECK(ok["user"]["id"] == alice);
  CHECK(ok["event"]["kind"] == "check_in");
  auto events = body_json(c.Get("/api/v1/attendance", s.headers(false)));
  REQUIRE(events["events"].size() == 1);
  CHECK(events["events"][0]["user_id"] == alice);

  // The same nonce again (a replayed request) is refused.
  json replay = {{"nonce", nonce}, {"frames", json::array()}};
  for (int i = 0; i < 12; ++i) replay["frames"].push_back({{"image", "AAAA"}, {"t_ms", i * 100}});
  r = c.Post("/api/v1/login", replay.dump(), "application/json");
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(body_json(r)["code"] == "bad_challenge");

  // Alice never blinking (a photo held up): refused.
  r = log_in_with(api, clip_frames({kAlice, 2, wtp::synth::EyeSchedule::kOpen}));
  REQUIRE(r);
  CHECK(r->status == 401);
  CHECK(body_json(r)["code"] == "no_blink");

  // A person never enrolled: unknown.
  r = log_in_with(api, clip_frames({kStranger, 1}));
  REQUIRE(r);
  CHECK(r->status == 401);
  CHECK(body_json(r)["code"] == "unknown_face");

  // Alice's blink with Bob's frames after it: different people.
  auto mixed = clip_frames({kAlice, 3});
  const auto bob_frames = clip_frames({kBob, 3, wtp::synth::EyeSchedule::kOpen});
  for (std::size_t i = 11; i < mixed.size(); ++i) mixed[i] = bob_frames[i];
  r = log_in_with(api, mixed);
  REQUIRE(r);
  CHECK(r->status == 401);
  CHECK(body_json(r)["code"] == "different_people");

  // 1:1 verification.
  const json still = enrolment_images(kAlice, 5)[4];
  auto v =
      body_json(c.Post("/api/v1/verify", s.headers(),
                       json({{"user_id", alice}, {"image", still}}).dump(), "application/json"));
  CHECK(v["match"] == true);
  v = body_json(c.Post("/api/v1/verify", s.headers(),
                       json({{"user_id", bob}, {"image", still}}).dump(), "application/json"));
  CHECK(v["match"] == false);

  // Metrics count the decisions and the liveness failure; no template anywhere in the API.
  const std::string metrics = c.Get("/metrics")->body;
  CHECK(metrics.find("wtp_liveness_failures_total 1") != std::string::npos);
  // unknown_face: the stranger's log-in and the 1:1 check of Alice's still against Bob.
  CHECK(metrics.find("wtp_refusals_total{reason=\"unknown_face\"} 2") != std::string::npos);
  CHECK(metrics.find("wtp_refusals_total{reason=\"different_people\"} 1") != std::string::npos);
  auto users = c.Get("/api/v1/users", s.headers(false));
  CHECK(users->body.find("embedding") == std::string::npos);
  CHECK(body_json(users)["users"][0]["templates"] == 4);
}
FACES_TEST(
    "log-in with a blink: the right user and an attendance row; no blink, replay, "
    "stranger and mixed people refused",
    "", blink_login)

/// A PNG that declares `side` x `side` pixels of one grey level: a few kB that decode to
/// side^2 bytes (a decompression bomb).
std::string png_bomb(int side) {
  cv::Mat big(side, side, CV_8UC1, cv::Scalar(0));
  return encode(big);
}

void bad_images(const std::string& url, const ServeOptions& options) {
  ApiServer api(url, options, ApiServer::Models::kLoad);
  add_admin(api, "root");
  auto c = api.client();
  AdminSession s = log_in(api, "root");
  const auto id = create_user(c, s, "E-1");
  const std::string jpeg = encode(enrolment_stills(kAlice, 1)[0].image, ".jpg");
  auto check = [&](const json& image) {
    auto r = c.Post("/api/v1/faces/check", s.headers(), json({{"image", image}}).dump(),
                    "application/json");
    REQUIRE(r);
    return r;
  };
  auto good = check(base64(jpeg));
  INFO(good->body);
  CHECK(good->status == 200);
  CHECK(body_json(good)["ok"] == true);
  const std::pair<std::string, std::string> cases[] = {
      {"truncated JPEG", base64(jpeg.substr(0, jpeg.size() / 2))},
      {"zero bytes", ""},
      {"not an image", base64("GIF89a this is not a JPEG or PNG at all")},
      {"PNG bomb", base64(png_bomb(9000))},
      {"bad base64", "@@@@not*base64"},
  };
  for (const auto& [what, image] : cases) {
    INFO(what);
    auto r = check(image);
    CHECK(r->status == 400);
    const json e = body_json(r);
    CHECK(e["error"].get<std::string>().size() > 10);
    CHECK(e["request_id"] == r->get_header_value("X-Request-Id"));
  }
  // Enrolment is all-or-nothing: one bad image among four stores nothing.
  json images = enrolment_images(kAlice);
  images[2] = base64(jpeg.substr(0, jpeg.size() / 2));
  auto r = c.Post(("/api/v1/users/" + std::to_string(id) + "/faces").c_str(), s.headers(),
                  json({{"images", images}}).dump(), "application/json");
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(body_json(r)["image"] == 2);
  images = enrolment_images(kAlice, 2);
  r = c.Post(("/api/v1/users/" + std::to_string(id) + "/faces").c_str(), s.headers(),
             json({{"images", images}}).dump(), "application/json");
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(body_json(c.Get(("/api/v1/users/" + std::to_string(id)).c_str(),
                        s.headers(false)))["templates"] == 0);
  // Too many frames: refused before any image is decoded.
  json login = {{"nonce", "x"}, {"frames", json::array()}};
  for (int i = 0; i <= options.service.max_frames; ++i)
    login["frames"].push_back({{"image", "AAAA"}, {"t_ms", i}});
  r = c.Post("/api/v1/login", login.dump(), "application/json");
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(body_json(r)["code"] == "too_many_frames");
}
FACES_TEST("truncated JPEG, zero bytes, non-image, PNG bomb, bad base64 -> 400 with a message", "",
           bad_images)

TEST_CASE("the log-in page's face box: where the face is, no identity, its own rate limit",
          "[api][faces][sqlite]") {
  auto options = fixture_options();
  if (!options) return;
  options->limits.detect_burst = 3;
  options->limits.detect_per_second = 0.001;
  auto db = sqlite_test_db();
  ApiServer api(db.url, *options, ApiServer::Models::kLoad);
  auto c = api.client();  // no session, no key: the route is public
  const auto still = enrolment_stills(kAlice, 1).front();
  auto r = c.Post("/api/v1/faces/detect", json({{"image", base64(encode(still.image))}}).dump(),
                  "application/json");
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == 200);
  json face = body_json(r);
  CHECK(face["ok"] == true);
  CHECK(face["code"] == "none");
  // The box holds both eyes of the rendered face, inside the image; nothing else is said.
  const json box = face["face"];
  const int x = box["x"], y = box["y"], w = box["width"], h = box["height"];
  CHECK(x >= 0);
  CHECK(y >= 0);
  CHECK(x + w <= kFrameSize);
  CHECK(y + h <= kFrameSize);
  for (const cv::Point2d& eye : {still.left_eye, still.right_eye}) {
    CHECK(eye.x > x);
    CHECK(eye.x < x + w);
    CHECK(eye.y > y);
    CHECK(eye.y < y + h);
  }
  CHECK(face.size() == 3);  // ok, code, face: no user, no distance, no template

  // A grey frame: no face, no box.
  r = c.Post(
      "/api/v1/faces/detect",
      json({{"image",
             base64(encode(cv::Mat(kFrameSize, kFrameSize, CV_8UC3, cv::Scalar::all(128))))}})
          .dump(),
      "application/json");
  REQUIRE(r);
  CHECK(r->status == 200);
  CHECK(body_json(r)["code"] == "no_face");
  CHECK(body_json(r)["face"].is_null());

  // Not an image: 400. Then the burst of 3 is spent: 429 with Retry-After.
  r = c.Post("/api/v1/faces/detect", json({{"image", base64("not an image")}}).dump(),
             "application/json");
  REQUIRE(r);
  CHECK(r->status == 400);
  r = c.Post("/api/v1/faces/detect", json({{"image", base64(encode(still.image))}}).dump(),
             "application/json");
  REQUIRE(r);
  CHECK(r->status == 429);
  CHECK(std::stoi(r->get_header_value("Retry-After")) > 0);
}

void brute_force_login(const std::string& url, const ServeOptions& base) {
  ServeOptions options = base;
  options.limits.lockout_failures = 4;
  ApiServer api(url, options, ApiServer::Models::kLoad);
  auto c = api.client();
  json attempt = {{"nonce", "guessed"}, {"frames", json::array()}};
  for (int i = 0; i < 12; ++i) attempt["frames"].push_back({{"image", "AAAA"}, {"t_ms", i * 100}});
  std::vector<int> statuses;
  for (int i = 0; i < 6; ++i) {
    auto r = c.Post("/api/v1/login", attempt.dump(), "application/json");
    REQUIRE(r);
    statuses.push_back(r->status);
  }
  CHECK(statuses == std::vector<int>{400, 400, 400, 400, 429, 429});
  auto r = c.Post("/api/v1/login/challenge", "{}", "application/json");
  REQUIRE(r);
  CHECK(r->status == 429);  // locked out of challenges too
  CHECK(std::stoi(r->get_header_value("Retry-After")) > 0);
}
FACES_TEST("brute-force log-in attempts from one address -> 429 with Retry-After", "",
           brute_force_login)

void concurrent_clients(const std::string& url, const ServeOptions& base) {
  ServeOptions options = base;
  options.limits.login_burst = 100;
  options.limits.ip_burst = 1000;
  ApiServer api(url, options, ApiServer::Models::kLoad);
  add_admin(api, "root");
  AdminSession s = log_in(api, "root");
  constexpr int kClients = 8;
  std::vector<std::int64_t> ids(kClients);
  std::vector<int> enrol_status(kClients), login_status(kClients);
  std::vector<json> logged_in(kClients);
  {
    std::vector<std::thread> threads;
    for (int k = 0; k < kClients; ++k)
      threads.emplace_back([&, k] {
        auto c = api.client();
        auto r =
            c.Post("/api/v1/users", s.headers(),
                   json({{"employee_id", "C-" + std::to_string(k)}, {"name", "Client"}}).dump(),
                   "application/json");
        if (!r || r->status != 201) return;
        ids[k] = json::parse(r->body)["id"];
        r = c.Post(("/api/v1/users/" + std::to_string(ids[k]) + "/faces").c_str(), s.headers(),
                   json({{"images", enrolment_images(kPeople[k])}}).dump(), "application/json");
        enrol_status[k] = r ? r->status : -1;
      });
    for (auto& t : threads) t.join();
  }
  CHECK(enrol_status == std::vector<int>(kClients, 200));
  std::int64_t total = 0;
  CHECK(api.store().list_users("", 0, 100, total).size() == kClients);
  CHECK(api.store().all_templates().size() == kClients * 4);
  // Every client logs in at once (the fake clock is shared, so each waits for the others).
  std::vector<std::vector<cv::Mat>> clips;
  for (int k = 0; k < kClients; ++k) clips.push_back(clip_frames({kPeople[k], 1}));
  {
    std::vector<std::thread> threads;
    for (int k = 0; k < kClients; ++k)
      threads.emplace_back([&, k] {
        auto r = log_in_with(api, clips[k]);
        login_status[k] = r ? r->status : -1;
        if (r && r->status == 200) logged_in[k] = json::parse(r->body);
      });
    for (auto& t : threads) t.join();
  }
  // Nothing lost: every log-in was answered, every accepted one is its own user with its
  // attendance row (a refusal is the models' call on a synthetic clip, not a loss: with the
  // test fixture's small eye-state model most blinks are missed, see the service tests).
  int accepted = 0;
  for (int k = 0; k < kClients; ++k) {
    INFO("client " << k << " status " << login_status[k]);
    CHECK((login_status[k] == 200 || login_status[k] == 401));
    if (login_status[k] != 200) continue;
    ++accepted;
    CHECK(logged_in[k]["user"]["id"] == ids[k]);
  }
  CHECK(api.store().attendance(std::nullopt, "", "").size() == static_cast<std::size_t>(accepted));
}
FACES_TEST("8 clients enrolling and logging in at once lose nothing", "", concurrent_clients)

}  // namespace
