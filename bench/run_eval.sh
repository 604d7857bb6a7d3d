#!/usr/bin/env bash
# Evaluation benchmark (not a test): bench_eval (wtp), eval_faiss.py (faiss IndexFlatIP,
# faiss.Kmeans) and eval_sklearn.py (scikit-learn / NumPy) on the same synthetic
# embeddings, each phase in its own process (2 threads each) so that peak memory is per
# phase; /usr/bin/time adds the whole process's wall time and peak memory.
#
#   bench/run_eval.sh [BUILD_DIR] [WORK_DIR]
#
# Sets: lfw = 13,233 x 1,024 with LFW-like identity sizes (5,749 identities, 4,069
# singletons); big = 50,000 x 512 with 5,000 identities of 10 images; huge = 200,000 x 512
# with 20,000 identities of 10 (retrieval only: k-means with k = 20,000 would take hours);
# million = 1,000,000 x 512 (kNN only: the first 1,000 rows searched for their 10 best
# among all, the 1:N shape of the face service). Environment:
#   RESTARTS     k-means restarts for wtp and sklearn (n_init), default 1
#   PEER_KMEANS  0 to skip the sklearn k-means runs (they take minutes)
#   PEER_TIMEOUT seconds after which a peer run is stopped (default 3600)
#   CLASSIC      1 to also run wtp k-means with one-draw (classic) k-means++
#   SETS         which sets to run (default "lfw big huge million")
#   SUMMARY_ONLY a results.jsonl (or several, space-separated) to summarise without running
#   PYTHON       a python3 with numpy + scikit-learn (default: python3, else /usr/bin/python3)
# Results: WORK_DIR/results.jsonl (one JSON line per run) and a summary table on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
work=${2:-$(mktemp -d -t wtp-bench-eval-XXXX)}
restarts=${RESTARTS:-1}
peer_kmeans=${PEER_KMEANS:-1}
peer_timeout=${PEER_TIMEOUT:-3600}
classic=${CLASSIC:-0}
sets=${SETS:-lfw big huge million}
export OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2
bench="$build/bin/bench_eval"
[[ -x "$bench" ]] || { echo "missing $bench: build with -DWTP_BUILD_BENCH=ON first" >&2; exit 2; }
py=${PYTHON:-python3}
if ! "$py" -c "import sklearn" 2>/dev/null; then
  py=/usr/bin/python3
  "$py" -c "import sklearn" || { echo "needs python3-sklearn (apt-get install python3-sklearn)" >&2; exit 2; }
fi
"$py" -c "import faiss" || { echo "needs python3-faiss (apt-get install python3-faiss)" >&2; exit 2; }
[[ -x /usr/bin/time ]] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
mkdir -p "$work"
results="$work/results.jsonl"
if [[ -n "${SUMMARY_ONLY:-}" ]]; then
  # shellcheck disable=SC2086
  cat $SUMMARY_ONLY > "$results"
  sets=""
else
  : > "$results"
fi
echo "work dir: $work" >&2

run() {  # run LABEL TOOL COMMAND...: appends {"set": LABEL, "tool": TOOL, ...} to results,
         # with the 1-minute load average before and after the run (the machine is shared)
         # and the whole process's wall seconds and peak RSS (/usr/bin/time)
  local label=$1 tool=$2; shift 2
  echo "== $label $tool: $*" >&2
  local line load0 load1 rc=0 wall peak
  load0=$(cut -d' ' -f1 /proc/loadavg)
  line=$(/usr/bin/time -f '%e %M' -o "$work/time.txt" timeout "$peer_timeout" "$@") || rc=$?
  load1=$(cut -d' ' -f1 /proc/loadavg)
  if (( rc != 0 )); then
    echo "   failed or timed out (exit $rc)" >&2
    return 0
  fi
  read -r wall peak < <(tail -1 "$work/time.txt")
  echo "$line" >&2
  "$py" -c 'import json,sys; d=json.loads(sys.argv[3]); d["set"]=sys.argv[1]; d["tool"]=sys.argv[2]; d["load_before"]=float(sys.argv[4]); d["load_after"]=float(sys.argv[5]); d["process_seconds"]=float(sys.argv[6]); d["process_peak_mib"]=float(sys.argv[7])/1024; print(json.dumps(d))' \
    "$label" "$tool" "$line" "$load0" "$load1" "$wall" "$peak" >> "$results"
}

for spec in "lfw 13233 1024 0" "big 50000 512 10" "huge 200000 512 10" "million 1000000 512 10"; do
  read -r label n d per <<< "$spec"
  [[ " $sets " == *" $label "* ]] || continue
  dir="$work/$label"
  mkdir -p "$dir"
  if [[ "$per" == 0 ]]; then "$bench" make-data "$dir" "$n" "$d" 1 >&2
  else "$bench" make-data "$dir" "$n" "$d" 1 "$per" >&2; fi
  e="$dir/embeddings.npy" l="$dir/labels.npy"
  if [[ "$label" == million ]]; then
    run "$label" wtp "$bench" knn "$e" 1000 10
    run "$label" faiss "$py" "$here/eval_faiss.py" knn "$e" 1000 10
    continue
  fi
  run "$label" wtp "$bench" retrieval "$e" "$l"
  run "$label" faiss "$py" "$here/eval_faiss.py" retrieval "$e" "$l"
  if (( n <= 20000 )); then  # the full N x N route needs ~ 12 N^2 bytes
    run "$label" sklearn-full "$py" "$here/eval_sklearn.py" retrieval "$e" "$l"
  fi
  if (( n <= 50000 )); then  # full argsort per row: hours at 200k
    run "$label" numpy-chunked "$py" "$here/eval_sklearn.py" retrieval "$e" "$l" --chunked
  fi
  [[ "$label" == huge ]] && continue
  run "$label" wtp "$bench" kmeans "$e" "$l" "$restarts" 0
  if [[ "$classic" == 1 ]]; then
    run "$label" wtp-classic "$bench" kmeans "$e" "$l" "$restarts" 0 1
  fi
  run "$label" faiss "$py" "$here/eval_faiss.py" kmeans "$e" "$l" --seed 0
  if [[ "$peer_kmeans" == 1 ]]; then
    run "$label" sklearn "$py" "$here/eval_sklearn.py" kmeans "$e" "$l" --n-init "$restarts" --seed 0
  fi
done

"$py" - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| set | phase | tool | seconds | CPU s | process s | peak MiB | +MiB | load | metrics |")
print("|---|---|---|---:|---:|---:|---:|---:|---|---|")
for r in rows:
    extra = {k: round(v, 4) for k, v in r.items() if k in
             ("recall_at_1", "recall_at_8", "map_at_r", "nmi", "iterations", "clusters",
              "restarts", "n_init", "candidates", "top1_mean", "checksum")}
    load = f"{r['load_before']:.1f}-{r['load_after']:.1f}"
    cpu = r.get("cpu_seconds", float("nan"))
    print(f"| {r['set']} | {r['phase']} | {r['tool']} | {r['seconds']:.2f} | {cpu:.2f} | "
          f"{r.get('process_seconds', float('nan')):.2f} | {r.get('process_peak_mib', r['peak_rss_mib']):.0f} | "
          f"{r['peak_rss_mib'] - r['baseline_rss_mib']:.0f} | {load} | {extra} |")
def get(s, p, t):
    return next((r for r in rows if r["set"] == s and r["phase"] == p and r["tool"] == t), None)
print()
for s in ("lfw", "big", "huge", "million"):
    w, o = get(s, "knn", "wtp"), get(s, "knn", "faiss")
    if w and o:
        print(f"{s} kNN vs faiss: {o['seconds'] / w['seconds']:.2f}x faster, extra memory "
              f"{w['peak_rss_mib'] - w['baseline_rss_mib']:.0f} vs "
              f"{o['peak_rss_mib'] - o['baseline_rss_mib']:.0f} MiB, same top-10 indices: "
              f"{w['checksum'] == o['checksum']}")
    w = get(s, "retrieval", "wtp")
    for t in ("faiss", "sklearn-full", "numpy-chunked"):
        o = get(s, "retrieval", t)
        if w and o:
            print(f"{s} retrieval vs {t}: {o['seconds'] / w['seconds']:.1f}x faster, "
                  f"extra memory {w['peak_rss_mib'] - w['baseline_rss_mib']:.0f} vs "
                  f"{o['peak_rss_mib'] - o['baseline_rss_mib']:.0f} MiB, "
                  f"|d recall@1| {abs(w['recall_at_1'] - o['recall_at_1']):.2g}, "
                  f"|d MAP@R| {abs(w['map_at_r'] - o['map_at_r']):.2g}")
    for peer, name in (("sklearn", "sklearn KMeans(n_init=1)"), ("faiss", "faiss.Kmeans")):
        o = get(s, "kmeans", peer)
        for t in ("wtp", "wtp-classic"):
            w = get(s, "kmeans", t)
            if w and o:
                print(f"{s} k-means+NMI {t} (restarts {w['restarts']}, {w['candidates']} k-means++ "
                      f"candidates) vs {name}: {o['seconds'] / w['seconds']:.2f}x faster, "
                      f"NMI {w['nmi']:.4f} vs {o['nmi']:.4f} (diff {w['nmi'] - o['nmi']:+.4f})")
PY
