#!/usr/bin/python3
"""Plot a spinlat temperature sweep: order parameter, susceptibility, specific heat and
Binder cumulant against temperature for every size, with error bars, the reweighted curves
(multiple-histogram, with their error bands) when the run stored them, and the critical
temperature (with its error band) when the run determined one; when it did not, the title says
why (critical_temperature_note).

usage: plot_sweep.py OUT.h5 [-o sweep.png] [--quantity magnetization|order_parameter]
                     [--beside OTHER.h5 [--beside-label TEXT]]

--beside draws a second sweep of the same quantities (dashed, e.g. the spin model `spinlat
map` fitted to the same learned model) and prints its critical temperature beside the first.
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


def _tc_text(s):
    """The critical temperature with its error and method, or "none" and why."""
    if np.isfinite(s["tc"]):
        return f"{s['tc']:.6g} +- {s['tc_err']:.3g} K ({s['tc_method']})"
    return "none: " + (s.get("tc_note", "") or "not determined")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file", help="spinlat output (.h5) with a /sweep group")
    p.add_argument("-o", "--output", help="PNG to write (default: <file>_sweep.png next to the input)")
    p.add_argument("--quantity", choices=["auto", "magnetization", "order_parameter"], default="auto",
                   help="top-left panel (auto: the order parameter when it differs from magnetization)")
    p.add_argument("--beside", help="a second sweep (.h5) drawn dashed, its Tc printed beside")
    p.add_argument("--beside-label", default="mapped spin model", help="what the second sweep is")
    p.add_argument("--dpi", type=int, default=120)
    args = p.parse_args(argv)

    try:
        s = load_sweep(args.file)
        other = load_sweep(args.beside) if args.beside else None
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
        if other is not None and name in other:
            for il, L in enumerate(other["size"]):
                y = other[name][il]
                ok = other["done"][il] & np.isfinite(y)
                if ok.any():
                    ax.plot(other["temperature"][ok], y[ok], ls="--", lw=1, color="0.45",
                            label=f"{args.beside_label}, L = {L}" if il == len(other["size"]) - 1 else None)
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
    if other is not None:
        title += f"\n{args.beside_label} (dashed): " + (
            f"Tc = {other['tc']:.4g} ± {other['tc_err']:.2g} K ({other['tc_method']})" if np.isfinite(other["tc"])
            else "no Tc: " + (other.get("tc_note", "").split(" [")[0] or "not determined"))
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()

    out = args.output or os.path.splitext(args.file)[0] + "_sweep.png"
    fig.savefig(out, dpi=args.dpi)
    plt.close(fig)
    print("Tc = " + _tc_text(s))
    if other is not None:
        print(f"{args.beside_label}: Tc = " + _tc_text(other))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
