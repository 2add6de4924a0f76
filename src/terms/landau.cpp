#include "spinlat/terms/landau.hpp"

#include "spinlat/terms/registry.hpp"

namespace spinlat {

LandauTerm::LandauTerm(double A, double B, double C, SpeciesFilter species)
    : A_(A), B_(B), C_(C), species_(std::move(species)) {}

double LandauTerm::energy_of(double m) const {
  const double m2 = m * m;
  return m2 * (A_ + m2 * (B_ + m2 * C_));
}

double LandauTerm::derivative_of(double m) const {
  const double m2 = m * m;
  return m * (2.0 * A_ + m2 * (4.0 * B_ + m2 * 6.0 * C_));
}

double LandauTerm::compute(const System& s, const NeighborList& list, Derivatives& d) const {
  double e = 0.0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!species_(s, i)) continue;
    e += energy_of(s.moment[i]);
    if (d.magnetic_force) (*d.magnetic_force)[i] -= derivative_of(s.moment[i]) * s.spin[i];
  }
  return e;
}

void LandauTerm::add_site_energies(const System& s, const NeighborList& list, std::vector<double>& e) const {
  for (std::size_t i = 0; i < s.size(); ++i)
    if (species_(s, i)) e[i] += energy_of(s.moment[i]);
}

double LandauTerm::local_energy_change(const System& s, const NeighborList& list, int i, const Vec3& spin_new,
                                       double moment_new) const {
  if (!species_(s, i)) return 0.0;
  return energy_of(moment_new) - energy_of(s.moment[i]);
}

TermPtr make_landau(Params& p, const TermContext& ctx) {
  const double A = p.real("A");
  const double B = p.real("B");
  const double C = p.real("C", 0.0);
  SpeciesFilter species = read_species(p, *ctx.system);
  return std::make_unique<LandauTerm>(A, B, C, std::move(species));
}

}  // namespace spinlat
