#!/usr/bin/env bash
# The bundled bcc-iron model, from scratch (docs/learned-potential.md, "The bundled iron model"):
#   1. training frames: scripts/make-teacher-data.sh fe -> out/teachers/fe_train.xyz
#      (inputs/teachers/fe_bcc_teacher.toml, seed 2024, a = 2.80/2.83/2.86 Å, 720 frames);
#   2. held-out test frames: the same teacher with another seed (7) and half the sampling
#      (400 sweeps, a frame every 40: 10 frames per temperature, 180 frames) ->
#      out/teachers/fe_test.xyz; never seen by the trainer (not even for early stopping);
#   3. spinlat train inputs/models/fe_bcc_train.toml -> inputs/models/fe_bcc.spl
#      (+ fe_bcc.metrics.toml, train/validation errors);
#   4. spinlat eval of the model on the test frames -> out/models/fe_test_eval.xyz and the
#      held-out errors (analysis/plot_learned_vs_teacher.py --metrics-only).
#
#   make model                                   (= this script with build/spinlat)
#   SPINLAT=build-x/spinlat SKIP_DATA=1 scripts/train-fe-model.sh   (reuse out/teachers/)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SPINLAT="$(realpath "${SPINLAT:-$ROOT/build/spinlat}")"
PYTHON="${PYTHON:-/usr/bin/python3}"
OUT="$ROOT/out/teachers"
MODELS="$ROOT/inputs/models"
TEST_SEED=7

if [ "${SKIP_DATA:-0}" != 1 ] || [ ! -s "$OUT/fe_train.xyz" ]; then
  SPINLAT="$SPINLAT" OUT="$OUT" "$ROOT/scripts/make-teacher-data.sh" fe
fi

if [ "${SKIP_DATA:-0}" != 1 ] || [ ! -s "$OUT/fe_test.xyz" ]; then
  # Stages 1, 3, ..., 11 of the teacher write frames; 0, 2, ..., 10 equilibrate (200 sweeps).
  sets=(--set seed=$TEST_SEED)
  for s in 1 3 5 7 9 11; do
    sets+=(--set stage.$s.sweeps=400 --set stage.$s.dataset_every=40 --set stage.$s.dataset=fe_test.xyz)
  done
  : > "$OUT/fe_test.xyz.tmp"
  for a in 2.80 2.83 2.86; do
    dir="$OUT/fe_test/a$a"
    rm -rf "$dir" && mkdir -p "$dir"
    echo "== held-out bcc Fe teacher frames, a = $a Å, seed $TEST_SEED"
    (cd "$dir" && /usr/bin/time -f "   %e s wall, %U s user" \
      "$SPINLAT" run "$ROOT/inputs/teachers/fe_bcc_teacher.toml" -o fe.h5 --set structure.a=$a "${sets[@]}" 2>&1 |
      grep -v '^\s*stages:' || true)
    cat "$dir/fe_test.xyz" >> "$OUT/fe_test.xyz.tmp"
  done
  mv "$OUT/fe_test.xyz.tmp" "$OUT/fe_test.xyz"
  echo "frames: $(grep -c Lattice= "$OUT/fe_test.xyz") in $OUT/fe_test.xyz"
fi

echo "== training (inputs/models/fe_bcc_train.toml)"
mkdir -p "$ROOT/out/models"   # checkpoint and log
/usr/bin/time -f "   %e s wall, %U s user" "$SPINLAT" train "$MODELS/fe_bcc_train.toml"

echo "== held-out errors"
"$SPINLAT" eval "$ROOT/inputs/fe_learned_curie.toml" "$OUT/fe_test.xyz" -o "$ROOT/out/models/fe_test_eval.xyz"
"$PYTHON" "$ROOT/analysis/plot_learned_vs_teacher.py" "$ROOT/out/models/fe_test_eval.xyz" --metrics-only
