#!/usr/bin/python3
"""Plot and check phonon densities of states written by the [phonons] recorder.

usage: phonon_dos.py OUT.h5 [OUT2.h5 ...] [-o phonon_dos.png] [--fmax 14]

Reads /spectra/phonon (docs/spin-lattice.md "Phonon DOS"; g(f) normalised to 3N modes from
the mass-weighted velocity power spectrum) of each file and prints, per file:
  - the normalisation ∫ g df over the written range (3N when max_frequency covers the spectrum);
  - equipartition: the temperature that the spectrum's integral gives (temperature_K, the
    window-weighted mean kinetic temperature of the segments) against the mean of
    /observables/lattice_temperature over the recorded stage;
  - the two highest maxima of g (transverse and longitudinal peaks of bcc metals), the mean
    frequency ∫ f g / 3N, and the band edge (highest f where g exceeds 10% of its maximum) and f_99, below which
    99% of the weight lies (a tail above the band, e.g. from spin-lattice forces, raises it).
For bcc Fe, measured DOS (nuclear resonant scattering, Mauger et al., Phys. Rev. B 90, 064303
(2014)) have their cut-off near 9-9.5 THz at room temperature.
All DOS are drawn on one plot (per atom: g/N, so runs of different sizes compare).
"""
import argparse
import os
import sys
import tomllib

import matplotlib

matplotlib.use("Agg")
import h5py  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from spinlat_h5 import load_observables, root_info  # noqa: E402


def load(path):
    with h5py.File(path, "r") as f:
        if "spectra/phonon" not in f:
            raise SystemExit(f"{path}: no /spectra/phonon (add a [phonons] table to the input)")
        g = f["spectra/phonon"]
        out = {k: np.asarray(g[k][()]) for k in ("frequency_THz", "dos", "power")}
        out.update({k: (v.item() if hasattr(v, "item") else v) for k, v in g.attrs.items()})
    return out


def recorded_stage_window(path):
    """(t0, t1) of the stage that [phonons] recorded (ps), from the input in the file."""
    cfg = tomllib.loads(root_info(path)["input"])
    stages = cfg["stage"]
    k = cfg.get("phonons", {}).get("stage", -1)
    if k < 0:
        k = max(i for i, s in enumerate(stages) if s["type"] in ("md", "sld", "hybrid"))
    t = 0.0
    for i, s in enumerate(stages):
        n = s.get("steps", 0) if s["type"] != "hybrid" else s.get("sweeps", 0) * s.get("md_steps_per_sweep", 1)
        length = n * s.get("dt", 0.0)
        if i == k:
            return t, t + length
        t += length
    return 0.0, np.inf


def local_maxima(f, g, count=2, fmin=1.0):
    idx = [k for k in range(1, g.size - 1) if g[k] >= g[k - 1] and g[k] > g[k + 1] and f[k] > fmin]
    idx.sort(key=lambda k: -g[k])
    return sorted(f[k] for k in idx[:count])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="+")
    p.add_argument("-o", "--output", default="phonon_dos.png")
    p.add_argument("--fmax", type=float, default=14.0, help="upper limit of the plot (THz)")
    p.add_argument("--labels", help="comma-separated legend labels (default: from the temperatures)")
    args = p.parse_args(argv)
    labels = args.labels.split(",") if args.labels else [None] * len(args.files)

    fig, ax = plt.subplots(1, 2, figsize=(12, 4.5))
    print(f"{'file':28s} {'N':>5s} {'∫g/3N':>8s} {'T_spec':>8s} {'<T_l>':>8s} {'Δf':>6s} "
          f"{'peaks (THz)':>16s} {'<f>':>6s} {'edge':>6s} {'f_99':>6s}")
    for path, label in zip(args.files, labels):
        d = load(path)
        f, g = d["frequency_THz"], d["dos"]
        n = int(d["atoms"])
        step = f[1] - f[0]
        norm = g.sum() * step / (3 * n)
        t0, t1 = recorded_stage_window(path)
        obs = load_observables(path, ["lattice_temperature"]).get("lattice_temperature")
        tl = np.nan
        if obs is not None:
            m = (obs["time"] > t0 + 1e-9) & (obs["time"] <= t1 + 1e-9)
            tl = obs["value"][m].mean() if m.any() else np.nan
        cum = np.cumsum(g) * step / (3 * n)
        f99 = f[np.searchsorted(cum, 0.99)] if cum[-1] >= 0.99 else np.nan
        peaks = local_maxima(f, g)
        edge = f[np.nonzero(g > 0.1 * g.max())[0][-1]]  # highest f with g above 10% of its maximum
        print(f"{os.path.basename(path):28s} {n:5d} {norm:8.5f} {d['temperature_K']:8.1f} {tl:8.1f} "
              f"{d['frequency_resolution_THz']:6.3f} {', '.join(f'{x:.2f}' for x in peaks):>16s} "
              f"{d['mean_frequency_THz']:6.2f} {edge:6.2f} {f99:6.2f}")
        lab = label or f"{d['temperature_K']:.0f} K"
        ax[0].plot(f, g / n, lw=1.1, label=lab)
        ax[1].plot(f, cum, lw=1.1, label=lab)
    ax[0].set_xlim(0, args.fmax)
    ax[0].set_xlabel("frequency (THz)")
    ax[0].set_ylabel("g(f) / N (1/THz; ∫ = 3)")
    ax[0].set_title("phonon DOS from the velocity power spectrum", fontsize=10)
    ax[0].legend()
    ax[1].set_xlim(0, args.fmax)
    ax[1].axhline(1, color="gray", lw=0.6)
    ax[1].set_xlabel("frequency (THz)")
    ax[1].set_ylabel("∫₀^f g df' / 3N")
    ax[1].set_title("cumulative (normalisation)", fontsize=10)
    fig.tight_layout()
    fig.savefig(args.output, dpi=120)
    print(f"plot: {args.output}")


if __name__ == "__main__":
    main()
