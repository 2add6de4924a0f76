#!/usr/bin/python3
"""Plot the table of a `spinlat screen`: ordering temperatures and anisotropy energies.

usage: plot_screen.py OUT/screen.h5 [-o screen.png]

Reads /screen (docs/screen.md): one row per structure. Top panel: the mapped model's
mean-field ordering temperature and its Monte Carlo ordering temperature with error bars; a
structure whose Monte Carlo estimate is "none" gets no bar but its reason, printed and written
beside the axis. Bottom panel: the anisotropy energy of every axis (meV per magnetic atom,
relative to the easy axis). Prints one line per structure.
"""
import argparse
import sys

import matplotlib

matplotlib.use("Agg")  # no display needed
import h5py  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def text(ds):
    return [x.decode() if isinstance(x, bytes) else str(x) for x in ds[()]]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("table", help="screen.h5 written by spinlat screen")
    ap.add_argument("-o", "--output", default="screen.png")
    a = ap.parse_args(argv)
    try:
        f = h5py.File(a.table, "r")
    except OSError as e:
        sys.exit(f"{a.table}: cannot open ({e})")
    if "screen" not in f:
        sys.exit(f"{a.table}: no /screen group (not written by spinlat screen?)")
    g = f["screen"]
    names = text(g["structure"])
    tmf = g["tc_mean_field"][()]
    tmc = g["tc_monte_carlo"][()]
    tmc_err = g["tc_monte_carlo_err"][()]
    method = text(g["tc_method"])
    note = text(g["tc_note"])
    mae = np.atleast_2d(g["anisotropy"][()])
    axes = [x.decode() if isinstance(x, bytes) else str(x) for x in g.attrs["axes"]]
    easy = text(g["easy_axis"])
    order = text(g["order"])

    n = len(names)
    x = np.arange(n)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(max(6.0, 1.2 * n + 2), 7), sharex=True)
    top.bar(x - 0.2, tmf, 0.4, label="mean field (mapped model)", color="0.7")
    ok = np.isfinite(tmc)
    top.bar(x[ok] + 0.2, tmc[ok], 0.4, yerr=tmc_err[ok], capsize=3, label="Monte Carlo (mapped model)", color="C0")
    for k in np.where(~ok)[0]:
        top.text(x[k] + 0.2, 0.0, "none", rotation=90, ha="center", va="bottom", fontsize=8, color="C3")
    top.set_ylabel("ordering temperature (K)")
    top.legend(fontsize=8)
    width = 0.8 / max(1, len(axes))
    for j, axis in enumerate(axes):
        bottom.bar(x - 0.4 + (j + 0.5) * width, mae[:, j], width, label=f"[{axis}]")
    bottom.set_ylabel("E(axis) - E(easy) (meV / magnetic atom)")
    bottom.legend(fontsize=8, ncol=len(axes))
    bottom.set_xticks(x)
    bottom.set_xticklabels(names, rotation=30, ha="right")
    fig.tight_layout()
    fig.savefig(a.output, dpi=120)
    for k in range(n):
        tc = f"{tmc[k]:.1f} +- {tmc_err[k]:.1f} K ({method[k]})" if ok[k] else f"none: {note[k]}"
        print(f"{names[k]}: {order[k]}, easy axis {easy[k]}, Tc mean field {tmf[k]:.0f} K, Monte Carlo {tc}")
    print(f"wrote {a.output}")


if __name__ == "__main__":
    main()
