#!/bin/bash
# Make issue 12's MACE-MP-medium-like upstream magnetic MACE model with the shared recipe
# (../shared/mmace/recipe), outside the repository (it is 4.5 MB: never commit it). Needs what
# the recipe's regenerate.sh needs: /usr/bin/python3 with torch 1.13 (Debian 12 python3-torch,
# python3-ase, -scipy, -pandas, -tqdm, -lmdb, -prettytable, -configargparse, -git) and the
# upstream source trees at the commits named there, given as MACE_SRC, E3NN_SRC,
# OPT_EINSUM_SRC, OPT_EINSUM_FX_SRC.
# Usage: scripts/make-mmace-medium.sh OUTDIR [--count]     (about 3 minutes on one core)
#        scripts/make-mmace-medium.sh OUTDIR --preset ch16 --round-weights 8 --full-xyz
#          (the 16-channel test fixture tests/data/mace16, see its README; options:
#          scripts/mmace_medium.py)
#   OUTDIR/mmace_fe_co_soc_upstream.pt  the upstream TorchScript export (what a user has)
#   OUTDIR/mmace_fe_co_soc_state.pt     eager state_dict + config
#   OUTDIR/frames_ref.{xyz,npz}, model_config.json   as the fixture's
# Then: spinlat convert OUTDIR/mmace_fe_co_soc_upstream.pt -o OUTDIR/mmace_medium.spl
set -euo pipefail
OUT=${1:?usage: make-mmace-medium.sh OUTDIR [--count]}
shift
source "$(dirname "$0")/upstream-mace-env.sh"
mkdir -p "$OUT"
/usr/bin/python3 "$(dirname "$0")/mmace_medium.py" --out "$OUT" --model-seed 0 --frames-seed 42 "$@"
