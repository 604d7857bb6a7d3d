#!/usr/bin/env bash
# Training-throughput benchmark (not a test): wtp-train's step (bench_train) and an equivalent
# PyTorch loop (train_torch.py: same layers, loss, Adam settings, threads), run alternately in
# the same script, on in-memory random batches (pure compute) and on JPEGs through each
# side's loader (wtp BatchLoader + Pipeline; torchvision ImageFolder + DataLoader).
# Builds nothing; prints a markdown table.
#
#   bench/run_train.sh [BUILD_DIR]     (default: build; needs BUILD_DIR/bin/bench_train and
#                                       BUILD_DIR/bin/wtp-synth)
#
# Cases: siamese_cnn + contrastive, 128x128, 64 images (32 pairs); bn_inception + Group Loss,
# 224x224, 48 images (24 classes x 2) and 12 images (6 x 2). Environment:
#   THREADS        intra-op threads of both sides (default 2)
#   WORKERS        loader threads / DataLoader workers (default 2, the recipes' data.workers)
#   STEPS_SCALE    multiplies every case's timed steps (default 1; the full run should take
#                  6 to 8 minutes on a quiet 2-core machine, an estimate from per-step times)
#   CLASSES        Group Loss classifier classes (default 1000)
#   CASES          subset of cases, e.g. "siamese_cnn:64 bn_inception:12" (default the three
#                  above); "iresnet50:B" and "mobilefacenet:B" add insightface's backbones
#                  with ArcFace (compute mode only; needs INSIGHTFACE, below)
#   INSIGHTFACE    insightface's recognition/arcface_torch folder (a checkout), for the
#                  PyTorch side of iresnet50 / mobilefacenet (their own code)
#   TORCH_NHWC     1 (default) = also run PyTorch's compute cases channels-last (wtp's
#                  models are channels-last already); 0 = skip those runs
#   NO_MMAP        1 = run both sides with glibc malloc's mmap off and no trimming
#                  (MALLOC_MMAP_MAX_=0, MALLOC_TRIM_THRESHOLD_): large tensors then reuse heap
#                  memory instead of page-faulting fresh pages every step
#   PYTHON         interpreter with python3-torch and python3-torchvision (default /usr/bin/python3)
#   WORK           directory for the JPEGs (default: a temp dir, removed at the end)
#   OPENBLAS_CORETYPE  if exported (e.g. SkylakeX on AVX-512 CPUs), applies to both sides
# On a loaded machine, compare the CPU ms/img column: with 2 OpenMP threads and other
# processes competing, each parallel region waits for a descheduled thread and img/s drops
# several-fold on both sides (record the load, printed with every row).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build}"
bench="$build/bin/bench_train"
synth="$build/bin/wtp-synth"
for exe in "$bench" "$synth"; do
  [[ -x "$exe" ]] || { echo "run_train.sh: $exe not found (build bench_train and wtp-synth first)" >&2; exit 2; }
done
python="${PYTHON:-/usr/bin/python3}"
"$python" -c "import torch, torchvision" 2>/dev/null ||
  { echo "run_train.sh: $python lacks torch/torchvision (apt-get install python3-torch python3-torchvision)" >&2; exit 2; }
threads="${THREADS:-2}"
workers="${WORKERS:-2}"
scale="${STEPS_SCALE:-1}"
classes="${CLASSES:-1000}"
if [[ "${NO_MMAP:-0}" == 1 ]]; then
  export MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=1000000000000
fi
if [[ -n "${WORK:-}" ]]; then work="$WORK"; mkdir -p "$work"; else
  work="$(mktemp -d -t wtp-bench-train-XXXX)"; trap 'rm -rf "$work"' EXIT; fi
results="$work/results.txt"
: > "$results"

load() { cut -d' ' -f1 /proc/loadavg; }
log() { echo "$*" >&2; }

log "== $(date -u '+%F %T') UTC, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$python" "$here/train_torch.py" --peak --threads "$threads" | tee -a "$results" >&2
if grep -q avx512f /proc/cpuinfo && [[ -z "${OPENBLAS_CORETYPE:-}" ]]; then
  # OpenBLAS 0.3.21 does not recognise recent AVX-512 CPUs and falls back to AVX2 kernels.
  OPENBLAS_CORETYPE=SkylakeX "$python" "$here/train_torch.py" --peak --threads "$threads" |
    sed 's/^RESULT peak/RESULT peak512/' | tee -a "$results" >&2
fi
for m in siamese_cnn bn_inception $(for c in ${CASES:-}; do echo "${c%%:*}"; done | grep -E '^(iresnet50|mobilefacenet)$' | sort -u); do
  "$python" "$here/train_torch.py" --flops "$m" --classes "$classes" | tee -a "$results" >&2
done

images="$work/synth/lfw/lfw-deepfunneled"
if [[ ! -d "$images" ]]; then
  log "== JPEGs: wtp-synth, 100 identities x 10 images, 250x250 (LFW-like)"
  "$synth" --out "$work/synth" --identities 100 --images-per-identity 10 --size 250 \
    --threads "$threads" >&2
fi

# case: model batch mode warmup steps [torch]: wtp then PyTorch, or with "torch" only PyTorch
# channels-last
run_case() {
  local model=$1 batch=$2 mode=$3 warmup=$4 steps=$5 only=${6:-}
  steps=$(awk -v s="$steps" -v f="$scale" 'BEGIN { n = int(s * f + 0.5); print (n < 1 ? 1 : n) }')
  local common=(--model "$model" --batch "$batch" --mode "$mode" --warmup "$warmup" --steps "$steps"
                --threads "$threads" --workers "$workers" --classes "$classes")
  [[ "$mode" == jpeg ]] && common+=(--images "$images")
  local l
  if [[ -z "$only" ]]; then
    l=$(load); log "== wtp   $model batch $batch $mode (load $l)"
    "$bench" "${common[@]}" | sed "s/\$/ load=$l/" | tee -a "$results" >&2
    l=$(load); log "== torch $model batch $batch $mode (load $l)"
    "$python" "$here/train_torch.py" "${common[@]}" | sed "s/\$/ load=$l/" | tee -a "$results" >&2
  else
    l=$(load); log "== torch $model batch $batch $mode channels-last (load $l)"
    "$python" "$here/train_torch.py" "${common[@]}" --channels-last | sed "s/\$/ load=$l/" |
      tee -a "$results" >&2
  fi
}

cases="${CASES:-siamese_cnn:64 bn_inception:48 bn_inception:12}"
# warm-up and timed steps per case: about 10-30 s per run on a quiet 2-core machine
plan() { case "$1" in siamese_cnn:*) echo "3 20" ;; bn_inception:48) echo "2 5" ;; iresnet50:* | mobilefacenet:*) echo "2 5" ;; *) echo "3 10" ;; esac; }
for mode in compute jpeg; do
  for c in $cases; do
    [[ "$mode" == jpeg && "$c" =~ ^(iresnet50|mobilefacenet): ]] && continue  # compute only
    run_case "${c%%:*}" "${c##*:}" "$mode" $(plan "$c")
    if [[ "$mode" == compute && "${TORCH_NHWC:-1}" == 1 ]]; then
      run_case "${c%%:*}" "${c##*:}" "$mode" $(plan "$c") torch
    fi
  done
done
log "== done $(date -u '+%T') UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"

"$python" - "$results" <<'PY'
import sys
rows, peak, peak_cpu, peak512, flops = [], None, None, None, {}
for line in open(sys.argv[1]):
    parts = line.split()
    if not parts or parts[0] != "RESULT":
        continue
    kv = dict(p.split("=", 1) for p in parts[2:])
    if parts[1] == "peak":
        peak, peak_cpu = float(kv["gflops"]), float(kv["gflop_per_cpu_s"])
    elif parts[1] == "peak512":
        peak512 = kv
    elif parts[1] == "flops":
        flops[kv["model"]] = float(kv["forward_gflop"])
    else:
        kv["side"] = parts[1]
        rows.append(kv)

def find(side, r, nhwc):
    return next((x for x in rows if x["side"] == side and x["channels_last"] == nhwc and all(
        x[k] == r[k] for k in ("model", "batch", "mode"))), None)

print()
print(f"Peak fp32 matmul (torch.mm 2048^2, {rows[0]['threads'] if rows else '?'} threads, OpenBLAS's "
      f"default kernels): {peak:.0f} GFLOP/s, {peak_cpu:.0f} GFLOP per CPU-second"
      + (f"; with OPENBLAS_CORETYPE=SkylakeX (AVX-512): {float(peak512['gflops']):.0f} GFLOP/s, "
         f"{float(peak512['gflop_per_cpu_s']):.0f} per CPU-second" if peak512 else "")
      + ". oneDNN's convolutions use AVX-512 by themselves, so they can exceed the default peak. "
      f"Training FLOPs taken as 3 x forward "
      f"(siamese_cnn {1000 * flops.get('siamese_cnn', 0):.1f} MFLOP/img, "
      f"bn_inception {flops.get('bn_inception', 0):.2f} GFLOP/img). wtp's models run "
      "channels-last (NHWC); PyTorch runs its default NCHW, and NHWC in the extra column. "
      "CPU ms/img: user + system CPU time per image of the process (wtp: including its loader "
      "threads; PyTorch: the main process, not the DataLoader workers); on a loaded machine it "
      "is closer to the unloaded cost than img/s is.")
print()
print("| model | batch | input | wtp img/s | PyTorch img/s | wtp/PyTorch | PyTorch NHWC img/s | "
      "wtp GFLOP/s (% peak) | PyTorch GFLOP/s (% peak) | CPU ms/img (wtp, PyTorch, PyTorch NHWC) "
      "| wtp GFLOP per CPU-s | load (wtp, PyTorch) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for ours in (r for r in rows if r["side"] == "wtp"):
    theirs, nhwc = find("torch", ours, "0"), find("torch", ours, "1")
    f = 3 * flops.get(ours["model"], 0)
    a = float(ours["img_per_s"])
    b = float(theirs["img_per_s"]) if theirs else float("nan")
    cell = lambda x: f"{x * f:.1f} ({100 * x * f / peak:.0f} %)" if peak else f"{x * f:.1f}"
    print(f"| {ours['model']} | {ours['batch']} | {'random tensors' if ours['mode'] == 'compute' else 'JPEG'} "
          f"| {a:.2f} | {b:.2f} | {a / b:.2f}x | {nhwc['img_per_s'] if nhwc else '-'} "
          f"| {cell(a)} | {cell(b)} | {ours['cpu_ms_per_img']}, "
          f"{theirs['cpu_ms_per_img'] if theirs else '?'}, {nhwc['cpu_ms_per_img'] if nhwc else '-'} "
          f"| {f / float(ours['cpu_ms_per_img']) * 1000:.0f} | {ours['load']}, {theirs['load'] if theirs else '?'} |")

print()
def rate(side, model, batch, mode):
    r = next((x for x in rows if x["side"] == side and x["model"] == model and x["batch"] == batch
              and x["mode"] == mode and (side == "wtp" or x["channels_last"] == "0")), None)
    return float(r["img_per_s"]) if r else float("nan")
import math
def ran(model, batch, mode):
    return not math.isnan(rate("wtp", model, batch, mode)) and not math.isnan(rate("torch", model, batch, mode))
checks = []
compute = [(r["model"], r["batch"]) for r in rows if r["side"] == "wtp" and r["mode"] == "compute"
           and ran(r["model"], r["batch"], "compute")]
if compute:
    checks.append(("pure compute, wtp >= PyTorch (default NCHW) in every case",
                   all(rate("wtp", m, b, "compute") >= rate("torch", m, b, "compute") for m, b in compute)))
if ran("siamese_cnn", "64", "jpeg"):
    checks.append(("small CNN with JPEGs, wtp >= 1.2 x PyTorch",
                   rate("wtp", "siamese_cnn", "64", "jpeg") >= 1.2 * rate("torch", "siamese_cnn", "64", "jpeg")))
for batch in ("48", "12"):
    c, j = rate("wtp", "bn_inception", batch, "compute"), rate("wtp", "bn_inception", batch, "jpeg")
    if not math.isnan(c) and not math.isnan(j):
        checks.append((f"BN-Inception batch {batch} with JPEGs within 5 % of wtp pure compute "
                       f"({100 * (j / c - 1):+.1f} %)", j >= 0.95 * c))
for name, ok in checks:
    print(f"- target {name}: {'met' if ok else 'NOT met'}")
PY
