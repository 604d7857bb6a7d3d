"""Load client of bench/run_serve_http.sh: N concurrent clients each log in repeatedly with
one blink clip (challenge, wait as a camera would, POST /api/v1/login) for a fixed time.
Prints one CSV row: clients, log-ins, ok, seconds, log-ins per second, p50 and p99 of the
login POST's latency (ms). Standard library only (http.client, threads).

    serve_http_client.py PORT CLIP_DIR CLIENTS SECONDS
"""
import base64
import http.client
import json
import os
import statistics
import sys
import threading
import time

port, clip_dir, clients, seconds = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
meta = json.load(open(os.path.join(clip_dir, "clip.json")))
frames = [base64.b64encode(open(os.path.join(clip_dir, f["file"]), "rb").read()).decode()
          for f in meta["frame"]]
dt = 1000.0 / meta["fps"]
latencies, statuses, lock = [], [], threading.Lock()
deadline = time.monotonic() + seconds


def post(conn, path, body):
    conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    r = conn.getresponse()
    return r.status, r.read()


def client():
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    while time.monotonic() < deadline:
        status, body = post(conn, "/api/v1/login/challenge", {})
        if status != 200:
            raise SystemExit("challenge failed: %d %s" % (status, body[:200]))
        challenge = json.loads(body)
        issued = time.monotonic()
        # Frame 0 200 ms before the cue; the clip's blink comes after it.
        start = challenge["cue_after_ms"] - 200.0
        times = [start + i * dt for i in range(len(frames))]
        # A camera would be recording until the last frame; wait for that moment.
        wait = (times[-1] + 50) / 1000.0 - (time.monotonic() - issued)
        if wait > 0:
            time.sleep(wait)
        payload = {"nonce": challenge["nonce"],
                   "frames": [{"image": f, "t_ms": t} for f, t in zip(frames, times)]}
        t0 = time.monotonic()
        status, _ = post(conn, "/api/v1/login", payload)
        elapsed = (time.monotonic() - t0) * 1000.0
        with lock:
            latencies.append(elapsed)
            statuses.append(status)


t_start = time.monotonic()
threads = [threading.Thread(target=client) for _ in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
total = time.monotonic() - t_start
lat = sorted(latencies)
p99 = lat[min(len(lat) - 1, int(round(0.99 * (len(lat) - 1))))] if lat else float("nan")
print("%d,%d,%d,%.1f,%.2f,%.0f,%.0f" % (clients, len(lat), statuses.count(200), total,
                                         len(lat) / total, statistics.median(lat) if lat else float("nan"), p99))
