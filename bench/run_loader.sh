#!/usr/bin/env bash
# Loader benchmark: wtp's BatchLoader and torchvision's ImageFolder + DataLoader on the same
# 2,000 LFW-like 250x250 JPEGs, same transforms (decode, resize 224, flip, jitter, to
# tensor), batch 48, 1 and 2 workers, in the same run. Needs python3-torchvision.
#
#   bench/run_loader.sh [BUILD_DIR]     (default: build; BUILD_DIR/bin/bench_loader must exist)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build}"
bench="$build/bin/bench_loader"
[[ -x "$bench" ]] || { echo "run_loader.sh: $bench not found (build with -DWTP_BUILD_BENCH=ON)" >&2; exit 2; }
# Debian's python3-torchvision lives in the system interpreter (not a pyenv/venv one).
python="${PYTHON:-/usr/bin/python3}"
"$python" -c "import torchvision" 2>/dev/null ||
  { echo "run_loader.sh: torchvision missing (apt-get install python3-torchvision)" >&2; exit 2; }

images="${WTP_BENCH_IMAGES:-$(mktemp -d)/images}"
faces="$here/../../shared/faces"
workers="${WTP_BENCH_WORKERS:-1,2}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT

"$bench" --images "$images" --faces "$faces" --count 2000 --batch 48 --workers "$workers" | tee -a "$out"
"$python" "$here/loader_torchvision.py" --images "$images" --batch 48 --workers "0,$workers" | tee -a "$out"

echo
printf '%-8s %12s %16s %7s\n' workers "wtp img/s" "torchvision img/s" ratio
for w in ${workers//,/ }; do
  ours=$(sed -n "s/^RESULT wtp workers=$w img_per_s=\([0-9]*\)$/\1/p" "$out")
  theirs=$(sed -n "s/^RESULT torchvision workers=$w img_per_s=\([0-9]*\)$/\1/p" "$out")
  ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", a / b }')
  printf '%-8s %12s %16s %7s\n' "$w" "$ours" "$theirs" "${ratio}x"
done
