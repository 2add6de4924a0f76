#include "spinlat/terms/dmi.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "spinlat/core/error.hpp"
#include "spinlat/terms/registry.hpp"
#include "spinlat/terms/spin_kernel.hpp"

namespace spinlat {

DMInteraction::DMInteraction(const System& reference, Kind kind, std::vector<double> D, Vec3 normal,
                             SpeciesFilter species)
    : kind_(kind), D_(std::move(D)), normal_(normal), species_(std::move(species)) {
  if (D_.empty()) throw InputError("dmi needs at least one D (eV, nearest shell first)");
  if (!(normal_.norm() > 0.0)) throw InputError("dmi: the normal must be a non-zero vector");
  normal_.normalize();
  table_ = ShellTable::find(reference, D_.size(), species_);
}

DMInteraction::DMInteraction(std::vector<Vec3> bonds, std::vector<Vec3> D, SpeciesFilter species)
    : kind_(Kind::bond), D_{1.0}, normal_(Vec3::UnitZ()), species_(std::move(species)), bonds_(std::move(bonds)),
      bond_D_(std::move(D)) {
  if (bonds_.empty() || bonds_.size() != bond_D_.size())
    throw InputError("dmi kind = \"bond\" needs one D vector per bond vector");
  double shortest = std::numeric_limits<double>::infinity(), longest = 0.0;
  for (std::size_t a = 0; a < bonds_.size(); ++a) {
    if (!(bonds_[a].norm() > 0.0)) throw InputError("dmi: a bond vector must be non-zero");
    shortest = std::min(shortest, bonds_[a].norm());
    longest = std::max(longest, bonds_[a].norm());
    for (std::size_t b = 0; b < a; ++b)
      shortest = std::min({shortest, (bonds_[a] - bonds_[b]).norm(), (bonds_[a] + bonds_[b]).norm()});
  }
  if (!(shortest > 1e-6)) throw InputError("dmi: two bond vectors coincide (b and b, or b and −b)");
  bond_tolerance_ = 0.3 * shortest;
  bond_cutoff_ = longest + bond_tolerance_;
}

Vec3 DMInteraction::vector(double D, const Vec3& r_ij) const {
  const Vec3 u = r_ij.normalized();
  return kind_ == Kind::bulk ? Vec3(D * u) : Vec3(D * normal_.cross(u));
}

void DMInteraction::bind(const System& s, const NeighborList& list) {
  species_.bind(s);
  if (kind_ == Kind::bond) {
    // Each pair takes the bond vector (or its negative) nearest to its displacement.
    pair_D_.assign(list.pairs(), 0.0);
    pair_vec_.assign(list.pairs(), Vec3::Zero());
    for (std::size_t i = 0; i < list.atoms(); ++i) {
      if (!species_(s, i)) continue;
      for (int k = list.begin(static_cast<int>(i)); k < list.end(static_cast<int>(i)); ++k) {
        const int j = list.index[k];
        if (j == static_cast<int>(i) || !species_.pair(s, i, static_cast<std::size_t>(j))) continue;
        const Vec3& d = list.displacement[k];
        for (std::size_t b = 0; b < bonds_.size(); ++b) {
          const double sign = (d - bonds_[b]).norm() < bond_tolerance_ ? 1.0 : (d + bonds_[b]).norm() < bond_tolerance_ ? -1.0 : 0.0;
          if (sign == 0.0) continue;
          pair_vec_[k] = sign * bond_D_[b];
          pair_D_[k] = pair_vec_[k] != Vec3::Zero() ? 1.0 : 0.0;
          break;
        }
      }
    }
    return;
  }
  const std::vector<int> shell = table_.assign(s, list, species_);
  pair_D_.assign(list.pairs(), 0.0);
  for (std::size_t i = 0; i < list.atoms(); ++i)
    for (int k = list.begin(static_cast<int>(i)); k < list.end(static_cast<int>(i)); ++k)
      // A self-image contributes D·(ê_i × ê_i) = 0.
      if (shell[k] >= 0 && list.index[k] != static_cast<int>(i)) pair_D_[k] = D_[shell[k]];
}

Vec3 DMInteraction::field(const System& s, const NeighborList& list, int i) const {
  Vec3 h = Vec3::Zero();
  for (int k = list.begin(i); k < list.end(i); ++k)
    if (pair_D_[k] != 0.0) h += pair_vector(s, list, i, k).cross(s.spin[list.index[k]]);
  return h;
}

double DMInteraction::compute(const System& s, const NeighborList& list, Derivatives& d) const {
  const int n = static_cast<int>(s.size());
  // Per-site results summed in site order afterwards (thread-count independent).
  std::vector<double> es(n, 0.0);
  std::vector<Mat3> ws(d.virial ? n : 0, Mat3::Zero());
#pragma omp parallel for schedule(static)
  for (int i = 0; i < n; ++i) {
    if (!species_(s, i)) continue;
    const Vec3& ei = s.spin[i];
    Vec3 h = Vec3::Zero(), f = Vec3::Zero();
    Mat3 w = Mat3::Zero();
    for (int k = list.begin(i); k < list.end(i); ++k) {
      const double D = pair_D_[k];
      if (D == 0.0) continue;
      const Vec3& ej = s.spin[list.index[k]];
      h += pair_vector(s, list, i, k).cross(ej);
      if ((d.force || d.virial) && kind_ != Kind::bond) {
        const Vec3 dv = list.current_displacement(s, i, k);
        const double r = dv.norm();
        const Vec3 u = dv / r;
        // E_p = D d̂·w with w = ê_i×ê_j (bulk) or (ê_i×ê_j)×n̂ (interfacial, since
        // (n̂×d̂)·c = d̂·(c×n̂)); ∂E_p/∂r_ij = D (w − (d̂·w) d̂)/r is the force on i.
        Vec3 wv = ei.cross(ej);
        if (kind_ == Kind::interfacial) wv = wv.cross(normal_);
        const Vec3 g = D * (wv - u.dot(wv) * u) / r;
        f += g;
        if (d.virial) w -= 0.5 * dv * g.transpose();
      }
    }
    // E_i = ½ Σ_j D_ij·(ê_i×ê_j) = −½ ê_i·Σ_j D_ij×ê_j.
    es[i] = -0.5 * ei.dot(h);
    if (d.force) (*d.force)[i] += f;
    if (d.magnetic_force) (*d.magnetic_force)[i] += (h - ei.dot(h) * ei) / s.moment[i];
    if (d.virial) ws[i] = w;
  }
  double e = 0.0;
  for (int i = 0; i < n; ++i) e += es[i];
  if (d.virial)
    for (int i = 0; i < n; ++i) *d.virial += ws[i];
  return e;
}

void DMInteraction::add_site_energies(const System& s, const NeighborList& list, std::vector<double>& e) const {
  for (std::size_t i = 0; i < s.size(); ++i)
    if (species_(s, i)) e[i] -= 0.5 * s.spin[i].dot(field(s, list, static_cast<int>(i)));
}

double DMInteraction::local_energy_change(const System& s, const NeighborList& list, int i,
                                          const Vec3& spin_new, double moment_new) const {
  if (!species_(s, i)) return 0.0;
  return -(spin_new - s.spin[i]).dot(field(s, list, i));
}

bool DMInteraction::add_to_spin_kernel(const System& s, const NeighborList& list, SpinKernel& kern) const {
  for (std::size_t i = 0; i < s.size(); ++i)
    for (int k = list.begin(static_cast<int>(i)); k < list.end(static_cast<int>(i)); ++k)
      if (pair_D_[k] != 0.0)
        kern.add_pair(static_cast<int>(i), list.index[k], 0.0, pair_vector(s, list, static_cast<int>(i), k));
  return true;
}

TermPtr make_dmi(Params& p, const TermContext& ctx) {
  const std::string kind = p.choice("kind", {"interfacial", "bulk", "bond"});
  if (kind == "bond") {
    // bonds = [[bx, by, bz, Dx, Dy, Dz], ...]: bond vector (Å) and its D (eV).
    p.touch("bonds");
    const toml::node* node = p.table().get("bonds");
    if (!node) p.fail("bonds", "missing required list of [bx, by, bz, Dx, Dy, Dz] (bond vector in Å, D in eV)");
    const toml::array* rows = node->as_array();
    if (!rows || rows->empty()) p.fail("bonds", "expected a non-empty list of [bx, by, bz, Dx, Dy, Dz]");
    std::vector<Vec3> b, D;
    for (std::size_t k = 0; k < rows->size(); ++k) {
      const toml::array* row = (*rows)[k].as_array();
      double v[6];
      bool ok = row && row->size() == 6;
      for (int c = 0; ok && c < 6; ++c) {
        const auto x = (*row)[c].value<double>();
        ok = x && std::isfinite(*x);
        if (ok) v[c] = *x;
      }
      if (!ok) p.fail("bonds", "entry " + std::to_string(k) + " must be six numbers [bx, by, bz, Dx, Dy, Dz]");
      b.emplace_back(v[0], v[1], v[2]);
      D.emplace_back(v[3], v[4], v[5]);
      p.require(b.back().norm() > 0.0, "bonds", "entry " + std::to_string(k) + ": the bond vector must be non-zero");
    }
    p.require(!p.has("D") && !p.has("normal"), p.has("D") ? "D" : "normal",
              "kind = \"bond\" takes its D vectors from 'bonds'; remove 'D' and 'normal'");
    p.touch("D");
    p.touch("normal");
    SpeciesFilter species = read_pair_species(p, *ctx.system);
    try {
      return std::make_unique<DMInteraction>(std::move(b), std::move(D), std::move(species));
    } catch (const InputError& e) {
      p.fail("bonds", e.what());
    }
  }
  p.require(!p.has("bonds"), "bonds", "only kind = \"bond\" takes 'bonds'");
  p.touch("bonds");
  std::vector<double> D = p.reals("D");
  p.require(!D.empty(), "D", "expected at least one DMI constant (eV, nearest shell first)");
  Vec3 normal = Vec3::UnitZ();
  if (p.has("normal")) {
    p.require(kind == "interfacial", "normal", "only interfacial DMI has a normal (bulk D_ij is along r_ij)");
    normal = p.vec3("normal");
    p.require(normal.norm() > 0.0, "normal", "expected a non-zero vector");
  } else {
    p.touch("normal");
  }
  SpeciesFilter species = read_pair_species(p, *ctx.system);
  return std::make_unique<DMInteraction>(
      *ctx.system, kind == "bulk" ? DMInteraction::Kind::bulk : DMInteraction::Kind::interfacial, D, normal,
      std::move(species));
}

}  // namespace spinlat
