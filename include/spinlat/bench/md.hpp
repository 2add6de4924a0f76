#pragma once
// Throughput of lattice MD: bcc Fe with the Mishin (2006) EAM, NVE velocity Verlet.
#include <string>

namespace spinlat {

/// Where the benchmark's EAM file is looked for (Debian package lammps-examples).
inline const char* kMishinFeEamPath = "/usr/share/lammps/examples/SPIN/iron/Fe_Mishin2006.eam.alloy";

/// Atom-steps per second of NVE velocity Verlet (dt = 1 fs, skin 0.5 Å) on a periodic bcc Fe
/// crystal of about `atoms` atoms (2n³ with n = round(cbrt(atoms/2)), a = 2.8553 Å, 300 K)
/// with `threads` OpenMP threads (0 = the current default) for `steps` steps. Throws
/// InputError if the EAM file is missing (`eam_file` overrides the path).
double benchmark_md(int atoms, int threads, int steps, const std::string& eam_file = kMishinFeEamPath);

}  // namespace spinlat
