#pragma once
// The state of a simulation: cell, atoms, velocities and moments. Plain data, owned by a run.
#include <array>
#include <string>
#include <vector>

#include "spinlat/core/types.hpp"

namespace spinlat {

/// Simulation cell. Rows of `h` are the lattice vectors a1, a2, a3 (Å), as in ASE and
/// extended XYZ, so a Cartesian position is r = f · h for fractional row vector f.
struct Cell {
  Mat3 h = Mat3::Identity();
  std::array<bool, 3> periodic{true, true, true};

  double volume() const { return std::abs(h.determinant()); }
  /// Fractional coordinates of a Cartesian point.
  Vec3 fractional(const Vec3& r) const { return h.transpose().partialPivLu().solve(r); }
  Vec3 cartesian(const Vec3& f) const { return h.transpose() * f; }
  /// Distance between the pair of lattice planes spanned by the two other vectors (Å).
  double plane_spacing(int k) const;
  /// Wraps a position into the cell along periodic directions.
  Vec3 wrap(const Vec3& r) const;
};

/// Positions, velocities and moments of N atoms.
///
/// Moments are stored as a unit direction `spin[i]` and a magnitude `moment[i]` (μB): the
/// exchange acts on directions, so Monte Carlo and LLG never normalise in their inner loops,
/// while Zeeman, Landau and learned terms see the moment vector m_i = moment[i] * spin[i].
/// A non-magnetic atom has moment 0 and spin (0, 0, 0).
struct System {
  Cell cell;
  std::vector<Vec3> position;  ///< Å (Cartesian)
  std::vector<Vec3> velocity;  ///< Å/ps
  std::vector<Vec3> spin;      ///< unit moment directions ê_i (zero for non-magnetic atoms)
  std::vector<double> moment;  ///< |m_i| in μB
  std::vector<int> species;    ///< index into species_name / species_mass
  std::vector<int> sublattice; ///< basis-site index of each atom (order parameters, colouring)
  std::vector<std::string> species_name;
  std::vector<double> species_mass;  ///< amu

  std::size_t size() const { return position.size(); }
  Vec3 moment_vector(std::size_t i) const { return moment[i] * spin[i]; }
  double mass(std::size_t i) const { return species_mass[species[i]]; }
  bool magnetic(std::size_t i) const { return moment[i] > 0.0; }
  /// Indices of atoms that carry a moment.
  std::vector<int> magnetic_sites() const;
  /// Number of sublattices (max(sublattice) + 1).
  int sublattice_count() const;
  /// Adds an atom; velocity zero. Spin is normalised (zero if m == 0).
  void add_atom(const Vec3& r, int species_index, double m, const Vec3& direction, int sub = 0);
  /// Throws std::logic_error if array sizes disagree or a spin is not unit length.
  void check_consistent() const;
};

}  // namespace spinlat
