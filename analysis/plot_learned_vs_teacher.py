#!/usr/bin/python3
"""The bundled learned bcc-iron model against its teacher (docs/learned-potential.md,
"The bundled iron model").

1. Held-out errors and parity plots, from `spinlat eval` output (the frames keep their
   teacher labels REF_energy, REF_forces, REF_magforces next to the model's energy, forces,
   magforces):
     plot_learned_vs_teacher.py out/models/fe_test_eval.xyz [-o parity.png] [--metrics-only]
2. M(T) of both from Curie sweeps of the same input (inputs/fe_teacher_curie.toml,
   inputs/fe_learned_curie.toml), and the temperature scale factor s that maps one onto the
   other: M_learned(T) = M_teacher(T / s). For a model whose spin energetics is the teacher's
   scaled by s (the leading error of a learned exchange), every temperature, Tc included,
   scales by s, so Tc_learned = s * Tc_teacher. s is the chi-square minimum over the learned
   points (teacher curve linearly interpolated, both error bars), its error from
   chi2 = chi2_min + 1, times sqrt(chi2/dof) when that exceeds 1 (the Birge ratio: short
   runs' error bars are lower bounds); chi2/dof says whether the curves have the same shape.
     plot_learned_vs_teacher.py --sweeps TEACHER.h5 LEARNED.h5 [--size 4] [-o mt.png]
   TEACHER.h5 should be the longer run (its Tc attribute, from Binder crossings, is used).
"""
import argparse
import sys

import numpy as np


def read_extxyz(path):
    """Frames as dicts: 'info' (per-frame key=value strings) and per-atom arrays by name."""
    frames = []
    with open(path) as f:
        while True:
            line = f.readline()
            if not line:
                break
            if not line.strip():
                continue
            n = int(line)
            header = f.readline()
            info = parse_header(header)
            cols = []
            spec = info["Properties"].split(":")
            for i in range(0, len(spec), 3):
                cols.append((spec[i], spec[i + 1], int(spec[i + 2])))
            rows = [f.readline().split() for _ in range(n)]
            frame = {"info": info, "n": n}
            c = 0
            for name, kind, width in cols:
                if kind == "R":
                    frame[name] = np.array([[float(r[c + k]) for k in range(width)] for r in rows])
                c += width
            frames.append(frame)
    return frames


def parse_header(h):
    out, i = {}, 0
    while i < len(h):
        while i < len(h) and h[i].isspace():
            i += 1
        j = h.find("=", i)
        if j < 0:
            break
        key = h[i:j]
        i = j + 1
        if i < len(h) and h[i] == '"':
            k = h.find('"', i + 1)
            out[key] = h[i + 1:k]
            i = k + 1
        else:
            k = i
            while k < len(h) and not h[k].isspace():
                k += 1
            out[key] = h[i:k]
            i = k
    return out


def errors(pred, ref):
    d = np.asarray(pred) - np.asarray(ref)
    return np.mean(np.abs(d)), np.sqrt(np.mean(d ** 2))


def held_out(args):
    frames = read_extxyz(args.eval)
    e_ref = np.array([float(fr["info"]["REF_energy"]) / fr["n"] for fr in frames])
    e_pred = np.array([float(fr["info"]["energy"]) / fr["n"] for fr in frames])
    f_ref = np.concatenate([fr["REF_forces"].ravel() for fr in frames])
    f_pred = np.concatenate([fr["forces"].ravel() for fr in frames])
    b_ref = np.concatenate([fr["REF_magforces"].ravel() for fr in frames])
    b_pred = np.concatenate([fr["magforces"].ravel() for fr in frames])
    # Transverse part of the magnetic force (what turns moments; the exchange): B − (B·ê)ê.
    bt_ref, bt_pred = [], []
    for fr in frames:
        m = fr["REF_magmom"] if "REF_magmom" in fr else fr["magmom"]
        e = m / np.linalg.norm(m, axis=1)[:, None]
        for name, dst in (("REF_magforces", bt_ref), ("magforces", bt_pred)):
            b = fr[name]
            dst.append((b - np.sum(b * e, axis=1)[:, None] * e).ravel())
    bt_ref, bt_pred = np.concatenate(bt_ref), np.concatenate(bt_pred)
    n_atoms = sum(fr["n"] for fr in frames)
    print(f"held-out set: {len(frames)} frames, {n_atoms} atoms ({args.eval})")
    print("quantity                          MAE        RMSE    (zero-prediction RMSE)")
    rows = [("energy (meV/atom)", e_pred, e_ref, None),
            ("energy, mean offset removed", e_pred - np.mean(e_pred - e_ref), e_ref, None),
            ("forces (meV/Å)", f_pred, f_ref, f_ref),
            ("magnetic forces (meV/μB)", b_pred, b_ref, b_ref),
            ("  transverse part (meV/μB)", bt_pred, bt_ref, bt_ref)]
    for label, p, r, z in rows:
        mae, rmse = errors(p, r)
        zs = f"({1e3 * np.sqrt(np.mean(z ** 2)):.2f})" if z is not None else ""
        print(f"{label:30s} {1e3 * mae:9.3f} {1e3 * rmse:10.3f}    {zs}")
    print(f"energy spread of the reference: {1e3 * np.std(e_ref):.2f} meV/atom (std over frames)")
    # By teacher temperature and volume: where the errors are.
    temps = np.array([float(fr["info"].get("temperature", "nan")) for fr in frames])
    vols = np.array([abs(np.linalg.det(np.array(fr["info"]["Lattice"].split(), float).reshape(3, 3))) / fr["n"]
                     for fr in frames])
    a_cubic = np.round((2 * vols) ** (1 / 3), 3)
    print("  T (K)   a (Å)  frames  E error mean / std (meV/atom)  F RMSE (meV/Å)  B RMSE (meV/μB)")
    for T in np.unique(temps):
        for a in np.unique(a_cubic):
            sel = np.where((temps == T) & (a_cubic == a))[0]
            if len(sel) == 0:
                continue
            de = 1e3 * (e_pred[sel] - e_ref[sel])
            f = np.concatenate([(frames[i]["forces"] - frames[i]["REF_forces"]).ravel() for i in sel])
            b = np.concatenate([(frames[i]["magforces"] - frames[i]["REF_magforces"]).ravel() for i in sel])
            print(f"  {T:5.0f}  {a:6.3f}  {len(sel):5d}  {np.mean(de):10.2f} / {np.std(de):6.2f}"
                  f"            {1e3 * np.sqrt(np.mean(f ** 2)):8.2f}       {1e3 * np.sqrt(np.mean(b ** 2)):8.2f}")
    if args.metrics_only or not args.output:
        return
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 3, figsize=(13, 4.2))
    for a, (label, p, r) in zip(ax, [("energy (eV/atom)", e_pred, e_ref),
                                     ("forces (eV/Å)", f_pred, f_ref),
                                     ("magnetic forces (eV/μB)", b_pred, b_ref)]):
        a.plot(r, p, ".", ms=2, alpha=0.5)
        lo, hi = min(r.min(), p.min()), max(r.max(), p.max())
        a.plot([lo, hi], [lo, hi], "k-", lw=0.7)
        mae, rmse = errors(p, r)
        a.set_title(f"{label}\nRMSE {1e3 * rmse:.2f} m{label.split('(')[1][:-1]}")
        a.set_xlabel("teacher")
        a.set_ylabel("learned")
    fig.tight_layout()
    fig.savefig(args.output, dpi=120)
    print(f"parity plot: {args.output}")


def read_sweep(path, size):
    import h5py
    with h5py.File(path, "r") as f:
        g = f["sweep"]
        sizes = list(g["size"][...])
        if size not in sizes:
            sys.exit(f"{path}: no size {size} in /sweep/size {sizes}")
        i = sizes.index(size)
        done = g["done"][i].astype(bool)
        T = g["temperature"][...][done]
        M = g["order_parameter"][i][done]
        dM = g["order_parameter_err"][i][done]
        tc = (g.attrs.get("critical_temperature", np.nan), g.attrs.get("critical_temperature_err", np.nan),
              g.attrs.get("critical_temperature_method", ""))
    return T, M, dM, tc


def scale_fit(Tt, Mt, dMt, Tl, Ml, dMl):
    """chi2(s) of M_learned(T) against M_teacher(T/s); returns s, its 1σ error, chi2_min, dof."""
    def chi2(s):
        x = Tl / s
        ok = (x >= Tt[0]) & (x <= Tt[-1])
        if ok.sum() < 2:
            return np.inf, 0
        mt = np.interp(x[ok], Tt, Mt)
        var = dMl[ok] ** 2 + np.interp(x[ok], Tt, dMt) ** 2
        return np.sum((Ml[ok] - mt) ** 2 / var), ok.sum()
    grid = np.linspace(0.85, 1.15, 30001)
    c = np.array([chi2(s)[0] for s in grid])
    k = int(np.argmin(c))
    inside = grid[c <= c[k] + 1.0]
    return grid[k], 0.5 * (inside.max() - inside.min()), c[k], chi2(grid[k])[1] - 1


def sweeps(args):
    Tt, Mt, dMt, tct = read_sweep(args.sweeps[0], args.size)
    Tl, Ml, dMl, tcl = read_sweep(args.sweeps[1], args.size)
    print(f"L = {args.size}: teacher {len(Tt)} temperatures ({args.sweeps[0]}), "
          f"learned {len(Tl)} ({args.sweeps[1]})")
    print("   T (K)    M_teacher          M_learned")
    for T in sorted(set(Tt) | set(Tl)):
        a = [f"{Mt[i]:.4f} ± {dMt[i]:.4f}" for i in np.where(Tt == T)[0]] or ["      —       "]
        b = [f"{Ml[i]:.4f} ± {dMl[i]:.4f}" for i in np.where(Tl == T)[0]] or ["—"]
        print(f"  {T:6.1f}   {a[0]}    {b[0]}")
    s, ds, c2, dof = scale_fit(Tt, Mt, dMt, Tl, Ml, dMl)
    # Short runs' error bars are lower bounds (tau_int); when chi2/dof > 1, widen the error by
    # the Birge ratio sqrt(chi2/dof).
    birge = max(1.0, np.sqrt(c2 / dof)) if dof > 0 else 1.0
    ds *= birge
    print(f"temperature scale learned/teacher: s = {s:.4f} ± {ds:.4f} (chi2/dof = {c2:.1f}/{dof}"
          f"{f'; error × Birge ratio {birge:.2f}' if birge > 1 else ''})")
    print(f"teacher Tc ({tct[2]}, {args.sweeps[0]}): {tct[0]:.1f} ± {tct[1]:.1f} K")
    tc = s * tct[0]
    dtc = np.hypot(ds * tct[0], s * tct[1])
    print(f"learned Tc = s × teacher Tc = {tc:.1f} ± {dtc:.1f} K; relative difference "
          f"{100 * (s - 1):+.2f} ± {100 * ds:.2f} %")
    if not args.output:
        return
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4.2))
    import os
    ax.errorbar(Tt, Mt, dMt, fmt="o-", ms=3, label=os.path.basename(args.sweeps[0]))
    ax.errorbar(Tl, Ml, dMl, fmt="s", ms=3, label=os.path.basename(args.sweeps[1]))
    ax.plot(Tt * s, Mt, "--", lw=0.8, label=f"teacher, T × {s:.3f}")
    ax.set_xlabel("T (K)")
    ax.set_ylabel(f"|M| (L = {args.size})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.output, dpi=120)
    print(f"M(T) plot: {args.output}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("eval", nargs="?", help="spinlat eval output on held-out teacher frames")
    ap.add_argument("--metrics-only", action="store_true", help="print the errors, no plot")
    ap.add_argument("--sweeps", nargs=2, metavar=("TEACHER.h5", "LEARNED.h5"))
    ap.add_argument("--size", type=int, default=4, help="sweep size L to compare (default 4)")
    ap.add_argument("-o", "--output", help="PNG file")
    args = ap.parse_args()
    if args.sweeps:
        sweeps(args)
    elif args.eval:
        held_out(args)
    else:
        ap.error("give an eval file or --sweeps")


if __name__ == "__main__":
    main()
