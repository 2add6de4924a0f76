#!/usr/bin/python3
"""Spin-lattice energy exchange: fit the relaxation of the spin and lattice temperatures.

usage: fit_relaxation.py OUT.h5 [OUT2.h5 ...] [-o relaxation.png] [--stage 0] [--t-start 2]

Reads /observables/spin_temperature, lattice_temperature and total_energy of a microcanonical
spin-lattice stage (inputs/fe_spin_lattice_relaxation.toml, stage 0: hot spins on a cold
lattice) and fits, from --t-start (ps after the stage began; the first picoseconds are the
spins equilibrating among themselves, from infinitely hot random directions, faster than any
exchange with the lattice) to the end of the stage,

  (1) ΔT(t) = T_s − T_l = ΔT0 exp(−t/τ)                         (one exponential)
  (2) T_s = T∞ + a exp(−t/τ),  T_l = T∞ − b exp(−t/τ)            (joint, common τ and T∞)
  (3) ΔT(t) = ΔT0 exp(−t/τ) + δ                                   (a stationary offset δ)
  (4) as (2) with separate asymptotes T_s∞, T_l∞

with scipy's least squares; the error from the fit covariance is scaled by the residual
scatter. The temperatures are sampled far more often than they decorrelate, so that error is
too small: with several files (seeds, --set seed=N) the fit of each file gives τ_k and the
reported error is the standard error of the mean over files, std(τ_k)/√n. (At 128 atoms the two
estimators settle about 60 K apart rather than meeting: fits (3) and (4) allow for that.) Also reports the
total-energy drift of the stage (eV/atom) and plots temperatures, ΔT on a log scale with the
fits, and the total-energy deviation.
"""
import argparse
import os
import sys
import tomllib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.optimize import curve_fit  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from spinlat_h5 import load_observables, root_info  # noqa: E402


def stage_window(path, stage):
    """(t_begin, t_end) in ps of [[stage]] `stage`, from the input stored in the file."""
    cfg = tomllib.loads(root_info(path)["input"])
    t = 0.0
    for k, st in enumerate(cfg["stage"]):
        length = st.get("steps", st.get("sweeps", 0)) * st.get("dt", 0.0)
        if k == stage:
            return t, t + length
        t += length
    raise SystemExit(f"{path}: no stage {stage}")


def load_run(path, stage):
    obs = load_observables(path, ["spin_temperature", "lattice_temperature", "total_energy"])
    for name in ("spin_temperature", "lattice_temperature", "total_energy"):
        if name not in obs:
            raise SystemExit(f"{path}: no /observables/{name}")
    t0, t1 = stage_window(path, stage)
    ts, tl, te = (obs[n] for n in ("spin_temperature", "lattice_temperature", "total_energy"))
    # Common sample times inside the stage (spin_temperature is absent while undefined).
    times = np.intersect1d(np.round(ts["time"], 9), np.round(tl["time"], 9))
    times = times[(times >= t0 - 1e-9) & (times <= t1 + 1e-9)]
    pick = lambda o: np.interp(times, o["time"], o["value"])  # exact: same sample times
    e_in = (te["time"] >= t0 - 1e-9) & (te["time"] <= t1 + 1e-9)
    return {"t": times - t0, "Ts": pick(ts), "Tl": pick(tl), "t_e": te["time"][e_in] - t0,
            "E": te["value"][e_in], "length": t1 - t0}


def single_exp(t, dT0, tau):
    return dT0 * np.exp(-t / tau)


def exp_offset(t, dT0, tau, delta):
    return dT0 * np.exp(-t / tau) + delta


def joint_model(t2, Tinf, a, b, tau):
    n = t2.size // 2
    t = t2[:n]
    return np.concatenate([Tinf + a * np.exp(-t / tau), Tinf - b * np.exp(-t / tau)])


def joint_offset(t2, Ts_inf, Tl_inf, a, b, tau):
    n = t2.size // 2
    t = t2[:n]
    return np.concatenate([Ts_inf + a * np.exp(-t / tau), Tl_inf - b * np.exp(-t / tau)])


def fit_run(r, t_start):
    m = r["t"] >= t_start
    t, Ts, Tl = r["t"][m], r["Ts"][m], r["Tl"][m]
    dT = Ts - Tl
    p1, c1 = curve_fit(single_exp, t, dT, p0=[dT[0] * np.exp(t[0] / 5.0), 5.0], maxfev=20000)
    tt = np.concatenate([t, t])
    p2, c2 = curve_fit(joint_model, tt, np.concatenate([Ts, Tl]),
                       p0=[0.5 * (Ts[-1] + Tl[-1]), Ts[0] - Tl[-1], Ts[-1] - Tl[0], p1[1]], maxfev=20000)
    p3, c3 = curve_fit(exp_offset, t, dT, p0=[p1[0], p1[1], 0.0], maxfev=20000)
    p4, c4 = curve_fit(joint_offset, tt, np.concatenate([Ts, Tl]),
                       p0=[p2[0], p2[0], p2[1], p2[2], p2[3]], maxfev=20000)
    return {"tau1": p1[1], "tau1_err": np.sqrt(c1[1, 1]), "dT0": p1[0],
            "Tinf": p2[0], "Tinf_err": np.sqrt(c2[0, 0]), "a": p2[1], "b": p2[2],
            "tau2": p2[3], "tau2_err": np.sqrt(c2[3, 3]), "p1": p1, "p2": p2,
            "tau3": p3[1], "tau3_err": np.sqrt(c3[1, 1]), "delta": p3[2], "p3": p3,
            "tau4": p4[4], "tau4_err": np.sqrt(c4[4, 4]), "Ts_inf": p4[0], "Tl_inf": p4[1], "p4": p4}


def mean_err(x):
    """Mean over runs and its standard error (NaN for one run: no spread to measure)."""
    x = np.asarray(x, dtype=float)
    return x.mean(), (x.std(ddof=1) / np.sqrt(x.size) if x.size > 1 else np.nan)


def pm(value, err, fmt):
    """`value ± err`, or `value` alone when the error is unknown (a single run)."""
    return f"{value:{fmt}}" + (f" ± {err:{fmt}}" if np.isfinite(err) else "")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("files", nargs="+", help="spinlat outputs (one per seed)")
    p.add_argument("-o", "--output", default="relaxation.png", help="PNG to write")
    p.add_argument("--stage", type=int, default=0, help="index of the microcanonical stage (default 0)")
    p.add_argument("--t-start", type=float, default=2.0,
                   help="fit from this time after the stage began (ps; default 2)")
    args = p.parse_args(argv)

    runs = [load_run(f, args.stage) for f in args.files]
    fits = [fit_run(r, args.t_start) for r in runs]
    print(f"{'file':40s} {'tau_1exp (ps)':>16s} {'tau_joint (ps)':>16s} {'T_inf (K)':>14s} "
          f"{'dE max':>10s} {'dE/dt':>12s}")
    drifts = []
    for f, r, q in zip(args.files, runs, fits):
        dE = r["E"] - r["E"][0]
        slope = np.polyfit(r["t_e"], r["E"], 1)[0]
        drifts.append((np.abs(dE).max(), slope))
        print(f"{os.path.basename(f):40s} {q['tau1']:8.3f} ± {q['tau1_err']:5.3f} "
              f"{q['tau2']:8.3f} ± {q['tau2_err']:5.3f} {q['Tinf']:7.1f} ± {q['Tinf_err']:4.1f} "
              f"{np.abs(dE).max():10.2e} {slope:12.2e}")
    tau1, tau1_e = mean_err([q["tau1"] for q in fits])
    tau2, tau2_e = mean_err([q["tau2"] for q in fits])
    tinf, tinf_e = mean_err([q["Tinf"] for q in fits])
    n = len(fits)
    print(f"\nover {n} run(s), fit from {args.t_start} ps"
          + (":" if n > 1 else " (one run: no error bars; give several seeds for the spread):"))
    print(f"  tau (single exponential of T_s - T_l) = {pm(tau1, tau1_e, '.3f')} ps")
    print(f"  tau (joint fit, common T_inf)          = {pm(tau2, tau2_e, '.3f')} ps")
    print(f"  T_inf                                  = {pm(tinf, tinf_e, '.1f')} K")
    tau3, tau3_e = mean_err([q["tau3"] for q in fits])
    delta, delta_e = mean_err([q["delta"] for q in fits])
    tau4, tau4_e = mean_err([q["tau4"] for q in fits])
    tsi, tsi_e = mean_err([q["Ts_inf"] for q in fits])
    tli, tli_e = mean_err([q["Tl_inf"] for q in fits])
    print(f"  with a stationary offset (T_s - T_l -> delta):")
    print(f"    tau (single exponential + delta)     = {pm(tau3, tau3_e, '.3f')} ps, delta = {pm(delta, delta_e, '.1f')} K")
    print(f"    tau (joint, separate asymptotes)     = {pm(tau4, tau4_e, '.3f')} ps, "
          f"T_s -> {pm(tsi, tsi_e, '.1f')} K, T_l -> {pm(tli, tli_e, '.1f')} K")
    print(f"  largest |E(t) - E(0)| = {max(d[0] for d in drifts):.2e} eV/atom, "
          f"mean drift rate {np.mean([d[1] for d in drifts]):.2e} eV/atom/ps")
    # The seed-averaged curves, fitted once (a check on the per-seed mean).
    if n > 1 and all(r["t"].size == runs[0]["t"].size for r in runs):
        avg = {"t": runs[0]["t"], "Ts": np.mean([r["Ts"] for r in runs], axis=0),
               "Tl": np.mean([r["Tl"] for r in runs], axis=0)}
        qa = fit_run(avg, args.t_start)
        print(f"  fit of the averaged curves: tau = {qa['tau1']:.3f} (1 exp), {qa['tau2']:.3f} ps (joint), "
              f"T_inf = {qa['Tinf']:.1f} K")
    else:
        avg, qa = {"t": runs[0]["t"], "Ts": runs[0]["Ts"], "Tl": runs[0]["Tl"]}, fits[0]

    fig, ax = plt.subplots(1, 3, figsize=(15, 4.4))
    for r in runs:
        ax[0].plot(r["t"], r["Ts"], color="tab:red", alpha=0.15, lw=0.6)
        ax[0].plot(r["t"], r["Tl"], color="tab:blue", alpha=0.15, lw=0.6)
    ax[0].plot(avg["t"], avg["Ts"], color="tab:red", lw=1.2, label="spin temperature")
    ax[0].plot(avg["t"], avg["Tl"], color="tab:blue", lw=1.2, label="lattice temperature")
    tf = np.linspace(args.t_start, avg["t"][-1], 200)
    model = joint_model(np.concatenate([tf, tf]), *qa["p2"])
    ax[0].plot(tf, model[:tf.size], "k--", lw=1)
    ax[0].plot(tf, model[tf.size:], "k--", lw=1, label=f"joint fit: τ = {pm(tau2, tau2_e, '.2f')} ps")
    ax[0].axhline(tinf, color="gray", lw=0.6, ls=":")
    ax[0].set_ylim(0, max(1.2 * avg["Ts"][avg["t"] >= 1.0].max(), 1.2 * tinf))
    ax[0].set_xlabel("time (ps)")
    ax[0].set_ylabel("temperature (K)")
    ax[0].legend(fontsize=8)
    ax[0].set_title(f"{n} run(s); T∞ = {pm(tinf, tinf_e, '.0f')} K", fontsize=9)
    d = avg["Ts"] - avg["Tl"]
    ax[1].semilogy(avg["t"], np.where(d > 0, d, np.nan), color="tab:purple", lw=1, label="T_s − T_l (mean)")
    ax[1].semilogy(tf, single_exp(tf, *qa["p1"]), "k--",
                   label=f"ΔT0 e^(−t/τ): τ = {pm(tau1, tau1_e, '.2f')} ps")
    ax[1].semilogy(tf, exp_offset(tf, *qa["p3"]), "g-.",
                   label=f"ΔT0 e^(−t/τ) + δ: τ = {pm(tau3, tau3_e, '.2f')} ps, δ = {delta:.0f} K")
    ax[1].axvline(args.t_start, color="gray", lw=0.6, ls=":")
    ax[1].set_xlabel("time (ps)")
    ax[1].set_ylabel("T_s − T_l (K)")
    ax[1].set_ylim(1, None)
    ax[1].legend(fontsize=8)
    for r in runs:
        ax[2].plot(r["t_e"], (r["E"] - r["E"][0]) * 1e6, lw=0.7)
    ax[2].set_xlabel("time (ps)")
    ax[2].set_ylabel("E_total(t) − E_total(0) (μeV/atom)")
    ax[2].set_title("total energy (NVE)", fontsize=9)
    fig.tight_layout()
    fig.savefig(args.output, dpi=120)
    print(f"plot: {args.output}")


if __name__ == "__main__":
    main()
