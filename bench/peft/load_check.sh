#!/usr/bin/env bash
# Merges golden fixture adapters with Quiver and checks that PEFT loads each result and applies the update PEFT's
# own merge applies (delta.safetensors of the matching golden case). Needs bench/peft/setup.sh's venv.
set -euo pipefail
cd "$(dirname "$0")/../.."
swift build --product quiver >/dev/null
Q=.build/debug/quiver F=Tests/Fixtures/peft-golden/adapters M=Tests/Fixtures/peft-golden/merges
O=$(mktemp -d)
trap 'rm -rf "$O"' EXIT
$Q merge-files --method linear --weights 0.5,0.5 --output "$O/linear" $F/a1 $F/a2 >/dev/null
$Q merge-files --method cat --weights 1,1 --output "$O/cat14" $F/a1 $F/a4 >/dev/null
$Q merge-files --method cat --weights 1,1 --output "$O/catpat" $F/a1 $F/a8_pattern >/dev/null
$Q merge-files --method cat --weights 1,0.5 --output "$O/mlp" $F/a1 $F/a10_mlp >/dev/null
$Q merge-files --method svd --weights 1,1 --svd-rank 8 --output "$O/svd14" $F/a1 $F/a4 >/dev/null
$Q merge-files --method ties --weights 1,1,1 --density 0.5 --allow-scaling-mismatch --output "$O/ties" $F/a1 $F/a2 $F/a3 >/dev/null
.venv-peft/bin/python bench/peft/load_check.py \
    "$O/linear" $M/linear_a1_a2/delta.safetensors "$O/cat14" $M/cat_a1_a4/delta.safetensors \
    "$O/catpat" $M/cat_pattern/delta.safetensors "$O/mlp" $M/mlp_plus_attn_cat/delta.safetensors \
    "$O/svd14" $M/svd_a1_a4/delta.safetensors "$O/ties" $M/ties_total/delta.safetensors
