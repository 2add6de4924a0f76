"""Running an input and reading its HDF5 results (docs/output.md) as numpy arrays."""
import os
from collections import namedtuple

import numpy as np

from . import _spinlat, _toml

Series = namedtuple("Series", ["step", "time", "value"])
Series.__doc__ = "One /observables time series: step (int), time (ps), value (unit in `units`)."


class Results:
    """The contents of a spinlat results file, read once into numpy arrays.

    attrs        root attributes (spinlat_version, input, units, seed, created, title)
    input        the input as run (TOML text)
    sweep        {name: array} of /sweep ([nL, nT] results, temperature, size, ...), or {}
    sweep_attrs  /sweep attributes (critical_temperature, its error, method, note)
    observables  {name: Series} of /observables (nested groups as "group/name")
    particles    {group: {box, position, velocity, moment: Series; species, mass: array}}
    units        {dataset path: unit attribute}
    """

    def __init__(self, path):
        import h5py

        self.path = os.fspath(path)
        self.sweep, self.sweep_attrs, self.observables, self.particles, self.units = {}, {}, {}, {}, {}
        with h5py.File(self.path, "r") as f:
            self.attrs = {k: _plain(v) for k, v in f.attrs.items()}
            self.input = self.attrs.get("input", "")
            if "sweep" in f:
                g = f["sweep"]
                self.sweep_attrs = {k: _plain(v) for k, v in g.attrs.items()}
                for k, d in g.items():
                    if isinstance(d, h5py.Dataset):
                        self.sweep[k] = d[()]
                        self._unit(d)
            if "observables" in f:
                f["observables"].visititems(lambda name, obj: self._series(name, obj, self.observables))
            if "particles" in f:
                for group, g in f["particles"].items():
                    p = {}
                    for k, d in g.items():
                        if isinstance(d, h5py.Dataset):
                            p[k] = d[()]
                        elif k == "box" and "edges" in d:
                            p["box"] = _read_series(d["edges"])
                        elif "value" in d:
                            p[k] = _read_series(d)
                            self._unit(d["value"])
                    self.particles[group] = p

    def _unit(self, d):
        if "unit" in d.attrs:
            self.units[d.name] = _plain(d.attrs["unit"])

    def _series(self, name, obj, out):
        import h5py

        if isinstance(obj, h5py.Group) and "value" in obj and "step" in obj:
            out[name] = _read_series(obj)
            self._unit(obj["value"])

    def __repr__(self):
        parts = [f"spinlat results {self.path!r}"]
        if self.sweep:
            parts.append("sweep: " + ", ".join(sorted(self.sweep)))
        if self.observables:
            parts.append("observables: " + ", ".join(sorted(self.observables)))
        if self.particles:
            parts.append("particles: " + ", ".join(sorted(self.particles)))
        return "<" + "; ".join(parts) + ">"


def _read_series(g):
    return Series(g["step"][()], g["time"][()] if "time" in g else None, g["value"][()])


def _plain(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray) and v.dtype.kind in "SO":
        return [x.decode() if isinstance(x, bytes) else x for x in v.tolist()]
    return v


def open(path):
    """Reads a results file (HDF5) written by `spinlat run` or spinlat.run."""
    return Results(path)


def run(input, output=None, overrides=None, restart=False, quiet=True):
    """Runs an input as `spinlat run INPUT [-o OUTPUT] [--set ...] [--restart]` does, in this
    process, and returns its Results. `overrides`: {dotted.key: value} or ["KEY=VALUE"].
    SIGINT/SIGTERM write a checkpoint and raise KeyboardInterrupt (restart=True continues)."""
    sets = _toml.overrides(overrides)
    out = os.fspath(output) if output is not None else _spinlat.output_file(os.fspath(input), sets)
    status = _spinlat.run(os.fspath(input), out, sets, restart, quiet)
    if status == 3:
        raise KeyboardInterrupt(f"spinlat.run stopped: checkpoint {out}.ckpt written; "
                                f"spinlat.run({os.fspath(input)!r}, output={out!r}, restart=True) continues")
    return Results(out)


def validate(input, overrides=None):
    """Checks an input without running it (`spinlat validate`); returns its summary text."""
    return _spinlat.validate(os.fspath(input), _toml.overrides(overrides))
