#!/usr/bin/env bash
# The log-in service's liveness and matching decisions on synthetic people (not a test).
#
#   bench/run_serve_liveness.sh [BUILD_DIR] [MODEL.ts LIVENESS.ts]
#
# Archives: default the serve tests' fixture (BUILD_DIR/serve_fixture, made by the serve
# tests), or the quick start's (runs/quickstart/model.ts runs/quickstart_liveness/liveness.ts).
# 1. bench_serve_liveness: BPCER and APCER per attack type, FMR of never-enrolled people
#    (ISO/IEC 30107-3 style), through the service itself.
# 2. bench_clip_liveness: the eye-state model per frame on clips aligned as the service
#    aligns them (accuracy, AUC, the hysteresis pair's error rates).
# People come from wtp-synth seed $SEED (default 2000: neither the fixture's nor the quick
# start's); $PEOPLE people (default 16, half enrolled) x $TAKES takes (default 3); the
# service matches at $MATCH_FMR (default 1e-3, service.match_fmr).
set -euo pipefail
build=${1:-build}
model=${2:-$build/serve_fixture/embedding/model.ts}
liveness=${3:-$build/serve_fixture/liveness/model.ts}
seed=${SEED:-2000}
people=${PEOPLE:-16}
takes=${TAKES:-3}
match_fmr=${MATCH_FMR:-1e-3}
for b in bench_serve_liveness bench_clip_liveness; do
  [[ -x "$build/bin/$b" ]] || { echo "missing $build/bin/$b: cmake --build $build --target $b" >&2; exit 2; }
done
for f in "$model" "$liveness"; do
  [[ -f "$f" ]] || { echo "missing archive $f" >&2; exit 2; }
done
echo "archives: $model $liveness; seed $seed; load: $(uptime)" >&2
"$build/bin/bench_serve_liveness" "$model" "$liveness" "$people" "$takes" "$seed" 128 "$match_fmr"
echo
"$build/bin/bench_clip_liveness" "$liveness" 20 "$seed" 128
