#!/usr/bin/env python3
"""Turns time_peft.py JSON lines into results.json and a markdown table (RESULTS.md)."""

import argparse
import json
import sys


def fmt(x, digits=2):
    if x is None:
        return "–"
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.{digits}f}" if x >= 0.01 else f"{x:.4f}"


SUMMED = ["merge_s_per_layer", "merge_cpu_s_per_layer", "merge_s_32_layers", "io_s_32_layers"]


def combine(rows):
    """Sums the attn and mlp shares of sampled (--modules) runs into one whole-layer row."""
    out, partial = [], {}
    for r in rows:
        if r.get("partial_group"):
            partial.setdefault(r["method"], {})[r["partial_group"]] = r
        else:
            out.append(dict(r, timed="all 7 modules"))
    for method, groups in partial.items():
        if set(groups) != {"attn", "mlp"}:
            print(f"{method}: sampled rows for {sorted(groups)} only; need attn and mlp",
                  file=sys.stderr)
            continue
        a, m = groups["attn"], groups["mlp"]
        row = dict(m)
        for k in SUMMED:
            row[k] = None if a[k] is None else a[k] + m[k]
        # Load/save of a one-module cut is mostly fixed per-process cost: not a layer's share.
        row["io_s_32_layers"] = None
        row["peak_rss_mib"] = max(a["peak_rss_mib"], m["peak_rss_mib"])
        row["loadavg_1m_at_end"] = max(a["loadavg_1m_at_end"], m["loadavg_1m_at_end"])
        row["timed"] = (f"{'+'.join(a['modules'])} x{a['module_factor']:g} + "
                        f"{'+'.join(m['modules'])} x{m['module_factor']:g}")
        out.append(row)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("jsonl")
    p.add_argument("--json-out", required=True)
    p.add_argument("--md-out", required=True)
    p.add_argument("--note", action="append", default=[])
    args = p.parse_args(argv)

    rows = [json.loads(line) for line in open(args.jsonl) if line.strip()]
    if not rows:
        print("no results", file=sys.stderr)
        return 1
    env = {k: rows[0][k] for k in ("cpu", "nproc", "threads", "python", "torch", "peft",
                                    "transformers")}
    with open(args.json_out, "w") as f:
        json.dump({"environment": env, "results": rows}, f, indent=2)
        f.write("\n")

    out = []
    out.append("# PEFT add_weighted_adapter timings (Llama-2-7B shape)\n")
    out.append("Inputs: 3 adapters, 32 layers, q/k/v/o 4096x4096, gate/up 4096->11008, "
               "down 11008->4096, r=16, lora_alpha=32, fp32, seed 0 (`generate.py`). "
               "Weights 1.0 each; density 0.5 where used; svd_rank 16; PEFT defaults otherwise "
               "(`svd_full_matrices=True`, `majority_sign_method=\"total\"`).\n")
    out.append("**Only K layers were timed; the 32-layer column is per-layer time x 32 (linear "
               "extrapolation), not a measured 32-layer run.** A 32-layer fp32 base model would "
               "need 27 GB, so `time_peft.py` builds a K-layer base and cuts the adapters to "
               "layers < K.\n")
    table = combine(rows)
    out.append("| method | layers timed (K) | modules timed | merge wall s / layer | merge CPU s / layer "
               "| merge wall s, 32 layers (extrapolated) | load+save wall s, 32 layers (extrapolated) "
               "| output rank | peak RSS MiB | load avg (1 min) |")
    out.append("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in table:
        name = "io (load 3 + save 1, no merge)" if r["method"] == "io" else r["method"]
        out.append(f"| {name} | {r['layers_timed']} | {r['timed']} | {fmt(r['merge_s_per_layer'], 3)} | "
                   f"{fmt(r['merge_cpu_s_per_layer'], 3)} | "
                   f"{fmt(r['merge_s_32_layers'])} | {fmt(r['io_s_32_layers'])} | "
                   f"{r['output_rank']} | {r['peak_rss_mib']:,.0f} | "
                   f"{r['loadavg_1m_at_end']:.1f} |")
    out.append("")
    out.append("Environment: " + ", ".join(f"{k} {v}" for k, v in env.items()) + ".\n")
    out.append("Peak RSS is per process (one method per process) and includes Python, torch, "
               "the 3 loaded K-layer adapters and the merge workspace. The base model's weights "
               "are allocated with `to_empty` and never touched, so they do not count.\n")
    out.append("Wall time is perf_counter; CPU time is process_time summed over torch's threads "
               "(up to 2x wall when both threads are busy). When the load average is above the "
               "core count, wall time is inflated by other jobs and CPU time is the fairer figure.\n")
    out.append("The load+save column is per-layer time x 32 for the row's own load and save; at "
               "K=1 it is dominated by fixed per-process cost, so the `io` row (K=8) is the "
               "reference for reading 3 inputs and writing 1 output.\n")
    if any(r.get("partial_group") for r in rows):
        out.append("Rows with modules timed `q_proj x4 + gate_proj x3` were sampled: one attention "
                   "and one MLP module per layer were timed (in separate processes) and scaled to "
                   "the 4 attention and 3 MLP modules; down_proj's delta is the transpose of "
                   "gate/up's, the same size. Per-process figures are in results.json.\n")
    for n in args.note:
        out.append(n + "\n")
    with open(args.md_out, "w") as f:
        f.write("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
