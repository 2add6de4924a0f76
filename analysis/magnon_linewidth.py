#!/usr/bin/python3
"""Magnon line widths from S(q, ω): a vibrating lattice against a frozen one.

usage: magnon_linewidth.py --vibrating SLD.h5 [...] --frozen LLG.h5 [...] [-o widths.png]
                           [--qmin 0.3] [--component perp]

For every wave vector of /spectra/spin (written by the [spectrum] recorder, docs/magnons.md)
the transverse S⊥(q, f) around its main peak is fitted with a damped precession: a mode whose
autocorrelation is A e^(−πΓ|τ|) cos(2π f0 τ) has a Lorentzian line of full width at half
maximum Γ (THz) at f0. The recorder's spectrum is a Welch average of Hann-windowed periodograms,
whose expectation is the Fourier transform of that autocorrelation times the window's own
autocorrelation r_w(τ) = Σ_t w_t w_(t+τ) (Welch 1967; Percival & Walden, Spectral Analysis for
Physical Applications (1993), eq. 186b), so the model

    E[S(f)] = (dt/Σw²) Σ_|τ|<L A·2cos(2π f0 τ dt) e^(−πΓ|τ| dt) r_w(τ) e^(2πi f τ dt) + B

fits the line width with the window's resolution taken out (a width well below the resolution
1/(L dt) cannot be measured and is reported as an upper bound by its error). Each file (seed) is
fitted separately; per q the reported value is the mean over files with the standard error of
the mean (or the fit's covariance error with one file). The vibrating/frozen ratio carries both
errors. Also prints and plots the peak positions against the linear spin-wave dispersion of the
Bethe-Slater exchange on the perfect lattice (the model of inputs/fe_magnon_damping.toml).
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
from scipy.optimize import curve_fit  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from spinlat_h5 import _text, root_info  # noqa: E402



def load_spectrum(path, component):
    with h5py.File(path, "r") as f:
        g = f["spectra/spin"]
        out = {k: np.asarray(g[k][()]) for k in ("q_path", "q_distance", "frequency_THz")}
        out["S"] = np.asarray(g["intensity" if component == "perp" else "intensity_zz"][()])
        out["labels"] = [_text(x) for x in g["q_labels"][()]]
        out["label_pos"] = np.asarray(g["q_label_positions"][()])
        for k in ("segment_length", "dt_sample_ps", "frequency_resolution_THz"):
            out[k] = g.attrs[k].item() if hasattr(g.attrs[k], "item") else g.attrs[k]
        out["window"] = _text(g.attrs["window"])
    return out


def window_autocorrelation(L, window):
    t = np.arange(L)
    w = 0.5 * (1 - np.cos(2 * np.pi * t / L)) if window == "hann" else np.ones(L)
    r = np.correlate(w, w, mode="full")  # lags −(L−1)..(L−1)
    return r / np.sum(w * w)


class LineModel:
    """Expected Welch spectrum of a damped precession (see the module docstring)."""

    def __init__(self, L, dt, window):
        self.dt = dt
        self.tau = np.arange(-(L - 1), L) * dt
        self.r = window_autocorrelation(L, window)

    def __call__(self, f, A, f0, gamma, B):
        c = 2 * A * np.cos(2 * np.pi * f0 * self.tau) * np.exp(-np.pi * abs(gamma) * np.abs(self.tau)) * self.r
        return self.dt * np.real(np.exp(2j * np.pi * np.outer(f, self.tau)) @ c) + B


def fit_line(f, S, model, fmin, resolution):
    """(f0, Γ, f0_err, Γ_err) of the strongest line above fmin."""
    ok = f >= fmin
    k = np.argmax(np.where(ok, S, -np.inf))
    f_peak, s_peak = f[k], S[k]
    # Half-maximum crossings: a first width estimate that sets the fitting range.
    lo = k
    while lo > 0 and S[lo] > 0.5 * s_peak:
        lo -= 1
    hi = k
    while hi < f.size - 1 and S[hi] > 0.5 * s_peak:
        hi += 1
    width = max(f[hi] - f[lo], resolution)
    half = max(4 * width, 6 * resolution)
    m = (f > f_peak - half) & (f < f_peak + half) & ok
    gamma0 = max(width - resolution, 0.05 * resolution)
    area = s_peak * width  # rough integral
    p0 = [area, f_peak, gamma0, np.median(S[m]) * 0.01]
    p, c = curve_fit(model, f[m], S[m], p0=p0, maxfev=20000)
    return p[1], abs(p[2]), np.sqrt(c[1, 1]), np.sqrt(c[2, 2])


def lswt_frequencies(path):
    """Linear spin-wave frequencies (THz) at the recorded q, as the engine wrote them
    (/spectra/spin/lswt_frequency_THz, the branch of largest weight: the others are folded
    copies from the conventional cell's sublattices); None when the run has none. Read from the
    rigid-lattice run: there LSWT describes the perfect lattice exactly."""
    with h5py.File(path, "r") as f:
        g = f["spectra/spin"]
        if "lswt_frequency_THz" not in g:
            return None
        w = np.atleast_2d(np.asarray(g["lswt_frequency_THz"][()], dtype=float))
        if w.shape[0] == 1 and w.shape[1] > 1 and "lswt_weight" not in g:
            w = w.T
        weight = np.asarray(g["lswt_weight"][()], dtype=float).reshape(w.shape) if "lswt_weight" in g else np.ones_like(w)
    return w[np.arange(w.shape[0]), np.nanargmax(np.nan_to_num(weight, nan=-1.0), axis=1)]


def analyse(files, component, qmin):
    fits, first = [], None
    for path in files:
        sp = load_spectrum(path, component)
        first = first or sp
        model = LineModel(int(sp["segment_length"]), float(sp["dt_sample_ps"]), sp["window"])
        res = float(sp["frequency_resolution_THz"])
        rows = []
        for iq, q in enumerate(sp["q_path"]):
            if np.linalg.norm(q) < qmin:
                rows.append([np.nan] * 4)
                continue
            try:
                rows.append(fit_line(sp["frequency_THz"], sp["S"][iq], model, 0.5 * res, res))
            except RuntimeError:
                rows.append([np.nan] * 4)
        fits.append(np.array(rows))
    fits = np.array(fits)  # [file, q, (f0, Γ, f0_err, Γ_err)]
    n = fits.shape[0]
    if n > 1:
        f0 = np.nanmean(fits[:, :, 0], axis=0)
        gam = np.nanmean(fits[:, :, 1], axis=0)
        f0_e = np.nanstd(fits[:, :, 0], axis=0, ddof=1) / np.sqrt(n)
        gam_e = np.nanstd(fits[:, :, 1], axis=0, ddof=1) / np.sqrt(n)
    else:
        f0, gam, f0_e, gam_e = (fits[0, :, k] for k in range(4))
    return first, {"f0": f0, "gamma": gam, "f0_err": f0_e, "gamma_err": gam_e, "n": n,
                   "res": float(first["frequency_resolution_THz"])}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vibrating", nargs="+", required=True, help="outputs of the sld runs (one per seed)")
    p.add_argument("--frozen", nargs="+", required=True, help="outputs of the llg runs (one per seed)")
    p.add_argument("-o", "--output", default="magnon_linewidth.png")
    p.add_argument("--component", choices=["perp", "zz"], default="perp")
    p.add_argument("--qmin", type=float, default=0.3, help="skip |q| below this (1/Å; default 0.3)")
    args = p.parse_args(argv)

    sv, v = analyse(args.vibrating, args.component, args.qmin)
    sf, fz = analyse(args.frozen, args.component, args.qmin)
    if sv["q_path"].shape != sf["q_path"].shape or not np.allclose(sv["q_path"], sf["q_path"]):
        raise SystemExit("the two sets of runs have different wave vectors")
    lswt = lswt_frequencies(args.frozen[0])
    ratio = v["gamma"] / fz["gamma"]
    ratio_e = np.abs(ratio) * np.sqrt((v["gamma_err"] / v["gamma"]) ** 2 + (fz["gamma_err"] / fz["gamma"]) ** 2)
    print(f"vibrating: {v['n']} run(s), frozen: {fz['n']} run(s); resolution {v['res']:.3f} THz; "
          f"errors: {'standard error over runs' if v['n'] > 1 else 'fit covariance'}")
    print(f"{'q (1/Å)':>22s} {'dist':>6s} {'LSWT':>7s} {'f0 vib':>15s} {'f0 frozen':>15s} "
          f"{'FWHM vib':>15s} {'FWHM frozen':>15s} {'ratio':>13s}")
    for k, q in enumerate(sv["q_path"]):
        if not np.isfinite(v["gamma"][k]):
            continue
        qs = "(" + ",".join(f"{x:5.2f}" for x in q) + ")"
        print(f"{qs:>22s} {sv['q_distance'][k]:6.3f} {lswt[k] if lswt is not None else np.nan:7.2f} "
              f"{v['f0'][k]:7.2f} ± {v['f0_err'][k]:5.2f} {fz['f0'][k]:7.2f} ± {fz['f0_err'][k]:5.2f} "
              f"{v['gamma'][k]:7.3f} ± {v['gamma_err'][k]:5.3f} {fz['gamma'][k]:7.3f} ± {fz['gamma_err'][k]:5.3f} "
              f"{ratio[k]:6.2f} ± {ratio_e[k]:4.2f}")
    good = np.isfinite(ratio)
    w = 1 / ratio_e[good] ** 2
    print(f"weighted mean ratio vibrating/frozen: {np.sum(w * ratio[good]) / np.sum(w):.2f} ± {1 / np.sqrt(np.sum(w)):.2f}"
          f" (over {good.sum()} q; the q are not independent in their systematics)")

    d = sv["q_distance"]
    fig, ax = plt.subplots(1, 3, figsize=(16, 4.6))
    ax[0].errorbar(d, fz["f0"], fz["f0_err"], fmt="o", ms=4, color="tab:blue", label="frozen lattice (llg)")
    ax[0].errorbar(d, v["f0"], v["f0_err"], fmt="s", ms=3, color="tab:red", label="vibrating lattice (sld)")
    if lswt is not None:
        ax[0].plot(d, lswt, "k_", ms=10, label="LSWT, perfect lattice")
    ax[0].set_ylabel("peak frequency (THz)")
    ax[1].errorbar(d, fz["gamma"], fz["gamma_err"], fmt="o", ms=4, color="tab:blue", label="frozen lattice (llg)")
    ax[1].errorbar(d, v["gamma"], v["gamma_err"], fmt="s", ms=3, color="tab:red", label="vibrating lattice (sld)")
    ax[1].axhline(v["res"], color="gray", ls=":", lw=0.8, label=f"resolution {v['res']:.2f} THz")
    ax[1].set_ylabel("FWHM Γ (THz)")
    ax[2].errorbar(d, ratio, ratio_e, fmt="D", ms=4, color="k")
    ax[2].axhline(1, color="gray", lw=0.6)
    ax[2].set_ylabel("Γ vibrating / Γ frozen")
    for a in ax:
        a.set_xticks(sv["label_pos"])
        a.set_xticklabels(sv["labels"])
        for x in sv["label_pos"]:
            a.axvline(x, color="gray", lw=0.4)
        a.set_xlabel("wave vector")
    ax[0].legend(fontsize=8)
    ax[1].legend(fontsize=8)
    try:
        T = tomllib.loads(root_info(args.vibrating[0])["input"])["stage"][0].get("temperature", np.nan)
    except Exception:  # noqa: BLE001
        T = np.nan
    fig.suptitle(f"magnon line widths at {T:g} K ({args.component}); mean of {v['n']} / {fz['n']} runs", fontsize=10)
    fig.tight_layout()
    fig.savefig(args.output, dpi=120)
    print(f"plot: {args.output}")


if __name__ == "__main__":
    main()
