#!/usr/bin/env python3
"""Peer of `bench_serve_match search`: faiss IndexFlatIP (exact inner product, the index a
user would pick for cosine search on L2-normalised vectors) on the same templates and
queries, timed the same way (median of repeats of one query and of a 15-frame batch, top 2).

    serve_match_faiss.py TEMPLATES.npy QUERIES.npy THREADS REPEATS

Prints one JSON line (like bench_serve_match)."""
import json
import sys
import time

import faiss
import numpy as np


def median_ms(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    return float(np.median(times))


def main():
    templates = np.load(sys.argv[1]).astype(np.float32)
    queries = np.load(sys.argv[2]).astype(np.float32)
    threads, repeats = int(sys.argv[3]), int(sys.argv[4])
    faiss.omp_set_num_threads(threads)
    t0 = time.perf_counter()
    index = faiss.IndexFlatIP(templates.shape[1])
    index.add(templates)
    build_ms = (time.perf_counter() - t0) * 1000.0
    one = queries[:1]
    index.search(queries, 2)  # warm-up
    print(json.dumps({
        "tool": "faiss IndexFlatIP",
        "templates": int(templates.shape[0]),
        "dim": int(templates.shape[1]),
        "threads": threads,
        "build_ms": build_ms,
        "one_query_ms": median_ms(lambda: index.search(one, 2), repeats),
        "batch_ms": median_ms(lambda: index.search(queries, 2), repeats),
        "batch": int(queries.shape[0]),
        "top1": [int(i) for i in index.search(queries, 1)[1][:, 0]],
    }))


if __name__ == "__main__":
    main()
