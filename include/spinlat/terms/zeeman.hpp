#pragma once
// Zeeman energy of the moments in a uniform external field: E = −Σ_i |m_i| μB ê_i·B = −μB Σ_i m_i·B
// (B in T, m in μB, μB in eV/T). Its magnetic force −∂E/∂m_i = μB B is the full field, with a
// longitudinal part that matters when moment sizes fluctuate.
#include "spinlat/terms/selection.hpp"
#include "spinlat/terms/term.hpp"

namespace spinlat {

class Zeeman : public Term {
 public:
  explicit Zeeman(const Vec3& field_T, SpeciesFilter species = {});
  std::string type() const override { return "zeeman"; }
  bool depends_on_moment_size() const override { return true; }
  const Vec3& field() const { return field_; }
  /// Changes the field (field ramps, rotating fields); a built spin kernel must be rebuilt.
  void set_field(const Vec3& field_T) { field_ = field_T; }

  void bind(const System& s, const NeighborList& list) override { species_.bind(s); }
  double compute(const System& s, const NeighborList& list, Derivatives& d) const override;
  void add_site_energies(const System& s, const NeighborList& list, std::vector<double>& e) const override;
  double local_energy_change(const System& s, const NeighborList& list, int i, const Vec3& spin_new,
                             double moment_new) const override;
  bool add_to_spin_kernel(const System& s, const NeighborList& list, SpinKernel& k) const override;

 private:
  Vec3 field_;
  SpeciesFilter species_;
};

}  // namespace spinlat
