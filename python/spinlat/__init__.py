"""spinlat from Python (docs/python.md): an ASE calculator for any spinlat input's
Hamiltonian, running inputs and reading their results.

    import spinlat
    atoms.calc = spinlat.Calculator(input="inputs/python/fe_eam_heisenberg.toml")
    atoms.get_potential_energy(), atoms.get_forces(), atoms.calc.get_magnetic_forces()
    res = spinlat.run("input.toml", output="out.h5", overrides={"sweep.sizes": [4]})
    res.sweep["magnetization"], res.observables["potential_energy"].value

Errors in an input raise spinlat.InputError (a ValueError) with the message the command line
prints after "spinlat: error: "; numerical faults raise spinlat.NumericalError.
"""
from ._spinlat import InputError, NumericalError, __version__, with_torch
from .calculator import Calculator, moments_of, read_structure
from .results import Results, Series, open, run, validate

# `open` is spinlat.open only: a star import must not shadow the built-in.
__all__ = ["Calculator", "InputError", "NumericalError", "Results", "Series", "__version__", "moments_of",
           "read_structure", "run", "validate", "with_torch"]
