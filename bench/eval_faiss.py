#!/usr/bin/env python3
"""faiss peer of bench_eval (not a test): the same metrics on the same .npy files with
faiss (Debian python3-faiss), the way a faiss user would compute them.

  eval_faiss.py retrieval E.npy L.npy
      L2-normalise, IndexFlatIP (exact), every sample searched against all with
      k = max(largest R, largest K) + 1 (the +1 is the sample itself, removed by index),
      queries in chunks of 4,096 so the result arrays stay bounded; then Recall@{1,2,4,8},
      MAP@R and R-precision (pytorch-metric-learning's definitions, lone queries excluded).
  eval_faiss.py knn E.npy Q K
      L2-normalise, IndexFlatIP over all rows, the first Q rows searched for their K best
      (the 1:N shape of a face matcher).
  eval_faiss.py kmeans E.npy L.npy [--seed S] [--niter I]
      L2-normalise, faiss.Kmeans(k = #labels, niter=I (faiss's default 25), seed=S,
      its random initialisation) + sklearn's normalized_mutual_info_score.

Threads: faiss.omp_set_num_threads(OMP_NUM_THREADS, default 2). Prints one JSON line like
bench_eval: seconds and CPU seconds (excluding loading), peak RSS and the RSS after
loading, and the metric values.
"""
import argparse
import json
import os
import time

import faiss
import numpy as np

from eval_sklearn import cpu_seconds, current_rss_mib, metrics_from_neighbour_labels
from eval_sklearn import normalise, peak_rss_mib


def index_of(e):
    index = faiss.IndexFlatIP(e.shape[1])
    index.add(e)
    return index


def retrieval(e, labels, ks=(1, 2, 4, 8), chunk=4096):
    e = np.ascontiguousarray(normalise(e))
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    m = int(min(max(counts.max() - 1, max(ks)), len(e) - 1))
    index = index_of(e)
    parts = []
    for q0 in range(0, len(e), chunk):
        _, idx = index.search(e[q0:q0 + chunk], m + 1)
        rows = np.arange(q0, q0 + len(idx))
        # Drop the query itself by index (usually, not always, first); when exact ties
        # pushed it out of the m + 1 found, drop the last instead.
        keep = idx != rows[:, None]
        keep[keep.all(axis=1), -1] = False
        parts.append(inverse[idx[keep].reshape(len(idx), m)])
    return metrics_from_neighbour_labels(np.concatenate(parts), inverse, counts, ks)


def knn(e, queries, k):
    e = np.ascontiguousarray(normalise(e))
    index = index_of(e)
    scores, idx = index.search(e[:queries], k)
    return {"queries": queries, "k": k, "top1_mean": float(scores[:, 0].mean()),
            "checksum": int(idx[:, : min(k, 10)].sum())}


def kmeans(e, labels, seed, niter):
    from sklearn.metrics import normalized_mutual_info_score

    e = np.ascontiguousarray(normalise(e))
    k = len(np.unique(labels))
    km = faiss.Kmeans(e.shape[1], k, niter=niter, seed=seed)
    km.train(e)
    _, assign = km.index.search(e, 1)
    inertia = float(((e - km.centroids[assign[:, 0]]) ** 2).sum())
    return {"clusters": k, "iterations": niter, "inertia": inertia,
            "nmi": float(normalized_mutual_info_score(labels, assign[:, 0]))}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("phase", choices=["retrieval", "knn", "kmeans"])
    p.add_argument("embeddings")
    p.add_argument("rest", nargs="*", help="L.npy (retrieval, kmeans) or Q K (knn)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--niter", type=int, default=25)
    a = p.parse_args()
    faiss.omp_set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
    e = np.load(a.embeddings).astype(np.float32)
    labels = np.load(a.rest[0]) if a.phase != "knn" else None
    baseline = current_rss_mib()
    t0 = time.perf_counter()
    cpu0 = cpu_seconds()
    if a.phase == "retrieval":
        out = retrieval(e, labels)
    elif a.phase == "knn":
        out = knn(e, int(a.rest[0]), int(a.rest[1]))
    else:
        out = kmeans(e, labels, a.seed, a.niter)
    out = {"phase": a.phase, "n": int(e.shape[0]), "d": int(e.shape[1]),
           "threads": faiss.omp_get_max_threads(), "seconds": time.perf_counter() - t0,
           "cpu_seconds": cpu_seconds() - cpu0, **out, "peak_rss_mib": peak_rss_mib(),
           "baseline_rss_mib": baseline}
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
