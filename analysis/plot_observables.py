#!/usr/bin/python3
"""Plot the time series of a spinlat run (`/observables/*`): energies, magnetization and
temperatures against time (dynamics) or Monte Carlo sweeps.

usage: plot_observables.py OUT.h5 [-o observables.png] [--names total_energy,magnetization]
"""
import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from spinlat_h5 import load_observables  # noqa: E402

# Panels: observables sharing a unit and a meaning are drawn together. Energies get a panel
# each: kinetic and potential energies differ by orders of magnitude, and a drift of the total
# would be invisible on a shared axis.
GROUPS = [("temperature (K)", lambda n: n == "temperature" or n.endswith("_temperature")),
          ("magnetization", lambda n: n == "magnetization"),
          ("magnetization vector (μB)", lambda n: n == "magnetization_vector")]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file", help="spinlat output (.h5) with /observables")
    p.add_argument("-o", "--output", help="PNG to write (default: <file>_observables.png)")
    p.add_argument("--names", help="comma-separated observables (default: all)")
    p.add_argument("--x", choices=["auto", "time", "step"], default="auto",
                   help="x axis (auto: time in ps if it advances, else step)")
    p.add_argument("--dpi", type=int, default=120)
    args = p.parse_args(argv)

    names = args.names.split(",") if args.names else None
    try:
        obs = load_observables(args.file, names)
    except OSError as e:
        print(f"plot_observables: {e}", file=sys.stderr)
        return 1
    if not obs:
        print(f"plot_observables: {args.file} has no observables", file=sys.stderr)
        return 1

    panels, used = [], set()
    for n in sorted(obs, key=lambda n: ("potential" not in n, "kinetic" not in n, n)):
        if n == "energy" or n.endswith("_energy"):
            unit = obs[n]["unit"]
            panels.append((f"{n} ({unit}/atom)" if unit == "eV" else n, [n]))
            used.add(n)
    for title, match in GROUPS:
        members = [n for n in sorted(obs) if match(n)]
        if members:
            panels.append((title, members))
            used.update(members)
    for n in sorted(set(obs) - used):
        unit = obs[n]["unit"]
        panels.append((n + (f" ({unit})" if unit else ""), [n]))

    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 2.4 * len(panels) + 0.6), sharex=True, squeeze=False)
    xlabel = "step"
    for ax, (title, members) in zip(axes[:, 0], panels):
        for n in members:
            d = obs[n]
            use_time = args.x == "time" or (args.x == "auto" and np.ptp(d["time"]) > 0 if d["time"].size else False)
            x = d["time"] if use_time else d["step"]
            xlabel = "time (ps)" if use_time else "step (sweeps or steps)"
            v = d["value"]
            if v.ndim == 1:
                ax.plot(x, v, lw=1, label=n)
            else:
                for k in range(v.shape[1]):
                    ax.plot(x, v[:, k], lw=1, label=f"{n}[{'xyz'[k] if v.shape[1] == 3 else k}]")
        ax.set_ylabel(title, fontsize=9)
        ax.legend(fontsize=8, loc="best")
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel(xlabel)
    fig.suptitle(os.path.basename(args.file))
    fig.tight_layout()
    out = args.output or os.path.splitext(args.file)[0] + "_observables.png"
    fig.savefig(out, dpi=args.dpi)
    plt.close(fig)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
