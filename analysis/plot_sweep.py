#!/usr/bin/python3
"""Plot a spinlat temperature sweep: order parameter, susceptibility, specific heat and
Binder cumulant against temperature for every size, with error bars, the reweighted curves
(multiple-histogram, with their error bands) when the run stored them, and the critical
temperature (with its error band) when the run determined one; when it did not, the title says
why (critical_temperature_note).

usage: plot_sweep.py OUT.h5 [-o sweep.png] [--quantity magnetization|order_parameter]
"""
import argparse
import os
import sys
import textwrap

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from spinlat_h5 import load_sweep  # noqa: E402


def _label(name, units):
    unit = units.get(name, "")
    return name.replace("_", " ") + (f" ({unit})" if unit else "")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file", help="spinlat output (.h5) with a /sweep group")
    p.add_argument("-o", "--output", help="PNG to write (default: <file>_sweep.png next to the input)")
    p.add_argument("--quantity", choices=["auto", "magnetization", "order_parameter"], default="auto",
                   help="top-left panel (auto: the order parameter when it differs from magnetization)")
    p.add_argument("--dpi", type=int, default=120)
    args = p.parse_args(argv)

    try:
        s = load_sweep(args.file)
    except (OSError, KeyError) as e:
        print(f"plot_sweep: {e}", file=sys.stderr)
        return 1

    order = args.quantity
    if order == "auto":
        m, o = s["magnetization"], s["order_parameter"]
        both = np.isfinite(m) & np.isfinite(o)
        order = "order_parameter" if both.any() and not np.allclose(m[both], o[both]) else "magnetization"
        if not np.isfinite(m).any() and np.isfinite(o).any():
            order = "order_parameter"

    T = s["temperature"]
    panels = [(order, _label(order, s["units"])),
              ("susceptibility", _label("susceptibility", s["units"])),
              ("specific_heat", _label("specific_heat", s["units"])),
              ("binder", "Binder cumulant U4")]
    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5), sharex=True)
    tc, tc_err = s["tc"], s["tc_err"]
    rw = s.get("reweighted")
    for ax, (name, ylabel) in zip(axes.flat, panels):
        for il, L in enumerate(s["size"]):
            y = s[name][il]
            err = s.get(name + "_err", np.full_like(y, np.nan))[il]
            ok = s["done"][il] & np.isfinite(y)
            if not ok.any():
                continue
            e = np.where(np.isfinite(err[ok]), err[ok], 0.0)
            has_curve = rw is not None and name in rw and L in list(rw["size"])
            line = ax.errorbar(T[ok], y[ok], yerr=e, marker="o", ms=3, capsize=2, lw=1,
                               ls="none" if has_curve else "-", label=f"L = {L}")
            if has_curve:
                k = list(rw["size"]).index(L)
                yc, ec = rw[name][k], rw[name + "_err"][k]
                color = line[0].get_color()
                ax.plot(rw["temperature"], yc, color=color, lw=1)
                ax.fill_between(rw["temperature"], yc - ec, yc + ec, color=color, alpha=0.2, lw=0)
        if np.isfinite(tc):
            ax.axvline(tc, color="k", ls="--", lw=1)
            if np.isfinite(tc_err) and tc_err > 0:
                ax.axvspan(tc - tc_err, tc + tc_err, color="0.5", alpha=0.25, lw=0)
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("temperature (K)")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        axes[0, 0].legend(handles, labels, fontsize=8)
    title = os.path.basename(args.file)
    if np.isfinite(tc):
        title += f"   Tc = {tc:.4g} ± {tc_err:.2g} K ({s['tc_method']})"
    else:
        # No number without a transition: say why, wrapped to the figure width.
        note = s.get("tc_note", "").split(" [")[0] or "not determined"
        title += "\nno Tc: " + "\n".join(textwrap.wrap(note, 110))
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()

    out = args.output or os.path.splitext(args.file)[0] + "_sweep.png"
    fig.savefig(out, dpi=args.dpi)
    plt.close(fig)
    if np.isfinite(tc):
        print(f"Tc = {tc:.6g} +- {tc_err:.3g} K ({s['tc_method']})")
    else:
        print("Tc = none: " + (s.get("tc_note", "") or "not determined"))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
