#!/usr/bin/env python3
"""Upstream eager PyTorch timing for `spinlat bench learned` (run through bench-upstream-eager.sh).

The eager model is rebuilt from the model_config.json beside MODEL.pt (written by the shared
recipe) with upstream's own class, and given the TorchScript file's weights (its state_dict has
the eager module's names); the frame goes through upstream's data pipeline (make_mmace's
atoms_to_batch). Forces and magnetic forces by upstream's own autograd, as a user calls it."""
import json
import os
import resource
import sys
import time

import torch

torch.set_default_dtype(torch.float64)
torch.set_num_threads(1)

import ase.io  # noqa: E402

import make_mmace  # noqa: E402  (the shared recipe)
from mace.tools import utils as mace_utils  # noqa: E402


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kB


def main():
    model_path, frame_path = sys.argv[1], sys.argv[2]
    min_time = float(sys.argv[3]) if len(sys.argv) > 3 else 2.0
    with open(os.path.join(os.path.dirname(os.path.abspath(model_path)), "model_config.json")) as f:
        cfg = json.load(f)["config"]
    model = make_mmace.build_model(cfg, 0)
    model.load_state_dict(torch.jit.load(model_path).state_dict(), strict=True)
    at = ase.io.read(frame_path)
    at.arrays["magmom"] = at.arrays["magmom"].reshape(len(at), 3)
    z_table = mace_utils.AtomicNumberTable(cfg["atomic_numbers"])
    batch = make_mmace.atoms_to_batch(at, z_table, cfg["r_max"], cfg["heads"])
    d = batch.to_dict()
    rss0 = rss_mb()

    def call():
        out = model(dict(d), training=False, compute_force=True, compute_magforces=True)
        assert out["forces"] is not None and out["magforces"] is not None
        return out

    # The first call is a warm-up, except when it is long (> 5 s): then it is the one timed
    # (the warm-up's extra cost is small against it, and the medium model takes minutes).
    n, c0, t0 = 1, time.process_time(), time.time()
    out = call()
    if time.time() - t0 < 5.0:
        n, c0, t0 = 0, time.process_time(), time.time()
        while n < 2 or time.time() - t0 < min_time:
            out = call()
            n += 1
    cpu, wall = (time.process_time() - c0) / n, (time.time() - t0) / n
    print(f"upstream-eager atoms {len(at)} evals {n} cpu_s_per_eval {cpu:.6g} wall_s_per_eval {wall:.6g} "
          f"rss_before_MB {rss0:.1f} rss_peak_MB {rss_mb():.1f} energy {out['energy'].item():.12f}")


if __name__ == "__main__":
    main()
