#!/usr/bin/python3
"""Plot the M(B) loops of `hysteresis` stages and read their coercive field and remanence.

usage: plot_hysteresis.py OUT.h5 [-o loop.png]

Each hysteresis stage k stores /stages/<k>/field (T, along field_direction) and
/stages/<k>/magnetization (M·d / sum |m_i|, with magnetization_err), the field going
+field_max -> -field_max -> +field_max per loop (docs/input.md, "hysteresis"). From the last
loop: the coercive field is the mean |B| where M crosses zero on the two branches, the remanence
the mean |M| where B crosses zero (linear interpolation between fields; "none" when a branch has
no crossing, e.g. a field_max below the coercive field). Prints one line per stage.
"""
import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")  # no display needed
import h5py  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def first_crossing(x, y):
    """x where y first crosses zero along the path (linear interpolation), or nan."""
    for j in range(len(y) - 1):
        if y[j] == 0.0:
            return x[j]
        if (y[j] > 0.0) != (y[j + 1] > 0.0) and y[j + 1] != y[j]:
            return x[j] - y[j] * (x[j + 1] - x[j]) / (y[j + 1] - y[j])
    return x[-1] if len(y) and y[-1] == 0.0 else float("nan")


def loop_figures(field, m, points):
    """(coercive field, remanence) of the last loop; points = field steps per branch."""
    n = int(points)
    if n <= 0 or len(field) < 2 * n + 1:
        return float("nan"), float("nan")
    a = len(field) - 1 - 2 * n
    down, up = slice(a, a + n + 1), slice(a + n, a + 2 * n + 1)
    hc = 0.5 * (abs(first_crossing(field[down], m[down])) + abs(first_crossing(field[up], m[up])))
    mr = 0.5 * (abs(first_crossing(m[down], field[down])) + abs(first_crossing(m[up], field[up])))
    return hc, mr


def load_loops(path):
    """One dict per hysteresis stage: stage, field, m, m_err, points, attributes."""
    loops = []
    with h5py.File(path, "r") as f:
        if "stages" not in f:
            raise KeyError(f"{path}: no /stages group (no hysteresis stage in this run)")
        for name in sorted((n for n in f["stages"] if n.isdigit()), key=int):  # /stages/<k> groups beside the stage table
            g = f["stages"][name]
            if g.attrs.get("type") not in ("hysteresis", b"hysteresis"):
                continue
            field = np.asarray(g["field"][()], dtype=float)
            # Field steps per branch: the loop starts at +field_max and first returns to it after
            # 2n steps; the fields are equally spaced by 2 field_max / n.
            step = abs(field[1] - field[0]) if len(field) > 1 else 0.0
            points = int(round(2.0 * abs(field[0]) / step)) if step > 0 else 0
            loops.append({"stage": int(name), "field": field,
                          "m": np.asarray(g["magnetization"][()], dtype=float),
                          "m_err": np.asarray(g["magnetization_err"][()], dtype=float),
                          "direction": np.asarray(g["field_direction"][()], dtype=float),
                          "points": points, "attrs": dict(g.attrs)})
    if not loops:
        raise KeyError(f"{path}: no hysteresis stage under /stages")
    return loops


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file")
    p.add_argument("-o", "--output", help="PNG (default: FILE_hysteresis.png)")
    a = p.parse_args(argv)
    try:
        loops = load_loops(a.file)
    except (KeyError, OSError) as e:
        print(f"plot_hysteresis.py: {e}", file=sys.stderr)
        return 2
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for lp in loops:
        hc, mr = loop_figures(lp["field"], lp["m"], lp["points"])
        method = lp["attrs"].get("method", "")
        method = method.decode() if isinstance(method, bytes) else method
        temperature = float(lp["attrs"].get("temperature", 0.0))
        hc_text = "none" if not np.isfinite(hc) else f"{hc:.6g} T"
        mr_text = "none" if not np.isfinite(mr) else f"{mr:.6g}"
        print(f"stage {lp['stage']} ({method}, T = {temperature:g} K): coercive field = {hc_text}, remanence = {mr_text}")
        label = f"stage {lp['stage']} ({method}, {temperature:g} K)"
        ax.errorbar(lp["field"], lp["m"], yerr=lp["m_err"], fmt="-o", ms=2, lw=1, label=label)
    d = loops[-1]["direction"]
    ax.set_xlabel(f"B along [{d[0]:.3g}, {d[1]:.3g}, {d[2]:.3g}] (T)")
    ax.set_ylabel("M · d / Σ|m|")
    ax.axhline(0.0, color="0.7", lw=0.5)
    ax.axvline(0.0, color="0.7", lw=0.5)
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = a.output or os.path.splitext(a.file)[0] + "_hysteresis.png"
    fig.savefig(out, dpi=120)
    print(f"plot: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
