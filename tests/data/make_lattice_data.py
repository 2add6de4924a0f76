#!/usr/bin/env python3
"""Writes the synthetic EAM files and configurations used by tests/test_lattice.cpp.

The EAM functions are analytic (smooth to zero at the cutoff), tabulated in the LAMMPS setfl
(eam/alloy) and Finnis-Sinclair (eam/fs) layouts; the two .data files are LAMMPS data files
of perturbed crystals (deterministic displacements), read both by LAMMPS
(lattice_reference.in, which gives the reference numbers in the test) and by the test.
Run from tests/data: python3 make_lattice_data.py
"""
import math

RC = 5.0          # cutoff (Å)
NR, NRHO = 500, 500
DR = RC / (NR - 1)
DRHO = 0.01
ELEM = [("Cu", 29, 63.546, 3.61, "fcc"), ("Ag", 47, 107.8682, 4.09, "fcc")]
F_E = [0.12, 0.16]      # density prefactors
BETA = [2.0, 1.7]       # density decay (1/Å)
EMB = [(2.2, 0.35), (2.6, 0.30)]      # F(ρ) = −E ρ / (1 + c ρ)
MORSE = {(0, 0): (0.30, 1.6, 2.6), (1, 0): (0.25, 1.5, 2.75), (1, 1): (0.22, 1.4, 2.9)}
FS_G = [[1.0, 0.8], [1.3, 1.0]]       # fs: ρ_{b→a} = FS_G[b][a] ρ_b


def psi(r):
    """Smooth cutoff x⁴/(1+x⁴), x = (r − rc)/0.8, zero beyond rc."""
    if r >= RC:
        return 0.0
    x = (r - RC) / 0.8
    return x ** 4 / (1 + x ** 4)


def rho(e, r):
    return F_E[e] * math.exp(-BETA[e] * (r - 2.6)) * psi(r)


def emb(e, p):
    E, c = EMB[e]
    return -E * p / (1 + c * p)


def phi(i, j, r):
    D, a, r0 = MORSE[(max(i, j), min(i, j))]
    return D * (math.exp(-2 * a * (r - r0)) - 2 * math.exp(-a * (r - r0))) * psi(r)


def block(values):
    out = []
    for k in range(0, len(values), 5):
        out.append(" ".join("%.16e" % v for v in values[k:k + 5]))
    return "\n".join(out) + "\n"


def write_eam(path, fs):
    rs = [k * DR for k in range(NR)]
    with open(path, "w") as f:
        f.write("synthetic %s EAM for spinlat tests (tests/data/make_lattice_data.py)\n" % ("fs" if fs else "alloy"))
        f.write("F = -E rho/(1+c rho), rho = f exp(-beta (r-2.6)) psi(r), phi = Morse * psi(r)\n")
        f.write("not a physical potential\n")
        f.write("2 Cu Ag\n")
        f.write("%d %.16e %d %.16e %.16e\n" % (NRHO, DRHO, NR, DR, RC))
        for e, (name, z, mass, a, lat) in enumerate(ELEM):
            f.write("%d %.4f %.4f %s\n" % (z, mass, a, lat))
            f.write(block([emb(e, k * DRHO) for k in range(NRHO)]))
            if fs:
                for a_ in range(2):
                    f.write(block([FS_G[e][a_] * rho(e, r) for r in rs]))
            else:
                f.write(block([rho(e, r) for r in rs]))
        for i in range(2):
            for j in range(i + 1):
                f.write(block([r * phi(i, j, r) for r in rs]))


def write_data(path, title, cell, atoms, masses):
    """cell: (lx, ly, lz, xy, xz, yz); atoms: list of (type, x, y, z)."""
    lx, ly, lz, xy, xz, yz = cell
    with open(path, "w") as f:
        f.write("%s\n\n%d atoms\n%d atom types\n\n" % (title, len(atoms), len(masses)))
        f.write("0 %.17g xlo xhi\n0 %.17g ylo yhi\n0 %.17g zlo zhi\n" % (lx, ly, lz))
        f.write("%.17g %.17g %.17g xy xz yz\n\nMasses\n\n" % (xy, xz, yz))
        for k, m in enumerate(masses):
            f.write("%d %.17g\n" % (k + 1, m))
        f.write("\nAtoms # atomic\n\n")
        for k, (t, x, y, z) in enumerate(atoms):
            f.write("%d %d %.17g %.17g %.17g\n" % (k + 1, t, x, y, z))


def crystal(basis, a, n, tilt, amp, types):
    lx = ly = lz = a * n
    xy, xz, yz = tilt
    atoms = []
    k = 0
    for z in range(n):
        for y in range(n):
            for x in range(n):
                for bi, b in enumerate(basis):
                    fx, fy, fz = (x + b[0]) / n, (y + b[1]) / n, (z + b[2]) / n
                    # r = f · h with rows a1 = (lx,0,0), a2 = (xy,ly,0), a3 = (xz,yz,lz)
                    px = fx * lx + fy * xy + fz * xz
                    py = fy * ly + fz * yz
                    pz = fz * lz
                    d = [amp * math.sin(1.7 * k + 0.3 * c + 0.1) for c in range(3)]
                    atoms.append((types(k, bi), px + d[0], py + d[1], pz + d[2]))
                    k += 1
    return (lx, ly, lz, xy, xz, yz), atoms


if __name__ == "__main__":
    write_eam("lattice_synthetic.eam.alloy", fs=False)
    write_eam("lattice_synthetic.eam.fs", fs=True)
    bcc = [(0, 0, 0), (0.5, 0.5, 0.5)]
    fcc = [(0, 0, 0), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)]
    cell, atoms = crystal(bcc, 2.8553, 3, (0.0, 0.0, 0.0), 0.12, lambda k, b: 1)
    write_data("lattice_fe54.data", "54 bcc Fe atoms, displaced (spinlat tests)", cell, atoms, [55.845])
    cell, atoms = crystal(fcc, 3.8, 2, (0.4, -0.3, 0.25), 0.10, lambda k, b: 1 + (k * 7 // 3) % 2)
    write_data("lattice_cuag.data", "32 Cu/Ag atoms, triclinic, displaced (spinlat tests)", cell, atoms,
               [63.546, 107.8682])
