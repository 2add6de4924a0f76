#include "spinlat/terms/zeeman.hpp"

#include "spinlat/core/units.hpp"
#include "spinlat/terms/registry.hpp"
#include "spinlat/terms/spin_kernel.hpp"

namespace spinlat {

Zeeman::Zeeman(const Vec3& field_T, SpeciesFilter species) : field_(field_T), species_(std::move(species)) {}

double Zeeman::compute(const System& s, const NeighborList& list, Derivatives& d) const {
  const Vec3 b = units::mu_B * field_;  // eV/μB
  double e = 0.0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!species_(s, i)) continue;
    e -= s.moment[i] * b.dot(s.spin[i]);
    if (d.magnetic_force) (*d.magnetic_force)[i] += b;
  }
  return e;
}

void Zeeman::add_site_energies(const System& s, const NeighborList& list, std::vector<double>& e) const {
  const Vec3 b = units::mu_B * field_;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (species_(s, i)) e[i] -= s.moment[i] * b.dot(s.spin[i]);
}

double Zeeman::local_energy_change(const System& s, const NeighborList& list, int i, const Vec3& spin_new,
                                   double moment_new) const {
  if (!species_(s, i)) return 0.0;
  return -units::mu_B * field_.dot(moment_new * spin_new - s.moment[i] * s.spin[i]);
}

bool Zeeman::add_to_spin_kernel(const System& s, const NeighborList& list, SpinKernel& k) const {
  const Vec3 b = units::mu_B * field_;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (species_(s, i)) k.add_zeeman(static_cast<int>(i), b);
  return true;
}

TermPtr make_zeeman(Params& p, const TermContext& ctx) {
  const Vec3 field = p.vec3("field");
  SpeciesFilter species = read_species(p, *ctx.system);
  return std::make_unique<Zeeman>(field, std::move(species));
}

}  // namespace spinlat
