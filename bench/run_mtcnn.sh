#!/usr/bin/env bash
# MTCNN benchmark (not a test): wtp's MTCNN (bench_mtcnn) and facenet-pytorch's own MTCNN
# (bench/mtcnn_facenet.py) on the same photos, same settings (min face 20, thresholds
# 0.6/0.7/0.7, factor 0.709) and threads, one after the other in the same run; seconds per
# photo from the decoded image to the faces (median of REPEATS runs after a warm-up). Prints a
# markdown table with the load, then where wtp's time goes.
#
#   FACENET_PYTORCH=DIR bench/run_mtcnn.sh [BUILD_DIR]   (default build; needs BUILD_DIR/bin/bench_mtcnn)
#
# FACENET_PYTORCH is a checkout of facenet-pytorch (never committed here), e.g.
#   git clone https://github.com/timesler/facenet-pytorch DIR   (the shared reference used 787da06)
# Only its models/ and data/ (the weights) are used. Environment:
#   THREADS   intra-op threads of both sides (default 2)
#   REPEATS   timed runs per photo (default 5)
#   FACES     folder of *.jpg photos (default ../shared/faces)
#   WEIGHTS   wtp's weight directory (default ../shared/weights/mtcnn; the same files as the
#             checkout's data/)
#   PYTHON    interpreter with python3-torch and python3-torchvision (default /usr/bin/python3)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build}"
bench="$build/bin/bench_mtcnn"
[[ -x "$bench" ]] || { echo "run_mtcnn.sh: $bench not found (build the bench_mtcnn target)" >&2; exit 2; }
facenet="${FACENET_PYTORCH:-}"
[[ -n "$facenet" && -f "$facenet/models/mtcnn.py" && -f "$facenet/data/pnet.pt" ]] || {
  echo "run_mtcnn.sh: set FACENET_PYTORCH to a facenet-pytorch checkout (with models/mtcnn.py and" >&2
  echo "  data/pnet.pt): git clone https://github.com/timesler/facenet-pytorch DIR" >&2
  exit 2
}
python="${PYTHON:-/usr/bin/python3}"
"$python" -c "import torch, torchvision, PIL" 2>/dev/null ||
  { echo "run_mtcnn.sh: $python lacks torch/torchvision/PIL (apt-get install python3-torch python3-torchvision python3-pil)" >&2; exit 2; }
threads="${THREADS:-2}"
repeats="${REPEATS:-5}"
faces="${FACES:-$here/../../shared/faces}"
weights="${WEIGHTS:-$here/../../shared/weights/mtcnn}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
echo "== $(date -u '+%F %T') UTC, $(nproc) cores, $threads threads each, load $load_before" >&2
"$bench" "$weights" "$faces" "$repeats" "$threads" | tee -a "$out" >&2
"$python" "$here/mtcnn_facenet.py" --facenet "$facenet" --faces "$faces" --repeats "$repeats" \
  --threads "$threads" | tee -a "$out" >&2
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

field() { sed -n "s/^$1 .*photo=$2 .*$3=\([^ ]*\).*$/\1/p" "$out" | head -1; }
echo
echo "MTCNN seconds per photo, $threads threads each, median of $repeats runs (load before $load_before, after $load_after)"
echo
echo "| photo | size | faces wtp / facenet | wtp s | facenet-pytorch s | speed-up |"
echo "|---|---|---|---:|---:|---:|"
for photo in $(sed -n 's/^RESULT wtp photo=\([^ ]*\) .*/\1/p' "$out"); do
  ours=$(field "RESULT wtp" "$photo" seconds)
  theirs=$(field "RESULT facenet" "$photo" seconds)
  ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", b / a }')
  echo "| $photo | $(field "RESULT wtp" "$photo" size) | $(field "RESULT wtp" "$photo" faces) / $(field "RESULT facenet" "$photo" faces) | $ours | $theirs | ${ratio}x |"
done
echo
echo "Where wtp's time goes (seconds, median run; pnet = P-Net + box generation over all levels)"
echo
steps="table resize pnet nms rnet_crops rnet onet_crops onet"
echo "| photo | ${steps// / | } |"
echo "|---|$(for _ in $steps; do printf -- '---:|'; done)"
for photo in $(sed -n 's/^STEPS photo=\([^ ]*\) .*/\1/p' "$out"); do
  row="| $photo |"
  for s in $steps; do row="$row $(field STEPS "$photo" "$s") |"; done
  echo "$row"
done
echo
echo "P-Net per pyramid level (resize + P-Net seconds)"
echo
echo "| photo | level | size | resize | pnet |"
echo "|---|---:|---|---:|---:|"
sed -n 's/^LEVEL photo=\([^ ]*\) level=\([^ ]*\) size=\([^ ]*\) resize=\([^ ]*\) pnet=\([^ ]*\)$/| \1 | \2 | \3 | \4 | \5 |/p' "$out"
