#pragma once
// Dzyaloshinskii-Moriya interaction E = Σ_{i<j} D_ij·(ê_i × ê_j), D_ji = −D_ij, by neighbour
// shell (Dzyaloshinskii, J. Phys. Chem. Solids 4, 241 (1958); Moriya, Phys. Rev. 120, 91
// (1960)). Two standard forms, with D_s (eV) the constant of the pair's shell and r̂_ij the
// unit vector from i to j at the current positions:
//   interfacial  D_ij = D_s (n̂ × r̂_ij)   (Fert-Levy type at a surface with normal n̂: Néel
//                                          skyrmions; Fert, Cros & Sampaio, Nat. Nanotech. 8,
//                                          152 (2013))
//   bulk         D_ij = D_s r̂_ij         (B20 chiral magnets: Bloch skyrmions)
//   bond         D_ij = D_b, a vector given per bond vector b of the reference structure
//                (D for r_ij ≈ b, −D for r_ij ≈ −b): any DMI of a crystal whose bonds of one
//                vector are equivalent, as `spinlat map` fits it (Moriya's rules then decide
//                which components vanish). D_b does not turn with the bond: no forces.
// Pairs keep their shell (bonds, as in heisenberg) but D_ij follows the bond direction, so the
// term exerts forces on the atoms.
#include <vector>

#include "spinlat/terms/selection.hpp"
#include "spinlat/terms/term.hpp"

namespace spinlat {

class DMInteraction : public Term {
 public:
  enum class Kind { interfacial, bulk, bond };
  /// `D[k]` (eV) for shell k of `reference`; `normal` (interfacial only) is normalised.
  DMInteraction(const System& reference, Kind kind, std::vector<double> D, Vec3 normal = Vec3::UnitZ(),
                SpeciesFilter species = {});
  /// Kind::bond: `bonds[k]` (Å, from i to j in the reference structure) carries `D[k]` (eV).
  /// A pair matches the bond vector nearest to its displacement within 0.3 of the shortest
  /// bond or of the closest distance between two bond vectors (±), so it keeps its D while
  /// atoms vibrate.
  DMInteraction(std::vector<Vec3> bonds, std::vector<Vec3> D, SpeciesFilter species = {});
  std::string type() const override { return "dmi"; }
  double cutoff() const override { return kind_ == Kind::bond ? bond_cutoff_ : table_.cutoff; }
  bool depends_on_positions() const override { return kind_ != Kind::bond; }
  Kind kind() const { return kind_; }
  const std::vector<double>& shell_radii() const { return table_.radii; }
  /// D_ij (eV) of a pair of shell constant `D` along displacement `r_ij` (i to j).
  Vec3 vector(double D, const Vec3& r_ij) const;
  /// D_ij (eV) of neighbour-list entry k of atom i at the current positions (after bind).
  Vec3 pair_vector(const System& s, const NeighborList& list, int i, int k) const {
    return kind_ == Kind::bond ? pair_vec_[k] : vector(pair_D_[k], list.current_displacement(s, i, k));
  }

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
  std::vector<Vec3> bonds_, bond_D_;  // Kind::bond
  double bond_cutoff_ = 0.0, bond_tolerance_ = 0.0;
  std::vector<Vec3> pair_vec_;  // Kind::bond: D_ij per list entry
};

}  // namespace spinlat
