#!/usr/bin/env bash
# Compatibility sweep of Quiver against Hugging Face PEFT on adapters built from tiny random models (see
# compat_sweep.py). Needs a venv with torch, transformers, peft, safetensors: PEFT_PYTHON (default
# .venv-peft/bin/python, made by bench/peft/setup.sh when missing). Extra arguments go to compat_sweep.py (e.g. --only gpt2 --work /tmp/x).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PEFT_PYTHON:-.venv-peft/bin/python}
[ -x "$PY" ] || bash bench/peft/setup.sh
swift build --product quiver >/dev/null
exec "$PY" bench/peft/compat_sweep.py --quiver .build/debug/quiver --json bench/peft/compat_results.json "$@"
