#!/usr/bin/python3
"""PyTorch peer of bench_train: the same training step in plain PyTorch.

iresnet50 / mobilefacenet (compute mode): insightface's own backbones and ArcFace logits
(CombinedMarginLoss) from $INSIGHTFACE (a checkout's recognition/arcface_torch), a
normalised-weight classifier, cross-entropy, SGD 0.1 / 0.9 / 5e-4 (configs/arcface_iresnet50.yaml).
The other models are the independent references of tests/models/reference_models.py (test_models
loads our weights into them with load_state_dict(strict=True) and compares outputs, so
names, shapes and layers match src/models layer by layer). Losses re-implement
src/losses/contrastive.cpp and src/losses/group_loss.cpp formula for formula; the
optimizer is torch.optim.Adam with the recipes' settings (configs/contrastive.yaml,
configs/group_loss.yaml).

    train_torch.py --model siamese_cnn|bn_inception|iresnet50|mobilefacenet --batch B --mode compute|jpeg
                   [--images DIR] [--steps N] [--warmup W] [--threads 2] [--workers 2]
                   [--classes C] [--channels-last] [--no-mkldnn]
    train_torch.py --peak          fp32 matmul GFLOP/s (torch.mm 2048^2) at --threads
    train_torch.py --flops MODEL   forward GFLOP per image (Conv2d/Linear multiply-adds x 2)

compute: the same in-memory random batch every step (pure compute). jpeg: torchvision
ImageFolder + DataLoader(num_workers=--workers) over DIR (an ImageFolder tree of JPEGs),
batches of B images chosen as the trainer's samplers do (contrastive: B/2 pairs, first
items then partners; group loss: B/2 classes x 2 images), with the recipes' train
transforms. Prints one line: RESULT torch key=value ...
"""
import argparse
import os
import random
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "models"))
import reference_models  # noqa: E402  (tests/models/reference_models.py)

# The Caffe preset of src/data/transforms (BGR, 0-255, minus the BN-Inception means).
CAFFE_MEAN_BGR = (104.0, 117.0, 128.0)


def contrastive(a, b, y, margin=2.0, eps=1e-9):
    """src/losses/contrastive.cpp: (1 - y) s + y max(margin - sqrt(s + eps), 0)^2, mean."""
    squared = (a - b).pow(2).sum(1)
    push = (margin - (squared + eps).sqrt()).clamp_min(0).pow(2)
    return ((1 - y) * squared + y * push).mean()


def group_loss(x, logits, labels, temperature=12.0, labelled_per_class=1, iterations=1):
    """src/losses/group_loss.cpp: Pearson W, softmax priors with one-hot anchors,
    replicator dynamics, NLL(log X) + CE, mean."""
    centred = x - x.mean(1, keepdim=True)
    norms = centred.norm(2, 1).clamp_min(1e-12)
    cosine = centred.mm(centred.t()) / norms.unsqueeze(1) / norms.unsqueeze(0)
    eye = torch.eye(x.shape[0], dtype=x.dtype)
    W = torch.relu(cosine) * (1 - eye) + eye
    seen, anchors = {}, []
    for c in labels.tolist():
        seen[c] = seen.get(c, 0) + 1
        anchors.append(seen[c] <= labelled_per_class)
    anchors = torch.tensor(anchors)
    priors = torch.softmax(logits / temperature, 1)
    one_hot = F.one_hot(labels, logits.shape[1]).to(logits.dtype)
    X = torch.where(anchors.unsqueeze(1), one_hot, priors)
    for _ in range(iterations):
        X = X * W.mm(X)
        X = X / X.sum(1, keepdim=True)
    group = -torch.log(X + 1e-12).gather(1, labels.unsqueeze(1)).squeeze(1)
    ce = -torch.log_softmax(logits, 1).gather(1, labels.unsqueeze(1)).squeeze(1)
    return (group + ce).mean(), group.mean().detach(), ce.mean().detach()


class GroupLossModel(nn.Module):
    """configs/group_loss.yaml's model: embedding_head {backbone: bn_inception,
    num_classes} = the 1024-d BN-Inception features + a Linear classifier."""

    def __init__(self, classes):
        super().__init__()
        self.backbone = reference_models.BnInception()
        self.classifier = nn.Linear(1024, classes)

    def forward(self, images):
        embedding, _ = self.backbone(images)
        return embedding, self.classifier(embedding)


class ArcFaceModel(nn.Module):
    """configs/arcface_iresnet50.yaml's model in insightface's own code: its backbone
    (recognition/arcface_torch/backbones, from $INSIGHTFACE) and a normalised-weight
    classifier (the class centres W, as its PartialFC holds them); forward returns the
    embedding and the cosines."""

    def __init__(self, model_name, classes):
        super().__init__()
        root = os.environ.get("INSIGHTFACE")
        if not root:
            sys.exit("train_torch.py: set INSIGHTFACE to insightface's recognition/arcface_torch")
        sys.path.insert(0, root)
        from backbones import get_model  # noqa: E402  (insightface)
        self.backbone = get_model("r50" if model_name == "iresnet50" else "mbf")
        self.weight = nn.Parameter(torch.normal(0, 0.01, (classes, 512)))

    def forward(self, images):
        embedding = self.backbone(images)
        return embedding, F.linear(F.normalize(embedding), F.normalize(self.weight))


def build(model_name, classes):
    """Model, optimizer (the recipe's), input side."""
    if model_name in ("iresnet50", "mobilefacenet"):
        model = ArcFaceModel(model_name, classes)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
        return model, optimizer, 112
    if model_name == "siamese_cnn":
        model = reference_models.SiameseCnn()
        return model, torch.optim.Adam(model.parameters(), lr=1.0e-4), 128
    model = GroupLossModel(classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=1.602403e-4, weight_decay=8.465428e-5)
    return model, optimizer, 224


def step(model_name, model, optimizer, images, labels):
    """One training step as wtp's trainer does it: forward, loss, loss.item(), zero_grad,
    backward, optimizer step. Returns the loss value."""
    if model_name == "siamese_cnn":
        n = images.shape[0] // 2
        embedding, _ = model(images)
        loss = contrastive(embedding[:n], embedding[n:], labels.to(embedding.dtype))
    elif model_name in ("iresnet50", "mobilefacenet"):
        from losses import CombinedMarginLoss  # noqa: E402  (insightface's ArcFace logits)
        _, cosines = model(images)
        logits = CombinedMarginLoss(64.0, 1.0, 0.5, 0.0)(cosines, labels)
        loss = F.cross_entropy(logits, labels)
    else:
        embedding, logits = model(images)
        loss, _group, _ce = group_loss(embedding, logits, labels)
    value = loss.item()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return value


def count_flops(model_name, classes):
    """Forward multiply-adds x 2 of every Conv2d and Linear for one image."""
    model, _, side = build(model_name, classes)
    total = [0]

    def conv_hook(m, _inputs, out):
        k = m.kernel_size[0] * m.kernel_size[1] * m.in_channels // m.groups
        total[0] += 2 * k * out[0].numel()

    def linear_hook(m, _inputs, out):
        total[0] += 2 * m.in_features * out[0].numel()

    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            m.register_forward_hook(conv_hook)
        elif isinstance(m, nn.Linear):
            m.register_forward_hook(linear_hook)
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, side, side))
    return total[0] / 1e9


def peak_gflops(threads, size=2048, seconds=3.0):
    """Best GFLOP/s of one torch.mm, and GFLOP per CPU-second over all of them (the latter
    hardly depends on other processes' load)."""
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(3):
        a.mm(b)
    best, n, start, cpu = 0.0, 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        t = time.perf_counter()
        a.mm(b)
        n += 1
        best = max(best, 2 * size ** 3 / (time.perf_counter() - t) / 1e9)
    return best, 2 * size ** 3 * n / (time.process_time() - cpu) / 1e9


class BalancedBatches(torch.utils.data.Sampler):
    """Batches of `classes` distinct classes x `per_class` images (group loss), as n
    consecutive blocks of m, like wtp's class_balanced sampler."""

    def __init__(self, targets, classes, per_class, seed=0):
        self.by_class = {}
        for i, t in enumerate(targets):
            self.by_class.setdefault(t, []).append(i)
        self.usable = [c for c, v in self.by_class.items() if len(v) >= per_class]
        self.classes, self.per_class, self.rng = classes, per_class, random.Random(seed)

    def __iter__(self):
        while True:
            batch = []
            for c in self.rng.sample(self.usable, self.classes):
                batch += self.rng.sample(self.by_class[c], self.per_class)
            yield batch


class PairBatches(torch.utils.data.Sampler):
    """Batches of `pairs` balanced pairs: the first items, then their partners (wtp's
    pairs sampler layout); half same-class, half different-class."""

    def __init__(self, targets, pairs, seed=0):
        self.targets = targets
        self.by_class = {}
        for i, t in enumerate(targets):
            self.by_class.setdefault(t, []).append(i)
        self.multi = [c for c, v in self.by_class.items() if len(v) >= 2]
        self.pairs, self.rng = pairs, random.Random(seed)

    def __iter__(self):
        n = len(self.targets)
        while True:
            first, second = [], []
            for p in range(self.pairs):
                if p % 2 == 0:
                    a, b = self.rng.sample(self.by_class[self.rng.choice(self.multi)], 2)
                else:
                    a = self.rng.randrange(n)
                    b = self.rng.randrange(n)
                    while self.targets[b] == self.targets[a]:
                        b = self.rng.randrange(n)
                first.append(a)
                second.append(b)
            yield first + second


def caffe(tensor):
    """[3, H, W] RGB in [0, 1] -> BGR 0-255 minus the Caffe means (the caffe preset)."""
    bgr = tensor.flip(0) * 255.0
    return bgr - torch.tensor(CAFFE_MEAN_BGR).view(3, 1, 1)


def jpeg_batches(args, side):
    from torchvision import datasets, transforms

    if args.model == "siamese_cnn":
        # configs/contrastive.yaml: horizontal_flip, resize 128; unit normalisation.
        pipeline = transforms.Compose([transforms.RandomHorizontalFlip(), transforms.Resize((side, side)),
                                       transforms.ToTensor()])
    else:
        # configs/group_loss.yaml: random_resized_crop 224 scale [0.16, 1], horizontal_flip; caffe.
        pipeline = transforms.Compose([transforms.RandomResizedCrop(side, scale=(0.16, 1.0)),
                                       transforms.RandomHorizontalFlip(), transforms.ToTensor(), caffe])
    dataset = datasets.ImageFolder(args.images, transform=pipeline)
    if args.model == "siamese_cnn":
        sampler = PairBatches(dataset.targets, args.batch // 2)
    else:
        sampler = BalancedBatches(dataset.targets, args.batch // 2, 2)
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=sampler, num_workers=args.workers,
                                         prefetch_factor=2 if args.workers else None,
                                         persistent_workers=args.workers > 0)
    for images, targets in loader:
        if args.model == "siamese_cnn":
            n = args.batch // 2
            yield images, (targets[:n] != targets[n:]).long()
        else:
            yield images, targets


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=["siamese_cnn", "bn_inception", "iresnet50", "mobilefacenet"])
    parser.add_argument("--batch", type=int, default=64, help="images per step")
    parser.add_argument("--mode", choices=["compute", "jpeg"], default="compute")
    parser.add_argument("--images", help="ImageFolder root of JPEGs (jpeg mode)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers (jpeg)")
    parser.add_argument("--classes", type=int, default=1000, help="group loss classifier classes")
    parser.add_argument("--channels-last", action="store_true", help="NHWC model and input")
    parser.add_argument("--no-mkldnn", action="store_true", help="torch.backends.mkldnn off")
    parser.add_argument("--peak", action="store_true", help="only measure the matmul peak")
    parser.add_argument("--flops", metavar="MODEL", help="only count forward GFLOP/image")
    args = parser.parse_args()

    if args.peak:
        best, per_cpu = peak_gflops(args.threads)
        print(f"RESULT peak threads={args.threads} gflops={best:.1f} gflop_per_cpu_s={per_cpu:.1f} "
              f"coretype={os.environ.get('OPENBLAS_CORETYPE', 'default')}", flush=True)
        return
    if args.flops:
        print(f"RESULT flops model={args.flops} forward_gflop={count_flops(args.flops, args.classes):.4f}",
              flush=True)
        return
    if args.model is None:
        parser.error("--model is required")
    torch.set_num_threads(args.threads)
    torch.backends.mkldnn.enabled = not args.no_mkldnn
    torch.manual_seed(0)
    model, optimizer, side = build(args.model, args.classes)
    memory_format = torch.channels_last if args.channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    model.train()
    params = sum(p.numel() for p in model.parameters())

    if args.mode == "compute":
        g = torch.Generator().manual_seed(1)
        images = torch.randn(args.batch, 3, side, side, generator=g).contiguous(memory_format=memory_format)
        if args.model == "siamese_cnn":
            labels = torch.randint(0, 2, (args.batch // 2,), generator=g)
        else:
            labels = torch.arange(args.batch // 2).repeat_interleave(2)

        def batches():
            while True:
                yield images, labels
    else:
        if not args.images:
            parser.error("--mode jpeg needs --images DIR")

        def batches():
            for images, labels in jpeg_batches(args, side):
                yield images.contiguous(memory_format=memory_format), labels

    source = batches()
    times, start, cpu_start = [], None, None
    for i in range(args.warmup + args.steps):
        if i == args.warmup:
            start, cpu_start = time.perf_counter(), time.process_time()
        t = time.perf_counter()
        images, labels = next(source)
        step(args.model, model, optimizer, images, labels)
        times.append(time.perf_counter() - t)
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu_start  # this process only (not DataLoader workers)
    measured = times[args.warmup:]
    print(f"RESULT torch model={args.model} batch={args.batch} mode={args.mode} threads={args.threads} "
          f"img_per_s={args.batch * args.steps / seconds:.2f} "
          f"median_step_ms={1000 * statistics.median(measured):.1f} "
          f"cpu_ms_per_img={1000 * cpu / (args.batch * args.steps):.1f} params={params} "
          f"channels_last={int(args.channels_last)} mkldnn={int(torch.backends.mkldnn.is_available() and not args.no_mkldnn)}",
          flush=True)


if __name__ == "__main__":
    main()
