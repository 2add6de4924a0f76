#pragma once
// Dzyaloshinskii-Moriya interaction E = Σ_{i<j} D_ij·(ê_i × ê_j), D_ji = −D_ij, by neighbour
// shell (Dzyaloshinskii, J. Phys. Chem. Solids 4, 241 (1958); Moriya, Phys. Rev. 120, 91
// (1960)). Two standard forms, with D_s (eV) the constant of the pair's shell and r̂_ij the
// unit vector from i to j at the current positions:
//   interfacial  D_ij = D_s (n̂ × r̂_ij)   (Fert-Levy type at a surface with normal n̂: Néel
//                                          skyrmions; Fert, Cros & Sampaio, Nat. Nanotech. 8,
//                                          152 (2013))
//   bulk         D_ij = D_s r̂_ij         (B20 chiral magnets: Bloch skyrmions)
// Pairs keep their shell (bonds, as in heisenberg) but D_ij follows the bond direction, so the
// term exerts forces on the atoms.
#include <vector>

#include "spinlat/terms/selection.hpp"
#include "spinlat/terms/term.hpp"

namespace spinlat {

class DMInteraction : public Term {
 public:
  enum class Kind { interfacial, bulk };
  /// `D[k]` (eV) for shell k of `reference`; `normal` (interfacial only) is normalised.
  DMInteraction(const System& reference, Kind kind, std::vector<double> D, Vec3 normal = Vec3::UnitZ(),
                SpeciesFilter species = {});
  std::string type() const override { return "dmi"; }
  double cutoff() const override { return table_.cutoff; }
  bool depends_on_positions() const override { return true; }
  Kind kind() const { return kind_; }
  const std::vector<double>& shell_radii() const { return table_.radii; }
  /// D_ij (eV) of a pair of shell constant `D` along displacement `r_ij` (i to j).
  Vec3 vector(double D, const Vec3& r_ij) const;

  void bind(const System& s, const NeighborList& list) override;
  double compute(const System& s, const NeighborList& list, Derivatives& d) const override;
  void add_site_energies(const System& s, const NeighborList& list, std::vector<double>& e) const override;
  double local_energy_change(const System& s, const NeighborList& list, int i, const Vec3& spin_new,
                             double moment_new) const override;
  /// D_ij at the current positions.
  bool add_to_spin_kernel(const System& s, const NeighborList& list, SpinKernel& k) const override;

 private:
  /// −∂E/∂ê_i = Σ_j D_ij × ê_j (eV).
  Vec3 field(const System& s, const NeighborList& list, int i) const;

  Kind kind_;
  std::vector<double> D_;
  Vec3 normal_;
  SpeciesFilter species_;
  ShellTable table_;
  std::vector<double> pair_D_;  // per list entry; 0 for self-images and unselected pairs
};

}  // namespace spinlat
