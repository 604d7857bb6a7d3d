#include "serve/service.h"

#include <sodium.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/log.h"
#include "download/md5.h"
#include "serve/auth.h"
#include "serve/blink.h"
#include "serve/face_pipeline.h"
#include "serve/matcher.h"
#include "serve/rate_limit.h"

namespace wtp::serve {

namespace {

std::int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// The distances a log-in is decided with (see ServiceOptions::match_fmr).
struct MatchThresholds {
  double accept = 0.0;  ///< a match is accepted at most this far (the operating point)
  double frame = 0.0;   ///< every frame must be at most this far from the matched user
};

/// The thresholds of an embedding archive's meta.json: accept at the operating point of
/// `options.match_fmr` (verification.operating_points), frames at the accuracy-optimal
/// verification.threshold (never below accept). UsageError when the archive records no
/// verification threshold, or operating points without the requested FMR.
MatchThresholds match_thresholds(const ServiceOptions& options, const nlohmann::json& meta) {
  const auto it = meta.find("verification");
  if (it == meta.end() || !it->is_object() || !(*it)["threshold"].is_number())
    throw UsageError("embedding model '" + options.model + "' records no verification threshold (" +
                     (it != meta.end() && it->is_object() ? it->value("reason", "none recorded")
                                                          : std::string("no verification entry")) +
                     "); export it from a run with a validation split (wtp-export --checkpoint)");
  const double accuracy_threshold = (*it)["threshold"].get<double>();
  MatchThresholds t{accuracy_threshold, accuracy_threshold};
  if (options.match_fmr == 0.0) return t;
  const auto points = it->find("operating_points");
  if (points == it->end() || !points->is_array()) {
    log::warn("embedding model '", options.model,
              "' records no operating points; matching at its accuracy-optimal threshold ",
              accuracy_threshold, " instead of FMR ", options.match_fmr,
              " (export it again with wtp-export --checkpoint)");
    return t;
  }
  std::ostringstream message;
  message << "service.match_fmr " << options.match_fmr << ": the embedding model '" << options.model
          << "' records thresholds for FMR";
  for (const auto& p : *points) {
    const double target = p.value("fmr_target", -1.0);
    if (std::abs(target - options.match_fmr) <= 1e-9 * options.match_fmr) {
      t.accept = p.at("threshold").get<double>();
      t.frame = std::max(t.frame, t.accept);
      return t;
    }
    message << " " << target;
  }
  message << " only; choose one of these (or 0 for its accuracy-optimal threshold)";
  throw UsageError(message.str());
}

/// The hysteresis pair: the options when set, else the liveness archive's pair
/// (meta.liveness.open_threshold / closed_threshold) when it records one, else derived from
/// its decision threshold (see ServiceOptions::hysteresis).
BlinkRule blink_rule(const ServiceOptions& options, const nlohmann::json& meta,
                     const std::string& path) {
  BlinkRule rule;
  const nlohmann::json live = meta.value("liveness", nlohmann::json());
  if (options.open_threshold >= 0.0 && options.closed_threshold >= 0.0) {
    rule.open_threshold = options.open_threshold;
    rule.closed_threshold = options.closed_threshold;
  } else if (live.is_object() && live.contains("open_threshold") &&
             live.contains("closed_threshold") && live["open_threshold"].is_number() &&
             live["closed_threshold"].is_number()) {
    rule.open_threshold = live["open_threshold"].get<double>();
    rule.closed_threshold = live["closed_threshold"].get<double>();
  } else {
    require(live.is_object() && live.contains("threshold") && live["threshold"].is_number(),
            "liveness archive '" + path +
                "' records no eye-state threshold (meta.json liveness.threshold); export it "
                "again with wtp-export --what liveness, or set open_threshold and "
                "closed_threshold");
    const double t = live["threshold"].get<double>();
    rule.open_threshold = t * (1.0 - options.hysteresis);
    rule.closed_threshold = t + (1.0 - t) * options.hysteresis;
  }
  rule.validate();
  return rule;
}

/// Serialises the C library's time zone state (TZ is process-wide).
std::mutex& tz_mutex() {
  static std::mutex mutex;
  return mutex;
}

void require_timezone(const std::string& timezone) {
  namespace fs = std::filesystem;
  const char* dir = std::getenv("TZDIR");
  const fs::path zones = dir && *dir ? fs::path(dir) : fs::path("/usr/share/zoneinfo");
  require(timezone == "UTC" || (!timezone.empty() && timezone.find("..") == std::string::npos &&
                                timezone.front() != '/' && fs::is_regular_file(zones / timezone)),
          "timezone '" + timezone +
              "' is not in the system's time zone database (give a name such as "
              "Europe/Rome or UTC; Debian: apt-get install tzdata)");
}

}  // namespace

std::string describe(Refusal refusal) {
  switch (refusal) {
    case Refusal::kNone:
      return "Accepted.";
    case Refusal::kBadImage:
      return "The picture could not be read: send a JPEG or PNG photo.";
    case Refusal::kNoFace:
      return "No face was found: face the camera.";
    case Refusal::kSeveralFaces:
      return "More than one face is visible: only you should be in view.";
    case Refusal::kFaceTooSmall:
      return "The face is too small: come closer to the camera.";
    case Refusal::kTooBlurry:
      return "The picture is too blurry: hold still and check the focus.";
    case Refusal::kTooDark:
      return "The picture is too dark: find more light.";
    case Refusal::kUnknownFace:
      return "You were not recognised.";
    case Refusal::kDifferentPeople:
      return "The frames do not all show the same person.";
    case Refusal::kNoBlink:
      return "No blink was seen after the cue: blink when asked.";
    case Refusal::kBadChallenge:
      return "The log-in expired or was already used: start again.";
    case Refusal::kBadTiming:
      return "The camera frames came too slowly or too few: try again.";
    case Refusal::kReenrol:
      return "Your enrolment was made with an older face model: ask an administrator to "
             "enrol you again.";
    case Refusal::kLockedOut:
      return "Too many failed log-ins for this person: try again later.";
  }
  return "Refused.";
}

void ServiceOptions::validate() const {
  require(match_fmr >= 0.0 && match_fmr < 1.0, "service.match_fmr must be in [0, 1)");
  require(margin >= 0.0, "service.margin must be >= 0");
  require(max_tracked_frames >= 0, "service.max_tracked_frames must be >= 0");
  require(user_lockout_failures >= 1 && user_lockout_window_ms > 0 && user_lockout_ms > 0,
          "service.user_lockout_failures must be >= 1, user_lockout_window_ms and "
          "user_lockout_ms > 0");
  require(max_pixels >= 1, "service.max_pixels must be >= 1");
  require(min_face_px >= 1, "service.min_face_px must be >= 1");
  require(min_sharpness >= 0.0, "service.min_sharpness must be >= 0");
  require(min_brightness >= 0.0 && min_brightness <= 255.0,
          "service.min_brightness must be in [0, 255]");
  require(enrol_min_images >= 1 && enrol_min_images <= enrol_max_images,
          "service: need 1 <= enrol_min_images <= enrol_max_images");
  require(challenge_ttl_ms >= 1, "service.challenge_ttl_ms must be >= 1");
  require(cue_min_ms >= 0 && cue_min_ms <= cue_max_ms && cue_max_ms < challenge_ttl_ms,
          "service: need 0 <= cue_min_ms <= cue_max_ms < challenge_ttl_ms");
  require(min_frames >= 3 && min_frames <= max_frames,
          "service: need 3 <= min_frames <= max_frames (a blink takes open, closed, open)");
  require(min_fps > 0.0, "service.min_fps must be > 0");
  require((open_threshold < 0.0) == (closed_threshold < 0.0),
          "service: set both open_threshold and closed_threshold, or neither (negative = from "
          "the liveness archive)");
  require(hysteresis >= 0.0 && hysteresis < 1.0, "service.hysteresis must be in [0, 1)");
  require(attendance_debounce_ms >= 0, "service.attendance_debounce_ms must be >= 0");
  require_timezone(timezone);
}

std::string local_day(std::int64_t unix_ms, const std::string& timezone) {
  require_timezone(timezone);
  const auto seconds = static_cast<std::time_t>(
      unix_ms >= 0 ? unix_ms / 1000 : -((-unix_ms + 999) / 1000));  // floor
  std::tm tm{};
  {
    std::lock_guard<std::mutex> lock(tz_mutex());
    const char* old = std::getenv("TZ");
    const std::string saved = old ? old : "";
    setenv("TZ", timezone.c_str(), 1);
    tzset();
    localtime_r(&seconds, &tm);
    if (old)
      setenv("TZ", saved.c_str(), 1);
    else
      unsetenv("TZ");
    tzset();
  }
  char text[16];
  std::strftime(text, sizeof text, "%Y-%m-%d", &tm);
  return text;
}

struct Service::Impl {
  ServiceOptions options;
  std::shared_ptr<Store> store;
  Clock clock;
  FacePipeline pipeline;
  std::string model_md5;
  MatchThresholds thresholds;
  Matcher matcher;
  Lockouts user_lockouts;
  BlinkRule rule;

  Impl(const ServiceOptions& o, std::shared_ptr<Store> s, Clock c)
      : options(o),
        store(std::move(s)),
        clock(c ? std::move(c) : Clock(system_now_ms)),
        pipeline(o),
        model_md5(download::md5_file(o.model)),
        thresholds(match_thresholds(o, pipeline.embedding_meta())),
        matcher(model_md5, pipeline.embedding_dim(), thresholds.accept, o.margin),
        user_lockouts(o.user_lockout_failures, o.user_lockout_window_ms, o.user_lockout_ms,
                      RateLimitOptions().max_entries),
        rule(blink_rule(o, pipeline.liveness_meta(), o.liveness)) {}

  /// The log-in's identity decision over every frame's embedding (see login()): the mean
  /// of the frames' embeddings (re-normalised) is matched 1:N at the accept threshold with
  /// the margin; then every frame must be within the frame threshold of that user, and no
  /// frame may match another user on its own.
  LoginResult identify(const torch::Tensor& embeddings) {
    LoginResult result;
    const auto gallery = matcher.refresh(*store);
    const torch::Tensor fused = torch::nn::functional::normalize(
        embeddings.mean(0, /*keepdim=*/true), torch::nn::functional::NormalizeFuncOptions().dim(1));
    const Match m = best_match(*gallery, user_distances(*gallery, fused), 0, matcher.threshold(),
                               matcher.margin());
    if (!m.user) {
      result.refusal = gallery->stale_users.empty() ? Refusal::kUnknownFace : Refusal::kReenrol;
      result.detail = gallery->stale_users.empty()
                          ? "no enrolled user is close enough"
                          : "not recognised among users enrolled with the current model; users "
                            "enrolled with an older model must enrol again";
      return result;
    }
    const torch::Tensor d = user_distances(*gallery, embeddings);
    const std::int64_t column = user_column(*gallery, *m.user);
    for (std::int64_t f = 0; f < d.size(0); ++f) {
      const Match frame = best_match(*gallery, d, f, matcher.threshold(), matcher.margin());
      const bool other_user = frame.user && *frame.user != *m.user;
      if (other_user || d[f][column].item<double>() > thresholds.frame) {
        result.refusal = Refusal::kDifferentPeople;
        result.detail = "frame " + std::to_string(f) + " does not match the person of the others";
        return result;
      }
    }
    result.distance = m.distance;
    result.user = store->find_user(*m.user);
    if (!result.user) {  // deleted since the gallery was built
      result.refusal = Refusal::kUnknownFace;
      result.detail = "no enrolled user is close enough";
    }
    return result;
  }
};

Service::Service(const ServiceOptions& options, std::shared_ptr<Store> store, Clock clock) {
  options.validate();
  require(static_cast<bool>(store), "service: no store");
  if (sodium_init() < 0) throw std::runtime_error("service: libsodium cannot be initialised");
  impl_ = std::make_unique<Impl>(options, std::move(store), std::move(clock));
}

Service::~Service() = default;

QualityResult Service::check_image(const std::string& bytes) {
  return impl_->pipeline.prepare(bytes).quality;
}

EnrolResult Service::enrol(std::int64_t user_id, const std::vector<std::string>& images) {
  const auto& o = impl_->options;
  const auto n = static_cast<int>(images.size());
  require(n >= o.enrol_min_images && n <= o.enrol_max_images,
          "enrolment takes " + std::to_string(o.enrol_min_images) + " to " +
              std::to_string(o.enrol_max_images) + " images, got " + std::to_string(n));
  if (!impl_->store->find_user(user_id))
    throw std::invalid_argument("no user with id " + std::to_string(user_id));
  EnrolResult result;
  std::vector<PreparedFace> faces;
  for (int i = 0; i < n; ++i) {
    faces.push_back(impl_->pipeline.prepare(images[static_cast<std::size_t>(i)]));
    if (faces.back().quality.refusal != Refusal::kNone) {
      result.refusal = faces.back().quality.refusal;
      result.detail = "image " + std::to_string(i + 1) + ": " + faces.back().quality.detail;
      result.image = i;
      return result;
    }
  }
  std::vector<const cv::Mat*> aligned;
  for (const auto& f : faces) aligned.push_back(&f.embed_face);
  const torch::Tensor embeddings = impl_->pipeline.embed(aligned);
  std::vector<std::vector<float>> rows;
  for (std::int64_t i = 0; i < embeddings.size(0); ++i) {
    const float* p = embeddings[i].data_ptr<float>();
    rows.emplace_back(p, p + embeddings.size(1));
  }
  impl_->store->add_templates(user_id, impl_->model_md5, rows, impl_->clock());
  result.added = n;
  return result;
}

Challenge Service::challenge() {
  const auto& o = impl_->options;
  const std::int64_t now = impl_->clock();
  Challenge c;
  c.nonce = random_token();
  c.expires_in_ms = o.challenge_ttl_ms;
  // Unpredictable (CSPRNG), so a clip recorded in advance cannot place its blink after it.
  c.cue_after_ms = o.cue_min_ms + static_cast<std::int64_t>(randombytes_uniform(
                                      static_cast<std::uint32_t>(o.cue_max_ms - o.cue_min_ms + 1)));
  c.min_frames = o.min_frames;
  c.max_frames = o.max_frames;
  c.min_fps = o.min_fps;
  const nlohmann::json payload = {{"issued_at", now}, {"cue_after_ms", c.cue_after_ms}};
  impl_->store->put_challenge(sha256_hex(c.nonce), payload.dump(), now + o.challenge_ttl_ms);
  return c;
}

LoginResult Service::login(const std::string& nonce, const std::vector<Frame>& frames) {
  auto& impl = *impl_;
  const auto& o = impl.options;
  LoginResult result;
  auto refuse = [&result](Refusal refusal, std::string detail) {
    result.refusal = refusal;
    result.detail = std::move(detail);
    result.user.reset();
    return result;
  };
  // The nonce is consumed first, whatever happens next.
  const std::int64_t now = impl.clock();
  const auto payload = impl.store->take_challenge(sha256_hex(nonce), now);
  if (!payload) return refuse(Refusal::kBadChallenge, "unknown, used or expired challenge");
  const nlohmann::json challenge = nlohmann::json::parse(*payload);
  const auto issued_at = challenge.at("issued_at").get<std::int64_t>();
  const auto cue = challenge.at("cue_after_ms").get<std::int64_t>();

  std::vector<double> times;
  for (const auto& f : frames) times.push_back(f.t_ms);
  const std::string timing = check_frame_timing(times, static_cast<double>(now - issued_at),
                                                {o.min_frames, o.max_frames, o.min_fps});
  if (!timing.empty()) return refuse(Refusal::kBadTiming, timing);

  std::vector<PreparedFace> faces;
  int tracked_in_a_row = 0;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const align::Face* track =
        i > 0 && tracked_in_a_row < o.max_tracked_frames ? &*faces.back().face : nullptr;
    faces.push_back(impl.pipeline.prepare(frames[i].bytes, track));
    if (faces.back().quality.refusal != Refusal::kNone)
      return refuse(faces.back().quality.refusal,
                    "frame " + std::to_string(i) + ": " + faces.back().quality.detail);
    tracked_in_a_row = faces.back().tracked ? tracked_in_a_row + 1 : 0;
  }
  std::vector<const cv::Mat*> embed_faces, live_faces;
  for (const auto& f : faces) {
    embed_faces.push_back(&f.embed_face);
    live_faces.push_back(&f.live_face);
  }
  result = impl.identify(impl.pipeline.embed(embed_faces));
  if (result.refusal != Refusal::kNone) return refuse(result.refusal, result.detail);
  const std::string user_key = "user:" + std::to_string(result.user->id);
  if (const auto wait = impl.user_lockouts.locked_for(user_key, now)) {
    refuse(Refusal::kLockedOut, "try again in " + std::to_string((wait + 999) / 1000) + " s");
    result.retry_after_ms = wait;
    return result;
  }

  const torch::Tensor p = impl.pipeline.closed_probability(live_faces).to(torch::kDouble);
  const std::vector<double> p_closed(p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
  const BlinkVerdict blink = detect_blink(p_closed, times, static_cast<double>(cue), impl.rule);
  if (!blink.blink) {
    impl.user_lockouts.failure(user_key, now);
    return refuse(Refusal::kNoBlink, blink.detail);
  }
  impl.user_lockouts.success(user_key);

  result.event = impl.store->record_attendance(result.user->id, now, local_day(now, o.timezone),
                                               o.attendance_debounce_ms);
  return result;
}

LoginResult Service::verify(std::int64_t user_id, const std::string& image) {
  auto& impl = *impl_;
  LoginResult result;
  const PreparedFace face = impl.pipeline.prepare(image);
  if (face.quality.refusal != Refusal::kNone) {
    result.refusal = face.quality.refusal;
    result.detail = face.quality.detail;
    return result;
  }
  const auto gallery = impl.matcher.refresh(*impl.store);
  if (gallery->stale_users.count(user_id)) {
    result.refusal = Refusal::kReenrol;
    result.detail = "the user's templates were made by another model";
    return result;
  }
  const std::int64_t column = user_column(*gallery, user_id);
  if (column < 0) {
    result.refusal = Refusal::kUnknownFace;
    result.detail = "the user has no enrolled face";
    return result;
  }
  const torch::Tensor d = user_distances(*gallery, impl.pipeline.embed({&face.embed_face}));
  result.distance = d[0][column].item<double>();
  if (result.distance > impl.matcher.threshold()) {
    result.refusal = Refusal::kUnknownFace;
    result.detail = "the face does not match the user";
    return result;
  }
  result.user = impl.store->find_user(user_id);
  return result;
}

}  // namespace wtp::serve
