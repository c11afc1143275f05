"""Saves a tiny random Llama that vLLM's CPU backend serves, with a WordLevel tokenizer: no hub, no download.

    python integrations/vllm/make_tiny_llama.py OUT_DIR [--seed 0]

Shapes (facts in ../shared/guide/SERVING-NOTES.md): hidden 64, 2 attention heads and 1 KV head (head size 32, which
the CPU attention kernel supports; 16 is not), intermediate 160, 2 layers, vocab 128. q_proj is 64->64 and v_proj
64->32, the shapes of the PEFT golden fixtures (Tests/Fixtures/peft-golden/adapters/a1, a2, ...), so those adapters
load unchanged. Their base_model_name_or_path is "quiver-fixtures/tiny-llama": serve with
QUIVER_VLLM_BASE_MODEL=quiver-fixtures/tiny-llama.
"""

import argparse
import os

VOCAB = 128
SPECIAL = ["<unk>", "<s>", "</s>", "<pad>"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    torch.manual_seed(args.seed)
    config = LlamaConfig(
        vocab_size=VOCAB, hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, max_position_embeddings=128, bos_token_id=1, eos_token_id=2, pad_token_id=3,
        tie_word_embeddings=False, torch_dtype="float32")
    model = LlamaForCausalLM(config)
    # Larger than the default 0.02 so greedy decoding is decisive (and differs visibly between adapters).
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() == 2:
                parameter.normal_(0.0, 0.3)
    os.makedirs(args.out, exist_ok=True)
    model.save_pretrained(args.out, safe_serialization=True)

    words = SPECIAL + [f"w{i}" for i in range(VOCAB - len(SPECIAL))]
    tokenizer = Tokenizer(models.WordLevel(vocab={w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.decoder = decoders.WordPiece(prefix="##")  # joins tokens with spaces
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                   pad_token="<pad>", model_max_length=128)
    fast.save_pretrained(args.out)
    print(f"saved a tiny Llama (hidden 64, heads 2/1, 2 layers, vocab {VOCAB}) to {args.out}")


if __name__ == "__main__":
    main()
