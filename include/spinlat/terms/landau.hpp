#pragma once
// Landau on-site energy of the moment size, E = Σ_i (A |m_i|² + B |m_i|⁴ + C |m_i|⁶) (A, B, C in
// eV per μB², μB⁴, μB⁶): the longitudinal part of the Heisenberg-Landau Hamiltonian of Ma &
// Dudarev, PRB 86, 054416 (2012), whose bcc Fe values are A = −0.744824, B = 0.345295,
// C = −0.00790205. Its magnetic force −∂E/∂m_i = −(2A|m| + 4B|m|³ + 6C|m|⁵) ê_i is longitudinal.
// It has no spin-kernel form (the kernel keeps |m_i| fixed).
#include "spinlat/terms/selection.hpp"
#include "spinlat/terms/term.hpp"

namespace spinlat {

class LandauTerm : public Term {
 public:
  LandauTerm(double A, double B, double C, SpeciesFilter species = {});
  std::string type() const override { return "landau"; }
  bool depends_on_moment_size() const override { return true; }
  /// On-site energy (eV) of a moment of size m (μB) and its derivative dE/dm (eV/μB).
  double energy_of(double m) const;
  double derivative_of(double m) const;

  void bind(const System& s, const NeighborList& list) override { species_.bind(s); }
  double compute(const System& s, const NeighborList& list, Derivatives& d) const override;
  void add_site_energies(const System& s, const NeighborList& list, std::vector<double>& e) const override;
  double local_energy_change(const System& s, const NeighborList& list, int i, const Vec3& spin_new,
                             double moment_new) const override;

 private:
  double A_, B_, C_;
  SpeciesFilter species_;
};

}  // namespace spinlat
