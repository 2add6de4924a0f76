#pragma once
// Crystal builders: a conventional cell with a basis, repeated into a periodic supercell.
#include <string>
#include <vector>

#include "spinlat/core/rng.hpp"
#include "spinlat/core/system.hpp"

namespace spinlat {

struct BasisSite {
  Vec3 fractional = Vec3::Zero();  ///< in units of the conventional cell vectors
  std::string species;
  double moment = 0.0;  ///< μB
  /// Sign of this site's moment in the antiferromagnetic reference pattern (+1 or −1).
  int af_sign = +1;
};

struct Lattice {
  std::string name;
  Mat3 cell = Mat3::Identity();  ///< rows: conventional lattice vectors (Å)
  std::vector<BasisSite> basis;
};

/// Conventional cells: sc (1 site), bcc (2), fcc (4), hcp (2; ideal c/a when c <= 0),
/// rocksalt (4 cations + 4 anions). `species` and `moments` have one entry per site for
/// sc/bcc/fcc (a single entry is repeated), one per sublattice for hcp and rocksalt.
/// The antiferromagnetic pattern: G-type for sc, B2 (corner vs body centre) for bcc, AF-II
/// ((111) ferromagnetic planes, as in NiO and MnO) for fcc and rocksalt, alternate layers for hcp.
Lattice standard_lattice(const std::string& name, double a, double c,
                         const std::vector<std::string>& species, const std::vector<double>& moments);

/// A user-defined cell (rows: lattice vectors, Å; any triclinic shape) with its basis
/// ([[structure.basis]]). Each site carries its own species, moment and af_sign.
Lattice custom_lattice(const Mat3& cell, const std::vector<BasisSite>& basis);

/// Repeats the conventional cell nx×ny×nz times (periodic). Atoms are ordered cell by cell
/// (x fastest), then by basis site; `sublattice` is the basis index. Spins point along +z
/// (times the site's af_sign when `antiferro`). Species masses are left for the caller.
System build_supercell(const Lattice& lattice, const Int3& cells, bool antiferro = false);

/// The antiferromagnetic reference pattern per atom of build_supercell(lattice, cells):
/// +1 or −1 in the same atom order (what `spins = "antiferro"` sets, and what a staggered
/// order parameter is measured against).
std::vector<int> antiferro_signs(const Lattice& lattice, const Int3& cells);

/// Standard atomic mass (amu) of an element symbol (IUPAC conventional atomic weights; the
/// most stable isotope's mass number for elements without one, up to Pu), or 0 if unknown.
double element_mass(const std::string& symbol);
/// Atomic number of an element symbol ("Fe" → 26), or 0 if it is not one.
int atomic_number(const std::string& symbol);
/// Element symbol of an atomic number (1..118), or "" outside that range.
std::string element_symbol(int z);

/// Initial spin directions: "ferro" (+z), "random" (uniform on the sphere, from the
/// initial_state stream of `seed`), or "antiferro" (the lattice's pattern, given by
/// af_sign per atom). A fixed vector is applied with set_spins_along.
void set_spins_random(System& s, std::uint64_t seed);
void set_spins_along(System& s, const Vec3& direction, const std::vector<int>& af_sign = {});

/// Maxwell-Boltzmann velocities at temperature T (K) with zero total momentum, rescaled to
/// exactly T with 3N−3 degrees of freedom (initial_state stream of `seed`).
void set_velocities(System& s, double temperature, std::uint64_t seed);

}  // namespace spinlat
