#!/usr/bin/env python3
"""The MACE-MP-medium-like upstream magnetic MACE model of issue 12 (64x0e+64x1o, max_ell 2,
2 interactions, correlation 3, r_max 5 A, radial MLP [64, 64, 64] as MACE-MP; the count is printed), made by
the shared recipe (../shared/mmace/recipe/make_mmace.py) with only its CONFIG changed.
Run through scripts/make-mmace-medium.sh, which sets PYTHONPATH as the recipe's regenerate.sh
does. Too large to commit (~3 MB TorchScript); make it where you need it."""
import sys

import make_mmace  # the shared recipe, on PYTHONPATH

MEDIUM = dict(
    r_max=5.0,
    num_bessel=8,
    hidden_irreps="64x0e+64x1o",
    correlation=3,
    radial_MLP=[64, 64, 64],
    # bcc Fe at a = 2.87 A: 8 + 6 + 12 + 24 + 8 neighbours within 5 A
    avg_num_neighbors=58.0,
)

if __name__ == "__main__":
    make_mmace.CONFIG.update(MEDIUM)
    if "--count" in sys.argv:  # parameter count only
        m = make_mmace.build_model(make_mmace.CONFIG, 0)
        print(sum(p.numel() for p in m.parameters()))
        sys.exit(0)
    make_mmace.main()
