#pragma once
/// The log-in service's logic, independent of HTTP: enrolment, 1:N log-in with a
/// server-enforced blink, 1:1 verification, attendance. `server.h` puts it on HTTP.
///
/// Log-in protocol (the server decides everything; the client only captures):
/// 1. challenge(): a random single-use nonce (stored hashed, expires after
///    `challenge_ttl_ms`) and a cue time `cue_after_ms` after the challenge, drawn at random
///    in [cue_min_ms, cue_max_ms] so a pre-recorded clip cannot know it.
/// 2. login(nonce, frames): frames captured by the client with their capture times (ms since
///    the challenge). Refused unless: the nonce is known, unused and unexpired (it is
///    consumed by this call whatever the outcome); min_frames <= frames <= max_frames; frame
///    times increase, their mean rate is >= min_fps and their span fits in the server's own
///    time since the challenge; every frame holds exactly one face; every frame's embedding
///    matches the same user; and the eye-state probabilities of the frames at or after the
///    cue show open -> closed -> open (BlinkRule).
/// 3. A log-in that passes records an attendance event (Store::record_attendance).
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "serve/store.h"

namespace wtp::serve {

/// Why a request about faces was refused, in words for a person (the page shows them).
enum class Refusal {
  kNone,
  kBadImage,         ///< not a JPEG/PNG, truncated, over the pixel cap
  kNoFace,           ///< no face found
  kSeveralFaces,     ///< more than one face
  kFaceTooSmall,     ///< face box under min_face_px
  kTooBlurry,        ///< variance of the Laplacian under min_sharpness
  kTooDark,          ///< mean brightness of the face under min_brightness
  kUnknownFace,      ///< no enrolled user close enough (or not clearly better than the next)
  kDifferentPeople,  ///< the frames do not all match the same user
  kNoBlink,          ///< no open -> closed -> open after the cue
  kBadChallenge,     ///< unknown, used or expired nonce
  kBadTiming,        ///< too few/many frames, rate under min_fps, times not increasing
  kReenrol,          ///< the user's templates were made by another model: re-enrol
  kLockedOut,        ///< the matched person failed too many log-ins lately: wait
};
WTP_ENUM_NAMES(Refusal, {Refusal::kNone, "none"}, {Refusal::kBadImage, "bad_image"},
               {Refusal::kNoFace, "no_face"}, {Refusal::kSeveralFaces, "several_faces"},
               {Refusal::kFaceTooSmall, "face_too_small"}, {Refusal::kTooBlurry, "too_blurry"},
               {Refusal::kTooDark, "too_dark"}, {Refusal::kUnknownFace, "unknown_face"},
               {Refusal::kDifferentPeople, "different_people"}, {Refusal::kNoBlink, "no_blink"},
               {Refusal::kBadChallenge, "bad_challenge"}, {Refusal::kBadTiming, "bad_timing"},
               {Refusal::kReenrol, "reenrol"}, {Refusal::kLockedOut, "locked_out"})

/// A sentence for a person explaining `refusal`.
std::string describe(Refusal refusal);

/// Everything the service decides with (wtp-serve's config `service:` section).
struct ServiceOptions {
  std::string model;              ///< embedding archive (wtp-export --what embedding)
  std::string liveness;           ///< eye-state archive (wtp-export --what liveness)
  std::string detector = "haar";  ///< "haar", an MTCNN weights folder or a detector archive
  /// The false match rate the log-in operates at: a match is accepted when its distance is
  /// at most the embedding archive's threshold for this FMR (meta.json
  /// verification.operating_points, chosen on validation pairs at export; one of 1e-2,
  /// 1e-3, 1e-4) and the best user beats the second-best by `margin`. 0, or an archive
  /// without operating points: the archive's accuracy-optimal verification threshold.
  double match_fmr = 1e-3;
  /// Accept a match only when the best user beats the second-best user by at least this
  /// much (distance).
  double margin = 0.05;
  std::int64_t max_pixels = 4096 * 4096;  ///< decoded pixel cap (decompression bombs)
  int min_face_px = 40;                   ///< smallest face box side accepted
  double min_sharpness = 10.0;            ///< variance of the Laplacian of the face crop
  double min_brightness = 40.0;           ///< mean grey level of the face crop (0-255)
  int enrol_min_images = 3;
  int enrol_max_images = 5;
  std::int64_t challenge_ttl_ms = 30000;
  std::int64_t cue_min_ms = 1000;  ///< earliest cue after the challenge
  std::int64_t cue_max_ms = 2000;  ///< latest cue
  int min_frames = 10;
  int max_frames = 40;
  /// Log-in frames in a row in which the detector may miss the face (e.g. during the blink)
  /// and the previous frame's face box is used instead; the frame must still match the user.
  int max_tracked_frames = 2;
  double min_fps = 8.0;
  /// Eye-state hysteresis: a frame is "closed" when P(closed) >= closed_threshold and "open"
  /// when P(closed) <= open_threshold; frames in between count as neither. Negative = take
  /// them from the liveness archive's meta.json.
  double open_threshold = -1.0;
  double closed_threshold = -1.0;
  /// Half-width of the derived hysteresis band when the liveness archive records only one
  /// decision threshold t (and the thresholds above are negative): open_threshold =
  /// t (1 - hysteresis), closed_threshold = t + (1 - t) hysteresis (t = 0.5: 0.3 and 0.7).
  double hysteresis = 0.4;
  /// user_lockout_failures log-ins whose frames matched a user but showed no blink, within
  /// user_lockout_window_ms, lock that user's log-in for user_lockout_ms (kLockedOut, even
  /// with a blink): repeated photo attacks on one person stop. Per instance, in memory.
  int user_lockout_failures = 5;
  std::int64_t user_lockout_window_ms = 15 * 60 * 1000;
  std::int64_t user_lockout_ms = 5 * 60 * 1000;
  std::int64_t attendance_debounce_ms = 60000;  ///< repeated log-ins within this are one event
  std::string timezone = "UTC";                 ///< for attendance days (TZ database name)

  template <class V>
  void visit(V& v) {
    v("model", model, "embedding archive (wtp-export --what embedding)");
    v("liveness", liveness, "eye-state archive (wtp-export --what liveness)");
    v("detector", detector, "haar, an MTCNN weights directory or an MTCNN detector archive");
    v("match_fmr", match_fmr,
      "false match rate of the accept threshold: 1e-2, 1e-3 or 1e-4 (0: the archive's "
      "accuracy-optimal threshold)");
    v("margin", margin, "the best user must beat the second-best by this distance");
    v("max_pixels", max_pixels, "decoded pixel cap per image (decompression bombs)");
    v("min_face_px", min_face_px, "smallest face box side accepted, pixels");
    v("min_sharpness", min_sharpness, "smallest variance of the Laplacian of the face");
    v("min_brightness", min_brightness, "smallest mean grey level of the face, 0-255");
    v("enrol_min_images", enrol_min_images, "fewest images an enrolment takes");
    v("enrol_max_images", enrol_max_images, "most images an enrolment takes");
    v("challenge_ttl_ms", challenge_ttl_ms, "a log-in challenge expires after this (ms)");
    v("cue_min_ms", cue_min_ms, "earliest blink cue after the challenge (ms)");
    v("cue_max_ms", cue_max_ms, "latest blink cue after the challenge (ms)");
    v("min_frames", min_frames, "fewest frames a log-in sends");
    v("max_frames", max_frames, "most frames a log-in sends");
    v("max_tracked_frames", max_tracked_frames,
      "log-in frames in a row without a detected face that take the previous frame's box");
    v("min_fps", min_fps, "lowest mean frame rate of a log-in");
    v("open_threshold", open_threshold,
      "eyes open iff P(closed) <= this (negative: from the liveness archive)");
    v("closed_threshold", closed_threshold,
      "eyes closed iff P(closed) >= this (negative: from the liveness archive)");
    v("hysteresis", hysteresis, "band around the archive's single threshold, in [0, 1)");
    v("user_lockout_failures", user_lockout_failures,
      "failed log-ins matched to one user that lock that user's log-in");
    v("user_lockout_window_ms", user_lockout_window_ms,
      "failures older than this (ms) are forgotten");
    v("user_lockout_ms", user_lockout_ms, "how long (ms) a user's log-in stays locked");
    v("attendance_debounce_ms", attendance_debounce_ms,
      "log-ins of one user within this (ms) are one attendance event");
    v("timezone", timezone, "time zone of attendance days (TZ database name, e.g. Europe/Rome)");
  }
  /// Throws UsageError naming the field and the accepted range.
  void validate() const;
};

/// The calendar date "YYYY-MM-DD" of Unix time `unix_ms` in `timezone` (a TZ database name
/// such as "Europe/Rome", or "UTC"), with the C library's time zone rules. Throws
/// UsageError for a name that is not in the system's time zone database.
std::string local_day(std::int64_t unix_ms, const std::string& timezone);

/// A frame or image as received: encoded bytes (JPEG or PNG) and, for log-in frames, the
/// capture time in ms since the challenge.
struct Frame {
  std::string bytes;
  double t_ms = 0.0;
};

struct Challenge {
  std::string nonce;  ///< returned once, stored hashed
  std::int64_t expires_in_ms = 0;
  std::int64_t cue_after_ms = 0;  ///< when the page cues the blink
  int min_frames = 0, max_frames = 0;
  double min_fps = 0.0;
};

struct LoginResult {
  Refusal refusal = Refusal::kNone;  ///< kNone = logged in
  std::string detail;                ///< e.g. which frame failed (no internals)
  std::optional<User> user;
  std::optional<AttendanceEvent> event;
  double distance = 0.0;
  std::int64_t retry_after_ms = 0;  ///< kLockedOut: how long the lock-out still lasts
};

struct EnrolResult {
  Refusal refusal = Refusal::kNone;  ///< kNone = every image was added
  std::string detail;                ///< why the image was refused, in words
  int image = -1;                    ///< index of the image refused
  int added = 0;
};

/// The quality verdict of one image (enrolment preview).
/// A face's box in image pixels.
struct FaceBox {
  int x = 0, y = 0, width = 0, height = 0;
};

struct QualityResult {
  Refusal refusal = Refusal::kNone;
  std::string detail;  ///< why it was refused, in words
  double sharpness = 0.0, brightness = 0.0;
  int face_px = 0;
  std::optional<FaceBox> box;  ///< the one face found (also when it failed a quality check)
};

class Service {
 public:
  /// Unix time in ms; tests pass a fake clock.
  using Clock = std::function<std::int64_t()>;
  /// Loads the archives (UsageError naming the file when missing or damaged) and the store.
  Service(const ServiceOptions& options, std::shared_ptr<Store> store, Clock clock = {});
  ~Service();

  QualityResult check_image(const std::string& bytes);
  /// All-or-nothing: every image must pass check_image(), else nothing is stored. Throws
  /// UsageError when the number of images is outside [enrol_min_images, enrol_max_images],
  /// std::invalid_argument for an unknown user.
  EnrolResult enrol(std::int64_t user_id, const std::vector<std::string>& images);
  Challenge challenge();
  LoginResult login(const std::string& nonce, const std::vector<Frame>& frames);
  /// 1:1: does `image` match `user_id` (no liveness, no attendance)?
  LoginResult verify(std::int64_t user_id, const std::string& image);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace wtp::serve
