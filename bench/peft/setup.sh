#!/usr/bin/env bash
# Creates the PEFT comparison venv at <repo>/.venv-peft (gitignored). Idempotent.
# Only the benchmark uses this venv; Quiver's build and tests never need Python.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=.venv-peft
PY=${PYTHON:-python3}

if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip"
$PIP install --quiet --upgrade pip wheel

# Prefer a CPU-only torch wheel when one is on a local find-links dir (/opt/wheels here):
# PyPI's default Linux wheel drags in several GB of CUDA libraries we cannot use.
if ! "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
  CPU_WHEEL=$(ls /opt/wheels/torch-*+cpu-*.whl 2>/dev/null | sort -V | tail -1 || true)
  if [ -n "$CPU_WHEEL" ]; then
    echo "installing CPU torch from $CPU_WHEEL"
    $PIP install "$CPU_WHEEL"
  else
    echo "no local CPU wheel; installing PyPI default torch (pulls CUDA libs)"
    $PIP install torch
  fi
fi

# Pin the rest after torch so pip does not replace the CPU build.
$PIP install --quiet peft transformers safetensors numpy accelerate

"$VENV/bin/python" - <<'PY'
import torch, peft, transformers, safetensors, numpy
print("versions:", {"torch": torch.__version__, "peft": peft.__version__,
      "transformers": transformers.__version__, "safetensors": safetensors.__version__,
      "numpy": numpy.__version__})
PY
