#include "spinlat/terms/heisenberg.hpp"

#include <algorithm>
#include <cmath>

#include "spinlat/core/error.hpp"
#include "spinlat/terms/registry.hpp"
#include "spinlat/terms/spin_kernel.hpp"

namespace spinlat {

std::vector<double> magnetic_shells(const System& s, std::size_t count) {
  const auto mag = s.magnetic_sites();
  if (mag.empty()) throw InputError("heisenberg exchange needs magnetic sites (moment > 0)");
  // Grow a trial cutoff until enough distinct magnetic-pair distances (plus one more, to
  // place the outer cutoff between shells) are seen.
  double rc = 1.1 * std::cbrt(s.cell.volume() / static_cast<double>(s.size()));
  for (int attempt = 0; attempt < 40; ++attempt, rc *= 1.25) {
    const NeighborList list = build_neighbor_list(s, rc);
    std::vector<double> d;
    for (int i : mag)
      for (int k = list.begin(i); k < list.end(i); ++k)
        if (s.magnetic(list.index[k])) d.push_back(list.distance[k]);
    std::sort(d.begin(), d.end());
    std::vector<double> shells;
    for (double r : d)
      if (shells.empty() || r - shells.back() > 1e-3) shells.push_back(r);
    if (shells.size() > count) return shells;
  }
  throw InputError("could not find " + std::to_string(count) + " neighbour shells");
}

HeisenbergExchange::HeisenbergExchange(const System& reference, std::vector<double> J, SpeciesFilter species)
    : J_(std::move(J)), species_(std::move(species)) {
  table_ = ShellTable::find(reference, J_.size(), species_);
  shells_ = table_.radii;
  cutoff_ = table_.cutoff;
}

void HeisenbergExchange::bind(const System& s, const NeighborList& list) {
  species_.bind(s);
  const std::vector<int> shell = table_.assign(s, list, species_);
  pair_J_.assign(list.pairs(), 0.0);
  for (std::size_t k = 0; k < list.pairs(); ++k)
    if (shell[k] >= 0) pair_J_[k] = J_[shell[k]];
}

double HeisenbergExchange::compute(const System& s, const NeighborList& list, Derivatives& d) const {
  double e = 0.0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!s.magnetic(i)) continue;
    Vec3 h = Vec3::Zero();
    for (int k = list.begin(i); k < list.end(i); ++k) h += pair_J_[k] * s.spin[list.index[k]];
    e -= 0.5 * s.spin[i].dot(h);
    if (d.magnetic_force) {
      // −∂E/∂m_i for E written in ê_i = m_i/|m_i|: the transverse part of h over |m_i|.
      const Vec3& ei = s.spin[i];
      (*d.magnetic_force)[i] += (h - ei.dot(h) * ei) / s.moment[i];
    }
  }
  return e;
}

void HeisenbergExchange::add_site_energies(const System& s, const NeighborList& list,
                                           std::vector<double>& e) const {
  for (std::size_t i = 0; i < s.size(); ++i) {
    Vec3 h = Vec3::Zero();
    for (int k = list.begin(i); k < list.end(i); ++k) h += pair_J_[k] * s.spin[list.index[k]];
    e[i] -= 0.5 * s.spin[i].dot(h);
  }
}

double HeisenbergExchange::local_energy_change(const System& s, const NeighborList& list, int i,
                                               const Vec3& spin_new, double moment_new) const {
  Vec3 h = Vec3::Zero();
  for (int k = list.begin(i); k < list.end(i); ++k) {
    const int j = list.index[k];
    // A self-image (j == i in a tiny cell) moves together with i: ê_i·ê_i stays 1.
    if (j != i) h += pair_J_[k] * s.spin[j];
  }
  return -(spin_new - s.spin[i]).dot(h);
}

bool HeisenbergExchange::add_to_spin_kernel(const System& s, const NeighborList& list, SpinKernel& k) const {
  for (std::size_t i = 0; i < s.size(); ++i)
    for (int m = list.begin(i); m < list.end(i); ++m)
      if (pair_J_[m] != 0.0 && s.magnetic(i) && s.magnetic(list.index[m]))
        k.add_pair(static_cast<int>(i), list.index[m], pair_J_[m]);
  return true;
}

TermPtr make_heisenberg(Params& p, const TermContext& ctx) {
  std::vector<double> J = p.reals("J");
  p.require(!J.empty(), "J", "expected at least one exchange constant (eV, nearest shell first)");
  SpeciesFilter species = read_pair_species(p, *ctx.system);
  return std::make_unique<HeisenbergExchange>(*ctx.system, J, std::move(species));
}

}  // namespace spinlat
