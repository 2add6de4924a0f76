#pragma once
// The bcc-iron spin-lattice model of LAMMPS SPIN's examples/SPIN/iron (Tranchida et al.,
// J. Comput. Phys. 372, 406 (2018)) and the throughput benchmark built on it.
//   a = 2.8665 Å, |m| = 2.2 μB, mass 55.845 amu, random spins, Maxwell-Boltzmann lattice;
//   Mishin (2006) EAM + Bethe-Slater exchange J(r) = 4a (r/d)² (1 − b (r/d)²) e^{−(r/d)²},
//   a = 0.02726 eV, b = 0.2171, d = 1.841 Å, cutoff 3.4 Å (E = −Σ_{i<j} J ê_i·ê_j).
#include <cstdint>
#include <string>

#include "spinlat/core/system.hpp"
#include "spinlat/bench/md.hpp"
#include "spinlat/dynamics/sld.hpp"
#include "spinlat/terms/hamiltonian.hpp"

namespace spinlat {

/// n×n×n conventional bcc cells (2n³ atoms) of the iron model: spins uniformly random and
/// velocities at `lattice_temperature` (K), both from `seed`.
System sld_iron_system(int n, double lattice_temperature, std::uint64_t seed);
/// EAM + Bethe-Slater Hamiltonian of the iron model (skin `skin` Å). Throws InputError if
/// the EAM file is missing.
Hamiltonian sld_iron_hamiltonian(const System& s, double skin = 0.5,
                                 const std::string& eam_file = kMishinFeEamPath);

struct SldBenchResult {
  int atoms = 0;
  int steps = 0;
  double atom_steps_per_second = 0.0;
  SldTimers seconds;  ///< where the time went (measured steps only)
};

/// NVE spin-lattice dynamics of the iron model (dt = 0.1 fs, lattice at 100 K, random spins)
/// on about `atoms` atoms (2n³, n = round(cbrt(atoms/2))) with `threads` OpenMP threads
/// (0 = the current default), timed over `steps` steps after a short warm-up.
SldBenchResult benchmark_sld_detail(int atoms, int threads, int steps,
                                    const std::string& eam_file = kMishinFeEamPath);
/// Atom-steps per second of benchmark_sld_detail.
double benchmark_sld(int atoms, int threads, int steps);

}  // namespace spinlat
