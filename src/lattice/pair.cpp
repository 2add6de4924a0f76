#include "spinlat/lattice/pair.hpp"

#include <cmath>
#include <stdexcept>

#include "spinlat/core/error.hpp"
#include "spinlat/terms/registry.hpp"

namespace spinlat {

double PairFunction::raw(double r, double& dphi) const {
  if (style == Style::morse) {
    const double x = std::exp(-alpha * (r - r0));
    dphi = 2.0 * alpha * D0 * (x - x * x);
    return D0 * (x * x - 2.0 * x);
  }
  const double sr2 = sigma * sigma / (r * r), sr6 = sr2 * sr2 * sr2;
  dphi = -24.0 * epsilon * (2.0 * sr6 * sr6 - sr6) / r;
  return 4.0 * epsilon * (sr6 * sr6 - sr6);
}

void PairFunction::finalize() {
  double d;
  offset = shift ? raw(cutoff, d) : 0.0;
}

PairPotential::PairPotential(PairFunction f, int nspecies, std::vector<bool> applies)
    : f_(f), nspecies_(nspecies), applies_(std::move(applies)) {
  f_.finalize();
  if (applies_.empty()) applies_.assign(nspecies_ * nspecies_, true);
  if (static_cast<int>(applies_.size()) != nspecies_ * nspecies_)
    throw std::logic_error("PairPotential: species table has the wrong size");
}

double PairPotential::compute(const System& s, const NeighborList& list, Derivatives& d) const {
  const int n = static_cast<int>(s.size());
  const Mat3 ht = s.cell.h.transpose();
  const double cut2 = f_.cutoff * f_.cutoff;
  std::vector<double> site(n, 0.0);
  std::vector<Mat3> vir(d.virial ? n : 0);
  // Gather over the full list (each atom takes the whole pair derivative): thread-safe,
  // and the per-atom sums are reduced serially below in a fixed order.
#pragma omp parallel for schedule(static) if (n >= 512)
  for (int i = 0; i < n; ++i) {
    double e = 0.0;
    Vec3 f = Vec3::Zero();
    Mat3 w = Mat3::Zero();
    for (int k = list.begin(i); k < list.end(i); ++k) {
      const int j = list.index[k];
      if (!acts(s.species[i], s.species[j])) continue;
      const Vec3 dv = s.position[j] + ht * list.image[k].cast<double>() - s.position[i];
      const double r2 = dv.squaredNorm();
      if (r2 >= cut2) continue;
      const double r = std::sqrt(r2);
      double dphi;
      e += 0.5 * f_(r, dphi);
      const Vec3 g = (dphi / r) * dv;  // ∂E/∂r_ij
      f += g;
      w.noalias() -= 0.5 * dv * g.transpose();
    }
    site[i] = e;
    if (d.force) (*d.force)[i] += f;
    if (d.virial) vir[i] = w;
  }
  double e = 0.0;
  for (int i = 0; i < n; ++i) e += site[i];
  if (d.virial)
    for (int i = 0; i < n; ++i) *d.virial += vir[i];
  return e;
}

void PairPotential::add_site_energies(const System& s, const NeighborList& list, std::vector<double>& e) const {
  const Mat3 ht = s.cell.h.transpose();
  const double cut2 = f_.cutoff * f_.cutoff;
  for (std::size_t i = 0; i < s.size(); ++i)
    for (int k = list.begin(i); k < list.end(i); ++k) {
      const int j = list.index[k];
      if (!acts(s.species[i], s.species[j])) continue;
      const Vec3 dv = s.position[j] + ht * list.image[k].cast<double>() - s.position[i];
      const double r2 = dv.squaredNorm();
      double dphi;
      if (r2 < cut2) e[i] += 0.5 * f_(std::sqrt(r2), dphi);
    }
}

TermPtr make_pair(Params& p, const TermContext& ctx) {
  PairFunction f;
  const std::string style = p.choice("style", {"morse", "lj"});
  if (style == "morse") {
    f.style = PairFunction::Style::morse;
    f.D0 = p.real("D0");
    f.alpha = p.real("alpha");
    f.r0 = p.real("r0");
    p.require(f.alpha > 0, "alpha", "a positive inverse length (1/Å)");
  } else {
    f.style = PairFunction::Style::lj;
    f.epsilon = p.real("epsilon");
    f.sigma = p.real("sigma");
    p.require(f.sigma > 0, "sigma", "a positive length (Å)");
  }
  f.cutoff = p.real("cutoff");
  p.require(f.cutoff > 0, "cutoff", "a positive distance (Å)");
  f.shift = p.boolean("shift", false);
  const System* sys = ctx.system;
  const int ns = sys ? static_cast<int>(sys->species_name.size()) : 1;
  std::vector<bool> applies;
  if (p.has("species")) {
    // Restricts the term to one pair of species, e.g. species = ["Fe", "Cr"].
    const auto names = p.strings("species");
    p.require(names.size() == 2, "species", "a pair of species names, e.g. [\"Fe\", \"Fe\"]");
    p.require(sys != nullptr, "species", "a structure to look species up in");
    int idx[2];
    for (int k = 0; k < 2; ++k) {
      idx[k] = -1;
      for (int a = 0; a < ns; ++a)
        if (sys->species_name[a] == names[k]) idx[k] = a;
      if (idx[k] < 0) p.fail("species", "species '" + names[k] + "' is not in the structure");
    }
    applies.assign(ns * ns, false);
    applies[idx[0] * ns + idx[1]] = applies[idx[1] * ns + idx[0]] = true;
  }
  return std::make_unique<PairPotential>(f, ns, applies);
}

}  // namespace spinlat
