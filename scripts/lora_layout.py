"""The PEFT LoRA directory the benchmark and trial scripts write (no numpy needed here): `layers` x (k, o, q, v)
attention projections of a `hidden`-wide model at rank `rank`, F32, tensors in code-point order as PEFT saves them,
and an adapter_config.json naming `base_model`. The tensor bytes come from the caller."""
import json
import os
import struct


def projection_tensors(layers, hidden, rank):
    """[(name, shape)] of every lora_A / lora_B tensor, sorted by name."""
    names = []
    for layer in range(layers):
        for proj in ("k_proj", "o_proj", "q_proj", "v_proj"):
            path = f"base_model.model.model.layers.{layer}.self_attn.{proj}"
            names.append((f"{path}.lora_A.weight", [rank, hidden]))
            names.append((f"{path}.lora_B.weight", [hidden, rank]))
    names.sort()
    return names


def write_adapter(directory, layers, hidden, rank, base_model, tensor_bytes):
    """Writes the directory; `tensor_bytes(tensors, total)` yields the F32 bytes of `tensors` ([(name, shape)]) in
    order, `total` bytes in all. Returns (modules, file bytes)."""
    os.makedirs(directory, exist_ok=True)
    tensors = projection_tensors(layers, hidden, rank)
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, shape in tensors:
        n = shape[0] * shape[1] * 4
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)
    with open(os.path.join(directory, "adapter_model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        for chunk in tensor_bytes(tensors, offset):
            f.write(chunk)
    config = {
        "base_model_name_or_path": base_model, "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": rank,
        "lora_alpha": 2 * rank, "lora_dropout": 0.0, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"],
        "use_rslora": False, "use_dora": False, "rank_pattern": {}, "alpha_pattern": {}, "fan_in_fan_out": False,
        "bias": "none", "modules_to_save": None, "layers_to_transform": None, "inference_mode": True,
    }
    with open(os.path.join(directory, "adapter_config.json"), "w") as f:
        f.write(json.dumps(config, indent=2, sort_keys=True))
    return len(tensors) // 2, offset + 8 + len(raw)
