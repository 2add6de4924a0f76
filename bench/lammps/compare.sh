#!/bin/sh
# spinlat against LAMMPS on the same machine, same model, same inputs (docs/performance.md,
# "spinlat against LAMMPS"). Needs Debian's `lammps` (the lmp binary) and `lammps-examples`
# (Fe_Mishin2006.eam.alloy):  apt-get install lammps lammps-examples
#
#   bench/lammps/compare.sh [SPINLAT] [REPS] [CELLS] [STEPS] [MODEL]
#
# MODEL: eam (default: Mishin Fe EAM, in.md_eam / md_eam.toml, and spinlat's SLD speed input)
# or morse (a Morse pair potential on the same crystal, in.md_morse / md_morse.toml).
# Whole-process timings of an N-step run minus a 10-step run of the same input (start-up and
# set-up subtracted), per step; wall clock and CPU (user + sys) seconds. One thread: spinlat
# threads = 1, LAMMPS serial; two: spinlat threads = 2, LAMMPS `mpirun -np 2` (Debian's lmp
# has no OPENMP package). Every case is repeated REPS times, interleaved, so that a change in
# the machine's load hits all of them alike; the load average is printed before and after.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
spinlat=$(realpath "${1:-$here/../../build/spinlat}")
reps=${2:-3}
cells=${3:-10}
steps=${4:-2000}
model=${5:-eam}
case "$model" in eam|morse) ;; *) echo "MODEL must be eam or morse, not '$model'"; exit 2 ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

# Prints "wall cpu" seconds of a command.
timed() {
  /usr/bin/time -f "%e %U %S" -o "$tmp/t" "$@" > /dev/null 2>&1
  awk '{printf "%s %.3f\n", $1, $2 + $3}' "$tmp/t"
}
lammps() {  # threads steps
  if [ "$1" = 1 ]; then timed lmp -in "$here/in.md_$model" -var n "$cells" -var steps "$2" -log none -screen none
  else timed mpirun --allow-run-as-root --oversubscribe -np "$1" lmp -in "$here/in.md_$model" -var n "$cells" -var steps "$2" -log none -screen none; fi
}
spin() {  # input threads steps
  timed "$spinlat" run "$here/$1" -q -o "$tmp/out.h5" --set threads="$2" --set stage.0.steps="$3" \
    --set "structure.cells=[$cells, $cells, $cells]"
}
[ -x "$spinlat" ] || { echo "no spinlat binary at $spinlat"; exit 2; }
per_step() {  # "wall cpu" of N steps, of 10 steps -> ms per step
  echo "$1 $2" | awk -v n="$steps" '{printf "%.3f ms wall  %.3f ms cpu", ($1 - $3) * 1000 / (n - 10), ($2 - $4) * 1000 / (n - 10)}'
}
echo "load before: $(cut -d' ' -f1-4 /proc/loadavg)   atoms: $((2 * cells * cells * cells))   steps: $steps"
r=1
while [ "$r" -le "$reps" ]; do
  for t in 1 2; do
    echo "rep $r  threads $t  LAMMPS $model MD        $(per_step "$(lammps $t $steps)" "$(lammps $t 10)")"
    echo "rep $r  threads $t  spinlat $model MD       $(per_step "$(spin "md_$model.toml" $t $steps)" "$(spin "md_$model.toml" $t 10)")"
    if [ "$model" = eam ]; then
      echo "rep $r  threads $t  spinlat EAM+BS SLD     $(per_step "$(spin sld_eam.toml $t $steps)" "$(spin sld_eam.toml $t 10)")"
    fi
  done
  r=$((r + 1))
done
echo "load after: $(cut -d' ' -f1-4 /proc/loadavg)"
