#!/usr/bin/env python3
"""Regenerates Tests/Fixtures/malformed: one broken safetensors file or adapter directory per validation rule.

The expected error kind of each case is its file name prefix up to the first "__" (e.g.
`duplicate_key__tensor.safetensors` must fail with SafeTensorsError kind `duplicateKey`... see the tests' table).
Run from the package root: python3 scripts/make-malformed-fixtures.py
"""
import json, os, shutil, struct

ROOT = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures")
OUT = os.path.join(ROOT, "malformed")
A1 = os.path.join(ROOT, "peft-golden", "adapters", "a1")


def st(header_text, data=b"", length=None):
    raw = header_text.encode() if isinstance(header_text, str) else header_text
    n = len(raw) if length is None else length
    return struct.pack("<Q", n) + raw + data


def entry(dtype="F32", shape=(2,), offsets=(0, 8)):
    return {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets)}


def js(obj):
    return json.dumps(obj, separators=(",", ":"))


cases = {
    "file_too_small__empty": b"",
    "file_too_small__four_bytes": b"\x01\x02\x03\x04",
    "header_too_large__limit": struct.pack("<Q", 100_000_001) + b"{}",
    "header_too_large__u64_max": struct.pack("<Q", 2**64 - 1) + b"{}",
    "header_beyond_file__short": st("{}", length=1000),
    "malformed_json__truncated": st('{"a":'),
    "malformed_json__array_root": st("[]"),
    "malformed_json__invalid_utf8": st(b'{"\xff":{}}'),
    "malformed_json__trailing_comma": st('{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},}', b"\0" * 4),
    "malformed_json__deep_nesting": st("[" * 200 + "]" * 200),
    "malformed_json__nan": st('{"__metadata__":NaN}'),
    "malformed_json__garbage_after": st('{} x'),
    "duplicate_key__tensor": st('{"t":' + js(entry()) + ',"t":' + js(entry()) + "}", b"\0" * 8),
    "duplicate_key__field": st('{"t":{"dtype":"F32","dtype":"F16","shape":[2],"data_offsets":[0,8]}}', b"\0" * 8),
    "duplicate_key__metadata": st('{"__metadata__":{"a":"1","a":"2"}}'),
    "unknown_dtype__f17": st(js({"t": entry(dtype="F17")}), b"\0" * 8),
    "unknown_dtype__lowercase": st(js({"t": entry(dtype="f32")}), b"\0" * 8),
    "shape_overflow__product": st(js({"t": entry(shape=(2**62, 8), offsets=(0, 0))})),
    "shape_overflow__bytes": st(js({"t": entry(shape=(2**61, 2), offsets=(0, 0))})),
    "offsets_out_of_file__end": st(js({"t": entry(offsets=(0, 8))}), b"\0" * 4),
    "overlapping_tensors__shared": st(js({"a": entry(offsets=(0, 8)), "b": entry(shape=(1,), offsets=(4, 8))}), b"\0" * 8),
    "hole_between_tensors__gap": st(js({"a": entry(offsets=(0, 8)), "b": entry(offsets=(12, 20))}), b"\0" * 20),
    "hole_between_tensors__not_at_zero": st(js({"a": entry(offsets=(4, 12))}), b"\0" * 12),
    "size_mismatch__too_short": st(js({"t": entry(shape=(3,), offsets=(0, 8))}), b"\0" * 8),
    "size_mismatch__bf16": st(js({"t": entry(dtype="BF16", shape=(2,), offsets=(0, 8))}), b"\0" * 8),
    "trailing_bytes__garbage": st(js({"t": entry()}), b"\0" * 8 + b"GARBAGE!"),
    "invalid_metadata__number_value": st('{"__metadata__":{"a":1}}'),
    "invalid_metadata__not_object": st('{"__metadata__":"x"}'),
    "invalid_metadata__null_value": st('{"__metadata__":{"a":null}}'),
    "invalid_shape__negative": st('{"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}', b"\0" * 8),
    "invalid_shape__float": st('{"t":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}', b"\0" * 8),
    "invalid_shape__exponent": st('{"t":{"dtype":"F32","shape":[2e0],"data_offsets":[0,8]}}', b"\0" * 8),
    "invalid_shape__string": st('{"t":{"dtype":"F32","shape":["2"],"data_offsets":[0,8]}}', b"\0" * 8),
    "invalid_offsets__negative": st('{"t":{"dtype":"F32","shape":[0],"data_offsets":[-8,-8]}}'),
    "invalid_offsets__float": st('{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8.0]}}', b"\0" * 8),
    "invalid_offsets__huge": st('{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,99999999999999999999]}}', b"\0" * 8),
    "invalid_offsets__reversed": st('{"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}', b"\0" * 8),
    "invalid_offsets__three": st('{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8,8]}}', b"\0" * 8),
    "invalid_tensor_entry__missing_dtype": st('{"t":{"shape":[2],"data_offsets":[0,8]}}', b"\0" * 8),
    "invalid_tensor_entry__extra_field": st('{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}}', b"\0" * 8),
    "invalid_tensor_entry__not_object": st('{"t":[1,2]}'),
}


def write_adapter(name, config_edit=None, tensors_edit=None, drop=(), extra_files=None):
    d = os.path.join(OUT, "lora", name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    cfg = json.load(open(os.path.join(A1, "adapter_config.json")))
    if config_edit:
        config_edit(cfg)
    open(os.path.join(d, "adapter_config.json"), "w").write(json.dumps(cfg, indent=2, sort_keys=True))
    raw = open(os.path.join(A1, "adapter_model.safetensors"), "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    meta = header.pop("__metadata__", None)
    tensors = {k: (v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in header.items()}
    for k in drop:
        del tensors[k]
    if tensors_edit:
        tensors_edit(tensors)
    out, buf = {}, b""
    if meta:
        out["__metadata__"] = meta
    for k in sorted(tensors):
        dt, shape, b = tensors[k]
        out[k] = {"dtype": dt, "shape": shape, "data_offsets": [len(buf), len(buf) + len(b)]}
        buf += b
    h = js(out).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    open(os.path.join(d, "adapter_model.safetensors"), "wb").write(struct.pack("<Q", len(h)) + h + buf)
    for fname, content in (extra_files or {}).items():
        open(os.path.join(d, fname), "wb").write(content)
    return d


Q0 = "base_model.model.model.layers.0.self_attn.q_proj"


def main():
    # Regenerate only what this script writes; fuzz-config/ holds replayed fuzzer findings.
    os.makedirs(OUT, exist_ok=True)
    shutil.rmtree(os.path.join(OUT, "lora"), ignore_errors=True)
    for name in os.listdir(OUT):
        if name.endswith(".safetensors"):
            os.remove(os.path.join(OUT, name))
    for name, content in cases.items():
        open(os.path.join(OUT, name + ".safetensors"), "wb").write(content)

    write_adapter("unsupported_peft_type__prefix", lambda c: c.update(peft_type="PREFIX_TUNING"))
    write_adapter("malformed_config__duplicate_key")
    p = os.path.join(OUT, "lora", "malformed_config__duplicate_key", "adapter_config.json")
    open(p, "w").write(open(p).read().replace('"r": 8,', '"r": 8,\n  "r": 16,'))
    write_adapter("invalid_config_field__r_string", lambda c: c.update(r="8"))
    write_adapter("invalid_config_field__alpha_bool", lambda c: c.update(lora_alpha=True))
    write_adapter("invalid_config_field__bad_pattern_regex", lambda c: c.update(rank_pattern={"q_proj(": 4}))
    write_adapter("rank_mismatch__config_r4", lambda c: c.update(r=4))
    write_adapter("rank_mismatch__pattern", lambda c: c.update(rank_pattern={"layers.0.self_attn.q_proj": 2}))
    write_adapter("unpaired_factor__missing_b", drop=[Q0 + ".lora_B.weight"])
    write_adapter("unexpected_tensor__stray", tensors_edit=lambda t: t.update({"base_model.model.model.norm.weight": ("F32", [2], b"\0" * 8)}))
    write_adapter("unexpected_tensor__no_prefix", tensors_edit=lambda t: t.update({"lm_head.weight": ("F32", [2], b"\0" * 8)}))
    write_adapter("magnitude_mismatch__without_dora", tensors_edit=lambda t: t.update({Q0 + ".lora_magnitude_vector": ("F32", [64], b"\0" * 256)}))
    write_adapter("magnitude_mismatch__dora_without_vector", lambda c: c.update(use_dora=True))
    write_adapter("untargeted_module__k_only", lambda c: c.update(target_modules=["k_proj"]))
    write_adapter("untargeted_module__layers_to_transform", lambda c: c.update(layers_to_transform=[1]))
    write_adapter("unsupported_layer__conv_shape", tensors_edit=lambda t: t.update({Q0 + ".lora_A.weight": ("F32", [8, 64, 1, 1], t[Q0 + ".lora_A.weight"][2])}))
    write_adapter("non_float_tensor__int_factor", tensors_edit=lambda t: t.update({Q0 + ".lora_A.weight": ("I32", [8, 64], t[Q0 + ".lora_A.weight"][2])}))
    def poke(t, name, index, value):
        dt, shape, b = t[name]
        t[name] = (dt, shape, b[:4 * index] + struct.pack("<f", value) + b[4 * index + 4:])
    write_adapter("non_finite_weight__nan", tensors_edit=lambda t: poke(t, Q0 + ".lora_B.weight", 5, float("nan")))
    write_adapter("non_finite_weight__minus_inf", tensors_edit=lambda t: poke(t, Q0 + ".lora_A.weight", 0, float("-inf")))
    d = write_adapter("pickle_refused__bin_only", extra_files={"adapter_model.bin": b"\x80\x04\x95 not really a pickle"})
    os.remove(os.path.join(d, "adapter_model.safetensors"))
    d = write_adapter("missing_config__no_json")
    os.remove(os.path.join(d, "adapter_config.json"))
    d = write_adapter("missing_weights__config_only")
    os.remove(os.path.join(d, "adapter_model.safetensors"))
    # A weights file that is a symlink to a sibling's: a good file, but outside the adapter directory.
    d = write_adapter("link_outside__sibling")
    os.remove(os.path.join(d, "adapter_model.safetensors"))
    os.symlink("../missing_config__no_json/adapter_model.safetensors", os.path.join(d, "adapter_model.safetensors"))


if __name__ == "__main__":
    main()
