#!/usr/bin/env bash
# Learning curves on the real NiO DFT frames (docs/learned-potential.md "NiO from DFT"):
# validation error on all of ../shared/data/nio-dft/data_1 against the number N of training
# frames of data_0, for a model trained from scratch (inputs/nio/dft_scratch.toml) and one
# fine-tuned from a model pre-trained on teacher frames (inputs/nio/dft_finetune.toml).
#
#   scripts/nio-learning-curve.sh                 # all N, both modes, then the plot
#   NS="2 8 60" MODES=scratch JOBS=2 scripts/nio-learning-curve.sh
#   EXTRA="--set train.freeze=[\"embedding\"]" TAG=freeze scripts/nio-learning-curve.sh
#
# Environment: SPINLAT (default build/spinlat), OUT (default out/nio/curve), NS, MODES,
# STEPS, PATIENCE_STEPS (the schedule, below), JOBS (trainings at once, one LibTorch thread each; default 1), EXTRA (more --set options for
# the fine-tuned runs), TAG (suffix of the fine-tuned mode's folder, default none).
# Missing inputs are made first: the teacher frames (scripts/make-teacher-data.sh nio and
# inputs/nio/nio_teacher_lowT.toml) and the pre-trained model (inputs/nio/nio_pretrain.toml,
# a few minutes on one core).
# Each run writes $OUT/<mode>/N<N>.{spl,csv,metrics.toml,txt}; the .metrics.toml files are what
# analysis/plot_learning_curve.py reads. Wall and CPU seconds of each run go to its .txt.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SPINLAT="$(realpath "${SPINLAT:-$ROOT/build/spinlat}")"
OUT="$(mkdir -p "${OUT:-$ROOT/out/nio/curve}" && realpath "${OUT:-$ROOT/out/nio/curve}")"
NS="${NS:-1 2 4 8 16 32 60}"
MODES="${MODES:-scratch finetune}"
JOBS="${JOBS:-1}"
EXTRA="${EXTRA:-}"
TAG="${TAG:-}"
DFT="$ROOT/../shared/data/nio-dft"
[ -d "$DFT/data_0" ] && [ -d "$DFT/data_1" ] || { echo "no DFT data in $DFT" >&2; exit 2; }

# ---- pre-training inputs (made once; the paths are those nio_pretrain.toml names) ----------
if [[ " $MODES " == *" finetune "* ]] && [ ! -f "$ROOT/out/nio/pretrained.spl" ]; then
  [ -f "$ROOT/out/teachers/nio/nio_train.xyz" ] || SPINLAT="$SPINLAT" "$ROOT/scripts/make-teacher-data.sh" nio
  if [ ! -f "$ROOT/out/nio/teacher_lowT/nio_lowT.xyz" ]; then
    mkdir -p "$ROOT/out/nio/teacher_lowT"
    (cd "$ROOT/out/nio/teacher_lowT" && "$SPINLAT" run "$ROOT/inputs/nio/nio_teacher_lowT.toml" -o t.h5 --quiet)
  fi
  echo "== pre-training on the teacher frames -> out/nio/pretrained.spl"
  /usr/bin/time -f "   %e s wall, %U s CPU" "$SPINLAT" train "$ROOT/inputs/nio/nio_pretrain.toml" \
    --set train.print_every=10
fi

# The schedule is counted in optimiser steps, not epochs, so that small N is not cut short:
# a scratch model sits on a zero-force plateau for a few hundred steps before it learns forces
# (with an epoch-based patience of 40, every scratch run up to N = 16 stopped there). Batch
# size by N (1, 2, then 4), at most STEPS steps, early stopping after PATIENCE_STEPS steps
# without a better validation loss, the rate halved after a quarter of that; the same for both
# modes.
STEPS="${STEPS:-1500}"
PATIENCE_STEPS="${PATIENCE_STEPS:-600}"
batch_of() { local n=$1; if [ "$n" -le 4 ]; then echo 1; elif [ "$n" -le 8 ]; then echo 2; else echo 4; fi; }
per_epoch() { local n=$1 b; b=$(batch_of "$n"); echo $(( (n + b - 1) / b )); }
ceil_div() { echo $(( ($1 + $2 - 1) / $2 )); }

run_one() {
  local mode=$1 n=$2 dir cfg extra=() spe
  spe=$(per_epoch "$n")
  case "$mode" in
    scratch)  cfg="$ROOT/inputs/nio/dft_scratch.toml";  dir="$OUT/scratch" ;;
    finetune) cfg="$ROOT/inputs/nio/dft_finetune.toml"; dir="$OUT/finetune${TAG:+_$TAG}"
              # shellcheck disable=SC2206
              extra=($EXTRA) ;;
    *) echo "unknown mode '$mode' (scratch, finetune)" >&2; return 2 ;;
  esac
  mkdir -p "$dir"
  rm -f "$dir/N$n.csv"
  /usr/bin/time -f "time: %e s wall, %U s CPU" "$SPINLAT" train "$cfg" \
    --set data.max_frames="$n" --set train.batch_size="$(batch_of "$n")" \
    --set train.epochs="$(ceil_div "$STEPS" "$spe")" --set train.patience="$(ceil_div "$PATIENCE_STEPS" "$spe")" \
    --set train.lr_patience="$(ceil_div "$PATIENCE_STEPS" $((4 * spe)))" \
    --set train.output="$dir/N$n.spl" --set train.log="$dir/N$n.csv" --set train.checkpoint='""' \
    --set train.print_every=10 "${extra[@]}" > "$dir/N$n.txt" 2>&1
  printf '%-10s N=%-3s %s   valid: %s\n' "$mode" "$n" "$(tail -n 1 "$dir/N$n.txt")" \
    "$(grep '^validation' "$dir/N$n.txt" | tr -s ' ')"
}

start=$(date +%s)
for n in $NS; do
  for mode in $MODES; do
    run_one "$mode" "$n" &
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  done
done
wait
echo "all runs: $(( $(date +%s) - start )) s wall"
ls "$OUT"/*/N*.metrics.toml | sed 's/^/  /'
/usr/bin/python3 "$ROOT/analysis/plot_learning_curve.py" "$OUT" -o "$OUT/learning_curve.png"
