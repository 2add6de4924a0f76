#!/usr/bin/python3
"""Learning curves from `spinlat train` summaries (docs/learned-potential.md "NiO from DFT").

Reads DIR/<mode>/N<N>.metrics.toml (scripts/nio-learning-curve.sh writes them), plots the
validation MAE of forces, magnetic forces and energy per atom against the number N of training
frames, one line per mode (scratch, finetune, ...), log-log, and prints the table with, for each
fine-tuned mode, the frames-needed ratio at equal error: for each N of the fine-tuned curve, the
N a scratch model needs for the same validation MAE, found by linear interpolation of
log(MAE) against log(N) on the scratch curve (no extrapolation: outside the scratch range the
ratio is given as a bound).

    /usr/bin/python3 analysis/plot_learning_curve.py out/nio/curve -o out/nio/curve/learning_curve.png
"""
import argparse
import math
import pathlib
import re
import sys
import tomllib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

QUANTITIES = [  # key in [valid], label, unit
    ("forces", "forces", "meV/Å"),
    ("magforces", "magnetic forces", "meV/μB"),
    ("energy", "energy", "meV/atom"),
]


def read_curves(root):
    """{mode: {N: valid table}} from root/<mode>/N<N>.metrics.toml."""
    curves = {}
    for f in sorted(root.glob("*/N*.metrics.toml")):
        m = re.fullmatch(r"N(\d+)\.metrics\.toml", f.name)
        if not m:
            continue
        with open(f, "rb") as fh:
            t = tomllib.load(fh)
        row = dict(t["valid"])
        row["best_epoch"] = t.get("best_epoch")
        row["epochs"] = t.get("epochs")
        curves.setdefault(f.parent.name, {})[int(m.group(1))] = row
    return curves


def frames_needed(curve, target):
    """N at which the curve {N: mae} reaches target: log-log interpolation between the
    bracketing points, scanning from small N; None beyond the curve; 0 before its start."""
    ns = sorted(curve)
    if curve[ns[0]] <= target:
        return 0.0
    for a, b in zip(ns, ns[1:]):
        ya, yb = curve[a], curve[b]
        if ya > target >= yb:
            t = (math.log(target) - math.log(ya)) / (math.log(yb) - math.log(ya))
            return math.exp(math.log(a) + t * (math.log(b) - math.log(a)))
    return None


def ratio_text(scratch, n, mae):
    need = frames_needed(scratch, mae)
    if need is None:
        return f"> {max(scratch) / n:.3g}"
    if need == 0.0:
        return f"≤ {min(scratch) / n:.3g}"
    return f"{need / n:.3g}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", type=pathlib.Path, help="folder with <mode>/N<N>.metrics.toml")
    ap.add_argument("-o", "--output", type=pathlib.Path, help="PNG (default DIR/learning_curve.png)")
    ap.add_argument("--baseline", default="scratch", help="mode the ratios are taken against")
    args = ap.parse_args()
    curves = read_curves(args.dir)
    if not curves:
        sys.exit(f"no <mode>/N<N>.metrics.toml under {args.dir}")
    out = args.output or args.dir / "learning_curve.png"

    # Table: MAE / RMSE per N and mode (markdown, pasteable into the docs).
    print("| mode | N | energy MAE / RMSE (meV/atom) | forces MAE / RMSE (meV/Å) | "
          "magforces MAE / RMSE (meV/μB) | best epoch / epochs |")
    print("|---|---|---|---|---|---|")
    for mode, c in curves.items():
        for n in sorted(c):
            r = c[n]
            print(f"| {mode} | {n} | {r['energy_mae']:.3f} / {r['energy_rmse']:.3f} | "
                  f"{r['forces_mae']:.2f} / {r['forces_rmse']:.2f} | "
                  f"{r['magforces_mae']:.2f} / {r['magforces_rmse']:.2f} | {r['best_epoch']} / {r['epochs']} |")
    base = curves.get(args.baseline)
    if base:
        for mode, c in curves.items():
            if mode == args.baseline:
                continue
            print(f"\nframes a {args.baseline} model needs for the MAE of {mode} at N, divided by N:")
            print("| N | " + " | ".join(q[1] for q in QUANTITIES) + " |")
            print("|---|" + "---|" * len(QUANTITIES))
            for n in sorted(c):
                cells = [ratio_text({k: v[q + "_mae"] for k, v in base.items()}, n, c[n][q + "_mae"])
                         for q, _, _ in QUANTITIES]
                print(f"| {n} | " + " | ".join(cells) + " |")

    fig, axes = plt.subplots(1, len(QUANTITIES), figsize=(4.2 * len(QUANTITIES), 3.8))
    for ax, (q, label, unit) in zip(axes, QUANTITIES):
        for mode, c in curves.items():
            ns = sorted(c)
            ax.loglog(ns, [c[n][q + "_mae"] for n in ns], "o-", label=mode)
        allns = sorted({n for c in curves.values() for n in c})
        ax.set_xticks(allns)
        ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("training frames N (data_0)")
        ax.set_ylabel(f"validation MAE, {label} ({unit})")
        ax.set_title(label)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle("NiO DFT: validation on data_1 (60 frames)")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f"\nplot: {out}")


if __name__ == "__main__":
    main()
