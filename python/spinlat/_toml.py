"""Python values as TOML text: for `potentials=[{...}]` and `overrides={...}` (tomllib reads
TOML but Python 3.11 has no writer)."""
import math
import numbers


def value(v, where="value"):
    """One TOML value (string, boolean, number, array, inline table)."""
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, numbers.Real):
        x = float(v)
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return repr(x)  # shortest text that reads back exactly
    if isinstance(v, dict):
        return "{ " + ", ".join(key(k) + " = " + value(x, f"{where}.{k}") for k, x in v.items()) + " }"
    if hasattr(v, "tolist"):  # numpy arrays and scalars
        return value(v.tolist(), where)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(value(x, where) for x in v) + "]"
    raise TypeError(f"{where}: cannot write a {type(v).__name__} as TOML")


def key(k):
    k = str(k)
    if k and all(c.isalnum() or c in "_-" for c in k):
        return k
    return value(k)


def potentials(tables):
    """[[potential]] tables from a list of dicts (or one dict)."""
    if isinstance(tables, dict):
        tables = [tables]
    out = []
    for n, t in enumerate(tables):
        if not isinstance(t, dict):
            raise TypeError(f"potentials[{n}]: expected a dict of [[potential]] keys, got {type(t).__name__}")
        out.append("[[potential]]")
        out += [f"{key(k)} = {value(v, f'potential.{n}.{k}')}" for k, v in t.items()]
        out.append("")
    return "\n".join(out)


def overrides(o):
    """`--set` assignments from a dict {dotted.key: value} (or a list of "KEY=VALUE")."""
    if o is None:
        return []
    if isinstance(o, str):
        return [o]
    if isinstance(o, dict):
        return [f"{k}={value(v, k)}" for k, v in o.items()]
    return [str(x) for x in o]
