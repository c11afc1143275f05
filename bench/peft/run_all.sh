#!/usr/bin/env bash
# Runs PEFT's add_weighted_adapter for every method on the benchmark adapters and writes
# bench/peft/results.json + bench/peft/RESULTS.md. Needs the venv from setup.sh.
#
# Environment knobs:
#   INPUTS       adapter root (default bench-out/peft-inputs; generated if missing)
#   CHEAP_LAYERS K for the factor-space methods (default 8)
#   SVD_LAYERS   K for the svd family, minutes per layer (default 1)
#   SVD_SAMPLE   1: time the svd family on q_proj (x4 for attn) and gate_proj (x3 for mlp,
#                down_proj being gate's transpose) in two processes instead of all 7 modules
#   METHODS      space-separated subset to run (default: all listed below)
#   APPEND       1: append to bench-out/peft-results.jsonl instead of starting it afresh
set -euo pipefail
cd "$(dirname "$0")/../.."
HERE=bench/peft
PY=.venv-peft/bin/python
[ -x "$PY" ] || { echo "run $HERE/setup.sh first" >&2; exit 1; }

INPUTS=${INPUTS:-bench-out/peft-inputs}
CHEAP_LAYERS=${CHEAP_LAYERS:-8}
SVD_LAYERS=${SVD_LAYERS:-1}
SVD_SAMPLE=${SVD_SAMPLE:-0}
METHODS=${METHODS:-"io linear cat ties dare_linear dare_ties magnitude_prune svd ties_svd magnitude_prune_svd"}
NICE="nice -n 10"

if [ ! -f "$INPUTS/adapter_2/adapter_model.safetensors" ]; then
  echo "generating inputs in $INPUTS"
  $NICE "$PY" "$HERE/generate.py" --out "$INPUTS" --layers 32 --rank 16 --adapters 3 --seed 0
fi

LOG=bench-out/peft-run.log
mkdir -p bench-out
JSONL=bench-out/peft-results.jsonl
[ "${APPEND:-0}" = 1 ] || : > "$JSONL"

run() {  # method layers [time_peft args...]
  local m=$1 k=$2; shift 2
  echo "$(date -u +%T) $m on $k layer(s) $*" | tee -a "$LOG"
  $NICE "$PY" "$HERE/time_peft.py" --inputs "$INPUTS"/adapter_{0,1,2} --method "$m" \
    --layers "$k" --density 0.5 --svd-rank 16 --threads 2 --json "$@" 2>>"$LOG" | tee -a "$JSONL"
}

for m in $METHODS; do
  case $m in
    *svd)
      if [ "$SVD_SAMPLE" = 1 ]; then
        run "$m" "$SVD_LAYERS" --modules q_proj
        run "$m" "$SVD_LAYERS" --modules gate_proj
      else
        run "$m" "$SVD_LAYERS"
      fi ;;
    *) run "$m" "$CHEAP_LAYERS" ;;
  esac
done

"$PY" "$HERE/make_table.py" "$JSONL" --json-out "$HERE/results.json" --md-out "$HERE/RESULTS.md" \
  --note "Machine shared with other jobs (Swift builds) during the run; processes ran under nice -n 10, so wall times are upper bounds." \
  --note "Reproduce: \`bench/peft/setup.sh && bench/peft/run_all.sh\` (knobs: CHEAP_LAYERS, SVD_LAYERS, SVD_SAMPLE, METHODS, INPUTS, APPEND)."
cat "$HERE/RESULTS.md"
