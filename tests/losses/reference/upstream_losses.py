#!/usr/bin/env python3
"""Reference values of the margin, triplet, multi-similarity and proxy losses, computed by
the upstream projects' own code: pytorch-metric-learning (losses and miners) and
insightface's arcface_torch (the margin logits). Written to upstream_losses.json, which
tests/losses/test_metric_losses.cpp and test_margin_losses.cpp compare against.

Usage (the two repositories checked out anywhere; nothing is installed):
    PYTHONPATH=PML/src:INSIGHTFACE/recognition/arcface_torch \\
        python3 upstream_losses.py PML_COMMIT INSIGHTFACE_COMMIT > upstream_losses.json

Every input is double precision; the gradients are d loss / d embeddings and
d loss / d class centres (W, [C, D], the rows a cosine head normalises).
"""
import json
import math
import sys

import torch
from losses import CombinedMarginLoss  # insightface recognition/arcface_torch/losses.py
from pytorch_metric_learning import losses, miners

torch.set_default_dtype(torch.float64)


def batch(seed, classes_in_batch=4, per_class=3, dim=5, classes=6, spread=0.8, opposite=0):
    """An n x m batch (per_class images of each of classes_in_batch classes) of embeddings
    near random class centres, and `classes` random class centres W (the last ones absent
    from the batch). The first `opposite` embeddings point away from their class's W row
    (target cosine near -1: ArcFace's fall-back branch)."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes_in_batch, dim, generator=g)
    labels = torch.arange(classes_in_batch).repeat_interleave(per_class)
    embeddings = centres[labels] + spread * torch.randn(len(labels), dim, generator=g)
    w = torch.randn(classes, dim, generator=g)
    for i in range(opposite):
        embeddings[i] = -w[labels[i]] + 0.05 * torch.randn(dim, generator=g)
    return embeddings, labels, w


def case(name, seed, loss_of, options, **batch_options):
    """Runs loss_of(embeddings, labels, w) -> (loss, W parameter or None, W is transposed)
    on a batch and returns inputs, options, the loss and its gradients."""
    embeddings, labels, w = batch(seed, **batch_options)
    e = embeddings.clone().requires_grad_(True)
    value, w_param, transposed = loss_of(e, labels, w)
    value.backward()
    if w_param is None:
        grad_w = torch.zeros_like(w)
    else:
        grad_w = w_param.grad.t() if transposed else w_param.grad
    return {"name": name, "options": options, "embeddings": embeddings.tolist(),
            "labels": labels.tolist(), "w": w.tolist(), "loss": value.item(),
            "grad_embeddings": e.grad.tolist(), "grad_w": grad_w.tolist()}


def pml_margin(loss_class, scale, margin):
    """ArcFaceLoss (margin in degrees there) or CosFaceLoss, with W = our class centres."""
    def loss_of(e, labels, w):
        fn = loss_class(num_classes=w.shape[0], embedding_size=w.shape[1], margin=margin,
                        scale=scale)
        fn.W = torch.nn.Parameter(w.t().clone())
        return fn(e, labels), fn.W, True
    return loss_of


def pml_arcface(scale, margin):
    return pml_margin(losses.ArcFaceLoss, scale, math.degrees(margin))


def pml_cosface(scale, margin):
    return pml_margin(losses.CosFaceLoss, scale, margin)


def pml_proxy_anchor(margin, alpha):
    def loss_of(e, labels, w):
        fn = losses.ProxyAnchorLoss(num_classes=w.shape[0], embedding_size=w.shape[1],
                                    margin=margin, alpha=alpha)
        fn.proxies = torch.nn.Parameter(w.clone())
        return fn(e, labels), fn.proxies, False
    return loss_of


def pml_triplet(margin, mining):
    def loss_of(e, labels, w):
        fn = losses.TripletMarginLoss(margin=margin)
        if mining == "batch_hard":
            miner = miners.BatchHardMiner()
        else:
            miner = miners.TripletMarginMiner(margin=margin, type_of_triplets=mining)
        return fn(e, labels, miner(e, labels)), None, False
    return loss_of


def pml_multi_similarity(alpha, beta, base, epsilon):
    def loss_of(e, labels, w):
        fn = losses.MultiSimilarityLoss(alpha=alpha, beta=beta, base=base)
        tuples = None if epsilon is None else miners.MultiSimilarityMiner(epsilon=epsilon)(
            e, labels)
        return fn(e, labels, tuples), None, False
    return loss_of


def insightface_margin_logits(seed, m2, m3, scale):
    """insightface's CombinedMarginLoss on the cosines of a batch: the logits it feeds to
    its cross-entropy (ArcFace: m1 = 1, m2 = m, m3 = 0; CosFace: m3 = m)."""
    embeddings, labels, w = batch(seed)
    cosines = torch.nn.functional.normalize(embeddings) @ torch.nn.functional.normalize(w).t()
    logits = CombinedMarginLoss(scale, 1.0, m2, m3)(cosines.clone(), labels)
    return {"embeddings": embeddings.tolist(), "labels": labels.tolist(), "w": w.tolist(),
            "scale": scale, "m2": m2, "m3": m3, "logits": logits.tolist()}


def main():
    pml_commit, insightface_commit = sys.argv[1], sys.argv[2]
    cases = [
        case("arcface", 1, pml_arcface(64.0, 0.5), {"scale": 64.0, "margin": 0.5}),
        case("arcface", 2, pml_arcface(30.0, 0.3), {"scale": 30.0, "margin": 0.3}, spread=2.5,
             opposite=2),
        case("cosface", 3, pml_cosface(64.0, 0.35), {"scale": 64.0, "margin": 0.35}),
        case("cosface", 4, pml_cosface(16.0, 0.2), {"scale": 16.0, "margin": 0.2}, spread=2.0),
        case("proxy_anchor", 5, pml_proxy_anchor(0.1, 32.0), {"margin": 0.1, "alpha": 32.0}),
        case("proxy_anchor", 6, pml_proxy_anchor(0.2, 8.0), {"margin": 0.2, "alpha": 8.0},
             spread=1.5),
        case("triplet", 7, pml_triplet(0.2, "batch_hard"),
             {"margin": 0.2, "mining": "batch_hard"}, spread=1.5),
        case("triplet", 8, pml_triplet(0.2, "semihard"), {"margin": 0.2, "mining": "semihard"},
             spread=1.5),
        case("triplet", 9, pml_triplet(0.5, "all"), {"margin": 0.5, "mining": "all"}, spread=1.5),
        case("multi_similarity", 10, pml_multi_similarity(2.0, 50.0, 0.5, 0.1),
             {"alpha": 2.0, "beta": 50.0, "base": 0.5, "mining": True, "epsilon": 0.1},
             spread=1.5),
        case("multi_similarity", 11, pml_multi_similarity(2.0, 40.0, 0.4, None),
             {"alpha": 2.0, "beta": 40.0, "base": 0.4, "mining": False}, spread=1.5),
    ]
    margin_logits = [insightface_margin_logits(12, 0.5, 0.0, 64.0),
                     insightface_margin_logits(13, 0.0, 0.4, 64.0)]
    json.dump({"generated_by": "tests/losses/reference/upstream_losses.py",
               "pytorch_metric_learning": pml_commit, "insightface": insightface_commit,
               "torch": torch.__version__, "cases": cases,
               "insightface_margin_logits": margin_logits}, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
