#!/usr/bin/env python3
"""Times PEFT's LoraModel.add_weighted_adapter on PEFT adapter directories.

The base model is a Llama-2-7B-shaped LlamaForCausalLM (hidden 4096, intermediate 11008,
32 heads, vocab 32) with only --layers K decoder layers. It is built on the meta device
and materialised with `to_empty`, so its weights are never initialised nor touched:
add_weighted_adapter reads only the LoRA factors, and untouched pages do not count
towards RSS. The adapters are cut to layers < K before timing (untimed), so load time
also scales per layer. Times are reported for K layers and scaled linearly to 32.

Wall time (perf_counter) and process CPU time (process_time, summed over torch's threads)
are both reported: on a shared machine the wall time is inflated by other jobs.

With --modules, only some modules of one group are timed and the per-layer figures are
that group's share of a layer (times group size / modules timed); sum the attn and mlp
rows of a method for a whole layer (make_table.py does).

One method per process, so peak RSS (getrusage ru_maxrss) belongs to that method.
The pseudo-method `io` loads the inputs and saves the first adapter, without merging.
"""

import argparse
import json
import os
import platform
import re
import resource
import shutil
import sys
import tempfile
import time

FULL_LAYERS = 32
METHODS = ["io", "linear", "cat", "svd", "ties", "ties_svd", "dare_linear", "dare_ties",
           "magnitude_prune", "magnitude_prune_svd", "dare_linear_svd", "dare_ties_svd"]
DENSITY_METHODS = {"ties", "ties_svd", "dare_linear", "dare_ties", "magnitude_prune",
                   "magnitude_prune_svd", "dare_linear_svd", "dare_ties_svd"}
LAYER_RE = re.compile(r"\.layers\.(\d+)\.")
# Modules of one group have deltas of the same size (down_proj is the transpose of gate/up),
# so timing some of a group's modules and scaling to the group's size estimates the group.
GROUPS = {"attn": ["q_proj", "k_proj", "v_proj", "o_proj"],
          "mlp": ["gate_proj", "up_proj", "down_proj"]}
ALL_MODULES = GROUPS["attn"] + GROUPS["mlp"]


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def peak_rss_mib() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mib() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / (1024.0 * 1024.0)


def cut_to_layers(src: str, dst: str, layers: int, modules: list) -> int:
    """Copies adapter dir `src` to `dst` keeping only tensors of layers < `layers` and of
    the given modules (target_modules in the config is narrowed to match)."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    os.makedirs(dst, exist_ok=True)
    with open(os.path.join(src, "adapter_config.json")) as f:
        config = json.load(f)
    config["target_modules"] = sorted(modules)
    with open(os.path.join(dst, "adapter_config.json"), "w") as f:
        json.dump(config, f, indent=2)
    kept, present = {}, set()
    with safe_open(os.path.join(src, "adapter_model.safetensors"), framework="pt") as f:
        metadata = f.metadata()
        for key in f.keys():
            m = LAYER_RE.search(key)
            if m is None:
                raise SystemExit(f"{src}: tensor {key} has no layer index")
            present.add(int(m.group(1)))
            if int(m.group(1)) < layers and key.split(".")[-3] in modules:
                kept[key] = f.get_tensor(key)
    if max(present) + 1 < layers:
        raise SystemExit(f"{src} has {max(present) + 1} layers, fewer than --layers {layers}")
    save_file(kept, os.path.join(dst, "adapter_model.safetensors"), metadata=metadata)
    return max(present) + 1


def build_base(layers: int):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(hidden_size=4096, intermediate_size=11008, num_attention_heads=32,
                         num_key_value_heads=32, num_hidden_layers=layers, vocab_size=32,
                         max_position_embeddings=4096, tie_word_embeddings=False)
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    return model.to_empty(device="cpu")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--inputs", nargs="+", required=True, help="PEFT adapter directories")
    p.add_argument("--method", required=True, choices=METHODS)
    p.add_argument("--layers", type=int, default=1, help="decoder layers to build and time (K)")
    p.add_argument("--density", type=float, default=0.5)
    p.add_argument("--svd-rank", type=int, default=16)
    p.add_argument("--weights", type=float, nargs="+", help="default: 1.0 per adapter")
    p.add_argument("--modules", nargs="+", choices=ALL_MODULES,
                   help="time only these modules, all from one group (attn: q/k/v/o, mlp: "
                        "gate/up/down); the per-layer figure is then that group's share, scaled "
                        "to the group's size")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0, help="torch seed (DARE draws random masks)")
    p.add_argument("--workdir", help="scratch dir for cut inputs and output (default: a temp dir)")
    p.add_argument("--json", action="store_true", help="print one JSON line on stdout")
    args = p.parse_args(argv)
    if not 1 <= args.layers <= FULL_LAYERS:
        p.error(f"--layers must be in 1..{FULL_LAYERS}")
    modules = sorted(set(args.modules or ALL_MODULES))
    partial = None
    if len(modules) < len(ALL_MODULES):
        partial = next((g for g, ms in GROUPS.items() if set(modules) <= set(ms)), None)
        if partial is None:
            p.error("--modules must all come from one group (attn or mlp)")
    # Factor from the timed modules to a whole layer (or to the whole group when partial).
    module_factor = len(GROUPS[partial]) / len(modules) if partial else 1.0
    weights = args.weights or [1.0] * len(args.inputs)
    if len(weights) != len(args.inputs):
        p.error("--weights needs one value per input")

    # The base model name is fictitious; keep PEFT from asking the Hub about it while saving.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    import peft
    import transformers
    from peft import PeftModel

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    transformers.logging.set_verbosity_error()

    scratch = args.workdir or tempfile.mkdtemp(prefix="time_peft_")
    cut_dirs, input_layers = [], None
    for j, src in enumerate(args.inputs):
        dst = os.path.join(scratch, f"in_{j}")
        input_layers = cut_to_layers(src, dst, args.layers, modules)
        cut_dirs.append(dst)

    t = time.perf_counter()
    base = build_base(args.layers)
    build_s = time.perf_counter() - t

    names = [f"a{j}" for j in range(len(cut_dirs))]
    t = time.perf_counter()
    model = PeftModel.from_pretrained(base, cut_dirs[0], adapter_name=names[0],
                                      low_cpu_mem_usage=True)
    for name, d in zip(names[1:], cut_dirs[1:]):
        model.load_adapter(d, adapter_name=name, low_cpu_mem_usage=True)
    load_s = time.perf_counter() - t
    rss_loaded = current_rss_mib()

    merge_s = merge_cpu_s = None
    saved = names[0]
    if args.method != "io":
        kwargs = {"combination_type": args.method, "svd_rank": args.svd_rank}
        if args.method in DENSITY_METHODS:
            kwargs["density"] = args.density
        t, c = time.perf_counter(), time.process_time()
        model.add_weighted_adapter(names, weights, "merged", **kwargs)
        merge_s = time.perf_counter() - t
        merge_cpu_s = time.process_time() - c
        saved = "merged"

    out_dir = os.path.join(scratch, "out")
    t = time.perf_counter()
    model.save_pretrained(out_dir, selected_adapters=[saved])
    save_s = time.perf_counter() - t

    # Sanity: the saved adapter has 2 factors per targeted module per layer.
    from safetensors import safe_open
    saved_dir = os.path.join(out_dir, saved)  # PEFT nests non-"default" adapters by name
    with safe_open(os.path.join(saved_dir, "adapter_model.safetensors"), framework="pt") as f:
        out_keys = list(f.keys())
        out_rank = f.get_slice(next(k for k in out_keys if "lora_A" in k)).get_shape()[0]

    per_layer = lambda s: None if s is None else s / args.layers * module_factor
    scaled = lambda s: None if s is None else s / args.layers * module_factor * FULL_LAYERS
    result = {
        "method": args.method,
        "layers_timed": args.layers,
        "input_layers": input_layers,
        "modules": modules,
        "partial_group": partial,
        "module_factor": module_factor,
        "adapters": len(cut_dirs),
        "weights": weights,
        "density": args.density if args.method in DENSITY_METHODS else None,
        "svd_rank": args.svd_rank if args.method.endswith("svd") else None,
        "output_rank": out_rank,
        "output_tensors": len(out_keys),
        "merge_s": merge_s,
        "merge_s_per_layer": per_layer(merge_s),
        "merge_s_32_layers": scaled(merge_s),
        "merge_cpu_s": merge_cpu_s,
        "merge_cpu_s_per_layer": per_layer(merge_cpu_s),
        "merge_cpu_s_32_layers": scaled(merge_cpu_s),
        "load_s": load_s,
        "load_s_per_layer": per_layer(load_s),
        "save_s": save_s,
        "save_s_per_layer": per_layer(save_s),
        "io_s_32_layers": scaled(load_s + save_s),
        "build_base_s": build_s,
        "rss_after_load_mib": round(rss_loaded, 1),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "threads": torch.get_num_threads(),
        "cpu": cpu_model(),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "peft": peft.__version__,
        "transformers": transformers.__version__,
        "loadavg_1m_at_end": os.getloadavg()[0],
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if not args.workdir:
        shutil.rmtree(scratch, ignore_errors=True)
    if args.json:
        print(json.dumps(result), flush=True)
    else:
        for k, v in result.items():
            print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
