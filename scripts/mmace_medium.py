#!/usr/bin/env python3
"""Upstream magnetic MACE models made by the shared recipe (../shared/mmace/recipe/make_mmace.py)
with only its CONFIG changed (--preset):
  medium  issue 12's MACE-MP-medium-like model (64x0e+64x1o, max_ell 2, 2 interactions,
          correlation 3, r_max 5 A, radial MLP [64, 64, 64] as MACE-MP). Too large to commit
          (~4.5 MB TorchScript); make it where you need it.
  ch16    the 16-channel test fixture tests/data/mace16 (16x0e+16x1o, max_ell 1, correlation 3,
          radial MLP [16, 16], otherwise the shared fixture's settings): the smallest model whose
          edge tensor products run several 8-channel groups per kernel call.
--round-weights B rounds every parameter to a multiple of 2^-B before the export (random weights
either way; a converted file prints such numbers in ~10 characters instead of 20).
--full-xyz also writes frames_ref_full.xyz: the reference frames with every number at full
precision (ASE's extxyz prints per-atom columns with 8 decimals), from frames_ref.npz.
--count prints the parameter count only.
Run through scripts/make-mmace-medium.sh, which sets PYTHONPATH as the recipe's regenerate.sh
does."""
import argparse
import os
import sys

import numpy as np
import torch

import make_mmace  # the shared recipe, on PYTHONPATH

PRESETS = {
    "medium": dict(
        r_max=5.0,
        num_bessel=8,
        hidden_irreps="64x0e+64x1o",
        correlation=3,
        radial_MLP=[64, 64, 64],
        # bcc Fe at a = 2.87 A: 8 + 6 + 12 + 24 + 8 neighbours within 5 A
        avg_num_neighbors=58.0,
    ),
    "ch16": dict(
        hidden_irreps="16x0e+16x1o",
        max_ell=1,
        correlation=3,
        radial_MLP=[16, 16],
    ),
}


def round_parameters(build, bits):
    """build_model, then every parameter rounded to a multiple of 2^-bits."""

    def rounded(cfg, seed):
        model = build(cfg, seed)
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(torch.round(p * 2.0**bits) / 2.0**bits)
        return model

    return rounded


def write_full_xyz(out):
    """frames_ref.xyz with every number from frames_ref.npz / the header at full precision."""
    import ase.io

    frames = ase.io.read(os.path.join(out, "frames_ref.xyz"), ":")
    ref = np.load(os.path.join(out, "frames_ref.npz"))

    def arr(a):  # shortest text that reads back the same double
        return " ".join(repr(float(x)) for x in np.reshape(a, -1))

    with open(os.path.join(out, "frames_ref_full.xyz"), "w") as f:
        for k, at in enumerate(frames):
            # the xyz's positions and moments are the npz's (both rounded to 8 decimals)
            assert np.array_equal(at.positions, ref["positions"][k])
            assert np.array_equal(at.arrays["magmom"], ref["magmom"][k])
            f.write(f"{len(at)}\n")
            lat = arr(at.cell.array)
            f.write(
                f'Lattice="{lat}" Properties=species:S:1:pos:R:3:magmom:R:3:REF_forces:R:3:REF_magforces:R:3:'
                f'REF_node_energy:R:1 REF_energy={arr(ref["REF_energy"][k])} REF_stress="{arr(ref["REF_stress"][k])}" '
                f'REF_stress_full="{arr(ref["REF_stress_full"][k])}" REF_virial="{arr(at.info["REF_virial"])}" '
                f'n_edges={at.info["n_edges"]} config_type={at.info["config_type"]} pbc="T T T"\n'
            )
            for i, s in enumerate(at.get_chemical_symbols()):
                row = [ref["positions"][k][i], ref["magmom"][k][i], ref["REF_forces"][k][i],
                       ref["REF_magforces"][k][i], [ref["REF_node_energy"][k][i]]]
                f.write(s + " " + " ".join(arr(r) for r in row) + "\n")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(add_help=False)
    ap.add_argument("--preset", choices=sorted(PRESETS), default="medium")
    ap.add_argument("--round-weights", type=int, default=None)
    ap.add_argument("--full-xyz", action="store_true")
    ap.add_argument("--count", action="store_true")
    args, rest = ap.parse_known_args()
    make_mmace.CONFIG.update(PRESETS[args.preset])
    if args.round_weights is not None:
        make_mmace.build_model = round_parameters(make_mmace.build_model, args.round_weights)
    if args.count:  # parameter count only
        m = make_mmace.build_model(make_mmace.CONFIG, 0)
        print(sum(p.numel() for p in m.parameters()))
        sys.exit(0)
    sys.argv = [sys.argv[0]] + rest  # the recipe's own options (--out, seeds)
    make_mmace.main()
    if args.full_xyz:
        out = rest[rest.index("--out") + 1]
        write_full_xyz(out)
