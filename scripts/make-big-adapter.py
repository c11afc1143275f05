#!/usr/bin/env python3
"""Writes a PEFT-layout LoRA adapter of about SIZE_GIB GiB (default 1) for benchmarks.

128 layers x (q, k, v, o) projections of a 4096-wide model at r=64, F32: 512 modules, 2^28 parameters.
Usage: python3 scripts/make-big-adapter.py OUT_DIR [SIZE_GIB]
"""
import json, os, struct, sys
import numpy as np

out = sys.argv[1]
size_gib = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
hidden, r = 4096, 64
per_module = 2 * r * hidden * 4
layers = max(1, int(size_gib * (1 << 30) / (4 * per_module)))
os.makedirs(out, exist_ok=True)
names = []
for layer in range(layers):
    for proj in ("k_proj", "o_proj", "q_proj", "v_proj"):
        path = f"base_model.model.model.layers.{layer}.self_attn.{proj}"
        names.append((f"{path}.lora_A.weight", [r, hidden]))
        names.append((f"{path}.lora_B.weight", [hidden, r]))
names.sort()
header, offset = {"__metadata__": {"format": "pt"}}, 0
for name, shape in names:
    n = shape[0] * shape[1] * 4
    header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + n]}
    offset += n
raw = json.dumps(header, separators=(",", ":")).encode()
raw += b" " * ((8 - len(raw) % 8) % 8)
rng = np.random.default_rng(7)
with open(os.path.join(out, "adapter_model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(raw)) + raw)
    for name, shape in names:
        f.write((rng.standard_normal(shape, dtype=np.float32) * 0.02).tobytes())
config = {
    "base_model_name_or_path": "bench/llama-4096", "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": r,
    "lora_alpha": 128, "lora_dropout": 0.0, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"],
    "use_rslora": False, "use_dora": False, "rank_pattern": {}, "alpha_pattern": {}, "fan_in_fan_out": False,
    "bias": "none", "modules_to_save": None, "layers_to_transform": None, "inference_mode": True,
}
open(os.path.join(out, "adapter_config.json"), "w").write(json.dumps(config, indent=2, sort_keys=True))
print(f"{layers} layers, {len(names) // 2} modules, {offset + 8 + len(raw)} bytes")
