#!/usr/bin/env python3
"""Independent PyTorch reference of the wtp::models networks, for test_models.

Written from the architecture descriptions (facenet-pytorch InceptionResnetV1, the Caffe
BN-Inception port of Cadene's pretrainedmodels, the old small Siamese CNN) with the same
parameter names, so `load_state_dict(strict=True)` also checks every name and shape.

Usage: reference_models.py SPEC_JSON INPUT.pt OUTPUT.pt
  SPEC_JSON: {"<tag>": {"model": name, "options": {...}, "train": bool}, ...}
  INPUT.pt:  dict "<tag>/<state-dict key>" -> tensor, "<tag>/__input__" -> images
  OUTPUT.pt: dict "<tag>/embedding", "<tag>/logits" (when present) and, for train-mode
             cases, "<tag>/after/<buffer name>" with the buffers after the forward.
"""
import json
import sys

import torch
import torch.nn.functional as F
from torch import nn


class SiameseCnn(nn.Module):
    def __init__(self, channels=(4, 8, 16), input_size=128, hidden=(4096, 2048),
                 embedding_dim=128, dropout=0.02, **_):
        super().__init__()
        layers, c = [], 3
        for o in channels:
            layers += [nn.Conv2d(c, o, 3, padding=1), nn.MaxPool2d(2), nn.PReLU(), nn.BatchNorm2d(o)]
            c = o
        self.cnn = nn.Sequential(*layers)
        width = c * (input_size >> len(channels)) ** 2
        fc = []
        for i, h in enumerate(hidden):
            fc += [nn.Linear(width, h), nn.PReLU(), nn.BatchNorm1d(h)]
            if i + 1 < len(hidden):
                fc.append(nn.Dropout(dropout))
            width = h
        fc.append(nn.Linear(width, embedding_dim))
        self.fc = nn.Sequential(*fc)

    def forward(self, x):
        return self.fc(self.cnn(x).flatten(1)), None


class BasicConv2d(nn.Module):
    def __init__(self, cin, cout, kernel, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001, momentum=0.1)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def seq(*convs):
    return nn.Sequential(*convs)


class Residual(nn.Module):
    """Block35 / Block17 / Block8: branches concatenated, 1x1 conv, scaled residual."""

    def __init__(self, branches, cat_channels, channels, scale, relu=True):
        super().__init__()
        for i, b in enumerate(branches):
            setattr(self, "branch%d" % i, b)
        self.n = len(branches)
        self.conv2d = nn.Conv2d(cat_channels, channels, 1)
        self.scale, self.relu = scale, relu

    def forward(self, x):
        out = torch.cat([getattr(self, "branch%d" % i)(x) for i in range(self.n)], 1)
        out = self.conv2d(out) * self.scale + x
        return F.relu(out) if self.relu else out


def block35():
    return Residual([BasicConv2d(256, 32, 1),
                     seq(BasicConv2d(256, 32, 1), BasicConv2d(32, 32, 3, 1, 1)),
                     seq(BasicConv2d(256, 32, 1), BasicConv2d(32, 32, 3, 1, 1), BasicConv2d(32, 32, 3, 1, 1))],
                    96, 256, 0.17)


def block17():
    return Residual([BasicConv2d(896, 128, 1),
                     seq(BasicConv2d(896, 128, 1), BasicConv2d(128, 128, (1, 7), 1, (0, 3)),
                         BasicConv2d(128, 128, (7, 1), 1, (3, 0)))],
                    256, 896, 0.10)


def block8(scale=0.20, relu=True):
    return Residual([BasicConv2d(1792, 192, 1),
                     seq(BasicConv2d(1792, 192, 1), BasicConv2d(192, 192, (1, 3), 1, (0, 1)),
                         BasicConv2d(192, 192, (3, 1), 1, (1, 0)))],
                    384, 1792, scale, relu)


class Reduction(nn.Module):
    """Mixed_6a / Mixed_7a: conv branches plus a 3x3/2 max pool, concatenated."""

    def __init__(self, branches):
        super().__init__()
        for i, b in enumerate(branches):
            setattr(self, "branch%d" % i, b)
        self.n = len(branches)

    def forward(self, x):
        parts = [getattr(self, "branch%d" % i)(x) for i in range(self.n)]
        return torch.cat(parts + [F.max_pool2d(x, 3, 2)], 1)


class InceptionResnetV1(nn.Module):
    def __init__(self, embedding_dim=512, num_classes=0, dropout=0.6, normalize=True, **_):
        super().__init__()
        self.conv2d_1a = BasicConv2d(3, 32, 3, 2)
        self.conv2d_2a = BasicConv2d(32, 32, 3, 1)
        self.conv2d_2b = BasicConv2d(32, 64, 3, 1, 1)
        self.conv2d_3b = BasicConv2d(64, 80, 1)
        self.conv2d_4a = BasicConv2d(80, 192, 3, 1)
        self.conv2d_4b = BasicConv2d(192, 256, 3, 2)
        self.repeat_1 = nn.Sequential(*[block35() for _ in range(5)])
        self.mixed_6a = Reduction([BasicConv2d(256, 384, 3, 2),
                                   seq(BasicConv2d(256, 192, 1), BasicConv2d(192, 192, 3, 1, 1),
                                       BasicConv2d(192, 256, 3, 2))])
        self.repeat_2 = nn.Sequential(*[block17() for _ in range(10)])
        self.mixed_7a = Reduction([seq(BasicConv2d(896, 256, 1), BasicConv2d(256, 384, 3, 2)),
                                   seq(BasicConv2d(896, 256, 1), BasicConv2d(256, 256, 3, 2)),
                                   seq(BasicConv2d(896, 256, 1), BasicConv2d(256, 256, 3, 1, 1),
                                       BasicConv2d(256, 256, 3, 2))])
        self.repeat_3 = nn.Sequential(*[block8() for _ in range(5)])
        self.block8 = block8(1.0, relu=False)
        self.dropout = nn.Dropout(dropout)
        self.embedding_dim, self.normalize = embedding_dim, normalize
        width = 1792
        if embedding_dim:
            self.last_linear = nn.Linear(1792, embedding_dim, bias=False)
            self.last_bn = nn.BatchNorm1d(embedding_dim, eps=0.001, momentum=0.1)
            width = embedding_dim
        self.logits = nn.Linear(width, num_classes) if num_classes else None

    def forward(self, x):
        x = self.conv2d_2b(self.conv2d_2a(self.conv2d_1a(x)))
        x = F.max_pool2d(x, 3, 2)
        x = self.conv2d_4b(self.conv2d_4a(self.conv2d_3b(x)))
        x = self.repeat_3(self.mixed_7a(self.repeat_2(self.mixed_6a(self.repeat_1(x)))))
        x = F.adaptive_avg_pool2d(self.block8(x), 1).flatten(1)
        if self.embedding_dim:
            x = self.last_bn(self.last_linear(self.dropout(x)))
        logits = self.logits(x) if self.logits is not None else None
        return (F.normalize(x, p=2, dim=1) if self.normalize else x), logits


# name, in, 1x1, 3x3 reduce, 3x3, stride, double reduce, double 1, double 2, stride, pool, pool stride, proj
BN_BLOCKS = [
    ("3a", 192, 64, 64, 64, 1, 64, 96, 96, 1, "avg", 1, 32),
    ("3b", 256, 64, 64, 96, 1, 64, 96, 96, 1, "avg", 1, 64),
    ("3c", 320, 0, 128, 160, 2, 64, 96, 96, 2, "max", 2, 0),
    ("4a", 576, 224, 64, 96, 1, 96, 128, 128, 1, "avg", 1, 128),
    ("4b", 576, 192, 96, 128, 1, 96, 128, 128, 1, "avg", 1, 128),
    ("4c", 576, 160, 128, 160, 1, 128, 160, 160, 1, "avg", 1, 128),
    ("4d", 608, 96, 128, 192, 1, 160, 192, 192, 1, "avg", 1, 128),
    ("4e", 608, 0, 128, 192, 2, 192, 256, 256, 2, "max", 2, 0),
    ("5a", 1056, 352, 192, 320, 1, 160, 224, 224, 1, "avg", 1, 128),
    ("5b", 1024, 352, 192, 320, 1, 192, 224, 224, 1, "max", 1, 128),
]


class BnInception(nn.Module):
    def __init__(self, embedding_dim=1024, num_classes=0, normalize=False, bn_momentum=0.9, **_):
        super().__init__()
        self.momentum = bn_momentum
        self.unit("conv1_7x7_s2", 3, 64, 7, 2, 3)
        self.unit("conv2_3x3_reduce", 64, 64, 1, 1, 0)
        self.unit("conv2_3x3", 64, 192, 3, 1, 1)
        for (n, cin, c1, r3, c3, s3, dr, d1, d2, sd, pool, ps, proj) in BN_BLOCKS:
            p = "inception_%s_" % n
            if c1:
                self.unit(p + "1x1", cin, c1, 1, 1, 0)
            self.unit(p + "3x3_reduce", cin, r3, 1, 1, 0)
            self.unit(p + "3x3", r3, c3, 3, s3, 1)
            self.unit(p + "double_3x3_reduce", cin, dr, 1, 1, 0)
            self.unit(p + "double_3x3_1", dr, d1, 3, 1, 1)
            self.unit(p + "double_3x3_2", d1, d2, 3, sd, 1)
            if proj:
                self.unit(p + "pool_proj", cin, proj, 1, 1, 0)
        self.global_pool = nn.AvgPool2d(7, stride=1, padding=0, ceil_mode=True, count_include_pad=True)
        self.projection = nn.Linear(1024, embedding_dim) if embedding_dim != 1024 else None
        self.last_linear = nn.Linear(embedding_dim, num_classes) if num_classes else None
        self.normalize = normalize

    def unit(self, name, cin, cout, k, s, p):
        setattr(self, name, nn.Conv2d(cin, cout, k, stride=s, padding=p))
        setattr(self, name + "_bn", nn.BatchNorm2d(cout, eps=1e-5, momentum=self.momentum))

    def run(self, name, x):
        return F.relu(getattr(self, name + "_bn")(getattr(self, name)(x)))

    def forward(self, x):
        x = F.max_pool2d(self.run("conv1_7x7_s2", x), 3, 2, ceil_mode=True)
        x = self.run("conv2_3x3", self.run("conv2_3x3_reduce", x))
        x = F.max_pool2d(x, 3, 2, ceil_mode=True)
        for (n, cin, c1, r3, c3, s3, dr, d1, d2, sd, pool, ps, proj) in BN_BLOCKS:
            p = "inception_%s_" % n
            parts = []
            if c1:
                parts.append(self.run(p + "1x1", x))
            parts.append(self.run(p + "3x3", self.run(p + "3x3_reduce", x)))
            parts.append(self.run(p + "double_3x3_2",
                                  self.run(p + "double_3x3_1", self.run(p + "double_3x3_reduce", x))))
            if pool == "avg":
                pooled = F.avg_pool2d(x, 3, 1, 1, ceil_mode=True, count_include_pad=True)
            else:
                pooled = F.max_pool2d(x, 3, ps, 1 if ps == 1 else 0, ceil_mode=True)
            parts.append(self.run(p + "pool_proj", pooled) if proj else pooled)
            x = torch.cat(parts, 1)
        x = self.global_pool(x).flatten(1)
        if self.projection is not None:
            x = self.projection(x)
        logits = self.last_linear(x) if self.last_linear is not None else None
        return (F.normalize(x, p=2, dim=1) if self.normalize else x), logits


MODELS = {"siamese_cnn": SiameseCnn, "inception_resnet_v1": InceptionResnetV1, "bn_inception": BnInception}


def main():
    spec = json.loads(sys.argv[1])
    inputs = torch.load(sys.argv[2])
    torch.set_num_threads(2)
    out = {}
    for tag, case in spec.items():
        model = MODELS[case["model"]](**case.get("options", {}))
        prefix = tag + "/"
        state = {k[len(prefix):]: v for k, v in inputs.items()
                 if k.startswith(prefix) and k != prefix + "__input__"}
        model.load_state_dict(state, strict=True)
        model.train(bool(case.get("train", False)))
        with torch.no_grad():
            embedding, logits = model(inputs[prefix + "__input__"])
        out[prefix + "embedding"] = embedding
        if logits is not None:
            out[prefix + "logits"] = logits
        if case.get("train", False):
            for name, buf in model.named_buffers():
                out[prefix + "after/" + name] = buf
    torch.save(out, sys.argv[3])


if __name__ == "__main__":
    main()
