"""inputs/python/ase_relax.py runs, and what it prints is right: ASE's BFGS on positions and
cell (ExpCellFilter, driven by the calculator's stress) ends at the minimum of E(a) found
without the stress (a golden-section search on the energy of the ideal cell), and ASE's
VelocityVerlet conserves the total energy (forces are −∂E/∂r)."""
import os
import re
import subprocess
import sys
import unittest

from ase.build import bulk
from scipy.optimize import minimize_scalar

import numpy as np
import spinlat

SOURCE = os.environ.get("SPINLAT_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
EXAMPLE = os.path.join(SOURCE, "inputs", "python", "ase_relax.py")
INPUT = os.path.join(SOURCE, "inputs", "python", "fe_spin_lattice.toml")


class Example(unittest.TestCase):
    def test_relax_and_md(self):
        p = subprocess.run([sys.executable, EXAMPLE, "--md", "100"], capture_output=True, text=True, env=os.environ)
        self.assertEqual(p.returncode, 0, p.stderr)
        print(p.stdout)
        m = re.search(r"relaxed \(converged .*E = (\S+) eV/atom, a = (\S+) A", p.stdout)
        self.assertIsNotNone(m, p.stdout)
        e_relaxed, a_relaxed = float(m.group(1)), float(m.group(2))

        calc = spinlat.Calculator(input=INPUT)

        def energy(a):
            atoms = bulk("Fe", "bcc", a=a, cubic=True)
            atoms.arrays["magmom"] = np.tile([0.0, 0.0, 2.2], (len(atoms), 1))
            atoms.calc = calc
            return atoms.get_potential_energy() / len(atoms)

        best = minimize_scalar(energy, bracket=(2.80, 2.86, 2.95), tol=1e-10)
        # The relaxed cell: the E(a) minimum to 1e-4 Å (the DMI and anisotropy do not
        # distort a ferromagnet along z), the same energy to 1e-8 eV/atom.
        self.assertLess(abs(a_relaxed - best.x), 1e-4, (a_relaxed, best.x))
        self.assertLess(abs(e_relaxed - best.fun), 1e-8, (e_relaxed, best.fun))
        # Not the start (2.80 Å): the cell did move.
        self.assertGreater(abs(best.x - 2.80), 0.03)

        m = re.search(r"max \|E_total - E_total\(0\)\| = (\S+) eV/atom", p.stdout)
        self.assertIsNotNone(m, p.stdout)
        # Velocity Verlet at 1 fs, 300 K: energy error O(dt²), ~1e-6 eV/atom for iron; a sign
        # or unit error in the forces gives eV-sized drifts.
        self.assertLess(float(m.group(1)), 1e-4)


if __name__ == "__main__":
    unittest.main(verbosity=2)
