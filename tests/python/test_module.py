"""Tests of the `spinlat` Python module (docs/python.md), run by ctest with Debian's
/usr/bin/python3 and PYTHONPATH=build/python:

- the ASE calculator against `spinlat eval` on the same frames (energy, forces, magnetic forces,
  stress to 1e-10 relative), for an analytic spin-lattice Hamiltonian (EAM + Bethe-Slater + DMI +
  anisotropy + Landau) and, in a LibTorch build, the bundled learned model;
- forces, magnetic forces and stress against central finite differences of the energy (the
  stress with ASE's sign: σ = (1/V) ∂E/∂ε);
- moments from `magmom` arrays, initial magnetic moments and the calculator keyword;
- spinlat.run against `spinlat run` (same seed, same numbers) and spinlat.open;
- input errors: spinlat.InputError with the command line's message, never a crash.

Environment (set by CMake): SPINLAT_SOURCE_DIR, SPINLAT_BINARY.
"""
import os
import re
import subprocess
import tempfile
import unittest

import numpy as np
from ase.build import bulk
from ase.io.extxyz import key_val_str_to_dict

import spinlat

SOURCE = os.environ.get("SPINLAT_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
BINARY = os.environ.get("SPINLAT_BINARY", os.path.join(SOURCE, "build", "spinlat"))
ANALYTIC = os.path.join(SOURCE, "inputs", "python", "fe_spin_lattice.toml")
LEARNED = os.path.join(SOURCE, "inputs", "default.toml")
EAM = "/usr/share/lammps/examples/SPIN/iron/Fe_Mishin2006.eam.alloy"


def frames(seed, n=3, cells=(2, 2, 2)):
    """Distorted bcc Fe cells (random displacements, a general strain, random moment
    directions and sizes around 2.2 μB), each with a 3-column `magmom` array."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        a = bulk("Fe", "bcc", a=2.8665, cubic=True).repeat(cells)
        strain = np.eye(3) + 0.02 * rng.standard_normal((3, 3))
        a.set_cell(a.cell[:] @ strain.T, scale_atoms=True)
        a.positions += 0.06 * rng.standard_normal(a.positions.shape)
        e = rng.standard_normal((len(a), 3)) + np.array([0.0, 0.0, 1.5])  # mostly along +z
        e /= np.linalg.norm(e, axis=1)[:, None]
        a.arrays["magmom"] = e * rng.uniform(1.9, 2.5, len(a))[:, None]
        out.append(a)
    return out


def write_xyz(path, atoms_list):
    """Extended XYZ with full-precision numbers (repr), magmom as R:3."""
    with open(path, "w") as f:
        for a in atoms_list:
            lat = " ".join(repr(float(x)) for x in a.cell[:].ravel())
            f.write(f"{len(a)}\n")
            f.write(f'Lattice="{lat}" Properties=species:S:1:pos:R:3:magmom:R:3 pbc="T T T"\n')
            for s, r, m in zip(a.get_chemical_symbols(), a.positions, a.arrays["magmom"]):
                f.write(s + " " + " ".join(repr(float(x)) for x in list(r) + list(m)) + "\n")


def read_eval(path):
    """`spinlat eval` output: per frame {energy, stress (3×3), forces, magforces}."""
    out = []
    with open(path) as f:
        lines = f.read().splitlines()
    i = 0
    while i < len(lines):
        n = int(lines[i])
        info = key_val_str_to_dict(lines[i + 1])
        cols = info["Properties"].split(":")
        props, start = {}, 0
        for name, kind, width in zip(cols[0::3], cols[1::3], cols[2::3]):
            props[name] = (start, int(width), kind)
            start += int(width)
        rows = [lines[i + 2 + j].split() for j in range(n)]
        # ASE's parser reads a 9-number `stress` in column-major order; spinlat writes σ row
        # major (learned/evaluate.hpp), so the numbers are taken as written.
        stress = re.search(r'(?:^|\s)stress="([^"]*)"', lines[i + 1]).group(1)
        frame = {"energy": float(info["energy"]),
                 "stress": np.array([float(x) for x in stress.split()]).reshape(3, 3)}
        for name in ("forces", "magforces"):
            s, w, _ = props[name]
            frame[name] = np.array([[float(x) for x in r[s:s + w]] for r in rows])
        out.append(frame)
        i += n + 2
    return out


def eval_cli(input_path, atoms_list):
    with tempfile.TemporaryDirectory() as d:
        xyz, res = os.path.join(d, "in.xyz"), os.path.join(d, "out.xyz")
        write_xyz(xyz, atoms_list)
        p = subprocess.run([BINARY, "eval", input_path, xyz, "-o", res], capture_output=True, text=True)
        if p.returncode != 0:
            raise AssertionError("spinlat eval failed: " + p.stderr)
        return read_eval(res)


def cli_error(*args):
    """The one-line message `spinlat ...` prints for an input error (without its prefix)."""
    p = subprocess.run([BINARY, *args], capture_output=True, text=True)
    assert p.returncode == 2, (p.returncode, p.stderr)
    line = p.stderr.strip().splitlines()[-1]
    assert line.startswith("spinlat: error: "), line
    return line[len("spinlat: error: "):]


def rel_diff(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


class AgainstEval(unittest.TestCase):
    """The calculator gives `spinlat eval`'s numbers on the same frames."""

    def check(self, input_path, atoms_list):
        ref = eval_cli(input_path, atoms_list)
        calc = spinlat.Calculator(input=input_path)
        for a, r in zip(atoms_list, ref):
            a.calc = calc
            self.assertLess(abs(a.get_potential_energy() - r["energy"]), 1e-10 * abs(r["energy"]))
            self.assertLess(rel_diff(a.get_forces(), r["forces"]), 1e-10)
            self.assertLess(rel_diff(calc.get_magnetic_forces(a), r["magforces"]), 1e-10)
            self.assertLess(rel_diff(calc.get_property("stress_full", a), r["stress"]), 1e-10)
            s = r["stress"]
            voigt = [s[0, 0], s[1, 1], s[2, 2], (s[1, 2] + s[2, 1]) / 2, (s[0, 2] + s[2, 0]) / 2, (s[0, 1] + s[1, 0]) / 2]
            self.assertLess(rel_diff(a.get_stress(), voigt), 1e-10)
            # The forces are not trivially zero (a distorted cell with tilted moments).
            self.assertGreater(np.max(np.abs(r["forces"])), 0.05)
            self.assertGreater(np.max(np.abs(r["magforces"])), 1e-3)

    @unittest.skipUnless(spinlat.with_torch, "spinlat eval needs a LibTorch build")
    def test_analytic(self):
        self.check(ANALYTIC, frames(1))

    @unittest.skipUnless(spinlat.with_torch, "the learned model needs a LibTorch build")
    def test_learned_model(self):
        # inputs/default.toml: the bundled learned model inputs/models/fe_bcc.spl.
        self.check(LEARNED, frames(2, n=2))


class FiniteDifferences(unittest.TestCase):
    """Forces, magnetic forces and stress are derivatives of the energy (central
    differences, step h: truncation O(h²) and rounding ~1e-16 |E|/h, both below the tolerance)."""

    def check(self, calc, a):
        a.calc = calc
        f, mf = a.get_forces(), calc.get_magnetic_forces(a)
        stress = calc.get_property("stress_full", a)
        scale_f = np.max(np.abs(f))
        rng = np.random.default_rng(5)
        for i in rng.choice(len(a), 4, replace=False):
            for k in range(3):
                h = 1e-5
                e = []
                for sgn in (1, -1):
                    b = a.copy()
                    b.positions[i, k] += sgn * h
                    b.calc = calc
                    e.append(b.get_potential_energy())
                self.assertLess(abs(-(e[0] - e[1]) / (2 * h) - f[i, k]), 1e-6 * scale_f, (i, k))
                e = []
                for sgn in (1, -1):
                    b = a.copy()
                    b.arrays["magmom"][i, k] += sgn * h
                    b.calc = calc
                    e.append(b.get_potential_energy())
                self.assertLess(abs(-(e[0] - e[1]) / (2 * h) - mf[i, k]), 1e-6 * np.max(np.abs(mf)), (i, k))
        # σ_ab = (1/V) ∂E/∂ε_ab for r_a → r_a + ε_ab r_b of positions and cell (ASE's sign).
        v = a.get_volume()
        for ia in range(3):
            for ib in range(3):
                h = 1e-6
                e = []
                for sgn in (1, -1):
                    eps = np.eye(3)
                    eps[ia, ib] += sgn * h
                    b = a.copy()
                    b.set_cell(a.cell[:] @ eps.T, scale_atoms=False)
                    b.positions = a.positions @ eps.T
                    b.calc = calc
                    e.append(b.get_potential_energy())
                self.assertLess(abs((e[0] - e[1]) / (2 * h) / v - stress[ia, ib]), 1e-6 * np.max(np.abs(stress)), (ia, ib))
        # ASE's stress is the symmetric part (DMI makes σ non-symmetric: docs/units.md).
        np.testing.assert_allclose(a.get_stress(voigt=False), 0.5 * (stress + stress.T), rtol=0, atol=1e-15)

    def test_analytic(self):
        self.check(spinlat.Calculator(input=ANALYTIC), frames(3, n=1)[0])

    @unittest.skipUnless(spinlat.with_torch, "the learned model needs a LibTorch build")
    def test_learned_model(self):
        self.check(spinlat.Calculator(input=LEARNED), frames(4, n=1)[0])

    def test_compressed_crystal_has_negative_stress(self):
        # ASE's convention: a compressed crystal pushes outwards, stress < 0 (pressure > 0).
        calc = spinlat.Calculator(potentials=[{"type": "eam", "file": EAM}])
        for a0, sign in ((2.75, -1), (2.95, 1)):
            a = bulk("Fe", "bcc", a=a0, cubic=True)
            a.calc = calc
            s = a.get_stress()
            self.assertTrue(np.all(np.sign(s[:3]) == sign), (a0, s))
            np.testing.assert_allclose(s[3:], 0.0, atol=1e-12)


class Moments(unittest.TestCase):
    def setUp(self):
        self.calc = spinlat.Calculator(ANALYTIC)  # docs/python.md's spelling: the input positional

    def energy(self, a):
        a.calc = self.calc
        return a.get_potential_energy()

    def test_sources_agree(self):
        a = bulk("Fe", "bcc", a=2.8665, cubic=True).repeat(2)
        n = len(a)
        b = a.copy()
        b.arrays["magmom"] = np.tile([0.0, 0.0, 2.2], (n, 1))
        c = a.copy()
        c.set_initial_magnetic_moments([2.2] * n)  # collinear: along +z
        d = a.copy()
        d.set_initial_magnetic_moments(np.tile([0.0, 0.0, 2.2], (n, 1)))
        e_ref = self.energy(b)
        self.assertEqual(self.energy(c), e_ref)
        self.assertEqual(self.energy(d), e_ref)
        kw = spinlat.Calculator(input=ANALYTIC, magmoms=[2.2] * n)
        a.calc = kw
        self.assertEqual(a.get_potential_energy(), e_ref)
        np.testing.assert_array_equal(kw.get_property("magmoms", a), b.arrays["magmom"])
        # A changed `magmom` array is a new structure (the calculator recomputes).
        b.arrays["magmom"][0] = [2.2, 0.0, 0.0]
        self.assertNotEqual(self.energy(b), e_ref)

    def test_missing_moments_is_an_error(self):
        a = bulk("Fe", "bcc", a=2.8665, cubic=True)
        a.calc = self.calc
        with self.assertRaisesRegex(spinlat.InputError, "no magnetic moments given.*magmom"):
            a.get_potential_energy()
        # A lattice potential alone needs none.
        a.calc = spinlat.Calculator(potentials=f'[[potential]]\ntype = "eam"\nfile = "{EAM}"\n')
        self.assertLess(a.get_potential_energy(), 0.0)

    def test_bad_moment_shape(self):
        a = bulk("Fe", "bcc", a=2.8665, cubic=True)
        a.arrays["magmom"] = np.zeros((len(a), 3))
        a.calc = spinlat.Calculator(input=ANALYTIC, magmoms=np.zeros((5, 2)))
        a.get_potential_energy()  # the atoms' own array wins
        del a.arrays["magmom"]
        with self.assertRaisesRegex(spinlat.InputError, r"magmoms=.*shape \(5, 2\)"):
            a.get_potential_energy()


class PotentialsOnly(unittest.TestCase):
    def test_dicts_equal_input_file(self):
        # The input file's terms given as dicts, without a [structure]: the same numbers
        # (the shells of heisenberg/dmi come from the structure they are built on, here the
        # evaluated cell, which is the same ideal lattice).
        pots = [{"type": "eam", "file": EAM},
                {"type": "bethe-slater", "a": 0.02726, "b": 0.2171, "d": 1.841, "cutoff": 3.4},
                {"type": "dmi", "kind": "bulk", "D": [0.002]},
                {"type": "anisotropy", "kind": "uniaxial", "K": 0.001, "axis": [0, 0, 1]},
                {"type": "landau", "A": -0.0968, "B": 0.01}]
        a = bulk("Fe", "bcc", a=2.8665, cubic=True).repeat(2)
        rng = np.random.default_rng(9)
        m = rng.standard_normal((len(a), 3))
        a.arrays["magmom"] = 2.2 * m / np.linalg.norm(m, axis=1)[:, None]
        b = a.copy()
        a.calc = spinlat.Calculator(input=ANALYTIC)
        b.calc = spinlat.Calculator(potentials=pots)
        self.assertEqual(a.get_potential_energy(), b.get_potential_energy())
        np.testing.assert_array_equal(a.get_forces(), b.get_forces())
        np.testing.assert_array_equal(a.calc.get_magnetic_forces(a), b.calc.get_magnetic_forces(b))

    def test_species_are_checked(self):
        a = bulk("Ni", "fcc", a=3.52, cubic=True)
        a.set_initial_magnetic_moments([0.6] * len(a))
        a.calc = spinlat.Calculator(input=ANALYTIC)
        with self.assertRaisesRegex(spinlat.InputError, r"species 'Ni' is not one of the input structure's species \(Fe\)"):
            a.get_potential_energy()

    def test_read_structure(self):
        a = spinlat.read_structure(ANALYTIC)
        self.assertEqual(len(a), 16)
        np.testing.assert_allclose(a.cell.lengths(), [2 * 2.8665] * 3)
        np.testing.assert_allclose(a.arrays["magmom"], np.tile([0, 0, 2.2], (16, 1)))


class RunAndOpen(unittest.TestCase):
    INPUT = """seed = 11
threads = 1
[structure]
lattice = "sc"
a = 2.5
cells = [4, 4, 4]
species = ["Fe"]
moment = [2.0]
[[potential]]
type = "heisenberg"
J = [0.01]
[[stage]]
type = "mc"
temperature = 100.0
sweeps = 300
[output]
file = "default_name.h5"
observables_every = 10
"""

    def test_run_equals_cli(self):
        with tempfile.TemporaryDirectory() as d:
            inp = os.path.join(d, "in.toml")
            with open(inp, "w") as f:
                f.write(self.INPUT)
            res = spinlat.run(inp, output=os.path.join(d, "py.h5"), overrides={"stage.0.temperature": 120.0})
            subprocess.run([BINARY, "run", inp, "-o", os.path.join(d, "cli.h5"), "--quiet",
                            "--set", "stage.0.temperature=120.0"], check=True, capture_output=True)
            cli = spinlat.open(os.path.join(d, "cli.h5"))
            m = res.observables["magnetization"]
            self.assertEqual(len(m.step), 31)  # steps 0, 10, ..., 300
            self.assertTrue(np.all((m.value > 0.5) & (m.value <= 1.0)))  # ordered at 120 K (Tc ≈ 180 K)
            np.testing.assert_array_equal(m.value, cli.observables["magnetization"].value)
            np.testing.assert_array_equal(res.observables["potential_energy"].value,
                                          cli.observables["potential_energy"].value)
            self.assertEqual(res.units["/observables/potential_energy/value"], "eV/atom")
            self.assertIn("temperature = 120.0", res.input)
            self.assertIn("moment", res.particles.get("all", {"moment": None}))
            # Without output= the input's [output] file, relative to the working directory.
            cwd = os.getcwd()
            try:
                os.chdir(d)
                spinlat.run(inp)
                self.assertTrue(os.path.exists(os.path.join(d, "default_name.h5")))
            finally:
                os.chdir(cwd)

    def test_sweep_arrays(self):
        with tempfile.TemporaryDirectory() as d:
            inp = os.path.join(d, "in.toml")
            with open(inp, "w") as f:
                f.write(self.INPUT.split("[[stage]]")[0] +
                        "[sweep]\ntemperatures = [100.0, 300.0]\nsizes = [3]\nequilibrate = 50\nmeasure = 100\n")
            res = spinlat.run(inp, output=os.path.join(d, "s.h5"))
            self.assertEqual(res.sweep["magnetization"].shape, (1, 2))
            self.assertGreater(res.sweep["magnetization"][0, 0], res.sweep["magnetization"][0, 1])
            self.assertIn("critical_temperature_method", res.sweep_attrs)


    def test_interrupt_writes_checkpoint(self):
        # SIGINT during spinlat.run: a checkpoint, then KeyboardInterrupt naming restart=True.
        import signal
        import sys
        import time
        with tempfile.TemporaryDirectory() as d:
            inp, out = os.path.join(d, "in.toml"), os.path.join(d, "long.h5")
            with open(inp, "w") as f:
                f.write(self.INPUT.replace("sweeps = 300", "sweeps = 100000000"))
            code = f"import spinlat\nspinlat.run({inp!r}, output={out!r})\n"
            p = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True, env=os.environ)
            for _ in range(600):  # until the run has started writing
                if os.path.exists(out):
                    break
                time.sleep(0.05)
            time.sleep(0.5)
            p.send_signal(signal.SIGINT)
            _, err = p.communicate(timeout=120)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("KeyboardInterrupt: spinlat.run stopped: checkpoint", err)
            self.assertIn("restart=True", err)
            self.assertTrue(os.path.exists(out + ".ckpt"))


class Errors(unittest.TestCase):
    """Bad input: spinlat.InputError (a ValueError) with the command line's message."""

    def bad_input(self, d, text):
        p = os.path.join(d, "bad.toml")
        with open(p, "w") as f:
            f.write(text)
        return p

    def test_same_message_as_cli(self):
        with tempfile.TemporaryDirectory() as d:
            cases = [
                RunAndOpen.INPUT.replace("J = [0.01]", "J = [0.01]\nJJ = 1"),      # unknown key in a term
                RunAndOpen.INPUT.replace("a = 2.5", "a = -2.5"),                   # impossible value
                RunAndOpen.INPUT.replace('type = "heisenberg"', 'type = "heisenburg"'),  # unknown term
                "seed = [",                                                      # invalid TOML
            ]
            for text in cases:
                p = self.bad_input(d, text)
                want = cli_error("validate", p)
                with self.assertRaises(spinlat.InputError) as ctx:
                    spinlat.Calculator(input=p)
                self.assertEqual(str(ctx.exception), want)
                self.assertIsInstance(ctx.exception, ValueError)
                with self.assertRaises(spinlat.InputError) as ctx:
                    spinlat.run(p, output=os.path.join(d, "x.h5"))
                self.assertEqual(str(ctx.exception), cli_error("run", p, "-o", os.path.join(d, "y.h5")))
                with self.assertRaises(spinlat.InputError) as ctx:
                    spinlat.validate(p)
                self.assertEqual(str(ctx.exception), want)

    def test_missing_file(self):
        with self.assertRaises(spinlat.InputError) as ctx:
            spinlat.Calculator(input="/nonexistent/in.toml")
        self.assertEqual(str(ctx.exception), cli_error("validate", "/nonexistent/in.toml"))

    def test_override_error(self):
        with self.assertRaisesRegex(spinlat.InputError, "potential.3.K"):
            spinlat.Calculator(input=ANALYTIC, overrides={"potential.3.K": "soft"})

    def test_bad_potential_dicts_and_arrays(self):
        # Without a [structure] the terms are built for the first structure evaluated: their
        # key errors come then.
        a = bulk("Fe", "bcc", a=2.8665, cubic=True)
        a.set_initial_magnetic_moments([2.2] * len(a))
        a.calc = spinlat.Calculator(potentials=[{"type": "heisenberg", "J": [0.01], "Jx": 2}])
        with self.assertRaisesRegex(spinlat.InputError, r"^<potentials>:4: 'potential.0.Jx': unknown key"):
            a.get_potential_energy()
        calc = spinlat.Calculator(potentials=[{"type": "eam", "file": EAM}])
        a.positions[0] = [np.nan, 0, 0]
        a.calc = calc
        with self.assertRaisesRegex(spinlat.InputError, "positions: row 0 is not finite"):
            a.get_potential_energy()
        a = bulk("Fe", "bcc", a=2.8665, cubic=True)
        a.calc = spinlat.Calculator(potentials="[[potential]]\ntype = 3\n")
        with self.assertRaisesRegex(spinlat.InputError, "^<potentials>:2: 'potential.0.type'"):
            a.get_potential_energy()
        with self.assertRaisesRegex(spinlat.InputError, "^<potentials>:1: 'sweep': needs a \\[structure\\]"):
            spinlat.Calculator(potentials="[sweep]\ntemperatures = [1.0]\n[[potential]]\ntype = 'landau'\nA = 1.0\nB = 1.0\n")
        with self.assertRaisesRegex(spinlat.InputError, "^<potentials>:1: 'potential': expected \\[\\[potential\\]\\] tables"):
            spinlat.Calculator(potentials="title = 'no terms'\n")
        with self.assertRaises(spinlat.InputError):
            spinlat.Calculator(input=ANALYTIC, potentials=[])


if __name__ == "__main__":
    unittest.main(verbosity=2)
