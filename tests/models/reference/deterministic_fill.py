"""The deterministic tensor fill shared by upstream_backbones.py (reference outputs of the
upstream models) and write_filled_state.py (a checkpoint written by Python in the tests).
tests/models/test_backbones.cpp implements the same rule in C++."""
import math

import torch


def name_hash(name):
    h = 0
    for c in name:
        h = (h * 31 + ord(c)) % 1000003
    return h


def fill(name, shape, dtype):
    """sin(0.001 h + 0.7 i) over the flat index i, h a hash of the name, shaped per kind:
    tensors of >= 2 dims scaled by sqrt(1 / fan_in), running variances in [1, 1.5], other
    1-d weights (BatchNorm, PReLU) 1 + 0.1 v, everything else 0.1 v; int64 counters 0."""
    if dtype == torch.int64:
        return torch.zeros(shape, dtype=dtype)
    n = math.prod(shape)
    v = torch.sin(0.001 * name_hash(name) + 0.7 * torch.arange(n, dtype=torch.float64))
    leaf = name.rsplit(".", 1)[-1]
    if len(shape) >= 2:
        v = v * math.sqrt(1.0 / (n // shape[0]))
    elif leaf == "running_var":
        v = 1 + 0.25 * (v + 1)
    elif leaf == "weight":
        v = 1 + 0.1 * v
    else:
        v = 0.1 * v
    return v.reshape(shape).to(dtype)


def fixed_input(size):
    """sin(0.37 i) over the flat index of a [2, 3, size, size] batch."""
    n = 2 * 3 * size * size
    return torch.sin(0.37 * torch.arange(n, dtype=torch.float64)).reshape(2, 3, size, size).float()
