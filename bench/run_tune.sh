#!/usr/bin/env bash
# Sampler benchmark (not a test): wtp's TPE and random search (bench_tune) beside Optuna's
# TPE and random search (bench/tune_optuna.py, python3-optuna) on Branin, Hartmann-6 and a
# shifted log-scaled 4-D function with the Group Loss space's types; best value after
# 20 / 50 / 100 trials over 10 seeds; the table shows the median over seeds.
# wtp columns: tpe (defaults: multivariate), tpe-uni (multivariate: false, the same model
# as Optuna's default TPE), tpe-exact (normalized_kernels: true), random. Optuna: TPE and
# random with their defaults.
#
#   bench/run_tune.sh [BUILD_DIR] [WORK_DIR]
# Environment: SEEDS (10), BUDGETS (20,50,100), FUNCTIONS (branin,hartmann6,group_loss),
#   PYTHON (a python3 with optuna; default /usr/bin/python3).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
work=${2:-$(mktemp -d -t wtp-bench-tune-XXXX)}
seeds=${SEEDS:-10}
budgets=${BUDGETS:-20,50,100}
functions=${FUNCTIONS:-branin,hartmann6,group_loss}
py=${PYTHON:-/usr/bin/python3}
bench="$build/bin/bench_tune"
[[ -x "$bench" ]] || { echo "missing $bench: build the bench_tune target first" >&2; exit 2; }
"$py" -c "import optuna" 2>/dev/null || { echo "needs python3-optuna (apt-get install python3-optuna)" >&2; exit 2; }
mkdir -p "$work"
echo "work dir: $work; load: $(uptime)" >&2
"$bench" tpe,tpe-uni,tpe-exact,random "$functions" "$seeds" "$budgets" > "$work/wtp.csv"
"$py" "$here/tune_optuna.py" tpe,random "$functions" "$seeds" "$budgets" > "$work/optuna.csv"
"$py" - "$work/wtp.csv" "$work/optuna.csv" <<'PY'
import csv, statistics, sys
rows = [r for path in sys.argv[1:] for r in csv.DictReader(open(path))]
cols = [("wtp", "tpe"), ("optuna", "tpe"), ("wtp", "tpe-uni"), ("wtp", "tpe-exact"),
        ("wtp", "random"), ("optuna", "random")]
functions = list(dict.fromkeys(r["function"] for r in rows))
budgets = sorted({int(r["budget"]) for r in rows})
print("median best value over seeds (lower is better); regret = best - known minimum")
print("%-11s %6s " % ("function", "trials") + " ".join("%16s" % ("%s %s" % c) for c in cols))
for f in functions:
    for b in budgets:
        cells = []
        for tool, sampler in cols:
            v = [float(r["best"]) for r in rows if r["function"] == f and int(r["budget"]) == b
                 and r["tool"] == tool and r["sampler"] == sampler]
            cells.append("%16.5g" % statistics.median(v) if v else "%16s" % "-")
        print("%-11s %6d " % (f, b) + " ".join(cells))
for tool, sampler in cols:
    secs = {(r["function"], r["seed"]): float(r["seconds"]) for r in rows
            if r["tool"] == tool and r["sampler"] == sampler}
    if secs:
        print("%s %s: %.2f s per %d-trial run (mean)" % (tool, sampler,
              sum(secs.values()) / len(secs), max(budgets)))
PY
echo "load after: $(uptime)" >&2
