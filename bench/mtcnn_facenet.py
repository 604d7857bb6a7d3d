#!/usr/bin/python3
"""facenet-pytorch peer of bench_mtcnn: its own MTCNN(keep_all=True) with the default settings,
detect(image, landmarks=True) on each *.jpg photo of a folder (the PIL RGB image, decoded before
timing), one warm-up run then REPEATS timed runs; prints one RESULT line per photo with the
median seconds. Imports the MTCNN of a facenet-pytorch checkout (its models/ and data/ only, so
the checkout's other dependencies are not needed)."""
import argparse
import pathlib
import statistics
import sys
import time

import torch
from PIL import Image


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--facenet", required=True, help="facenet-pytorch checkout")
    parser.add_argument("--faces", required=True, help="folder of *.jpg photos")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    sys.path.insert(0, args.facenet)
    from models.mtcnn import MTCNN  # noqa: E402 (from the checkout given above)

    mtcnn = MTCNN(keep_all=True)
    for path in sorted(pathlib.Path(args.faces).glob("*.jpg")):
        image = Image.open(path).convert("RGB")
        times = []
        for r in range(args.repeats + 1):
            start = time.perf_counter()
            boxes, _probs, _points = mtcnn.detect(image, landmarks=True)
            if r > 0:
                times.append(time.perf_counter() - start)
        faces = 0 if boxes is None else len(boxes)
        print(f"RESULT facenet photo={path.stem} seconds={statistics.median(times):.4f} "
              f"faces={faces}", flush=True)


if __name__ == "__main__":
    main()
