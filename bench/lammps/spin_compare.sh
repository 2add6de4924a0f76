#!/bin/sh
# The LAMMPS SPIN iron model three ways (docs/performance.md, "LAMMPS plugin"): LAMMPS's own
# pair styles (eam/alloy + spin/exchange), LAMMPS with spinlat's plugin (pair_style
# spin/spinlat running inputs/fe_sld_nve.toml), and spinlat alone (sld_eam.toml), all with
# fix nve/spin's Suzuki-Trotter scheme (spinlat: integrator = "suzuki-trotter"), dt = 0.1 fs.
# Needs `make lammps`.
#
#   bench/lammps/spin_compare.sh [BUILD] [CELLS] [STEPS]
#
# Whole-process timings of STEPS steps minus 2 steps (start-up and set-up subtracted), per
# atom-step: wall clock and CPU (user + sys). LAMMPS on 1 and 2 MPI ranks (fix spinlat/sld runs
# on one), spinlat on 1 and 2 threads.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=$(realpath "${1:-$here/../../build}")
cells=${2:-37}
steps=${3:-12}
lmp=$build/lammps/lmp
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
timed() {
  /usr/bin/time -f "%e %U %S" -o "$tmp/t" "$@" > "$tmp/log" 2>&1 || { cat "$tmp/log"; exit 1; }
  awk '{printf "%s %.3f\n", $1, $2 + $3}' "$tmp/t"
}
lammps() {  # ranks pair steps [integrator]
  args="-in $here/in.sld_spin -var n $cells -var steps $3 -var pair $2 -var plugin $build/spinlat_lammps.so
        -var integrator ${4:-nve}
        -var input $here/../../inputs/fe_sld_nve.toml -log none -screen none"
  if [ "$1" = 1 ]; then timed "$lmp" $args
  else timed mpirun --oversubscribe -np "$1" "$lmp" $args; fi
}
spin() {  # threads steps
  timed "$build/spinlat" run "$here/sld_eam.toml" -q -o "$tmp/out.h5" --set threads="$1" --set stage.0.steps="$2" \
    --set "structure.cells=[$cells, $cells, $cells]"
}
atoms=$((2 * cells * cells * cells))
rate() {  # "wall cpu" of STEPS steps, of 2 steps -> atom-steps per second
  echo "$1 $2" | awk -v n="$steps" -v a="$atoms" \
    '{printf "%.3g atom-steps/s wall  %.3g atom-steps/s cpu", a * (n - 2) / ($1 - $3), a * (n - 2) / ($2 - $4)}'
}
echo "load before: $(cut -d' ' -f1-4 /proc/loadavg)   atoms: $atoms   steps: $steps"
echo "LAMMPS eam/alloy + spin/exchange, 1 rank    $(rate "$(lammps 1 lammps $steps)" "$(lammps 1 lammps 2)")"
echo "LAMMPS eam/alloy + spin/exchange, 2 ranks   $(rate "$(lammps 2 lammps $steps)" "$(lammps 2 lammps 2)")"
echo "LAMMPS + spin/spinlat plugin, 1 rank        $(rate "$(lammps 1 spinlat $steps)" "$(lammps 1 spinlat 2)")"
echo "LAMMPS + spin/spinlat plugin, 2 ranks       $(rate "$(lammps 2 spinlat $steps)" "$(lammps 2 spinlat 2)")"
echo "LAMMPS + plugin + fix spinlat/sld, 1 rank   $(rate "$(lammps 1 spinlat $steps sld)" "$(lammps 1 spinlat 2 sld)")"
echo "spinlat sld (suzuki-trotter), 1 thread      $(rate "$(spin 1 $steps)" "$(spin 1 2)")"
echo "spinlat sld (suzuki-trotter), 2 threads     $(rate "$(spin 2 $steps)" "$(spin 2 2)")"
echo "load after: $(cut -d' ' -f1-4 /proc/loadavg)"
