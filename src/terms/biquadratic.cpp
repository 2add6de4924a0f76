#include "spinlat/terms/biquadratic.hpp"

#include "spinlat/core/error.hpp"
#include "spinlat/terms/registry.hpp"
#include "spinlat/terms/spin_kernel.hpp"

namespace spinlat {

BiquadraticExchange::BiquadraticExchange(const System& reference, std::vector<double> Q, SpeciesFilter species)
    : Q_(std::move(Q)), species_(std::move(species)) {
  if (Q_.empty()) throw InputError("biquadratic needs at least one Q (eV, nearest shell first)");
  table_ = ShellTable::find(reference, Q_.size(), species_);
}

void BiquadraticExchange::bind(const System& s, const NeighborList& list) {
  species_.bind(s);
  const std::vector<int> shell = table_.assign(s, list, species_);
  pair_Q_.assign(list.pairs(), 0.0);
  for (std::size_t k = 0; k < list.pairs(); ++k)
    if (shell[k] >= 0) pair_Q_[k] = Q_[shell[k]];
}

double BiquadraticExchange::site(const System& s, const NeighborList& list, int i, Vec3* field) const {
  const Vec3& ei = s.spin[i];
  double e = 0.0;
  Vec3 h = Vec3::Zero();
  for (int k = list.begin(i); k < list.end(i); ++k) {
    const double Q = pair_Q_[k];
    if (Q == 0.0) continue;
    const Vec3& ej = s.spin[list.index[k]];
    const double c = ei.dot(ej);
    e -= 0.5 * Q * c * c;
    h += 2.0 * Q * c * ej;
  }
  if (field) *field = h;
  return e;
}

double BiquadraticExchange::compute(const System& s, const NeighborList& list, Derivatives& d) const {
  const int n = static_cast<int>(s.size());
  std::vector<double> es(n, 0.0);  // summed in site order: thread-count independent
#pragma omp parallel for schedule(static)
  for (int i = 0; i < n; ++i) {
    if (!species_(s, i)) continue;
    Vec3 h;
    es[i] = site(s, list, i, &h);
    // Self-images give h ∥ ê_i, which the transverse projection removes (ê_i·ê_i ≡ 1).
    const Vec3& ei = s.spin[i];
    if (d.magnetic_force) (*d.magnetic_force)[i] += (h - ei.dot(h) * ei) / s.moment[i];
  }
  double e = 0.0;
  for (int i = 0; i < n; ++i) e += es[i];
  return e;
}

void BiquadraticExchange::add_site_energies(const System& s, const NeighborList& list,
                                            std::vector<double>& e) const {
  for (std::size_t i = 0; i < s.size(); ++i)
    if (species_(s, i)) e[i] += site(s, list, static_cast<int>(i), nullptr);
}

double BiquadraticExchange::local_energy_change(const System& s, const NeighborList& list, int i,
                                                const Vec3& spin_new, double moment_new) const {
  if (!species_(s, i)) return 0.0;
  const Vec3& e_old = s.spin[i];
  double de = 0.0;
  for (int k = list.begin(i); k < list.end(i); ++k) {
    const int j = list.index[k];
    if (pair_Q_[k] == 0.0 || j == i) continue;  // a self-image keeps (ê_i·ê_i)² = 1
    const double a = spin_new.dot(s.spin[j]), b = e_old.dot(s.spin[j]);
    // Both ends of the pair change: the full pair energy −Q c², not half of it.
    de -= pair_Q_[k] * (a * a - b * b);
  }
  return de;
}

bool BiquadraticExchange::add_to_spin_kernel(const System& s, const NeighborList& list, SpinKernel& kern) const {
  for (std::size_t i = 0; i < s.size(); ++i)
    for (int k = list.begin(static_cast<int>(i)); k < list.end(static_cast<int>(i)); ++k)
      if (pair_Q_[k] != 0.0) kern.add_pair(static_cast<int>(i), list.index[k], 0.0, Vec3::Zero(), pair_Q_[k]);
  return true;
}

TermPtr make_biquadratic(Params& p, const TermContext& ctx) {
  std::vector<double> Q = p.reals("Q");
  p.require(!Q.empty(), "Q", "expected at least one biquadratic constant (eV, nearest shell first)");
  SpeciesFilter species = read_pair_species(p, *ctx.system);
  return std::make_unique<BiquadraticExchange>(*ctx.system, Q, std::move(species));
}

}  // namespace spinlat
