"""Checks that PEFT loads adapter directories written by Quiver and applies the intended update.

For each directory: build the tiny Llama the golden fixtures were made for, load the directory with
PeftModel.from_pretrained, and compare PEFT's get_delta_weight per module with the expected dense update
(an .npz or safetensors of expected deltas, key = module path). Run inside bench/peft's venv:
  .venv-peft/bin/python bench/peft/load_check.py DIR EXPECTED_DELTAS.safetensors [DIR EXPECTED ...]
"""
import sys

import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import LlamaConfig, LlamaForCausalLM


def tiny_llama():
    config = LlamaConfig(hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, vocab_size=128)
    torch.manual_seed(0)
    return LlamaForCausalLM(config)


def check(directory, expected_path):
    model = PeftModel.from_pretrained(tiny_llama(), directory)
    expected = load_file(expected_path)
    worst = 0.0
    for path, delta in expected.items():
        module = model.base_model.model.get_submodule(path)
        got = module.get_delta_weight("default").float()
        err = ((got - delta).norm() / max(delta.norm(), 1e-30)).item()
        worst = max(worst, err)
    print(f"{directory}: {len(expected)} modules, worst relative error {worst:.2e}")
    return worst


if __name__ == "__main__":
    args = sys.argv[1:]
    worst = max(check(args[i], args[i + 1]) for i in range(0, len(args), 2))
    sys.exit(0 if worst < 1e-4 else 1)
