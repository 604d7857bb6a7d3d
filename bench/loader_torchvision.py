#!/usr/bin/python3
"""torchvision peer of bench_loader: ImageFolder + DataLoader with the same transforms
(decode, resize to 224x224, horizontal flip p=0.5, ColorJitter(brightness=0.2,
contrast=0.2), ToTensor), batch 48, for each worker count; prints one RESULT line per
worker count with the best images/s over the epochs."""
import argparse
import time

import torch
from torch.utils.data import DataLoader
from torchvision import datasets, transforms


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", required=True, help="ImageFolder root (from bench_loader)")
    parser.add_argument("--batch", type=int, default=48)
    parser.add_argument("--workers", default="0,1,2", help="comma-separated worker counts")
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()

    torch.manual_seed(0)
    pipeline = transforms.Compose([
        transforms.Resize((224, 224)),
        transforms.RandomHorizontalFlip(0.5),
        transforms.ColorJitter(brightness=0.2, contrast=0.2),
        transforms.ToTensor(),
    ])
    dataset = datasets.ImageFolder(args.images, transform=pipeline)
    print(f"torchvision {__import__('torchvision').__version__}: {len(dataset)} images, "
          f"batch {args.batch}", flush=True)
    for workers in [int(w) for w in args.workers.split(",")]:
        best = 0.0
        for _ in range(args.epochs):
            start = time.perf_counter()
            loader = DataLoader(dataset, batch_size=args.batch, shuffle=False, num_workers=workers)
            n = 0
            for images, _labels in loader:
                n += images.shape[0]
            best = max(best, n / (time.perf_counter() - start))
        print(f"RESULT torchvision workers={workers} img_per_s={best:.0f}", flush=True)


if __name__ == "__main__":
    main()
