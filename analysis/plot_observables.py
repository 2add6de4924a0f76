#!/usr/bin/python3
"""Plot the time series of a spinlat run (`/observables/*`): energies, magnetization and
temperatures against time (dynamics) or Monte Carlo sweeps.

usage: plot_observables.py OUT.h5 [-o observables.png] [--names total_energy,magnetization]

Energies are drawn as ΔE(t) = E(t) − E(first sample), with E(first sample) in the axis label:
a drift of 1e-7 eV/atom on top of −4 eV/atom is invisible on an offset axis. Observables that
are identically zero (e.g. a barostat-free pressure) are left out. Stage boundaries from
`/stages` are dashed vertical lines; the title is the input's `title` when it has one.
"""
import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from spinlat_h5 import load_observables, load_stages, root_info  # noqa: E402

# Panels: observables sharing a unit and a meaning are drawn together. Energies get a panel
# each: kinetic and potential energies differ by orders of magnitude, and a drift of the total
# would be invisible on a shared axis.
GROUPS = [("temperature (K)", lambda n: n == "temperature" or n.endswith("_temperature")),
          ("magnetization, sublattice order", lambda n: n in ("magnetization", "sublattice_order")),
          ("magnetization vector (μB/atom)", lambda n: n == "magnetization_vector")]


def is_energy(name):
    return name == "energy" or name.endswith("_energy")


def meaningful(d):
    """False for a series that carries no information: empty or identically zero."""
    v = d["value"]
    return v.size > 0 and np.any(v != 0)


def energy_label(name, unit, e0):
    unit = unit or "eV/atom"
    if unit == "eV":  # files written before energies carried "eV/atom"
        unit = "eV/atom"
    return f"Δ{name} ({unit})\nfrom {e0:.6f}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file", help="spinlat output (.h5) with /observables")
    p.add_argument("-o", "--output", help="PNG to write (default: <file>_observables.png)")
    p.add_argument("--names", help="comma-separated observables (default: all that are not identically zero)")
    p.add_argument("--x", choices=["auto", "time", "step"], default="auto",
                   help="x axis (auto: time in ps if it advances, else step)")
    p.add_argument("--absolute", action="store_true", help="energies as E(t), not E(t) − E(0)")
    p.add_argument("--dpi", type=int, default=120)
    args = p.parse_args(argv)

    names = args.names.split(",") if args.names else None
    try:
        obs = load_observables(args.file, names)
        info = root_info(args.file)
        stages = load_stages(args.file)
    except OSError as e:
        print(f"plot_observables: {e}", file=sys.stderr)
        return 1
    if names is None:
        obs = {n: d for n, d in obs.items() if meaningful(d)}
        # Without a lattice the total energy is the potential energy: one panel, not two.
        tot, pot = obs.get("total_energy"), obs.get("potential_energy")
        if tot is not None and pot is not None and np.array_equal(tot["value"], pot["value"]):
            del obs["total_energy"]
    if not obs:
        print(f"plot_observables: {args.file} has no observables", file=sys.stderr)
        return 1

    panels, used = [], set()
    for n in sorted(obs, key=lambda n: ("potential" not in n, "kinetic" not in n, n)):
        if is_energy(n):
            panels.append((None, [n]))
            used.add(n)
    for title, match in GROUPS:
        members = [n for n in sorted(obs) if match(n)]
        if members:
            panels.append((title, members))
            used.update(members)
    for n in sorted(set(obs) - used):
        unit = obs[n]["unit"]
        panels.append((n + (f" ({unit})" if unit else ""), [n]))

    # One x axis for the whole figure: time when it advances anywhere, else the step.
    any_time = any(d["time"].size and np.ptp(d["time"]) > 0 for d in obs.values())
    use_time = args.x == "time" or (args.x == "auto" and any_time)
    xlabel = "time (ps)" if use_time else "step (Monte Carlo sweeps or dynamics steps)"

    fig, axes = plt.subplots(len(panels), 1, figsize=(8, 2.4 * len(panels) + 0.8), sharex=True, squeeze=False)
    for ax, (title, members) in zip(axes[:, 0], panels):
        for n in members:
            d = obs[n]
            x = d["time"] if use_time else d["step"]
            v = d["value"]
            if is_energy(n) and not args.absolute:
                e0 = v[0]
                v = v - e0
                title = energy_label(n, d["unit"], e0)
            elif is_energy(n):
                title = f"{n} ({d['unit'] or 'eV/atom'})"
            if v.ndim == 1:
                ax.plot(x, v, lw=1, label=n)
            else:
                for k in range(v.shape[1]):
                    ax.plot(x, v[:, k], lw=1, label=f"{n}[{'xyz'[k] if v.shape[1] == 3 else k}]")
        if stages is not None and len(stages["type"]) > 1:
            # Stage boundaries on the step axis, mapped to time through any observable.
            ref = next(iter(obs.values()))
            for first, kind in zip(stages["first_step"][1:], stages["type"][1:]):
                xb = float(first)
                if use_time:
                    k = np.searchsorted(ref["step"], first)
                    if k >= ref["step"].size:
                        continue
                    xb = ref["time"][k]
                ax.axvline(xb, color="gray", lw=0.8, ls="--")
        ax.set_ylabel(title, fontsize=9)
        ax.legend(fontsize=8, loc="best")
        ax.grid(alpha=0.3)
        ax.ticklabel_format(axis="y", useOffset=False, style="sci", scilimits=(-3, 4))
    if stages is not None and len(stages["type"]) > 1:
        axes[0, 0].set_title("stages: " + " | ".join(stages["type"]) + " (dashed: boundaries)", fontsize=8)
    axes[-1, 0].set_xlabel(xlabel)
    title = info.get("title") or os.path.basename(args.file)
    fig.suptitle(title)
    fig.tight_layout()
    out = args.output or os.path.splitext(args.file)[0] + "_observables.png"
    fig.savefig(out, dpi=args.dpi)
    plt.close(fig)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
