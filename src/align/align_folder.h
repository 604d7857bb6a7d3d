#pragma once
/// `wtp-align`: detects and aligns every face image of a folder tree.
///
///     AlignRunOptions o;
///     o.input = "lfw-deepfunneled"; o.output = "lfw-aligned";
///     o.detector = {"mtcnn", {}}; o.weights = "../shared/weights/mtcnn";
///     AlignSummary s = run_align(o);
///
/// Input: every .jpg/.jpeg/.png (any case) under `input`, recursively, sorted by relative
/// path (a folder `output` inside `input` is not read). Output: the same relative paths under
/// `output`, each the aligned size x size face, same format as the input; with keep_all,
/// the 2nd, 3rd, ... faces (in `select` order) go to `<stem>_2<ext>`, `<stem>_3<ext>`, ...
///
/// `output/alignment.csv`, header
///   file,face,found,status,x1,y1,x2,y2,left_eye_x,left_eye_y,right_eye_x,right_eye_y,
///   eyes_estimated,confidence,angle,detector,output
/// one row per written face (face = 1, 2, ...), or one row with face 0 for an image without a
/// face (found 0, status no_face, output = the letterboxed whole image or empty with
/// no_face: skip) or an unreadable image (status unreadable, nothing written, a warning
/// logged). file/output are '/'-separated paths relative to input/output; coordinates are
/// source pixels with 2 decimals, angle in degrees (0 for simple alignment). Fields with a
/// comma or quote are quoted as in RFC 4180. At the end of a run the file is rewritten
/// sorted by (file, face), so it does not depend on the thread count.
///
/// Resume: an image is skipped when alignment.csv already has its rows and every output
/// they name exists; rows of other images are dropped and those images aligned again
/// (their new rows appended as the run goes, in chunks). Identical options give identical
/// files whatever `threads` is: each worker has its own detector, LibTorch runs one
/// intra-op thread per worker when there are several workers.
#include <cstdint>
#include <string>

#include "align/alignment.h"
#include "align/detector.h"
#include "align/face.h"
#include "core/config.h"

namespace wtp::align {

struct AlignRunOptions {
  std::string input;   ///< folder tree of images
  std::string output;  ///< mirrored tree of aligned images + alignment.csv (created)
  config::Component detector{"haar", config::Node()};  ///< haar | mtcnn, with its options
  std::string weights;  ///< MTCNN weight directory (shortcut for detector option `weights`)
  AlignKind kind = AlignKind::kRotation;  ///< simple | rotation | similarity
  int size = 224;                         ///< output side
  double margin = 1.0 / 3.0;              ///< box expansion per side
  data::Interpolation interpolation = data::Interpolation::kArea;  ///< letterbox resampling
  /// similarity: landmark positions [x, y] for a template_size output (AlignOptions)
  std::vector<std::vector<double>> landmark_template = kArcfaceTemplate;
  double template_size = 112;                ///< similarity: the side the template is given for
  FaceSelect select = FaceSelect::kLargest;  ///< which face when several are found
  double center_weight = 2.0;       ///< weight of the squared centre offset for select: center
  bool keep_all = false;            ///< align every face, not just the selected one
  NoFace no_face = NoFace::kWhole;  ///< whole (letterbox the image) or skip
  int threads = 0;                  ///< worker threads over images (0 = all cores)
  int jpeg_quality = 95;            ///< quality of written JPEGs
  std::uint64_t seed = 0;           ///< accepted for uniformity; alignment draws no randomness

  template <class V>
  void visit(V& v) {
    v("input", input, "folder tree of .jpg/.jpeg/.png images");
    v("output", output, "output folder (mirrors input; alignment.csv inside)");
    v("detector", detector, "face detector: haar | mtcnn, or {name: ..., options}");
    v("weights", weights, "MTCNN weight directory (pnet.pt, rnet.pt, onet.pt)");
    v("kind", kind, "alignment: simple | rotation | similarity (landmarks onto a template)");
    v("size", size, "output side in pixels");
    v("margin", margin, "box expansion on each side, fraction of the box");
    v("interpolation", interpolation, "letterbox resampling: nearest | linear | area | cubic");
    v("template", landmark_template,
      "similarity: landmark positions [[x, y], ...] (default ArcFace's 5 for 112 x 112)");
    v("template_size", template_size, "similarity: output side the template is given for");
    v("select", select, "face choice: largest | confidence | center");
    v("center_weight", center_weight, "weight of the squared centre offset (select: center)");
    v("keep_all", keep_all, "align every detected face");
    v("no_face", no_face, "image without a face: whole (letterbox it) | skip");
    v("threads", threads, "worker threads over images, 0 = all cores");
    v("jpeg_quality", jpeg_quality, "JPEG quality of written images, 50..100");
    v("seed", seed, "unused: alignment is deterministic");
  }
  /// Throws UsageError naming the field.
  void validate() const;
  /// The AlignOptions part.
  AlignOptions align_options() const;
  /// The detector component with `weights` folded into its options. Throws UsageError if
  /// weights is set for a detector other than mtcnn.
  config::Component detector_component() const;
};

/// What run_align() did.
struct AlignSummary {
  std::int64_t images = 0;          ///< images found under input
  std::int64_t skipped = 0;         ///< already aligned (resume)
  std::int64_t processed = 0;       ///< images aligned in this run
  std::int64_t with_face = 0;       ///< of those, with at least one face
  std::int64_t no_face = 0;         ///< of those, without a face
  std::int64_t unreadable = 0;      ///< of those, not decodable
  std::int64_t faces = 0;           ///< faces written in this run
  std::int64_t eyes_estimated = 0;  ///< of those, with fallback eye positions
  double seconds = 0.0;
  std::string csv;  ///< path of alignment.csv
};

/// The faces of one image aligned as the options say (detector already built): rank_faces by
/// `select`, the first (or all with keep_all); none found -> one align_whole() result
/// (NoFace::kWhole) or nothing (kSkip).
std::vector<AlignedFace> align_image(const cv::Mat& bgr, FaceDetector& detector,
                                     const AlignRunOptions& options);

/// Runs the alignment of a folder tree as described at the top of this file.
/// Throws UsageError for bad options or a missing input folder, std::runtime_error when an
/// output cannot be written.
AlignSummary run_align(const AlignRunOptions& options);

}  // namespace wtp::align
