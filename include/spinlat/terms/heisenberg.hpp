#pragma once
#include <vector>

#include "spinlat/terms/selection.hpp"
#include "spinlat/terms/term.hpp"

namespace spinlat {

/// Isotropic exchange by neighbour shell: E = −Σ_{i<j} J_s(ij) ê_i·ê_j, J > 0 ferromagnetic.
/// Shells are the distinct distances between magnetic sites of the structure given at
/// construction, nearest first; pairs keep their shell while atoms vibrate (bonds, not
/// distances: use bethe-slater for distance-dependent exchange). With a species filter, the
/// shells are those between the selected species and only their pairs couple.
class HeisenbergExchange : public Term {
 public:
  /// `J[k]` (eV) for shell k. `shells` are the shell radii (Å) found from `reference`.
  HeisenbergExchange(const System& reference, std::vector<double> J, SpeciesFilter species = {});
  std::string type() const override { return "heisenberg"; }
  bool conserves_total_spin() const override { return true; }  // −J ê_i·ê_j is rotation-invariant
  double cutoff() const override { return cutoff_; }
  const std::vector<double>& shell_radii() const { return shells_; }
  void bind(const System& s, const NeighborList& list) override;
  double compute(const System& s, const NeighborList& list, Derivatives& d) const override;
  void add_site_energies(const System& s, const NeighborList& list, std::vector<double>& e) const override;
  double local_energy_change(const System& s, const NeighborList& list, int i, const Vec3& spin_new,
                             double moment_new) const override;
  bool add_to_spin_kernel(const System& s, const NeighborList& list, SpinKernel& k) const override;

 private:
  std::vector<double> J_, shells_;
  SpeciesFilter species_;
  ShellTable table_;
  double cutoff_ = 0.0;
  std::vector<double> pair_J_;  // per neighbour-list entry
};

/// Shell radii (Å) of pairs of magnetic sites, nearest first, at least `count` of them.
std::vector<double> magnetic_shells(const System& s, std::size_t count);

}  // namespace spinlat
