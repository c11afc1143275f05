#!/usr/bin/env python3
"""Writes a PEFT-layout LoRA adapter of about SIZE_GIB GiB (default 1) for benchmarks.

128 layers x (q, k, v, o) projections of a 4096-wide model at r=64, F32: 512 modules, 2^28 parameters.
Usage: python3 scripts/make-big-adapter.py OUT_DIR [SIZE_GIB]
"""
import os, sys
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lora_layout import write_adapter  # noqa: E402

out = sys.argv[1]
size_gib = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
hidden, r = 4096, 64
layers = max(1, int(size_gib * (1 << 30) / (4 * 2 * r * hidden * 4)))
rng = np.random.default_rng(7)
modules, size = write_adapter(out, layers, hidden, r, "bench/llama-4096", lambda tensors, _: (
    (rng.standard_normal(shape, dtype=np.float32) * 0.02).tobytes() for _, shape in tensors))
print(f"{layers} layers, {modules} modules, {size} bytes")
