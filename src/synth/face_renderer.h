#pragma once
/// Procedural face drawing: an identity (stable shape and colour parameters) rendered
/// under one image's variation (pose, lighting, background, blur, noise, eye state).
///
/// Coordinates: "face units" describe a face on a 128 x 128 canvas; a rendered image of
/// side S maps them by the pose (rotation about the canvas centre (64, 64), scale, shift)
/// and then by S / 128. Image coordinates follow OpenCV: x to the right, y down, pixel
/// (c, r) has its centre at (c, r). The *left eye* is the eye with the smaller x in the
/// upright face (the person's right eye); after a rotation of less than 90 degrees it
/// still has the smaller x.
///
/// Determinism: drawing uses OpenCV's fixed-point anti-aliased primitives on a 3x
/// supersampled canvas, integer area reduction, OpenCV's bit-exact 8-bit Gaussian blur,
/// and wtp::Rng for every random value, so the same inputs give the same bytes with the
/// same OpenCV build on any machine.
///
///     FaceIdentity id = sample_identity(mix_seed(seed, 1));
///     FaceVariation var = sample_variation(mix_seed(seed, 2), EyeState::kClosed);
///     RenderedFace face = render_face(id, var, 128);  // face.image: 128x128 CV_8UC3 BGR
#include <cstdint>
#include <opencv2/core.hpp>

#include "core/config.h"

namespace wtp::synth {

/// Whether the eyes are drawn open (sclera, iris, pupil) or closed (a lid and lid line).
enum class EyeState { kOpen, kClosed };
WTP_ENUM_NAMES(EyeState, {EyeState::kOpen, "open"}, {EyeState::kClosed, "closed"})

/// Hair styles (drawn behind and over the head).
enum class HairStyle { kBald, kShort, kSidePart, kFringe, kLong, kCurly, kBun, kBuzz };
/// Facial hair.
enum class BeardStyle { kNone, kStubble, kFull, kGoatee, kMoustache };
/// Spectacles (always clear lenses, so the eye state stays visible).
enum class GlassesStyle { kNone, kRound, kRectangular };

/// The stable parameters of one synthetic person. Lengths are in face units (see the
/// file comment); colours are BGR in [0, 255].
struct FaceIdentity {
  // Outline
  double face_cx = 64, face_cy = 66;  ///< face centre
  double face_a = 28, face_b = 36;    ///< half width, half height
  double face_power = 2.4;            ///< superellipse exponent (2 = ellipse, larger = squarer)
  double chin_taper = 0.2;            ///< narrowing of the lower half toward the chin, [0, 0.4]
  cv::Scalar skin;                    ///< skin colour
  double ear_w = 4, ear_h = 7;        ///< ear half axes
  double blush = 0;                   ///< cheek tint strength in [0, 1]
  // Eyes
  double eye_y = 60;            ///< eye centre height (both eyes)
  double eye_dx = 12;           ///< half the distance between the eye centres
  double eye_w = 5, eye_h = 3;  ///< eye half axes
  double eye_tilt = 0;          ///< degrees; outer corners up for positive values
  double iris_ratio = 0.9;      ///< iris radius / eye_h
  cv::Scalar iris;              ///< iris colour
  double lash = 0;              ///< eyelash length (0 = none)
  // Brows
  double brow_gap = 4;     ///< gap between eye top and brow centre line
  double brow_thick = 2;   ///< brow thickness at its widest
  double brow_len = 1.3;   ///< brow half length / eye_w
  double brow_arch = 1.5;  ///< arch height
  double brow_tilt = 0;    ///< slope (positive: outer end higher)
  cv::Scalar brow;         ///< brow colour
  // Nose and mouth
  int nose_style = 0;                ///< 0 line, 1 nostrils, 2 shaded triangle
  double nose_len = 12, nose_w = 5;  ///< nose length below the eyes, half width
  double mouth_gap = 7;              ///< distance from nose tip to the lip line
  double mouth_w = 8;                ///< half width of the mouth
  double lip_thick = 2.5;            ///< lower lip thickness
  double smile = 1;                  ///< corner lift (negative: down-turned)
  cv::Scalar lips;                   ///< lip colour
  // Hair
  HairStyle hair_style = HairStyle::kShort;
  cv::Scalar hair;           ///< hair colour
  double hair_volume = 3;    ///< how far the hair stands off the head
  double hairline = 38;      ///< height of the hairline at the forehead centre
  double hair_part = 0;      ///< horizontal offset of the parting / asymmetry, [-1, 1]
  double hair_length = 110;  ///< lowest point of long hair
  // Accessories and marks
  BeardStyle beard = BeardStyle::kNone;
  GlassesStyle glasses = GlassesStyle::kNone;
  cv::Scalar glasses_colour;
  double glasses_size = 1.5;  ///< lens half size / eye_w
  int glasses_thick = 1;      ///< frame thickness, face units (rounded)
  bool earrings = false;
  cv::Scalar earring_colour;
  bool mole = false;
  double mole_x = 0, mole_y = 0, mole_r = 1;  ///< mole position (relative to the face centre)
};

/// One image's variation of an identity. Angles in degrees.
struct FaceVariation {
  double rotation = 0;              ///< in-plane rotation, positive = clockwise on screen
  double scale = 1;                 ///< isotropic scale about the canvas centre
  double shift_x = 0, shift_y = 0;  ///< translation in face units
  EyeState eye_state = EyeState::kOpen;
  /// With kOpen: how far the upper lid leaves the eye open, in (0, 1]; 1 = fully open (the
  /// default; drawing is then unchanged), lower values lower the lid over the iris (the
  /// half-closed frames of a blink). Ignored with kClosed.
  double eye_openness = 1;
  double smile_delta = 0;             ///< expression: added to the identity's smile
  double brow_raise = 0;              ///< expression: brows raised by this much
  cv::Scalar clothing;                ///< shirt colour
  std::uint64_t background_seed = 0;  ///< seeds the background and clutter
  double gain = 1;                    ///< overall brightness multiplier
  double light_angle = 0;             ///< direction of the lighting gradient (degrees)
  double light_strength = 0;          ///< gradient strength: +-strength at the image edges
  double gamma = 1;                   ///< output = 255 * (v / 255)^gamma
  cv::Scalar cast{1, 1, 1};           ///< per-channel (BGR) colour cast multipliers
  double blur_sigma = 0;              ///< Gaussian blur sigma in pixels of a 128-pixel image
  double noise_sigma = 0;             ///< Gaussian noise sigma (grey levels)
  std::uint64_t noise_seed = 0;       ///< seeds the per-pixel noise
};

/// A rendered image and its ground truth.
struct RenderedFace {
  cv::Mat image;          ///< size x size, CV_8UC3, BGR
  cv::Point2d left_eye;   ///< centre of the eye with the smaller x in the upright face
  cv::Point2d right_eye;  ///< centre of the other eye
  EyeState eye_state = EyeState::kOpen;
};

/// Draws a random identity. Deterministic in `seed` on every machine.
FaceIdentity sample_identity(std::uint64_t seed);

/// Draws a random variation with the given eye state: rotation uniform in [-20, 20]
/// degrees, scale in [0.85, 1.15], shift up to +-9 face units per axis, and random
/// background, lighting, blur and noise. Deterministic in `seed`.
FaceVariation sample_variation(std::uint64_t seed, EyeState eye_state);

/// Maps a point in face units to image coordinates of a `size` x `size` image under the
/// variation's pose (used for the ground-truth eye centres).
cv::Point2d pose_point(const FaceVariation& variation, int size, cv::Point2d face_point);

/// Renders the identity under the variation at `size` x `size` pixels.
/// Requires size >= 16. Ensures the returned eye centres are the exact images of the
/// identity's eye centres under the pose (drawing is supersampled 3x and area-reduced,
/// blur is symmetric, so neither moves them).
RenderedFace render_face(const FaceIdentity& identity, const FaceVariation& variation, int size);

}  // namespace wtp::synth
