#!/bin/bash
# Make issue 12's MACE-MP-medium-like upstream magnetic MACE model with the shared recipe
# (../shared/mmace/recipe), outside the repository. Needs what the recipe's regenerate.sh
# needs: /usr/bin/python3 with torch 1.13 and the upstream source trees at the commits named
# there, given as MACE_SRC, E3NN_SRC, OPT_EINSUM_SRC, OPT_EINSUM_FX_SRC.
# Usage: scripts/make-mmace-medium.sh OUTDIR [--count]
#   OUTDIR/mmace_fe_co_soc_upstream.pt  the upstream TorchScript export (what spinlat loads)
#   OUTDIR/mmace_fe_co_soc_state.pt     eager state_dict + config (what `bench learned` times)
#   OUTDIR/frames_ref.{xyz,npz}, model_config.json   as the fixture's
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
RECIPE=${RECIPE:-$HERE/../../shared/mmace/recipe}
OUT=${1:?usage: make-mmace-medium.sh OUTDIR [--count]}
shift
: "${MACE_SRC:?}" "${E3NN_SRC:?}" "${OPT_EINSUM_SRC:?}" "${OPT_EINSUM_FX_SRC:?}"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cp -r "$MACE_SRC" "$WORK/mace"
(cd "$WORK/mace" && patch -s -p1 < "$RECIPE/mace_pr1244_torchscript.patch")
export PYTHONPATH="$WORK/mace:$E3NN_SRC:$OPT_EINSUM_SRC:$OPT_EINSUM_FX_SRC:$RECIPE/stubs:$RECIPE"
export OMP_NUM_THREADS=1
mkdir -p "$OUT"
/usr/bin/python3 "$HERE/mmace_medium.py" --out "$OUT" --model-seed 0 --frames-seed 42 "$@"
