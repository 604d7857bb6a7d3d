#!/usr/bin/env python3
"""Reference outputs of the standard face backbones, computed by the upstream projects'
own code: torchvision's ResNet-18/50 and insightface arcface_torch's IResNet-50 and
MobileFaceNet. Written to upstream_backbones.json, which tests/models/test_backbones.cpp
compares against: every state-dict name and shape, the parameter count, and the output
for a fixed input, with every tensor filled by the rule of deterministic_fill.py (the C++
test applies the same rule, so no weight file is needed).

Usage (insightface checked out anywhere; torchvision from Debian's python3-torchvision):
    PYTHONPATH=INSIGHTFACE/recognition/arcface_torch \\
        python3 upstream_backbones.py INSIGHTFACE_COMMIT > upstream_backbones.json
"""
import json
import os
import sys

import torch
import torchvision
from backbones.iresnet import iresnet50  # insightface recognition/arcface_torch
from backbones.mobilefacenet import get_mbf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deterministic_fill import fill, fixed_input  # noqa: E402


def reference(name, options, model, size):
    state = model.state_dict()
    model.load_state_dict({k: fill(k, list(t.shape), t.dtype) for k, t in state.items()})
    model.eval()
    with torch.no_grad():
        out = model(fixed_input(size))
    return {"model": name, "options": options, "input_size": size,
            "parameters": sum(p.numel() for p in model.parameters()),
            "state": [[k, list(t.shape)] for k, t in state.items()],
            "output": [float("%.9g" % x) for x in out.flatten().tolist()],
            "output_shape": list(out.shape)}


def main():
    torch.set_num_threads(2)
    cases = [
        reference("resnet", {"depth": 18, "num_classes": 1000}, torchvision.models.resnet18(), 64),
        reference("resnet", {"depth": 50, "num_classes": 1000}, torchvision.models.resnet50(), 64),
        reference("iresnet", {"depth": 50}, iresnet50(), 112),
        reference("mobilefacenet", {}, get_mbf(False, 512), 112),
    ]
    json.dump({"generated_by": "tests/models/reference/upstream_backbones.py",
               "torchvision": torchvision.__version__, "insightface": sys.argv[1],
               "torch": torch.__version__, "cases": cases}, sys.stdout, indent=0)


if __name__ == "__main__":
    main()
