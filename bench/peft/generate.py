#!/usr/bin/env python3
"""Writes seeded, Llama-2-7B-shaped LoRA adapters as standard PEFT directories.

Each adapter directory holds `adapter_config.json` (the fields PEFT 0.21 writes for a
LlamaForCausalLM LoRA) and `adapter_model.safetensors` with keys
`base_model.model.model.layers.{i}.{self_attn|mlp}.{module}.lora_{A|B}.weight`,
A shaped r x in and B shaped out x r, values N(0, 1) * 0.02.

Only numpy and safetensors are needed. Adapter j is drawn from
numpy.random.default_rng([seed, j]), tensors in a fixed order, so the output is
reproducible byte for byte for the same arguments.
"""

import argparse
import json
import os
import sys

import numpy as np
from safetensors.numpy import save_file

HIDDEN = 4096
INTERMEDIATE = 11008

# (submodule, module, in_features, out_features) in the order tensors are drawn.
MODULES = [
    ("self_attn", "q_proj", HIDDEN, HIDDEN),
    ("self_attn", "k_proj", HIDDEN, HIDDEN),
    ("self_attn", "v_proj", HIDDEN, HIDDEN),
    ("self_attn", "o_proj", HIDDEN, HIDDEN),
    ("mlp", "gate_proj", HIDDEN, INTERMEDIATE),
    ("mlp", "up_proj", HIDDEN, INTERMEDIATE),
    ("mlp", "down_proj", INTERMEDIATE, HIDDEN),
]

BASE_MODEL = "bench/llama-2-7b-shape"


def adapter_config(rank: int, alpha: int) -> dict:
    """The adapter_config.json PEFT 0.21.2 writes for a LoRA on LlamaForCausalLM."""
    return {
        "alora_invocation_tokens": None,
        "alpha_pattern": {},
        "arrow_config": None,
        "auto_mapping": None,
        "base_model_name_or_path": BASE_MODEL,
        "bias": "none",
        "corda_config": None,
        "ensure_weight_tying": False,
        "eva_config": None,
        "exclude_modules": None,
        "fan_in_fan_out": False,
        "inference_mode": True,
        "init_lora_weights": True,
        "kasa_config": None,
        "layer_replication": None,
        "layers_pattern": None,
        "layers_to_transform": None,
        "loftq_config": {},
        "lora_alpha": alpha,
        "lora_bias": False,
        "lora_dropout": 0.0,
        "lora_ga_config": None,
        "megatron_config": None,
        "megatron_core": "megatron.core",
        "modules_to_save": None,
        "monteclora_config": None,
        "peft_type": "LORA",
        "peft_version": "0.21.2",
        "qalora_group_size": 16,
        "r": rank,
        "rank_pattern": {},
        "revision": None,
        "target_modules": sorted(m for _, m, _, _ in MODULES),
        "target_parameters": None,
        "task_type": "CAUSAL_LM",
        "trainable_token_indices": None,
        "use_bdlora": None,
        "use_dora": False,
        "use_qalora": False,
        "use_rslora": False,
        "velora_config": None,
    }


def adapter_tensors(rng: np.random.Generator, layers: int, rank: int, dtype) -> dict:
    tensors = {}
    for i in range(layers):
        for sub, mod, fan_in, fan_out in MODULES:
            prefix = f"base_model.model.model.layers.{i}.{sub}.{mod}"
            a = rng.standard_normal((rank, fan_in), dtype=np.float32) * np.float32(0.02)
            b = rng.standard_normal((fan_out, rank), dtype=np.float32) * np.float32(0.02)
            tensors[f"{prefix}.lora_A.weight"] = np.ascontiguousarray(a.astype(dtype))
            tensors[f"{prefix}.lora_B.weight"] = np.ascontiguousarray(b.astype(dtype))
    return tensors


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="directory that receives adapter_0 .. adapter_{n-1}")
    p.add_argument("--layers", type=int, default=32)
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--alpha", type=int, default=32)
    p.add_argument("--adapters", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", choices=["float32", "float16"], default="float32",
                   help="numpy has no bfloat16, so only these two")
    args = p.parse_args(argv)
    if args.layers < 1 or args.rank < 1 or args.adapters < 1:
        p.error("--layers, --rank and --adapters must be positive")

    dtype = np.dtype(args.dtype)
    os.makedirs(args.out, exist_ok=True)
    for j in range(args.adapters):
        d = os.path.join(args.out, f"adapter_{j}")
        os.makedirs(d, exist_ok=True)
        rng = np.random.default_rng([args.seed, j])
        tensors = adapter_tensors(rng, args.layers, args.rank, dtype)
        save_file(tensors, os.path.join(d, "adapter_model.safetensors"),
                  metadata={"format": "pt"})
        with open(os.path.join(d, "adapter_config.json"), "w") as f:
            json.dump(adapter_config(args.rank, args.alpha), f, indent=2, sort_keys=True)
            f.write("\n")
        print(f"wrote {d} ({len(tensors)} tensors)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
