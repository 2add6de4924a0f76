#include "spinlat/terms/anisotropy.hpp"

#include "spinlat/core/error.hpp"
#include "spinlat/terms/registry.hpp"
#include "spinlat/terms/spin_kernel.hpp"

namespace spinlat {
namespace {

double cubic_form(const Vec3& e) {
  const Vec3 s = e.cwiseAbs2();
  return s[0] * s[1] + s[1] * s[2] + s[2] * s[0];
}

// ∂/∂ê of the cubic form.
Vec3 cubic_gradient(const Vec3& e) {
  const Vec3 s = e.cwiseAbs2();
  return 2.0 * Vec3(e[0] * (s[1] + s[2]), e[1] * (s[2] + s[0]), e[2] * (s[0] + s[1]));
}

// −∂E/∂m for a function of ê = m/|m| with −∂E/∂ê = h: the transverse part of h over |m|.
Vec3 transverse(const Vec3& h, const Vec3& e, double m) { return (h - e.dot(h) * e) / m; }

}  // namespace

// ---- uniaxial ------------------------------------------------------------------------------

UniaxialAnisotropy::UniaxialAnisotropy(double K, const Vec3& axis, SpeciesFilter species)
    : K_(K), axis_(axis), species_(std::move(species)) {
  if (!(axis_.norm() > 0.0)) throw InputError("anisotropy: the axis must be a non-zero vector");
  axis_.normalize();
}

double UniaxialAnisotropy::compute(const System& s, const NeighborList& list, Derivatives& d) const {
  double e = 0.0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!species_(s, i)) continue;
    const double c = s.spin[i].dot(axis_);
    e -= K_ * c * c;
    if (d.magnetic_force) (*d.magnetic_force)[i] += transverse(2.0 * K_ * c * axis_, s.spin[i], s.moment[i]);
  }
  return e;
}

void UniaxialAnisotropy::add_site_energies(const System& s, const NeighborList& list, std::vector<double>& e) const {
  for (std::size_t i = 0; i < s.size(); ++i)
    if (species_(s, i)) {
      const double c = s.spin[i].dot(axis_);
      e[i] -= K_ * c * c;
    }
}

double UniaxialAnisotropy::local_energy_change(const System& s, const NeighborList& list, int i,
                                               const Vec3& spin_new, double moment_new) const {
  if (!species_(s, i)) return 0.0;
  const double a = spin_new.dot(axis_), b = s.spin[i].dot(axis_);
  return -K_ * (a * a - b * b);
}

bool UniaxialAnisotropy::add_to_spin_kernel(const System& s, const NeighborList& list, SpinKernel& k) const {
  for (std::size_t i = 0; i < s.size(); ++i)
    if (species_(s, i)) k.add_uniaxial(static_cast<int>(i), K_, axis_);
  return true;
}

// ---- cubic ---------------------------------------------------------------------------------

CubicAnisotropy::CubicAnisotropy(double Kc, SpeciesFilter species) : Kc_(Kc), species_(std::move(species)) {}

double CubicAnisotropy::compute(const System& s, const NeighborList& list, Derivatives& d) const {
  double e = 0.0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!species_(s, i)) continue;
    e += Kc_ * cubic_form(s.spin[i]);
    if (d.magnetic_force)
      (*d.magnetic_force)[i] += transverse(-Kc_ * cubic_gradient(s.spin[i]), s.spin[i], s.moment[i]);
  }
  return e;
}

void CubicAnisotropy::add_site_energies(const System& s, const NeighborList& list, std::vector<double>& e) const {
  for (std::size_t i = 0; i < s.size(); ++i)
    if (species_(s, i)) e[i] += Kc_ * cubic_form(s.spin[i]);
}

double CubicAnisotropy::local_energy_change(const System& s, const NeighborList& list, int i,
                                            const Vec3& spin_new, double moment_new) const {
  if (!species_(s, i)) return 0.0;
  return Kc_ * (cubic_form(spin_new) - cubic_form(s.spin[i]));
}

bool CubicAnisotropy::add_to_spin_kernel(const System& s, const NeighborList& list, SpinKernel& k) const {
  for (std::size_t i = 0; i < s.size(); ++i)
    if (species_(s, i)) k.add_cubic(static_cast<int>(i), Kc_);
  return true;
}

TermPtr make_anisotropy(Params& p, const TermContext& ctx) {
  const std::string kind = p.choice("kind", {"uniaxial", "cubic"}, "uniaxial");
  const double K = p.real("K");
  if (kind == "cubic") {
    p.require(!p.has("axis"), "axis", "cubic anisotropy takes its axes from the Cartesian frame; remove 'axis'");
    p.touch("axis");
    SpeciesFilter species = read_species(p, *ctx.system);
    return std::make_unique<CubicAnisotropy>(K, std::move(species));
  }
  Vec3 axis = Vec3::UnitZ();
  if (p.has("axis")) {
    axis = p.vec3("axis");
    p.require(axis.norm() > 0.0, "axis", "expected a non-zero vector");
  } else {
    p.touch("axis");
  }
  SpeciesFilter species = read_species(p, *ctx.system);
  return std::make_unique<UniaxialAnisotropy>(K, axis, std::move(species));
}

}  // namespace spinlat
