"""Small loaders for spinlat's HDF5 output, shared by the plotting scripts.

Layout (docs/output.md): root attributes `spinlat_version`, `input`, `units`, `seed`,
`created`; temperature sweeps in `/sweep`; H5MD 1.1 trajectories in `/particles/all` and
time series in `/observables/<name>/{step,time,value}`.

Files can be read while a run is still writing them: HDF5 file locking is switched off for
this process (the writer flushes after every finished point / appended sample).
"""
import os

# Must be set before h5py opens any file: lets us read a file that a running spinlat holds.
os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")

import h5py  # noqa: E402
import numpy as np  # noqa: E402

SWEEP_QUANTITIES = ("energy", "magnetization", "order_parameter", "susceptibility",
                    "specific_heat", "binder")


def _text(value):
    """An attribute as str (h5py returns bytes for fixed-length strings)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.shape == ():
        return _text(value[()])
    return value if isinstance(value, str) else str(value)


def root_info(path):
    """Root attributes as a dict of plain Python values."""
    with h5py.File(path, "r") as f:
        out = {}
        for key, value in f.attrs.items():
            if isinstance(value, (bytes, str)):
                out[key] = _text(value)
            elif isinstance(value, np.ndarray):
                out[key] = value.tolist()
            else:
                out[key] = value.item() if hasattr(value, "item") else value
        return out


def load_sweep(path, group="/sweep"):
    """Temperature-sweep results.

    Returns a dict with `temperature` [nT], `size` [nL], every quantity and `<q>_err` as
    [nL, nT] float arrays (NaN where not yet measured), `done` [nL, nT] bool, `tau_int`,
    `samples`, `units` {name: unit}, `tc`, `tc_err`, `tc_method` (NaN / "none" when unset),
    `tc_note` (why there is no Tc, or the estimate's self-checks; "" when absent) and
    `reweighted` (None, or a dict with `temperature` [nG], `size` and [nL, nG] `binder`,
    `susceptibility`, `order_parameter`, `energy`, `specific_heat` with `_err`, NaN where the
    histograms do not overlap).
    """
    with h5py.File(path, "r") as f:
        if group not in f:
            raise KeyError(f"{path}: no {group} group (not a sweep output?)")
        g = f[group]
        out = {"temperature": np.asarray(g["temperature"][()], dtype=float),
               "size": np.asarray(g["size"][()], dtype=int)}
        shape = (out["size"].size, out["temperature"].size)
        out["units"] = {}
        for name in list(SWEEP_QUANTITIES) + ["tau_int", "samples", "done"]:
            for key in (name, name + "_err"):
                if key in g:
                    out[key] = np.asarray(g[key][()])
                    if "unit" in g[key].attrs:
                        out["units"][key] = _text(g[key].attrs["unit"])
                elif key == name:
                    out[key] = np.full(shape, np.nan)
        out["done"] = np.asarray(out["done"]).astype(bool) if "done" in g else np.isfinite(out["energy"])
        out["tc"] = float(g.attrs.get("critical_temperature", np.nan))
        out["tc_err"] = float(g.attrs.get("critical_temperature_err", np.nan))
        out["tc_method"] = _text(g.attrs.get("critical_temperature_method", "none"))
        out["tc_note"] = _text(g.attrs.get("critical_temperature_note", ""))
        out["reweighted"] = None
        if "reweighted" in g:
            r = g["reweighted"]
            out["reweighted"] = {k: np.asarray(r[k][()]) for k in r.keys()}
        return out


def load_observables(path, names=None):
    """Time series from `/observables`: {name: {"step", "time", "value", "unit"}}.

    `value` is [frames] for scalars, [frames, D] for vectors.
    """
    out = {}
    with h5py.File(path, "r") as f:
        if "observables" not in f:
            return out
        for name, g in f["observables"].items():
            if names is not None and name not in names:
                continue
            if not isinstance(g, h5py.Group) or "value" not in g:
                continue
            n = min(g["step"].shape[0], g["time"].shape[0], g["value"].shape[0])
            out[name] = {"step": np.asarray(g["step"][:n]),
                         "time": np.asarray(g["time"][:n], dtype=float),
                         "value": np.asarray(g["value"][:n], dtype=float),
                         "unit": _text(g["value"].attrs.get("unit", ""))}
    return out


def load_stages(path):
    """The stage table `/stages` ({"type": [str], "first_step": int array, "steps": int
    array}), or None for files without stages (sweeps, older files)."""
    with h5py.File(path, "r") as f:
        if "stages" not in f:
            return None
        g = f["stages"]
        return {"type": [_text(t) for t in g["type"][()]],
                "first_step": np.asarray(g["first_step"][()], dtype=np.int64),
                "steps": np.asarray(g["steps"][()], dtype=np.int64)}


def load_frames(path, element="moment"):
    """An H5MD particle element: (step, time, value [frames, N, 3], unit)."""
    with h5py.File(path, "r") as f:
        g = f["particles/all"][element]
        return (np.asarray(g["step"][()]), np.asarray(g["time"][()], dtype=float),
                np.asarray(g["value"][()], dtype=float), _text(g["value"].attrs.get("unit", "")))
