#!/usr/bin/env python3
"""scikit-learn / NumPy peer of bench_eval (not a test): the same metrics on the same
.npy files, the way a Python user would compute them.

  eval_sklearn.py retrieval E.npy L.npy [--chunked]
      L2-normalise, sklearn.metrics.pairwise_distances + np.argsort per row (self
      excluded), then Recall@{1,2,4,8}, MAP@R and R-precision (pytorch-metric-learning's
      definitions, lone queries excluded). --chunked uses pairwise_distances_chunked
      (bounded memory) instead of the full N x N matrix.
  eval_sklearn.py kmeans E.npy L.npy --n-init R [--seed S]
      L2-normalise, KMeans(n_clusters = #labels, init="k-means++", n_init=R,
      algorithm="lloyd") + normalized_mutual_info_score.

Prints one JSON line like bench_eval: seconds and CPU seconds (excluding loading), peak RSS and the RSS
after loading, and the metric values.
"""
import argparse
import json
import resource
import time

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score, pairwise_distances
from sklearn.metrics import pairwise_distances_chunked


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_seconds():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def current_rss_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return float(line.split()[1]) / 1024.0
    return 0.0


def normalise(e):
    return e / np.linalg.norm(e, axis=1, keepdims=True)


def metrics_from_neighbour_labels(nl, labels, counts, ks):
    """nl: [Q, M] labels of each query's ranked neighbours (self removed), M >= max(R, K)."""
    r = counts[labels] - 1
    keep = r > 0
    nl, labels, r = nl[keep], labels[keep], r[keep]
    eq = nl == labels[:, None]
    out = {f"recall_at_{k}": float(np.mean(eq[:, :k].any(axis=1))) for k in ks}
    m = eq.shape[1]
    col = np.arange(1, m + 1)
    mask = col[None, :] <= r[:, None]
    hits = eq & mask
    cum = np.cumsum(hits, axis=1)
    ap = (cum * hits / col[None, :]).sum(axis=1) / r
    out["map_at_r"] = float(ap.mean())
    out["r_precision"] = float((hits.sum(axis=1) / r).mean())
    out["queries"] = int(keep.sum())
    return out


def retrieval(e, labels, chunked, ks=(1, 2, 4, 8)):
    e = normalise(e)
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    m = int(max(counts.max() - 1, max(ks)))
    if not chunked:
        d = pairwise_distances(e)
        np.fill_diagonal(d, np.inf)
        order = np.argsort(d, axis=1)[:, :m]
        nl = inverse[order]
    else:
        def reduce(chunk, start):
            rows = np.arange(chunk.shape[0])
            chunk[rows, start + rows] = np.inf
            return inverse[np.argsort(chunk, axis=1)[:, :m]]
        nl = np.concatenate(list(pairwise_distances_chunked(e, reduce_func=reduce)))
    return metrics_from_neighbour_labels(nl, inverse, counts, ks)


def kmeans(e, labels, n_init, seed):
    e = normalise(e)
    k = len(np.unique(labels))
    km = KMeans(n_clusters=k, init="k-means++", n_init=n_init, algorithm="lloyd",
                random_state=seed).fit(e)
    return {"clusters": k, "n_init": n_init, "iterations": int(km.n_iter_),
            "inertia": float(km.inertia_),
            "nmi": float(normalized_mutual_info_score(labels, km.labels_))}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("phase", choices=["retrieval", "kmeans"])
    p.add_argument("embeddings")
    p.add_argument("labels")
    p.add_argument("--chunked", action="store_true")
    p.add_argument("--n-init", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    e = np.load(a.embeddings).astype(np.float32)
    labels = np.load(a.labels)
    baseline = current_rss_mib()
    t0 = time.perf_counter()
    cpu0 = cpu_seconds()
    if a.phase == "retrieval":
        out = retrieval(e, labels, a.chunked)
        out["route"] = "pairwise_distances_chunked+argsort" if a.chunked else "pairwise_distances+argsort"
    else:
        out = kmeans(e, labels, a.n_init, a.seed)
    out = {"phase": a.phase, "n": int(e.shape[0]), "d": int(e.shape[1]),
           "seconds": time.perf_counter() - t0, "cpu_seconds": cpu_seconds() - cpu0, **out,
           "peak_rss_mib": peak_rss_mib(), "baseline_rss_mib": baseline}
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
