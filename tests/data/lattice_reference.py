#!/usr/bin/env python3
"""Reference energies, virials and forces from LAMMPS (lmp, 29 Sep 2021 in Debian 12) for
tests/test_lattice.cpp. Writes lattice_ref_<case>.txt:
  energy E            (eV)
  virial Wxx Wyy Wzz Wxy Wxz Wyz   (eV; W = P_virial V / nktv2p, nktv2p = 1.6021765e6 in metal)
  then one line "fx fy fz" per atom in data-file order (eV/Å).
Run from tests/data after make_lattice_data.py:  python3 lattice_reference.py
"""
import os
import subprocess
import tempfile

FE = "/usr/share/lammps/examples/SPIN/iron/Fe_Mishin2006.eam.alloy"
CASES = {
    "fe54_mishin": ("lattice_fe54.data", "pair_style eam/alloy\npair_coeff * * %s Fe" % FE),
    "cuag_alloy": ("lattice_cuag.data", "pair_style eam/alloy\npair_coeff * * lattice_synthetic.eam.alloy Cu Ag"),
    "cuag_fs": ("lattice_cuag.data", "pair_style eam/fs\npair_coeff * * lattice_synthetic.eam.fs Cu Ag"),
    "cuag_morse": ("lattice_cuag.data", "pair_style morse 6.0\npair_coeff * * 0.3 1.5 2.7 6.0"),
    "cuag_lj_shift": ("lattice_cuag.data",
                      "pair_style lj/cut 5.5\npair_coeff * * 0.02 2.4 5.5\npair_modify shift yes"),
}
NKTV2P = 1.6021765e6

for name, (data, pair) in CASES.items():
    with tempfile.TemporaryDirectory() as tmp:
        dump = os.path.join(tmp, "f.dump")
        script = f"""units metal
atom_style atomic
boundary p p p
atom_modify map array sort 0 0.0
read_data {data}
{pair}
neighbor 1.0 bin
compute p all pressure NULL virial
thermo_style custom step pe c_p[1] c_p[2] c_p[3] c_p[4] c_p[5] c_p[6] vol
dump d all custom 1 {dump} id fx fy fz
dump_modify d format float %.17g sort id
run 0
print "REF energy $(pe:%.17g)"
print "REF press $(c_p[1]:%.17g) $(c_p[2]:%.17g) $(c_p[3]:%.17g) $(c_p[4]:%.17g) $(c_p[5]:%.17g) $(c_p[6]:%.17g)"
print "REF vol $(vol:%.17g)"
"""
        out = subprocess.run(["lmp", "-log", "none", "-echo", "none"], input=script, capture_output=True,
                             text=True, check=True)
        ref = {}
        for line in out.stdout.splitlines():
            if line.startswith("REF "):
                w = line.split()
                ref[w[1]] = [float(x) for x in w[2:]]
        V = ref["vol"][0]
        W = [p * V / NKTV2P for p in ref["press"]]
        forces = []
        with open(dump) as f:
            lines = f.read().splitlines()
        start = lines.index(next(l for l in lines if l.startswith("ITEM: ATOMS"))) + 1
        for l in lines[start:]:
            w = l.split()
            forces.append(w[1:4])
    with open(f"lattice_ref_{name}.txt", "w") as f:
        f.write("energy %.17g\n" % ref["energy"][0])
        f.write("virial " + " ".join("%.17g" % x for x in W) + "\n")
        for fx in forces:
            f.write(" ".join(fx) + "\n")
    print(name, ref["energy"][0], W)
