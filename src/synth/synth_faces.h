#pragma once
/// `wtp-synth`: procedural face datasets written in the layouts of LFW, CelebA and CEW.
///
/// Output tree (OUT = SynthOptions::out), every path relative to OUT:
///
///   lfw/lfw-deepfunneled/<Name>/<Name>_<NNNN>.jpg   N identities x M images, 1-based NNNN
///   lfw/pairs.txt     "10\tP", then per fold P lines "Name\ti\tj" (same person, i < j)
///                     and P lines "Name1\ti\tName2\tj" (different people, Name1 < Name2);
///                     each block sorted. P = min(300, the fewest same-person pairs any
///                     fold can supply, the fewest different pairs any fold can supply).
///   lfw/people.txt    "10", then per fold a count line and "Name\tnum_images" lines.
///                     Identities are dealt to folds at random, so with N >= 20 every fold
///                     has >= 2 identities and folds are identity-disjoint; a fold with a
///                     single identity (N < 20) draws its different pairs with the next
///                     fold's identities (the only case where folds share identities).
///   celeba/img_align_celeba/NNNNNN.jpg              N other identities x M images
///   celeba/identity_CelebA.txt       "000001.jpg 7" (ids 1..N, in random order)
///   celeba/list_eval_partition.txt   "000001.jpg 0" (0 train, 1 valid, 2 test); split by
///                     identity: max(1, round(N/10)) identities each for valid and test.
///                     As in CelebA, files are numbered train first, then valid, then test.
///   cew/dataset_B_FacialImages/OpenFace/<Name>_<NNNN>.jpg    the open-eye LFW images
///   cew/dataset_B_FacialImages/ClosedFace/closed_eye_<KKKK>.jpg_face_1.jpg
///                     the closed-eye LFW images (K = 1, 2, ... in LFW order)
///   cew/dataset_B_FacialImages/EyeCoordinatesInfo_{OpenFace,ClosedFace}.txt
///                     CEW's format: "file lx ly rx ry", integer pixels, space separated
///   landmarks.csv     header "path,left_eye_x,left_eye_y,right_eye_x,right_eye_y,eye_state",
///                     one row per written file (CEW copies included), exact eye centres
///                     with 4 decimals, eye_state "open" or "closed"
///   synth.yaml        the options that determine the content (all but out/threads/overwrite)
///
/// Identities: LFW and CelebA have disjoint identity sets (as training on one and testing
/// on the other requires); CEW holds the LFW images themselves (byte-identical files), as
/// the real CEW's open faces are LFW photos: a model trained on LFW has seen every CEW
/// face. Unlike the real CEW, the closed faces are LFW people too.
///
/// Eye coordinates: OpenCV pixel convention (pixel (c, r) centred at (c, r)); the left
/// eye is the one with the smaller x in the upright face. Every image has eyes closed with
/// exact fraction closed_eye_fraction (rounded) per dataset, chosen at random.
///
/// Determinism: identical options give byte-identical files whatever the thread count;
/// each image has its own random stream mix_seed(seed, dataset, identity, image).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "synth/face_renderer.h"

namespace wtp::synth {

/// Options of run_synth() (the config keys of wtp-synth).
struct SynthOptions {
  std::string out;                   ///< output directory (created if missing)
  int identities = 40;               ///< identities per dataset (LFW, CelebA), >= 10
  int images_per_identity = 8;       ///< images per identity, >= 2
  int size = 128;                    ///< image side in pixels, 32..1024
  std::uint64_t seed = 0;            ///< everything random derives from it
  double closed_eye_fraction = 0.5;  ///< fraction of images drawn with closed eyes, [0, 1]
  int jpeg_quality = 92;             ///< JPEG quality, 50..100
  int threads = 0;         ///< worker threads, 0 = all cores (output does not depend on it)
  bool overwrite = false;  ///< replace an earlier wtp-synth output in `out`

  template <class V>
  void visit(V& v) {
    v("out", out, "output directory (created if missing)");
    v("identities", identities, "identities per dataset (LFW and CelebA each), >= 10");
    v("images_per_identity", images_per_identity, "images per identity, >= 2");
    v("size", size, "image side in pixels, 32..1024");
    v("seed", seed, "random seed; same options = byte-identical output");
    v("closed_eye_fraction", closed_eye_fraction, "fraction of images with closed eyes, 0..1");
    v("jpeg_quality", jpeg_quality, "JPEG quality, 50..100");
    v("threads", threads, "worker threads, 0 = all cores (does not change the output)");
    v("overwrite", overwrite, "replace the datasets of an earlier run in `out`");
  }
  /// Throws UsageError naming the field and the accepted range.
  void validate() const;
};

/// What run_synth() wrote.
struct SynthSummary {
  std::string out;                      ///< output directory
  int lfw_identities = 0;               ///< LFW people
  int lfw_images = 0;                   ///< LFW images
  int pairs_per_fold = 0;               ///< P in pairs.txt (same and different pairs per fold)
  int folds = 10;                       ///< folds in pairs.txt / people.txt
  int celeba_identities = 0;            ///< CelebA identities
  int celeba_images = 0;                ///< CelebA images
  int celeba_partition[3] = {0, 0, 0};  ///< CelebA images in train, valid, test
  int cew_open = 0;                     ///< CEW OpenFace images
  int cew_closed = 0;                   ///< CEW ClosedFace images
  double seconds = 0;                   ///< wall time
};

/// Generates the datasets described in the file comment.
/// Throws UsageError for invalid options, an output directory that cannot be created or
/// written, or existing dataset folders without `overwrite`; std::runtime_error when
/// writing fails midway.
SynthSummary run_synth(const SynthOptions& options);

/// Writes `bytes` to `path` (binary, replacing it). Throws std::runtime_error naming the
/// path when it cannot be written.
void write_bytes(const std::filesystem::path& path, const std::string& bytes);

/// The identity run_synth() draws for global identity index `identity` (LFW people
/// 0..N-1 in sorted-name order, CelebA identities N..2N-1) with options.seed == `seed`.
/// It does not depend on any other option, so other renders of that person (clips,
/// enrolment stills) can be made from the seed and the index alone.
FaceIdentity dataset_identity(std::uint64_t seed, int identity);

/// LFW-style person names "First_Last" (sometimes "First_Middle_Last" or a hyphenated
/// last name), unique, sorted, deterministic in `seed`.
std::vector<std::string> make_names(int count, std::uint64_t seed);

}  // namespace wtp::synth
