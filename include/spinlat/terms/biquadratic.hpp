#pragma once
// Biquadratic exchange E = −Σ_{i<j} Q_s (ê_i·ê_j)² by neighbour shell (Q > 0 favours collinear
// moments, parallel or antiparallel; e.g. Kartsev et al., npj Comput. Mater. 6, 150 (2020)).
// Pairs keep their shell while atoms vibrate (bonds, as in heisenberg).
#include <vector>

#include "spinlat/terms/selection.hpp"
#include "spinlat/terms/term.hpp"

namespace spinlat {

class BiquadraticExchange : public Term {
 public:
  /// `Q[k]` (eV) for shell k of `reference`.
  BiquadraticExchange(const System& reference, std::vector<double> Q, SpeciesFilter species = {});
  std::string type() const override { return "biquadratic"; }
  bool conserves_total_spin() const override { return true; }  // (ê_i·ê_j)² is rotation-invariant
  double cutoff() const override { return table_.cutoff; }
  const std::vector<double>& shell_radii() const { return table_.radii; }

  void bind(const System& s, const NeighborList& list) override;
  double compute(const System& s, const NeighborList& list, Derivatives& d) const override;
  void add_site_energies(const System& s, const NeighborList& list, std::vector<double>& e) const override;
  double local_energy_change(const System& s, const NeighborList& list, int i, const Vec3& spin_new,
                             double moment_new) const override;
  bool add_to_spin_kernel(const System& s, const NeighborList& list, SpinKernel& k) const override;

 private:
  /// Site energy (pair energies halved) and −∂E/∂ê_i = Σ_j 2 Q_ij (ê_i·ê_j) ê_j.
  double site(const System& s, const NeighborList& list, int i, Vec3* field) const;

  std::vector<double> Q_;
  SpeciesFilter species_;
  ShellTable table_;
  std::vector<double> pair_Q_;  // per list entry
};

}  // namespace spinlat
