#!/usr/bin/env python3
"""Writes a state dict filled by deterministic_fill.fill() with torch.save.

Usage: write_filled_state.py SPEC.json OUT.pt
  SPEC.json: [[name, [shape...], "float32" | "int64"], ...] in state-dict order
"""
import collections
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deterministic_fill import fill  # noqa: E402

spec = json.load(open(sys.argv[1]))
state = collections.OrderedDict(
    (name, fill(name, shape, torch.int64 if dtype == "int64" else torch.float32))
    for name, shape, dtype in spec)
torch.save(state, sys.argv[2])
