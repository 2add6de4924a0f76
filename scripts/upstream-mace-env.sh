# Sourced by scripts that run the upstream magnetic MACE code (ACEsuit/mace pull request 1244)
# the way ../shared/mmace/recipe/regenerate.sh does: a patched copy of MACE_SRC in a temporary
# folder (removed on exit) and PYTHONPATH with E3NN_SRC, OPT_EINSUM_SRC, OPT_EINSUM_FX_SRC, the
# recipe's stubs and the recipe itself (make_mmace.py). Sets RECIPE, WORK, PYTHONPATH.
# Returns 3 with a reason on stderr when something is missing.
_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
RECIPE=${RECIPE:-$_here/../../shared/mmace/recipe}
for _v in MACE_SRC E3NN_SRC OPT_EINSUM_SRC OPT_EINSUM_FX_SRC; do
  if [ -z "${!_v:-}" ] || [ ! -d "${!_v}" ]; then
    echo "upstream MACE sources missing: set $_v (see $RECIPE/regenerate.sh)" >&2
    return 3
  fi
done
if [ ! -f "$RECIPE/make_mmace.py" ]; then echo "no recipe at $RECIPE (set RECIPE)" >&2; return 3; fi
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then echo "/usr/bin/python3 has no torch" >&2; return 3; fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cp -r "$MACE_SRC" "$WORK/mace"
(cd "$WORK/mace" && patch -s -p1 < "$RECIPE/mace_pr1244_torchscript.patch")
export PYTHONPATH="$WORK/mace:$E3NN_SRC:$OPT_EINSUM_SRC:$OPT_EINSUM_FX_SRC:$RECIPE/stubs:$RECIPE"
export OMP_NUM_THREADS=1
