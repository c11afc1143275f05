#!/usr/bin/env bash
# One command for the performance figures of docs/benchmarks.md ("Whole-command merges against PEFT and the I/O
# floor"): every merge method as a whole `quiver merge-files` process, the I/O floor of the same merge, and PEFT's
# in-memory add_weighted_adapter call on the SAME files, side by side in one run; then the registry's figures:
# catalog reads (audit, show, list, lineage) in a synthetic catalog of AUDIT_VERSIONS versions
# (`QuiverBench audit-catalog`, the test PostgreSQL), and register/pull against the raw S3 rate of the same bytes
# (bench/registry/transfer.sh: its own PostgreSQL and SeaweedFS). Then the section between the markers in
# docs/benchmarks.md is rewritten with all the figures, the load averages and the commands.
#
#   scripts/bench.sh                 # everything (first run: builds, generates inputs, installs PEFT's venv)
#
# Knobs: LAYERS (8), RUNS (hyperfine runs per command, 10), METHODS (default below), DATA (input root),
#        SVD_METHODS (the dense-SVD methods timed against their compute floor, default below; "" skips them),
#        SVD_RUNS (runs each, 2), BIN (a directory with release quiver and QuiverBench: no build),
#        PEFT_THREADS (torch threads for PEFT, 2; under load 1 avoids OpenMP's spinning threads collapsing),
#        PEFT=0 (skip PEFT), REGISTRY=0 (skip the registry figures below), AUDIT_VERSIONS (catalog sizes for
#        the catalog reads, "100000"; "100000 1000000" adds the million, ~3 min of seeding), AUDIT_RUNS (1000),
#        TRANSFER_SIZES (register/pull sizes in MiB, "32 200 1024"), TRANSFER_ROUNDS (5),
#        TRANSFER=FILES (also scripts/bench-objectstore.sh FILES; needs the test SeaweedFS), DOC=0 (print only),
#        REPORT_ONLY=1 (no measuring: rewrite the section from the last run's files in bench-out/bench-sh).
# Needs hyperfine. PEFT goes into <repo>/.venv-peft through bench/peft/setup.sh (its own venv, gitignored).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
# shellcheck source=../bench/lib.sh
source bench/lib.sh   # machine_line
LAYERS=${LAYERS:-8}
RUNS=${RUNS:-10}
METHODS=${METHODS:-"linear cat ties magnitude_prune dare_linear dare_ties"}
DATA=${DATA:-$ROOT/bench-out/bench-inputs-$LAYERS}
OUT=$ROOT/bench-out/bench-sh
mkdir -p "$OUT"
if [ "${REPORT_ONLY:-0}" != 1 ]; then
rm -f "$OUT"/*.json "$OUT"/*.jsonl "$OUT"/*.txt
command -v hyperfine >/dev/null || { echo "hyperfine is needed (apt-get install hyperfine)" >&2; exit 1; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "load average at start: $(load)" | tee "$OUT/load-start.txt"
machine_line | tee "$OUT/machine.txt"

if [ -n "${BIN:-}" ]; then  # BIN=DIR: quiver and QuiverBench already built there
    echo "using $BIN"
else
    swift build -c release --product quiver --static-swift-stdlib >/dev/null
    swift build -c release --product QuiverBench --static-swift-stdlib >/dev/null
    BIN=$(swift build -c release --show-bin-path)
fi
QUIVER=$BIN/quiver

# Inputs: PEFT's generator when its venv is there (the files PEFT itself reads), else Quiver's (same shapes).
if [ "${PEFT:-1}" = 1 ]; then bench/peft/setup.sh >/dev/null; fi
if [ ! -f "$DATA/adapter_2/adapter_model.safetensors" ]; then
    if [ -x .venv-peft/bin/python ]; then
        .venv-peft/bin/python bench/peft/generate.py --out "$DATA" --layers "$LAYERS" --rank 16 --adapters 3 --seed 0
    else
        "$BIN/QuiverBench" generate --out "$DATA" --layers "$LAYERS"
        for i in 0 1 2; do mv "$DATA/adapter-$i" "$DATA/adapter_$i"; done
    fi
fi
INPUTS=("$DATA/adapter_0" "$DATA/adapter_1" "$DATA/adapter_2")
cat "${INPUTS[@]/%//adapter_model.safetensors}" >/dev/null   # page cache warm

args() {  # the PEFT parameters: weight 1 each, density 0.5, seed 7
    case $1 in
        linear|cat|svd) echo "--method $1 --weights 1,1,1" ;;
        *svd) echo "--method $1 --weights 1,1,1 --density 0.5 --svd-rank 16 --seed 7" ;;
        *) echo "--method $1 --weights 1,1,1 --density 0.5 --seed 7" ;;
    esac
}

# The floor's output is as large as the largest merged file (cat's).
rm -rf "$OUT/probe"
"$QUIVER" merge-files $(args cat) --output "$OUT/probe" "${INPUTS[@]}" >/dev/null
CAT_BYTES=$(stat -c %s "$OUT/probe/adapter_model.safetensors")
rm -rf "$OUT/probe"
"$QUIVER" merge-files $(args ties) --output "$OUT/probe" "${INPUTS[@]}" >/dev/null
R16_BYTES=$(stat -c %s "$OUT/probe/adapter_model.safetensors")
rm -rf "$OUT/probe"
echo "$CAT_BYTES $R16_BYTES" > "$OUT/sizes.txt"

echo "== I/O floor and quiver merge-files (hyperfine, $RUNS runs each; load $(load))"
# Each method is timed beside its own floor (and the 2-digest floor), in one hyperfine invocation: the ratio then
# compares runs seconds apart, not a floor measured minutes earlier on a 2-core host whose speed drifts (the floors
# were once timed here, first, for every method: floor.json, read only from such an older run's files).
for method in $METHODS; do
    bytes=$R16_BYTES
    [ "$method" = cat ] && bytes=$CAT_BYTES
    hyperfine --warmup 1 --runs "$RUNS" --export-json "$OUT/quiver-$method.json" --prepare "rm -rf $OUT/merged" \
        -n floor "$BIN/QuiverBench floor --directory $OUT --output-bytes $bytes --inputs ${INPUTS[*]}" \
        -n floor2 "$BIN/QuiverBench floor --digests 2 --directory $OUT --output-bytes $bytes --inputs ${INPUTS[*]}" \
        -n "$method" "$QUIVER merge-files $(args "$method") --output $OUT/merged ${INPUTS[*]}"
    echo "$method $(load)" >> "$OUT/load-methods.txt"
done
rm -rf "$OUT/merged"

SVD_METHODS=${SVD_METHODS-"ties_svd dare_ties_svd magnitude_prune_svd dare_linear_svd"}
if [ -n "$SVD_METHODS" ]; then
    echo "== dense-SVD methods against their compute floor (load $(load))"
    "$BIN/QuiverBench" svd-floor --svd-rank 16 --inputs "${INPUTS[@]}" > "$OUT/svd-floor.json"
    for method in $SVD_METHODS; do
        hyperfine --runs "${SVD_RUNS:-2}" --export-json "$OUT/svd-$method.json" --prepare "rm -rf $OUT/merged" \
            -n "$method" "$QUIVER merge-files $(args "$method") --output $OUT/merged ${INPUTS[*]}"
    done
    rm -rf "$OUT/merged"
fi

if [ "${PEFT:-1}" = 1 ]; then
    echo "== PEFT add_weighted_adapter on the same files ($LAYERS layers; load $(load))"
    for method in $METHODS; do
        .venv-peft/bin/python bench/peft/time_peft.py --inputs "${INPUTS[@]}" --method "$method" --layers "$LAYERS" \
            --density 0.5 --svd-rank 16 --threads "${PEFT_THREADS:-2}" --json 2>>"$OUT/peft.log" >> "$OUT/peft.jsonl"
    done
fi
echo "load average at end: $(load)" | tee "$OUT/load-end.txt"

if [ "${REGISTRY:-1}" = 1 ]; then
    # Catalog reads: each size in a scratch database of the test PostgreSQL, seeded by the command itself.
    bash scripts/services/postgres.sh start >/dev/null
    # shellcheck disable=SC1091
    source .services/postgres.env
    for versions in ${AUDIT_VERSIONS:-100000}; do
        db="bench_audit_$versions"
        psql "$QUIVER_TEST_DATABASE_URL" -XqAt -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
        echo "== catalog reads at $versions versions (load $(load))"
        "$BIN/QuiverBench" audit-catalog --database-url "${QUIVER_TEST_DATABASE_URL%/*}/$db" --versions "$versions" \
            --runs "${AUDIT_RUNS:-1000}" | tee "$OUT/audit-$versions.txt"
        echo "load average after: $(load)" >> "$OUT/audit-$versions.txt"
        psql "$QUIVER_TEST_DATABASE_URL" -XqAt -c "DROP DATABASE $db WITH (FORCE)"
    done
    # The seeded catalogs leave gigabytes for PostgreSQL's checkpointer to write over the next minutes, into the
    # transfers' timed commands: a clean shutdown writes them now (the transfers start the server again).
    bash scripts/services/postgres.sh stop >/dev/null
    sync
    # Register and pull: the aws CLI and numpy come from PEFT's venv when the machine lacks them.
    if [ -x .venv-peft/bin/python ]; then
        command -v aws >/dev/null || .venv-peft/bin/python -m pip install --quiet awscli
        export PATH="$ROOT/.venv-peft/bin:$PATH"
    fi
    echo "== register and pull against raw S3 (load $(load))"
    QUIVER="$QUIVER" bench/registry/transfer.sh --sizes "${TRANSFER_SIZES:-32 200 1024}" --rounds "${TRANSFER_ROUNDS:-5}"
    cp bench-out/registry-transfer.md "$OUT/registry-transfer.md"
fi
[ -n "${TRANSFER:-}" ] && bash scripts/bench-objectstore.sh $TRANSFER | tee "$OUT/transfer.md"
fi
read -r CAT_BYTES R16_BYTES < "$OUT/sizes.txt"

AUDIT_RUNS="${AUDIT_RUNS:-1000}" TRANSFER_SIZES="${TRANSFER_SIZES:-32 200 1024}" TRANSFER_ROUNDS="${TRANSFER_ROUNDS:-5}" python3 - "$OUT" "$LAYERS" "$RUNS" "$CAT_BYTES" "$R16_BYTES" "${DOC:-1}" <<'PY'
import json, os, sys, glob, datetime, subprocess
out, layers, runs, cat_bytes, r16_bytes, doc = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6] == "1"
def median(name):
    d = json.load(open(name))["results"]
    return {r["command"]: (r["median"], r["min"], r["max"], r["user"] + r["system"]) for r in d}
floor = median(f"{out}/floor.json") if os.path.exists(f"{out}/floor.json") else {}
peft, peft_load = {}, {}
if os.path.exists(f"{out}/peft.jsonl"):
    for line in open(f"{out}/peft.jsonl"):
        if line.strip():
            r = json.loads(line); peft[r["method"]] = r["merge_s"]; peft_load[r["method"]] = r["loadavg_1m_at_end"]
loads = dict(l.split(" ", 1) for l in open(f"{out}/load-methods.txt").read().splitlines())
rows = []
for path in sorted(glob.glob(f"{out}/quiver-*.json"), key=os.path.getmtime):
    timed = median(path)
    for cmd, (med, lo, hi, cpu) in timed.items():
        if cmd in ("floor", "floor2"): continue
        # The floors timed beside the method (same hyperfine run); else, from an older run's files, the ones timed first.
        fl = timed.get("floor") or floor["floor_cat" if cmd == "cat" else "floor_r16"]
        f2 = timed.get("floor2") or floor["floor2_cat" if cmd == "cat" else "floor2_r16"]
        p = peft.get(cmd)
        rows.append(f"| {cmd} | {med:.3f} ({lo:.3f}–{hi:.3f}) | {cpu:.3f} | {fl[0]:.3f} / {fl[3]:.3f} | {med/fl[0]:.2f}× / {cpu/fl[3]:.2f}× | "
                    + f"{f2[0]:.3f} / {f2[3]:.3f} | {med/f2[0]:.2f}× / {cpu/f2[3]:.2f}× | "
                    + (f"{p:.3f} (load {peft_load[cmd]:.1f}) | {p/med:.2f}× |" if p else "– | – |") + f" {loads.get(cmd, '')} |")
start = open(f"{out}/load-start.txt").read().split(": ")[1].strip()
machine = open(f"{out}/machine.txt").read().strip() if os.path.exists(f"{out}/machine.txt") else "not recorded"
end = open(f"{out}/load-end.txt").read().split(": ")[1].strip()
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
text = f"""<!-- bench.sh:begin (generated by scripts/bench.sh; edits here are overwritten) -->
## Whole-command merges against PEFT and the I/O floor ({datetime.datetime.utcnow():%Y-%m-%d %H:%M} UTC, commit {commit})

    scripts/bench.sh        # LAYERS={layers} RUNS={runs}; hyperfine, release build, PEFT in .venv-peft

Machine: {machine}.

Inputs: 3 Llama-2-7B-shaped adapters, {layers} layers, r = 16, 7 modules, F32 (`bench/peft/generate.py`), page cache
warm. Quiver: `quiver merge-files` as a whole process (start-up, load, both digests of every input, merge, write;
no `--fsync`), median of {runs} hyperfine runs (min–max in brackets). PEFT: `add_weighted_adapter` alone, model and
adapters already in memory (`bench/peft/time_peft.py`, `merge_s`), same files and parameters (weights 1, density
0.5, seed 7). I/O floor: `QuiverBench floor` — read and SHA-256 every input once (inputs on both cores), write one
output of the merged size once (rename, no fsync, as merge-files), nothing else ({r16_bytes/1e6:.1f} MB output for the rank-16 methods,
{cat_bytes/1e6:.1f} MB for cat), timed beside each method in the same hyperfine invocation (its {runs} runs, then the
2-digest floor's, then the method's), so that each ratio compares runs seconds apart. "Floor, 2 digests": the same with two SHA-256 digests fed from the one read, which is
the least a merge must hash: its output records the canonical AND the file digest of every input (both computed as
the merge computes them: one read, the two hashers interleaved). Load average (1/5/15 min): {start} at the start, {end} at the end; the last column is
the load when that method's runs finished. The machine has 2 cores shared with other jobs: under load, wall times
mostly measure waiting (for a core, for fsync), so CPU seconds (user + system, mean of the runs) are given too.

| method | quiver merge-files wall s | quiver CPU s | I/O floor wall / CPU s | ÷ floor (wall / CPU) | floor, 2 digests wall / CPU s | ÷ floor 2 (wall / CPU) | PEFT call s | PEFT ÷ quiver (wall) | load after |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---|
""" + "\n".join(rows) + "\n"
svd_rows = []
if os.path.exists(f"{out}/svd-floor.json"):
    sf = json.load(open(f"{out}/svd-floor.json"))
    for path in sorted(glob.glob(f"{out}/svd-*.json")):
        if path.endswith("svd-floor.json"): continue
        for cmd, (med, lo, hi, cpu) in median(path).items():
            svd_rows.append(f"| {cmd} | {med:.2f} ({lo:.2f}–{hi:.2f}) | {cpu:.2f} | {sf['seconds']:.2f} | {med / sf['seconds']:.2f}× |")
    text += f"""
Dense-SVD methods (svd_rank 16) against their compute floor, `QuiverBench svd-floor`: the dense updates and the
randomized SVD's products ({sf['gflop']:.0f} GFLOP for these inputs, `Merge/ComputeFloor.swift`) at the sgemm rate
OpenBLAS reaches here on the widest such product ({sf['sgemm_gflops_per_core']:.1f} GFLOP/s per core) on {sf['cores']:.0f} cores,
measured in the same run; nothing else (no elementwise work, no I/O).

| method | quiver merge-files wall s | CPU s | compute floor s | ÷ floor |
|---|---:|---:|---:|---:|
""" + "\n".join(svd_rows) + "\n"
for path in sorted(glob.glob(f"{out}/audit-*.txt"), key=lambda p: int(p.rsplit("-", 1)[1][:-4])):
    lines = open(path).read().splitlines()
    versions = int(path.rsplit("-", 1)[1][:-4])
    table = [l for l in lines if l.startswith("|")]
    notes = [l for l in lines if l.startswith(("seeded", "reusing", "vacuumed", "audit of", "list (", "machine during", "load average after"))]
    text += f"""
Catalog reads at {versions:,} versions: `QuiverBench audit-catalog --versions {versions} --runs {os.environ.get('AUDIT_RUNS', '1000')}`
(release build, in process, one pooled connection to the test PostgreSQL on loopback TCP, statements prepared;
the synthetic catalog: 100-version adapters whose version 100 is 50 merges deep, tags, alias moves, and `fan@1`
with 10,000 descendants). Times in ms.

""" + "\n".join(table) + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"
if os.path.exists(f"{out}/registry-transfer.md"):
    sizes = os.environ.get("TRANSFER_SIZES", "32 200 1024")
    text += f"""
Register and pull against the raw S3 rate of the same bytes, `bench/registry/transfer.sh --sizes "{sizes}" --rounds {os.environ.get('TRANSFER_ROUNDS', '5')}`:
raw is the faster of a plain libcurl PUT/GET (`curl --aws-sigv4`) and `aws s3 cp`; register = validate, both
digests, upload, record; pull = download, verify, write, flush. Each round alternates raw and Quiver.

""" + open(f"{out}/registry-transfer.md").read()
text += "<!-- bench.sh:end -->\n"
print(text)
if doc:
    path = "docs/benchmarks.md"
    body = open(path).read()
    b, e = "<!-- bench.sh:begin", "<!-- bench.sh:end -->\n"
    if b in body:
        body = body[:body.index(b)] + text + body[body.index(e) + len(e):]
    else:
        first = body.index("\n## ")
        body = body[:first + 1] + text + "\n" + body[first + 1:]
    open(path, "w").write(body)
PY
