"""An ASE calculator for the Hamiltonian of any spinlat input (docs/python.md).

Units are ASE's: eV, Å, μB; magnetic forces −∂E/∂m in eV/μB; stress in ASE's convention
σ = (1/V) ∂E/∂ε (eV/Å³, tension positive; Voigt order xx, yy, zz, yz, xz, xy), the same σ as
`spinlat eval`'s `stress` (docs/units.md, "Stress and the strain derivative").
"""
import os

import numpy as np
from ase.calculators.calculator import Calculator as _AseCalculator
from ase.calculators.calculator import PropertyNotImplementedError, all_changes

from . import _spinlat, _toml


def moments_of(atoms, default=None):
    """The moment vectors (N×3, μB) of `atoms`: its 3-column `magmom` array, else its ASE
    initial magnetic moments (collinear scalars along +z, 3-vectors as they are), else
    `default` (a calculator's `magmoms`), else None."""
    n = len(atoms)
    if "magmom" in atoms.arrays:
        m = np.asarray(atoms.arrays["magmom"], dtype=float)
        source = "atoms.arrays['magmom']"
    elif atoms.has("initial_magmoms"):
        m = np.asarray(atoms.get_initial_magnetic_moments(), dtype=float)
        source = "the initial magnetic moments"
    elif default is not None:
        m = np.asarray(default, dtype=float)
        source = "Calculator(magmoms=...)"
    else:
        return None
    if m.ndim == 1 and m.shape == (n,):
        m = np.column_stack([np.zeros(n), np.zeros(n), m])  # collinear: along z
    if m.shape != (n, 3):
        raise _spinlat.InputError(f"{source}: expected {n} moments (N or N x 3, muB), got shape {m.shape}")
    return np.ascontiguousarray(m)


class Calculator(_AseCalculator):
    """ASE calculator for a spinlat input's [[potential]] terms (analytic or learned).

    Calculator(input="x.toml")             an input file (its [structure] optional)
    Calculator(potentials=TEXT_OR_DICTS)    [[potential]] tables as TOML text or dicts
    overrides:  {dotted.key: value} or ["KEY=VALUE"], as `--set` (e.g. {"potential.0.J": [0.02]})
    magmoms:    moments (N or N×3, μB) for atoms that carry none
    directory_of_files: where relative file names of `potentials` resolve (default: cwd)

    Properties: energy (= free_energy), forces, stress (periodic cells), magforces (per atom,
    −∂E/∂m, eV/μB), magmoms (the N×3 moments used) and stress_full (3×3, not symmetrised).
    """

    implemented_properties = ["energy", "free_energy", "forces", "stress", "stress_full", "magforces", "magmoms"]

    def __init__(self, input=None, potentials=None, overrides=None, magmoms=None, directory_of_files=None, **kwargs):
        super().__init__(**kwargs)
        if (input is None) == (potentials is None):
            raise _spinlat.InputError("Calculator: give either input='FILE.toml' or potentials=...")
        sets = _toml.overrides(overrides)
        if input is not None:
            self.model = _spinlat.Model(path=os.fspath(input), overrides=sets)
        else:
            text = potentials if isinstance(potentials, str) else _toml.potentials(potentials)
            where = os.path.abspath(directory_of_files or os.getcwd())
            self.model = _spinlat.Model(text=text, name="<potentials>", overrides=sets, directory=where)
        self.magmoms = None if magmoms is None else np.asarray(magmoms, dtype=float)

    @property
    def species(self):
        """The species the Hamiltonian was built for (the input structure's, in its order)."""
        return list(self.model.species)

    def check_state(self, atoms, tol=1e-15):
        changes = super().check_state(atoms, tol)
        # A moment change is a system change too (ASE checks only initial_magmoms).
        old = None if self.atoms is None else self.atoms.arrays.get("magmom")
        new = atoms.arrays.get("magmom")
        if (old is None) != (new is None) or (old is not None and (old.shape != new.shape or np.any(np.abs(old - new) > tol))):
            changes.append("magmom")
        return changes

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        a = self.atoms
        pbc = [bool(p) for p in a.pbc]
        if "stress" in properties or "stress_full" in properties:
            if not all(pbc):
                raise PropertyNotImplementedError("stress needs a cell periodic along all three axes")
        m = moments_of(a, self.magmoms)
        energy, forces, magforces, virial = self.model.evaluate(
            np.ascontiguousarray(a.cell[:], dtype=float), pbc,
            np.ascontiguousarray(a.positions, dtype=float), a.get_chemical_symbols(), m)
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "forces": forces,
            "magforces": magforces,
            "magmoms": np.zeros((len(a), 3)) if m is None else m.copy(),
        }
        if all(pbc):
            # σ = −Wᵀ/V (docs/units.md); ASE's Voigt form averages the off-diagonal pairs.
            sigma = -virial.T / a.get_volume()
            self.results["stress_full"] = sigma
            self.results["stress"] = np.array([sigma[0, 0], sigma[1, 1], sigma[2, 2],
                                               0.5 * (sigma[1, 2] + sigma[2, 1]),
                                               0.5 * (sigma[0, 2] + sigma[2, 0]),
                                               0.5 * (sigma[0, 1] + sigma[1, 0])])

    def get_magnetic_forces(self, atoms=None):
        """−∂E/∂m per atom (N×3, eV/μB)."""
        return self.get_property("magforces", atoms)


def read_structure(input, overrides=None):
    """The structure an input's [structure] builds, as ase.Atoms with a 3-column `magmom`
    array (μB)."""
    from ase import Atoms

    d = _spinlat.Model(path=os.fspath(input), overrides=_toml.overrides(overrides)).structure()
    atoms = Atoms(symbols=d["symbols"], positions=d["positions"], cell=d["cell"], pbc=d["pbc"])
    atoms.arrays["magmom"] = np.asarray(d["magmoms"])
    return atoms
