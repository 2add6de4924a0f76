#include "spinlat/lattice/pair.hpp"

#include <cmath>
#include <stdexcept>

#include <omp.h>

#include "spinlat/core/error.hpp"
#include "spinlat/lattice/morse_lanes.hpp"
#include "spinlat/terms/registry.hpp"

namespace spinlat {

void PairFunction::finalize() {
  double d;
  offset = shift ? raw(cutoff, d) : 0.0;
}

void PairFunction::evaluate(const double* r2, int m, double* phi, double* q) const {
  int k = 0;
  if (style == Style::morse) {
    // Four pairs at a time (AVX2, when the CPU has it), then two (SSE2), each lane the IEEE
    // operations of raw() on one pair, so the same bits (lattice/morse_lanes.hpp;
    // docs/performance.md, "Sixth round" and "Seventh round").
    const MorseConstants c{alpha, r0, D0, offset};
    if (morse_avx2_supported()) k = morse_lanes_avx2(c, r2, m, phi, q);
#if defined(__SSE2__)
    k += morse_lanes<Sse2Lanes>(c, r2 + k, m - k, phi + k, q + k);
#endif
  }
  for (; k < m; ++k) {
    const double r = std::sqrt(r2[k]);
    double dphi;
    phi[k] = (*this)(r, dphi);
    q[k] = dphi / r;
  }
}

PairPotential::PairPotential(PairFunction f, std::vector<std::string> species,
                             std::vector<std::pair<std::string, std::string>> pairs)
    : f_(f), species_(std::move(species)), pairs_(std::move(pairs)) {
  f_.finalize();
  all_ = species_.empty() && pairs_.empty();
}

void PairPotential::bind(const System& s, const NeighborList& list) {
  nspecies_ = static_cast<int>(s.species_name.size());
  if (all_) return;
  const auto index = [&](const std::string& name) {
    for (int a = 0; a < nspecies_; ++a)
      if (s.species_name[a] == name) return a;
    throw InputError("pair: species '" + name + "' is not in the structure");
  };
  std::vector<char> in_set(nspecies_, species_.empty() ? 1 : 0);
  for (const auto& n : species_) in_set[index(n)] = 1;
  applies_.assign(nspecies_ * nspecies_, 0);
  for (int a = 0; a < nspecies_; ++a)
    for (int b = 0; b < nspecies_; ++b) applies_[a * nspecies_ + b] = in_set[a] && in_set[b] && pairs_.empty();
  for (const auto& [x, y] : pairs_) {
    const int a = index(x), b = index(y);
    if (in_set[a] && in_set[b]) applies_[a * nspecies_ + b] = applies_[b * nspecies_ + a] = 1;
  }
}

double PairPotential::compute(const System& s, const NeighborList& list, Derivatives& d) const {
  const HalfList& half = list.half;
  if (half.atoms() != s.size()) return compute_reference(s, list, d);
  const int n = static_cast<int>(s.size());
  const double cut2 = f_.cutoff * f_.cutoff;
  half.shifts(s, shift_);
  site_.resize(n);
  if (d.virial) own_virial_.resize(n);
  const Vec3* x = s.position.data();
  const int* partner = half.partner.data();
  const int* image_slot = half.image_slot.data();
  const Vec3* shift = shift_.data();
  Vec3* force = d.force ? d.force->data() : nullptr;
  cross_g_.reserve_threads(n >= 512 ? omp_get_max_threads() : 1);
#pragma omp parallel if (n >= 512)
  {
    // Each pair once, from its owning atom i: φ and g = q r_ij = ∂E/∂r_ij (q = φ'/r), +g to i,
    // −g scattered to the partner j ≤ i, or left in the thread's cross shares when j lies
    // below its range (half_list.hpp: the same sequence of operations, so the same bits, for any thread
    // count). Equal shares of the pairs per thread (balanced_range).
    const int nt = omp_get_num_threads(), t = omp_get_thread_num();
    const auto [lo, hi] = balanced_range(half.own_offset, 4, t, nt);
    auto& my_cross_g = cross_g_.by_thread[t];
    my_cross_g.clear();
    // Per atom in three loops: (a) the pairs that act and lie within the cutoff, with r²;
    // (b) r, φ and q = φ'/r for those alone (PairFunction::evaluate: Morse two pairs at a
    // time); (c) the sums in pair order. Each pair's arithmetic is that of one loop over
    // pairs, and so are the bits.
    std::vector<int> near;
    std::vector<double> r2_near, phi_near, q_near;
    for (int i = lo; i < hi; ++i) {
      const int a = s.species[i];
      const Vec3 xi = x[i];
      const int p0 = half.own_offset[i], p1 = half.own_offset[i + 1];
      if (near.size() < static_cast<std::size_t>(p1 - p0)) {
        near.resize(p1 - p0);
        r2_near.resize(p1 - p0);
        phi_near.resize(p1 - p0);
        q_near.resize(p1 - p0);
      }
      // (a) without a branch (pairs near the cutoff come and go at random): every pair is
      // written, the count advances when it acts and lies inside.
      int m = 0;
      for (int p = p0; p < p1; ++p) {
        const int j = partner[p];
        const Vec3 dv = (x[j] - xi) + shift[image_slot[p]];
        const double r2 = dv.squaredNorm();
        near[m] = p;
        r2_near[m] = r2;
        m += (r2 < cut2) & acts(a, s.species[j]);
      }
      // (b) r, φ and q = φ'/r from r².
      f_.evaluate(r2_near.data(), m, phi_near.data(), q_near.data());
      double e = 0.0;
      Vec3 f = Vec3::Zero();
      Mat3 w = Mat3::Zero();
      for (int k = 0; k < m; ++k) {
        const int p = near[k], j = partner[p];
        const Vec3 dv = (x[j] - xi) + shift[image_slot[p]];
        e += phi_near[k];
        const Vec3 g = q_near[k] * dv;
        f += g;
        if (d.virial) w.noalias() -= dv * g.transpose();
        if (!force) continue;
        if (j >= lo) force[j] -= g;
        else my_cross_g.push_back({j, g});
      }
      site_[i] = e;
      if (force) force[i] += f;
      if (d.virial) own_virial_[i] = w;
    }
    if (force && nt > 1) {
#pragma omp barrier
      // The shares of the pairs of later threads' atoms, in pair order.
      cross_g_.apply(t, nt, lo, hi, [&](int j, const Vec3& g) { force[j] -= g; });
    }
  }
  double e = 0.0;
  for (int i = 0; i < n; ++i) e += site_[i];
  if (d.virial)
    for (int i = 0; i < n; ++i) *d.virial += own_virial_[i];
  return e;
}

double PairPotential::compute_reference(const System& s, const NeighborList& list, Derivatives& d) const {
  list.require_full(s.size(), "pair");
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
  list.require_full(s.size(), "pair");
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
  std::vector<std::string> species;
  if (p.has("species")) species = p.strings("species");
  std::vector<std::pair<std::string, std::string>> pairs;
  if (p.has("pairs")) {
    // pairs = [["Fe", "Cr"], ["Cr", "Cr"]]: only these species pairs (unordered).
    const toml::array* arr = p.table()["pairs"].as_array();
    if (!arr) p.fail("pairs", "expected a list of species pairs, e.g. [[\"Fe\", \"Cr\"]]");
    p.touch("pairs");
    for (const auto& el : *arr) {
      const toml::array* two = el.as_array();
      if (!two || two->size() != 2 || !(*two)[0].is_string() || !(*two)[1].is_string())
        p.fail("pairs", "each entry must be a pair of species names, e.g. [\"Fe\", \"Cr\"]");
      pairs.emplace_back((*two)[0].value_or(std::string()), (*two)[1].value_or(std::string()));
    }
    p.require(!pairs.empty(), "pairs", "at least one species pair");
  }
  auto term = std::make_unique<PairPotential>(f, species, pairs);
  if (ctx.system) {
    // Check the names now, so that the error points at this table.
    try {
      NeighborList none;
      term->bind(*ctx.system, none);
    } catch (const InputError& e) {
      p.fail(pairs.empty() ? "species" : "pairs", e.what());
    }
  }
  return term;
}

}  // namespace spinlat
