#!/usr/bin/env bash
# Data-parallel benchmark on this machine, BN-Inception at 224x224: 1 rank x 2 threads vs
# 2 ranks x 1 thread at the same global batch (16), gradient all-reduce overlapped with the
# backward pass or after it, and the all-reduce alone over loopback (c10d/Gloo).
#
#   bench/run_dist.sh [BUILD_DIR]     (default: build; needs bin/bench_dist and bin/wtp-launch)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build}"
bench="$build/bin/bench_dist"
launch="$build/bin/wtp-launch"
for b in "$bench" "$launch"; do
  [[ -x "$b" ]] || { echo "run_dist.sh: $b not found (build it first)" >&2; exit 2; }
done
steps="${WTP_BENCH_STEPS:-4}"
port="${WTP_BENCH_PORT:-29531}"
echo "load before: $(uptime)"
"$bench" --mode train --threads 2 --batch 16 --steps "$steps"
"$launch" --nproc 2 --master-port "$port" -- "$bench" --mode train --threads 1 --batch 8 \
  --steps "$steps" --overlap 1
"$launch" --nproc 2 --master-port "$port" -- "$bench" --mode train --threads 1 --batch 8 \
  --steps "$steps" --overlap 0
"$launch" --nproc 2 --master-port "$port" -- "$bench" --mode allreduce --threads 1 --steps 10
echo "load after: $(uptime)"
