#pragma once
// Magnetocrystalline anisotropy, on-site functions of the moment direction ê_i:
//   uniaxial  E = −Σ_i K (ê_i·n̂)²                       (K > 0: easy axis n̂; K < 0: easy plane)
//   cubic     E = Σ_i Kc (e_x²e_y² + e_y²e_z² + e_z²e_x²)  (Kc > 0: easy ⟨100⟩, as in bcc Fe;
//                                                          Kc < 0: easy ⟨111⟩, as in Ni),
// the lowest-order forms of Skomski & Coey, Permanent Magnetism (1999) ch. 3, written per atom
// (K, Kc in eV per atom; cubic axes are the Cartesian axes). Both keep |m_i| free: the magnetic
// force is transverse.
#include "spinlat/terms/selection.hpp"
#include "spinlat/terms/term.hpp"

namespace spinlat {

class UniaxialAnisotropy : public Term {
 public:
  /// `axis` is normalised (it must be non-zero).
  UniaxialAnisotropy(double K, const Vec3& axis, SpeciesFilter species = {});
  std::string type() const override { return "anisotropy"; }
  double K() const { return K_; }
  const Vec3& axis() const { return axis_; }

  void bind(const System& s, const NeighborList& list) override { species_.bind(s); }
  double compute(const System& s, const NeighborList& list, Derivatives& d) const override;
  void add_site_energies(const System& s, const NeighborList& list, std::vector<double>& e) const override;
  double local_energy_change(const System& s, const NeighborList& list, int i, const Vec3& spin_new,
                             double moment_new) const override;
  bool add_to_spin_kernel(const System& s, const NeighborList& list, SpinKernel& k) const override;

 private:
  double K_;
  Vec3 axis_;
  SpeciesFilter species_;
};

class CubicAnisotropy : public Term {
 public:
  explicit CubicAnisotropy(double Kc, SpeciesFilter species = {});
  std::string type() const override { return "anisotropy"; }
  double Kc() const { return Kc_; }

  void bind(const System& s, const NeighborList& list) override { species_.bind(s); }
  double compute(const System& s, const NeighborList& list, Derivatives& d) const override;
  void add_site_energies(const System& s, const NeighborList& list, std::vector<double>& e) const override;
  double local_energy_change(const System& s, const NeighborList& list, int i, const Vec3& spin_new,
                             double moment_new) const override;
  bool add_to_spin_kernel(const System& s, const NeighborList& list, SpinKernel& k) const override;

 private:
  double Kc_;
  SpeciesFilter species_;
};

}  // namespace spinlat
