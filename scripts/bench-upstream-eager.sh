#!/bin/bash
# Times upstream eager PyTorch (ACEsuit/mace pull request 1244) on one frame: energy, forces and
# magnetic forces, one thread. Called by `spinlat bench learned` for upstream TorchScript files;
# usable alone. Needs the environment of scripts/upstream-mace-env.sh (exit 3 and a reason when
# it is missing).
# Usage: scripts/bench-upstream-eager.sh MODEL.pt FRAME.xyz [MIN_SECONDS]
# Prints: upstream-eager atoms N evals K cpu_s_per_eval S wall_s_per_eval S rss_before_MB A rss_peak_MB B
set -euo pipefail
source "$(dirname "$0")/upstream-mace-env.sh"
/usr/bin/python3 "$(dirname "$0")/bench_upstream_eager.py" "$@"
