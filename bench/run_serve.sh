#!/usr/bin/env bash
# Log-in service benchmarks (not a test).
#
#   bench/run_serve.sh [BUILD_DIR] [WORK_DIR]
#
# 1. 1:N search: bench_serve_match (the service's matcher: one matrix product, per-user best)
#    and faiss IndexFlatIP (bench/serve_match_faiss.py, Debian python3-faiss) on the same
#    random unit templates, one template per user, for 1k, 10k, 100k and 1M templates.
# Environment: DIM (default 128), THREADS (default 1), REPEATS (default 20), SIZES (default
# "1000 10000 100000 1000000"), PYTHON (default python3).
set -euo pipefail
build=${1:-build}
work=${2:-$(mktemp -d -t wtp-bench-serve-XXXX)}
here=$(cd "$(dirname "$0")" && pwd)
dim=${DIM:-128}
threads=${THREADS:-1}
repeats=${REPEATS:-20}
sizes=${SIZES:-1000 10000 100000 1000000}
py=${PYTHON:-python3}
if ! "$py" -c "import faiss" 2>/dev/null; then
  py=/usr/bin/python3
  "$py" -c "import faiss" || { echo "needs python3-faiss (apt-get install python3-faiss)" >&2; exit 2; }
fi
for b in bench_serve_match; do
  [[ -x "$build/bin/$b" ]] || { echo "missing $build/bin/$b: cmake --build $build --target $b" >&2; exit 2; }
done
mkdir -p "$work"
echo "work dir: $work; load: $(uptime)" >&2
results="$work/search.jsonl"
: > "$results"
for n in $sizes; do
  dir="$work/search_$n"
  "$build/bin/bench_serve_match" search "$n" "$dim" "$threads" "$repeats" "$dir" >> "$results"
  "$py" "$here/serve_match_faiss.py" "$dir/templates.npy" "$dir/queries.npy" "$threads" "$repeats" >> "$results"
  rm -f "$dir/templates.npy"
done
echo "load after search: $(uptime)" >&2
"$py" - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| templates | dim | threads | wtp 1 query ms | faiss 1 query ms | ratio | wtp 15 frames ms | faiss 15 frames ms | ratio | same top-1 |")
print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|")
for w, f in zip(rows[::2], rows[1::2]):
    print(f"| {w['templates']} | {w['dim']} | {w['threads']} | {w['one_query_ms']:.3f} | {f['one_query_ms']:.3f} | "
          f"{f['one_query_ms'] / w['one_query_ms']:.2f} | {w['batch_ms']:.3f} | {f['batch_ms']:.3f} | "
          f"{f['batch_ms'] / w['batch_ms']:.2f} | {'yes' if w['top1'] == f['top1'] else 'NO'} |")
print("(ratio = faiss time / wtp time: > 1 means wtp is faster)")
PY
