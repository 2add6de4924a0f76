#!/usr/bin/python3
"""Relaxes a bcc Fe cell (positions and cell) with ASE's own BFGS on spinlat's Hamiltonian,
then runs a short NVE molecular dynamics with ASE's VelocityVerlet (docs/python.md).

    PYTHONPATH=build/python /usr/bin/python3 inputs/python/ase_relax.py [INPUT.toml] [--md STEPS]

INPUT.toml (default: inputs/python/fe_spin_lattice.toml next to this script) gives the
[[potential]] terms. The moments stay fixed (ferromagnetic, 2.2 μB along z): ASE moves atoms
and the cell, not moments. Prints the relaxed energy (eV/atom), lattice parameter (Å), largest
force and stress, and the MD total-energy drift.
"""
import argparse
import os

import numpy as np
from ase import units
from ase.build import bulk
from ase.constraints import ExpCellFilter
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
from ase.md.verlet import VelocityVerlet
from ase.optimize import BFGS

import spinlat

here = os.path.dirname(os.path.abspath(__file__))
ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("input", nargs="?", default=os.path.join(here, "fe_spin_lattice.toml"))
ap.add_argument("--md", type=int, default=100, help="VelocityVerlet steps after the relaxation (0: none)")
ap.add_argument("--fmax", type=float, default=1e-4, help="BFGS force tolerance (eV/Å, also on the cell)")
args = ap.parse_args()

# 2×2×2 conventional cells, compressed 2 % and rattled, moments along z.
atoms = bulk("Fe", "bcc", a=2.80, cubic=True).repeat(2)
atoms.rattle(stdev=0.02, seed=1)
atoms.arrays["magmom"] = np.tile([0.0, 0.0, 2.2], (len(atoms), 1))
atoms.calc = spinlat.Calculator(input=args.input)

n = len(atoms)
print(f"start: E = {atoms.get_potential_energy() / n:.6f} eV/atom, "
      f"stress = {np.max(np.abs(atoms.get_stress())):.3e} eV/A^3")
opt = BFGS(ExpCellFilter(atoms), logfile=None)
converged = opt.run(fmax=args.fmax, steps=500)
a = atoms.get_volume() ** (1 / 3) / 2  # two conventional cells per edge
print(f"relaxed ({'converged' if converged else 'NOT converged'} in {opt.nsteps} BFGS steps): "
      f"E = {atoms.get_potential_energy() / n:.10f} eV/atom, a = {a:.7f} A, "
      f"max |F| = {np.max(np.abs(atoms.get_forces())):.2e} eV/A, "
      f"max |stress| = {np.max(np.abs(atoms.get_stress())):.2e} eV/A^3")

if args.md > 0:
    # NVE from 300 K (Maxwell-Boltzmann, fixed seed), dt = 1 fs.
    MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(3))
    dyn = VelocityVerlet(atoms, timestep=1.0 * units.fs, logfile=None)
    e0 = atoms.get_total_energy() / n
    drift = 0.0
    for _ in range(args.md):
        dyn.run(1)
        drift = max(drift, abs(atoms.get_total_energy() / n - e0))
    print(f"md: {args.md} VelocityVerlet steps of 1 fs, E_total = {atoms.get_total_energy() / n:.8f} eV/atom, "
          f"max |E_total - E_total(0)| = {drift:.2e} eV/atom, T = {atoms.get_temperature():.1f} K")
