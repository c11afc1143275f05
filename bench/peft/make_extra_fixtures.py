"""Writes Tests/Fixtures/peft-extra: tiny PEFT 0.21.2 adapters for the cases compat_sweep.py found broken.

Base: LlamaForCausalLM(hidden 16, intermediate 32, 2 layers, 2 heads, vocab 24) and Qwen2ForCausalLM of the same
shape (q/k/v biases), built from configs with torch.manual_seed(0); every LoRA/saved parameter is overwritten with
N(0, 0.1) from torch.Generator().manual_seed(seed). Run with the PEFT venv:
  python bench/peft/make_extra_fixtures.py Tests/Fixtures/peft-extra
"""
import os
import sys

import torch
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

from compat_sweep import randomize_trainable

SHAPE = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
             vocab_size=24)
CASES = {
    "plain": ("llama", dict(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"])),
    "layers1": ("llama", dict(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"], layers_to_transform=[1],
                              layers_pattern="layers")),
    "lm_head_saved": ("llama", dict(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"], modules_to_save=["lm_head"])),
    "embed_base_layer": ("llama", dict(r=2, lora_alpha=4, target_modules=["embed_tokens", "q_proj"])),
    "bias_all": ("qwen2", dict(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"], bias="all")),
}


def main(out):
    for seed, (name, (kind, kwargs)) in enumerate(CASES.items(), start=1):
        torch.manual_seed(0)
        cls, cfg = (LlamaForCausalLM, LlamaConfig) if kind == "llama" else (Qwen2ForCausalLM, Qwen2Config)
        model = cls(cfg(**SHAPE))
        model.name_or_path = f"tiny/{kind}"
        peft_model = get_peft_model(model, LoraConfig(**kwargs))
        randomize_trainable(peft_model, seed)
        peft_model.save_pretrained(os.path.join(out, name))
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("Tiny adapters saved by PEFT 0.21.2 (`bench/peft/make_extra_fixtures.py`; see its docstring):\n"
                "plain, layers1 (layers_to_transform [1]), lm_head_saved (modules_to_save lm_head),\n"
                "embed_base_layer (targets embed_tokens: PEFT also saves embed_tokens.base_layer.weight),\n"
                "bias_all (Qwen2, bias=\"all\": saves q/v base_layer.bias and k_proj.bias).\n")


if __name__ == "__main__":
    main(sys.argv[1])
