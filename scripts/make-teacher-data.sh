#!/usr/bin/env bash
# Labelled training frames from the teacher Hamiltonians (inputs/teachers/, docs/input.md
# "Training data"). Writes under out/teachers/ (not committed):
#   fe/a2.80/ fe/a2.83/ fe/a2.86/   one run of fe_bcc_teacher.toml per lattice constant
#   fe_train.xyz                    the three concatenated (3 × 6 temperatures × 40 frames)
#   nio/nio_train.xyz               nio_teacher.toml (6 temperatures × 40 frames)
#
#   scripts/make-teacher-data.sh [fe] [nio]     (default: both)
#   SPINLAT=build/spinlat OUT=out/teachers scripts/make-teacher-data.sh fe
#
# Dataset paths in the inputs are relative to the working directory (like [output] file), so
# each run happens in its own folder. One thread per run (the inputs set threads = 1); the runs
# are independent and could go in parallel.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SPINLAT="$(realpath "${SPINLAT:-$ROOT/build/spinlat}")"
OUT="${OUT:-$ROOT/out/teachers}"
WHAT=("$@")
[ ${#WHAT[@]} -eq 0 ] && WHAT=(fe nio)

for what in "${WHAT[@]}"; do
  case "$what" in
    fe)
      : > "$OUT/fe_train.xyz.tmp" 2>/dev/null || { mkdir -p "$OUT"; : > "$OUT/fe_train.xyz.tmp"; }
      for a in 2.80 2.83 2.86; do
        dir="$OUT/fe/a$a"
        rm -rf "$dir" && mkdir -p "$dir"
        echo "== bcc Fe teacher, a = $a Å"
        (cd "$dir" && /usr/bin/time -f "   %e s wall, %U s user" \
          "$SPINLAT" run "$ROOT/inputs/teachers/fe_bcc_teacher.toml" -o fe.h5 --set structure.a=$a 2>&1 |
          grep -v '^\s*stages:' || true)
        cat "$dir/fe_train.xyz" >> "$OUT/fe_train.xyz.tmp"
      done
      mv "$OUT/fe_train.xyz.tmp" "$OUT/fe_train.xyz"
      echo "frames: $(grep -c Lattice= "$OUT/fe_train.xyz") in $OUT/fe_train.xyz"
      ;;
    nio)
      dir="$OUT/nio"
      rm -rf "$dir" && mkdir -p "$dir"
      echo "== NiO teacher"
      (cd "$dir" && /usr/bin/time -f "   %e s wall, %U s user" \
        "$SPINLAT" run "$ROOT/inputs/teachers/nio_teacher.toml" -o nio.h5 2>&1 | grep -v '^\s*stages:' || true)
      echo "frames: $(grep -c Lattice= "$dir/nio_train.xyz") in $dir/nio_train.xyz"
      ;;
    *) echo "unknown teacher '$what' (fe, nio)" >&2; exit 2 ;;
  esac
done
