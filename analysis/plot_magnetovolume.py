#!/usr/bin/python3
"""Plot the magnetovolume effect from two NPT hybrid sweeps (inputs/fe_magnetovolume.toml):
lattice parameter a(T) with error bars for the magnetic run and the nonmagnetic baseline
(exchange off), their difference Δa/a, and the magnetization, with Tc of the magnetic run.

usage: plot_magnetovolume.py MAGNETIC.h5 BASELINE.h5 [-o magnetovolume.png]

Prints a table T, a_mag, a_base, Δa/a (%) and the low-temperature Δa/a.
"""
import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")  # no display needed
import h5py  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from spinlat_h5 import load_sweep  # noqa: E402


def load(path, size_index=0):
    """Temperature, a, a_err, magnetization and its error of one size; Tc attributes."""
    s = load_sweep(path)
    with h5py.File(path, "r") as f:
        g = f["/sweep"]
        if "lattice_parameter" not in g:
            raise KeyError(f"{path}: no /sweep/lattice_parameter (not an NPT hybrid sweep: give pressure = ...)")
        a = np.asarray(g["lattice_parameter"][()], dtype=float)[size_index]
        a_err = np.asarray(g["lattice_parameter_err"][()], dtype=float)[size_index]
    return {"T": s["temperature"], "a": a, "a_err": a_err, "m": s["magnetization"][size_index],
            "m_err": s["magnetization_err"][size_index], "tc": s["tc"], "tc_err": s["tc_err"],
            "L": int(s["size"][size_index])}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("magnetic", help="NPT sweep with the exchange on")
    p.add_argument("baseline", help="the same sweep with the exchange off (--set potential.1.a=0.0)")
    p.add_argument("-o", "--output", help="PNG to write (default: <magnetic>_magnetovolume.png)")
    p.add_argument("--dpi", type=int, default=120)
    args = p.parse_args(argv)
    try:
        mag, base = load(args.magnetic), load(args.baseline)
    except (OSError, KeyError) as e:
        print(f"plot_magnetovolume: {e}", file=sys.stderr)
        return 1
    if mag["T"].shape != base["T"].shape or not np.allclose(mag["T"], base["T"]):
        print("plot_magnetovolume: the two sweeps have different temperatures", file=sys.stderr)
        return 1

    T = mag["T"]
    d = (mag["a"] - base["a"]) / base["a"]
    d_err = np.hypot(mag["a_err"], base["a_err"]) / base["a"]
    tc, tc_err = mag["tc"], mag["tc_err"]

    fig, (ax_a, ax_d, ax_m) = plt.subplots(3, 1, figsize=(7, 10), sharex=True,
                                           gridspec_kw={"height_ratios": [2, 1.3, 1]})
    ax_a.errorbar(T, mag["a"], yerr=mag["a_err"], fmt="o-", ms=4, capsize=3, label="magnetic (Bethe-Slater exchange)")
    ax_a.errorbar(T, base["a"], yerr=base["a_err"], fmt="s--", ms=4, capsize=3, label="nonmagnetic baseline (exchange off)")
    ax_a.set_ylabel("lattice parameter a (Å)")
    ax_a.set_title(f"bcc Fe (Mishin EAM + Bethe-Slater), NPT at P = 0, L = {mag['L']}")
    ax_d.errorbar(T, 100 * d, yerr=100 * d_err, fmt="o-", ms=4, capsize=3, color="C3")
    ax_d.axhline(0.0, color="0.5", lw=0.8)
    ax_d.set_ylabel("Δa/a = (a_mag − a_base)/a_base (%)")
    ax_m.errorbar(T, mag["m"], yerr=mag["m_err"], fmt="o-", ms=4, capsize=3, color="C2")
    ax_m.set_ylabel("magnetization |M|/M_s")
    ax_m.set_xlabel("temperature (K)")
    for ax in (ax_a, ax_d, ax_m):
        if np.isfinite(tc):
            ax.axvline(tc, color="k", ls=":", lw=1)
            if np.isfinite(tc_err):
                ax.axvspan(tc - tc_err, tc + tc_err, color="0.85", zorder=0)
        ax.grid(alpha=0.3)
    if np.isfinite(tc):
        ax_a.plot([], [], "k:", label=f"Tc = {tc:.0f} ± {tc_err:.0f} K")
    ax_a.legend(loc="upper left", fontsize=9)
    fig.tight_layout()
    out = args.output or os.path.splitext(args.magnetic)[0] + "_magnetovolume.png"
    fig.savefig(out, dpi=args.dpi)

    print(f"{'T (K)':>7} {'a_mag (Å)':>18} {'a_base (Å)':>18} {'Δa/a (%)':>16} {'|M|':>6}")
    for k in range(T.size):
        print(f"{T[k]:7.0f} {mag['a'][k]:10.5f} ± {mag['a_err'][k]:.5f} {base['a'][k]:10.5f} ± {base['a_err'][k]:.5f}"
              f" {100 * d[k]:8.3f} ± {100 * d_err[k]:.3f} {mag['m'][k]:6.3f}")
    k = int(np.nanargmin(T))
    print(f"lowest T = {T[k]:.0f} K: Δa/a = {100 * d[k]:.3f} ± {100 * d_err[k]:.3f} % "
          f"({'contraction' if d[k] < 0 else 'expansion'} on ordering); Tc = {tc:.0f} ± {tc_err:.0f} K")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
