#!/usr/bin/python3
"""Plot a magnon spectrum S(q, E) written by spinlat (`/spectra/spin`): the transverse (or
longitudinal) dynamical structure factor along the Brillouin-zone path on a log colour scale,
energy in meV, high-symmetry labels, and the linear spin-wave dispersion overlaid.

usage: plot_spectrum.py OUT.h5 [-o spectrum.png] [--component transverse|zz]
                        [--emax MEV] [--decades 4] [--normalize] [--no-lswt]

Layout (docs/magnons.md): q_distance [Nq], q_labels, q_label_positions, energy_meV [Nω],
intensity / intensity_zz [Nq, Nω], lswt_q_distance [M], lswt_dense_frequency_THz [M, nb],
lswt_dense_weight [M, nb]; attributes frequency_resolution_THz, window, segments, lswt.
"""
import argparse
import os
import sys

# Lets us read a file that a running spinlat still holds (as analysis/spinlat_h5.py does).
os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")

import h5py  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
import numpy as np  # noqa: E402

H_MEV_PER_THZ = 4.135667696  # Planck constant, meV/THz (E = h f)


def _text(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray) and v.shape == ():
        return _text(v[()])
    return v if isinstance(v, str) else str(v)


def load_spectrum(path, group="/spectra/spin"):
    """The spectrum group as a dict of numpy arrays and plain attributes."""
    with h5py.File(path, "r") as f:
        if group not in f:
            raise KeyError(f"{path}: no {group} group (was a [spectrum] recorded?)")
        g = f[group]
        out = {k: g[k][()] for k in g.keys()}
        out["q_labels"] = [_text(s) for s in out.get("q_labels", [])]
        out["attrs"] = {k: (_text(v) if isinstance(v, (bytes, str)) else v) for k, v in g.attrs.items()}
    return out


def column_edges(x):
    """Cell edges for columns centred on x (non-uniform; a repeated x, where the path jumps,
    puts the edge exactly there so each side keeps its own column)."""
    x = np.asarray(x, dtype=float)
    if x.size == 1:
        return np.array([x[0] - 0.5, x[0] + 0.5])
    mid = 0.5 * (x[1:] + x[:-1])
    return np.concatenate([[x[0] - (mid[0] - x[0])], mid, [x[-1] + (x[-1] - mid[-1])]])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file", help="spinlat output (.h5) with /spectra/spin")
    p.add_argument("-o", "--output", help="PNG to write (default: <file>_spectrum.png)")
    p.add_argument("--group", default="/spectra/spin")
    p.add_argument("--component", choices=["transverse", "zz"], default="transverse",
                   help="S_perp = S^xx + S^yy (default) or S^zz along the magnetization")
    p.add_argument("--emax", type=float, help="upper energy limit (meV; default: highest LSWT branch + 20%%)")
    p.add_argument("--decades", type=float, default=4.0, help="colour range below the maximum (decades)")
    p.add_argument("--normalize", action="store_true", help="scale every q column to its own maximum")
    p.add_argument("--no-lswt", action="store_true", help="do not overlay linear spin-wave theory")
    p.add_argument("--dpi", type=int, default=150)
    args = p.parse_args(argv)

    try:
        d = load_spectrum(args.file, args.group)
    except (OSError, KeyError) as e:
        print(f"plot_spectrum: {e}", file=sys.stderr)
        return 1
    inten = np.array(d["intensity" if args.component == "transverse" else "intensity_zz"], dtype=float)
    energy = np.asarray(d["energy_meV"], dtype=float)
    qd = np.asarray(d["q_distance"], dtype=float)
    if inten.size == 0 or energy.size < 2:
        print("plot_spectrum: empty spectrum", file=sys.stderr)
        return 1
    if args.normalize:
        inten = inten / np.maximum(inten.max(axis=1, keepdims=True), 1e-300)

    has_lswt = "lswt_dense_frequency_THz" in d and not args.no_lswt
    emax = args.emax
    if emax is None:
        if "lswt_dense_frequency_THz" in d and np.isfinite(d["lswt_dense_frequency_THz"]).any():
            emax = 1.2 * np.nanmax(d["lswt_dense_frequency_THz"]) * H_MEV_PER_THZ
        else:
            emax = energy[-1]
    emax = min(emax, energy[-1])
    keep = energy <= emax * 1.0001
    inten, energy = inten[:, keep], energy[keep]

    positive = inten[inten > 0]
    vmax = positive.max() if positive.size else 1.0
    vmin = vmax * 10.0 ** (-args.decades)
    fig, ax = plt.subplots(figsize=(8.0, 5.0))
    mesh = ax.pcolormesh(column_edges(qd), column_edges(energy), np.clip(inten, vmin, None).T,
                         norm=LogNorm(vmin=vmin, vmax=vmax), cmap="viridis", shading="flat", rasterized=True)
    cb = fig.colorbar(mesh, ax=ax, pad=0.02)
    unit = "arb. units" if args.normalize else "1/THz"
    cb.set_label(f"S{'⊥' if args.component == 'transverse' else 'zz'}(q, E) ({unit})")

    if has_lswt:
        x = np.asarray(d["lswt_q_distance"], dtype=float)
        f = np.asarray(d["lswt_dense_frequency_THz"], dtype=float) * H_MEV_PER_THZ
        w = np.asarray(d.get("lswt_dense_weight", np.ones_like(f)), dtype=float)
        # Break the curves where the path jumps (two points at one distance, "H|P").
        jumps = np.nonzero(np.diff(x) == 0)[0] + 1
        x = np.insert(x, jumps, np.nan)
        f = np.insert(f, jumps, np.nan, axis=0)
        w = np.insert(w, jumps, 0.0, axis=0)
        for b in range(f.shape[1]):
            seen = np.where(w[:, b] > 0.05, f[:, b], np.nan)  # branches the probe sees
            hidden = np.where(w[:, b] <= 0.05, f[:, b], np.nan)
            ax.plot(x, seen, color="white", lw=1.0, ls="--", label="LSWT" if b == 0 else None)
            ax.plot(x, hidden, color="white", lw=0.5, ls=":", alpha=0.5)
        ax.legend(loc="upper right", frameon=False, labelcolor="white")

    labels = d.get("q_labels", [])
    pos = np.asarray(d.get("q_label_positions", []), dtype=float)
    for xp in pos:
        ax.axvline(xp, color="white", lw=0.6, alpha=0.6)
    ax.set_xticks(pos)
    ax.set_xticklabels(labels)
    ax.set_xlim(min(qd[0], pos[0] if pos.size else qd[0]), max(qd[-1], pos[-1] if pos.size else qd[-1]))
    ax.set_ylim(0, energy[-1])
    ax.set_ylabel("energy (meV)")
    ax.set_xlabel("wave vector")
    a = d["attrs"]
    res = a.get("frequency_resolution_THz", float("nan"))
    ax.set_title(f"resolution {res * H_MEV_PER_THZ:.2f} meV ({res:.3f} THz), {a.get('window', '?')} window, "
                 f"{a.get('segments', '?')} segment(s)", fontsize=9)
    out = args.output or os.path.splitext(args.file)[0] + "_spectrum.png"
    fig.tight_layout()
    fig.savefig(out, dpi=args.dpi)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
