#!/usr/bin/env bash
# wtp-serve under load on loopback (not a test): log-in latency (the POST /api/v1/login of
# a 15-frame blink clip, p50/p99) and log-ins per second at 1, 4 and 16 concurrent
# clients (bench/serve_http_client.py; each client also waits, as a camera would, between
# its challenge and its log-in), on SQLite and on PostgreSQL; beside it, the bare HTTP
# floor of the same server (wrk on GET /healthz at the same concurrency).
#
#   bench/run_serve_http.sh [BUILD_DIR] [WORK_DIR]
# Environment: MODEL, LIVENESS (default: the quick start's archives), SECONDS_PER_POINT (30 per
#   point), CLIENTS ("1 4 16"), BACKENDS ("sqlite postgres"; postgres needs postgresql-15).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-build}" && pwd)
work=${2:-$(mktemp -d -t wtp-bench-serve-XXXX)}
model=${MODEL:-runs/quickstart/model.ts}
liveness=${LIVENESS:-runs/quickstart_liveness/liveness.ts}
seconds=${SECONDS_PER_POINT:-30}
clients=${CLIENTS:-1 4 16}
backends=${BACKENDS:-sqlite postgres}
py=/usr/bin/python3
for f in "$model" "$liveness"; do
  [[ -f "$f" ]] || { echo "missing archive $f: run the quick starts (README) or set MODEL/LIVENESS" >&2; exit 2; }
done
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 2; }
mkdir -p "$work"
echo "work dir: $work; load before: $(uptime)" >&2
# A synthetic person the models never saw whom Haar finds (tests/serve/serve_fixture.h
# kPeople), 128 px, 10 fps.
"$build/bin/wtp-synth" enrol --out "$work/enrol" --seed 1000 --identity 1 --images 4 --size 128 \
  --overwrite >/dev/null
"$build/bin/wtp-synth" clip --out "$work/clip" --seed 1000 --identity 1 --take 1 --frames 15 \
  --fps 10 --blink-at 7 --size 128 --overwrite >/dev/null

cleanup() {
  [[ -n "${serve_pid:-}" ]] && kill "$serve_pid" 2>/dev/null || true
  if [[ -f "$work/pg/postmaster.pid" ]]; then
    runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$work/pg" -m fast stop >/dev/null || true
  fi
}
trap cleanup EXIT

db_url() {
  case "$1" in
    sqlite) rm -f "$work/bench.db"*; echo "sqlite:$work/bench.db" ;;
    postgres)
      # db_url runs in a subshell: the server's own files say whether it runs.
      if [[ ! -f "$work/pg/postmaster.pid" ]]; then
        mkdir -p "$work/pg"; chown postgres "$work/pg"; chmod 700 "$work/pg"
        runuser -u postgres -- /usr/lib/postgresql/15/bin/initdb -D "$work/pg" -A trust -U postgres >/dev/null
        runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$work/pg" -l "$work/pg/server.log" \
          -o "-k $work/pg -c listen_addresses=''" -w start >/dev/null
      fi
      local name="bench$RANDOM"
      runuser -u postgres -- psql -h "$work/pg" -U postgres -q -c "CREATE DATABASE $name" >/dev/null
      echo "postgresql:///$name?host=$work/pg&user=postgres" ;;
  esac
}

echo "| backend | clients | log-ins | ok | log-ins/s | p50 ms | p99 ms | healthz req/s (wrk) |"
echo "|---|---|---|---|---|---|---|---|"
for backend in $backends; do
  for n in $clients; do
    url=$(db_url "$backend")
    printf 'correct horse battery\n' | "$build/bin/wtp-serve" admin create bench --db "$url" >/dev/null
    "$build/bin/wtp-serve" --db "$url" --port 0 --model "$model" --liveness "$liveness" \
      --log-level warn --set limits.login_burst=100000 --set limits.login_per_second=100000 \
      --set limits.ip_burst=100000 --set limits.ip_per_second=100000 \
      --set http.threads=16 > "$work/serve.out" 2>&1 &
    serve_pid=$!
    for _ in $(seq 600); do grep -q "listening on port" "$work/serve.out" && break; sleep 0.1; done
    port=$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$work/serve.out")
    [[ -n "$port" ]] || { cat "$work/serve.out" >&2; exit 1; }
    base="http://127.0.0.1:$port/api/v1"
    csrf=$(curl -sf -c "$work/jar" -H 'Content-Type: application/json' \
      -d '{"name":"bench","password":"correct horse battery"}' "$base/admin/login" |
      "$py" -c 'import json,sys; print(json.load(sys.stdin)["csrf_token"])')
    curl -sf -b "$work/jar" -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' \
      -d '{"employee_id":"B-1","name":"Bench"}' "$base/users" >/dev/null
    "$py" -c 'import base64,json,sys,glob
print(json.dumps({"images": [base64.b64encode(open(f,"rb").read()).decode() for f in sorted(glob.glob(sys.argv[1]+"/still_*.png"))]}))' \
      "$work/enrol" > "$work/enrol.json"
    curl -sf -b "$work/jar" -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' \
      -d @"$work/enrol.json" "$base/users/1/faces" >/dev/null
    row=$("$py" "$here/serve_http_client.py" "$port" "$work/clip" "$n" "$seconds")
    rps=$(wrk -t "$((n < 2 ? 1 : 2))" -c "$n" -d 5s "http://127.0.0.1:$port/healthz" | sed -n 's/Requests\/sec: *//p')
    IFS=, read -r c total ok secs lps p50 p99 <<< "$row"
    echo "| $backend | $c | $total | $ok | $lps | $p50 | $p99 | $rps |"
    kill "$serve_pid"; wait "$serve_pid" || true; serve_pid=""
  done
done
echo "load after: $(uptime)"
