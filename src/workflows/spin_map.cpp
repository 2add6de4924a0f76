// `spinlat map`: effective spin Hamiltonians by linear least squares (docs/mapping.md).
#include "spinlat/workflows/spin_map.hpp"

#include <omp.h>

#include <Eigen/Dense>
#include <Eigen/Geometry>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>
#include <tuple>

#include "spinlat/core/error.hpp"
#include "spinlat/core/rng.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/terms/anisotropy.hpp"
#include "spinlat/terms/biquadratic.hpp"
#include "spinlat/terms/dmi.hpp"
#include "spinlat/terms/heisenberg.hpp"
#include "spinlat/terms/landau.hpp"
#include "spinlat/workflows/run.hpp"

namespace spinlat {

namespace {

constexpr double kShellTolerance = 1e-3;  // Å, as ShellTable and neighbor_shells merge distances
constexpr double kJoulePerEv = units::joule_per_eV;
constexpr double kRydbergEv = units::rydberg_eV;

/// One column of the design matrix: a term with a unit coefficient, and where its fitted
/// coefficient goes (value `index` of output table `table`; table −1: a component of the
/// single-ion tensor of `species` along axis `axis`).
struct Column {
  MappedTable unit;
  int table = -1;
  int index = 0;
  std::string label;
  std::string species;
  Vec3 axis = Vec3::Zero();
};

SpeciesFilter filter_of(const System& s, const std::vector<std::string>& names) {
  return names.empty() ? SpeciesFilter() : SpeciesFilter(names, s);
}

TermPtr make_mapped_term(const System& s, const MappedTable& t) {
  SpeciesFilter f = filter_of(s, t.species);
  if (t.type == "heisenberg") return std::make_unique<HeisenbergExchange>(s, t.values, std::move(f));
  if (t.type == "biquadratic") return std::make_unique<BiquadraticExchange>(s, t.values, std::move(f));
  if (t.type == "dmi" && t.kind == "bond") return std::make_unique<DMInteraction>(t.bonds, t.bond_D, std::move(f));
  if (t.type == "dmi")
    return std::make_unique<DMInteraction>(
        s, t.kind == "bulk" ? DMInteraction::Kind::bulk : DMInteraction::Kind::interfacial, t.values, t.vector,
        std::move(f));
  if (t.type == "anisotropy") {
    if (t.kind == "cubic") return std::make_unique<CubicAnisotropy>(t.values[0], std::move(f));
    return std::make_unique<UniaxialAnisotropy>(t.values[0], t.vector, std::move(f));
  }
  if (t.type == "landau") return std::make_unique<LandauTerm>(t.values[0], t.values[1], t.values[2], std::move(f));
  throw std::logic_error("spin map: unknown mapped term " + t.type);
}

std::string species_label(const std::vector<std::string>& names) {
  if (names.empty()) return "all";
  std::string r;
  for (const auto& n : names) r += (r.empty() ? "" : "+") + n;
  return r;
}

/// Magnetic species names in index order.
std::vector<std::string> magnetic_species(const System& s) {
  std::set<int> sp;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (s.magnetic(i)) sp.insert(s.species[i]);
  std::vector<std::string> names;
  for (int k : sp) names.push_back(s.species_name[k]);
  return names;
}

bool selected(const System& s, std::size_t i, const std::vector<std::string>& names) {
  if (!s.magnetic(i)) return false;
  if (names.empty()) return true;
  return std::find(names.begin(), names.end(), s.species_name[s.species[i]]) != names.end();
}

/// Distinct distances (Å, ≤ rmax) between magnetic pairs selected by `names`; with `cross`,
/// also whether a pair of two different species occurs at each.
std::vector<double> pair_radii(const System& s, const NeighborList& list, const std::vector<std::string>& names,
                               double rmax, std::vector<char>* cross) {
  std::vector<std::pair<double, bool>> d;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!selected(s, i, names)) continue;
    for (int k = list.begin(static_cast<int>(i)); k < list.end(static_cast<int>(i)); ++k) {
      const int j = list.index[k];
      if (list.distance[k] <= rmax + kShellTolerance && selected(s, j, names))
        d.emplace_back(list.distance[k], s.species[i] != s.species[j]);
    }
  }
  std::sort(d.begin(), d.end());
  std::vector<double> radii;
  if (cross) cross->clear();
  for (const auto& [r, x] : d) {
    if (radii.empty() || r - radii.back() > kShellTolerance) {
      radii.push_back(r);
      if (cross) cross->push_back(0);
    }
    if (cross && x) cross->back() = 1;
  }
  return radii;
}

std::string fmt(double x) {
  char b[40];
  std::snprintf(b, sizeof b, "%.17g", x);
  std::string r = b;
  if (r.find_first_of(".eEn") == std::string::npos) r += ".0";
  return r;
}

std::string fmt_short(double x, int digits = 6) {
  std::ostringstream o;
  o << std::setprecision(digits) << x;
  return o.str();
}

/// Two unit vectors perpendicular to the unit vector e.
std::pair<Vec3, Vec3> transverse_basis(const Vec3& e) {
  Vec3 a = std::abs(e.x()) < 0.9 ? Vec3::UnitX() : Vec3::UnitY();
  const Vec3 t1 = e.cross(a).normalized();
  return {t1, e.cross(t1)};
}

Vec3 random_unit(Engine& g) {
  const double z = 2.0 * uniform01(g) - 1.0, phi = 2.0 * units::kPi * uniform01(g);
  const double r = std::sqrt(std::max(0.0, 1.0 - z * z));
  return Vec3(r * std::cos(phi), r * std::sin(phi), z);
}

/// Configuration k: uniformly random directions (k % 5 == 0) or rotations of the input's spins
/// by angles up to 0.2, 0.5, 1.0, 2.0 rad (uniform in cos θ within the cone), which stand for
/// increasing temperatures, the whole configuration then turned by a uniformly random rotation
/// (Shoemake's quaternion, Graphics Gems III (1992) p. 124). Without that turn, cones about one
/// axis correlate ê_z² with the local order and a fitted anisotropy absorbs whatever the
/// pair terms miss (a rotation-invariant model came out with an easy axis of 0.27 meV).
/// With `vary`, |m_i| uniform in m0·[1 − spread, 1 + spread].
System sample(const System& ref, std::uint64_t seed, std::size_t k, bool vary, double spread) {
  static const double kCone[] = {0.2, 0.5, 1.0, 2.0};
  Engine g(derive_seed(seed, StreamPurpose::spin_mapping, k));
  System s = ref;
  const int kind = static_cast<int>(k % 5);
  Mat3 R = Mat3::Identity();
  if (kind != 0) {
    const double u1 = uniform01(g), u2 = 2.0 * units::kPi * uniform01(g), u3 = 2.0 * units::kPi * uniform01(g);
    const double a = std::sqrt(1.0 - u1), b = std::sqrt(u1);
    R = Eigen::Quaterniond(b * std::cos(u3), a * std::sin(u2), a * std::cos(u2), b * std::sin(u3)).toRotationMatrix();
  }
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!s.magnetic(i)) continue;
    if (kind == 0) {
      s.spin[i] = random_unit(g);
    } else {
      const double cmin = std::cos(kCone[kind - 1]);
      const double c = 1.0 - (1.0 - cmin) * uniform01(g), phi = 2.0 * units::kPi * uniform01(g);
      const auto [t1, t2] = transverse_basis(ref.spin[i]);
      const double sn = std::sqrt(std::max(0.0, 1.0 - c * c));
      s.spin[i] = (R * (c * ref.spin[i] + sn * (std::cos(phi) * t1 + std::sin(phi) * t2))).normalized();
    }
    if (vary) s.moment[i] = ref.moment[i] * (1.0 + spread * (2.0 * uniform01(g) - 1.0));
  }
  return s;
}

/// Rows of one configuration, unweighted: energy per atom, then the magnetic-force components of
/// every magnetic atom (2 transverse ones, or all 3 when |m| varies). Columns: the terms, then
/// the constant. `b` holds the input Hamiltonian's values.
void rows_of(const System& c, const Hamiltonian& h, const std::vector<TermPtr>& terms, const NeighborList& list,
             bool transverse, Eigen::MatrixXd& A, Eigen::VectorXd& b) {
  const std::size_t n = c.size();
  std::vector<int> mag = c.magnetic_sites();
  const int per = transverse ? 2 : 3;
  const int rows = 1 + per * static_cast<int>(mag.size());
  A.setZero(rows, static_cast<int>(terms.size()) + 1);
  b.setZero(rows);
  auto fill = [&](const std::vector<Vec3>& f, double e, auto&& put) {
    put(0, e / static_cast<double>(n));
    for (std::size_t m = 0; m < mag.size(); ++m) {
      const int i = mag[m];
      if (transverse) {
        const auto [t1, t2] = transverse_basis(c.spin[i]);
        put(1 + 2 * static_cast<int>(m), f[i].dot(t1));
        put(2 + 2 * static_cast<int>(m), f[i].dot(t2));
      } else {
        for (int a = 0; a < 3; ++a) put(1 + 3 * static_cast<int>(m) + a, f[i][a]);
      }
    }
  };
  std::vector<Vec3> f(n, Vec3::Zero());
  Derivatives d;
  d.magnetic_force = &f;
  const double e = h.compute(c, d);
  fill(f, e, [&](int r, double v) { b(r) = v; });
  for (std::size_t t = 0; t < terms.size(); ++t) {
    std::fill(f.begin(), f.end(), Vec3::Zero());
    const double et = terms[t]->compute(c, list, d);
    fill(f, et, [&](int r, double v) { A(r, static_cast<int>(t)) = v; });
  }
  A(0, static_cast<int>(terms.size())) = 1.0;
}

FitErrors errors_of(const std::vector<Eigen::MatrixXd>& As, const std::vector<Eigen::VectorXd>& bs,
                    const Eigen::VectorXd& x) {
  FitErrors e;
  e.configurations = static_cast<int>(As.size());
  double se = 0.0, sf = 0.0, sr = 0.0;
  long nf = 0;
  for (std::size_t k = 0; k < As.size(); ++k) {
    const Eigen::VectorXd r = As[k] * x - bs[k];
    se += r(0) * r(0);
    e.energy_max = std::max(e.energy_max, std::abs(r(0)));
    for (int i = 1; i < r.size(); ++i) {
      sf += r(i) * r(i);
      sr += bs[k](i) * bs[k](i);
      e.force_max = std::max(e.force_max, std::abs(r(i)));
      ++nf;
    }
  }
  if (e.configurations > 0) e.energy_rmse = std::sqrt(se / e.configurations);
  if (nf > 0) {
    e.force_rmse = std::sqrt(sf / static_cast<double>(nf));
    e.force_rms = std::sqrt(sr / static_cast<double>(nf));
  }
  return e;
}

/// The candidate columns and the output tables they fill.
void build_columns(const System& s, const MapOptions& o, std::vector<MappedTable>& tables,
                   std::vector<Column>& cols) {
  if (o.shells < 1) throw InputError("spinlat map: --shells must be at least 1");
  const std::vector<double> all = magnetic_shells(s, static_cast<std::size_t>(o.shells));
  const double rmax = all[o.shells - 1];
  const NeighborList list = build_neighbor_list(s, rmax + 0.01);
  const std::vector<std::string> species = magnetic_species(s);

  // Isotropic exchange: one table per species set; with several magnetic species, {A} (A-A
  // pairs) and {A, B} (which couples A-B, A-A and B-B pairs at its shells; only its shells with
  // A-B pairs are fitted, so that the columns stay independent). The J of a species pair at a
  // distance is the sum of the tables that select both species.
  std::vector<std::vector<std::string>> groups;
  if (species.size() == 1) {
    groups.push_back({});
  } else {
    for (const auto& a : species) groups.push_back({a});
    for (std::size_t a = 0; a < species.size(); ++a)
      for (std::size_t b = a + 1; b < species.size(); ++b) groups.push_back({species[a], species[b]});
  }
  for (const auto& g : groups) {
    std::vector<char> cross;
    const std::vector<double> radii = pair_radii(s, list, g, rmax, &cross);
    if (radii.empty()) continue;
    MappedTable t{"heisenberg", g, std::vector<double>(radii.size(), 0.0), "", Vec3::UnitZ(), {}, {}};
    tables.push_back(t);
    for (std::size_t k = 0; k < radii.size(); ++k) {
      if (g.size() == 2 && !cross[k]) continue;
      Column c;
      c.unit = t;
      c.unit.values[k] = 1.0;
      c.table = static_cast<int>(tables.size()) - 1;
      c.index = static_cast<int>(k);
      c.label = "J " + species_label(g) + " shell " + std::to_string(k + 1) + " (" + fmt_short(radii[k], 5) + " A)";
      cols.push_back(c);
    }
  }
  // Shell-resolved terms over all magnetic pairs.
  const std::vector<double> radii = pair_radii(s, list, {}, rmax, nullptr);
  auto add_shell_table = [&](const std::string& type, const std::string& kind, const Vec3& v, const std::string& name) {
    MappedTable t{type, {}, std::vector<double>(radii.size(), 0.0), kind, v, {}, {}};
    tables.push_back(t);
    for (std::size_t k = 0; k < radii.size(); ++k) {
      Column c;
      c.unit = t;
      c.unit.values[k] = 1.0;
      c.table = static_cast<int>(tables.size()) - 1;
      c.index = static_cast<int>(k);
      c.label = name + " shell " + std::to_string(k + 1) + " (" + fmt_short(radii[k], 5) + " A)";
      cols.push_back(c);
    }
  };
  if (o.dmi) {
    // A D vector per bond direction: the distinct displacements between magnetic sites up to the
    // range, b and −b one bond (D_ji = −D_ij). Self-images carry no DMI (ê_i × ê_i = 0).
    std::vector<Vec3> bonds;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (!s.magnetic(i)) continue;
      for (int k = list.begin(static_cast<int>(i)); k < list.end(static_cast<int>(i)); ++k) {
        const int j = list.index[k];
        if (j == static_cast<int>(i) || !s.magnetic(j) || list.distance[k] > rmax + kShellTolerance) continue;
        Vec3 b = list.displacement[k];
        for (int a = 0; a < 3; ++a)
          if (std::abs(b[a]) > 1e-6) {
            if (b[a] < 0.0) b = -b;
            break;
          }
        bool seen = false;
        for (const Vec3& c : bonds) seen |= (c - b).norm() < 1e-4;
        if (!seen) bonds.push_back(b);
      }
    }
    std::sort(bonds.begin(), bonds.end(), [](const Vec3& a, const Vec3& b) {
      if (std::abs(a.norm() - b.norm()) > 1e-4) return a.norm() < b.norm();
      return std::make_tuple(-a.x(), -a.y(), -a.z()) < std::make_tuple(-b.x(), -b.y(), -b.z());
    });
    MappedTable t{"dmi", {}, {}, "bond", Vec3::UnitZ(), bonds, std::vector<Vec3>(bonds.size(), Vec3::Zero())};
    tables.push_back(t);
    for (std::size_t b = 0; b < bonds.size(); ++b)
      for (int a = 0; a < 3; ++a) {
        Column c;
        c.unit = MappedTable{"dmi", {}, {}, "bond", Vec3::UnitZ(), {bonds[b]}, {Vec3::Unit(a)}};
        c.table = static_cast<int>(tables.size()) - 1;
        c.index = static_cast<int>(3 * b + a);
        c.label = "D bond (" + fmt_short(bonds[b].x(), 5) + ", " + fmt_short(bonds[b].y(), 5) + ", " +
                  fmt_short(bonds[b].z(), 5) + ") " + "xyz"[a];
        cols.push_back(c);
      }
  }
  if (o.biquadratic) add_shell_table("biquadratic", "", Vec3::UnitZ(), "Q");
  // On-site terms per species (no filter with one magnetic species).
  for (const auto& sp : species) {
    const std::vector<std::string> f = species.size() == 1 ? std::vector<std::string>{} : std::vector<std::string>{sp};
    if (o.anisotropy) {
      // −ê·K·ê with K symmetric: five independent uniaxial axes (the sixth combination is the
      // constant Σ e_a² = 1), K = Σ c_k n_k n_kᵀ.
      const double r = 1.0 / std::sqrt(2.0);
      const Vec3 axes[] = {Vec3::UnitX(), Vec3::UnitY(), Vec3(r, r, 0), Vec3(r, 0, r), Vec3(0, r, r)};
      const char* names[] = {"x", "y", "xy", "xz", "yz"};
      for (int k = 0; k < 5; ++k) {
        Column c;
        c.unit = MappedTable{"anisotropy", f, {1.0}, "uniaxial", axes[k], {}, {}};
        c.table = -1;
        c.species = sp;
        c.axis = axes[k];
        c.label = "K " + sp + " axis " + names[k];
        cols.push_back(c);
      }
      tables.push_back(MappedTable{"anisotropy", f, {0.0}, "cubic", Vec3::UnitZ(), {}, {}});
      Column c;
      c.unit = MappedTable{"anisotropy", f, {1.0}, "cubic", Vec3::UnitZ(), {}, {}};
      c.table = static_cast<int>(tables.size()) - 1;
      c.label = "Kc " + sp + " cubic";
      cols.push_back(c);
    }
    if (o.landau) {
      tables.push_back(MappedTable{"landau", f, {0.0, 0.0, 0.0}, "", Vec3::UnitZ(), {}, {}});
      const char* names[] = {"A", "B", "C"};
      for (int k = 0; k < 3; ++k) {
        Column c;
        c.unit = MappedTable{"landau", f, {0.0, 0.0, 0.0}, "", Vec3::UnitZ(), {}, {}};
        c.unit.values[k] = 1.0;
        c.table = static_cast<int>(tables.size()) - 1;
        c.index = k;
        c.label = std::string("Landau ") + names[k] + " " + sp;
        cols.push_back(c);
      }
    }
  }
}

/// Uniaxial tables equal to −ê·K·ê up to a constant: K = Σ λ_k v_k v_kᵀ and Σ (ê·v_k)² = 1, so
/// subtracting the most repeated eigenvalue λ_ref leaves at most two axes (one for a uniaxial
/// tensor). Returns λ_ref (the constant is −λ_ref per atom).
double anisotropy_tables(const Mat3& K, const std::vector<std::string>& f, std::vector<MappedTable>& out) {
  Eigen::SelfAdjointEigenSolver<Mat3> es(0.5 * (K + K.transpose()));
  const Vec3 l = es.eigenvalues();
  const double tol = 1e-9 * l.cwiseAbs().maxCoeff() + 1e-15;
  int best = 0, best_count = -1;
  for (int a = 0; a < 3; ++a) {
    int n = 0;
    for (int b = 0; b < 3; ++b) n += std::abs(l[a] - l[b]) <= tol;
    if (n > best_count) { best = a; best_count = n; }
  }
  const double ref = l[best];
  for (int a = 0; a < 3; ++a)
    if (std::abs(l[a] - ref) > tol) out.push_back(MappedTable{"anisotropy", f, {l[a] - ref}, "uniaxial", es.eigenvectors().col(a), {}, {}});
  return ref;
}

}  // namespace

std::vector<TermPtr> mapped_terms(const System& s, const SpinMap& m) {
  std::vector<TermPtr> t;
  for (const auto& table : m.tables) t.push_back(make_mapped_term(s, table));
  return t;
}

SpinMap map_spin_model(const System& s, const Hamiltonian& h, const MapOptions& o) {
  if (s.magnetic_sites().empty()) throw InputError("spinlat map: the structure has no magnetic sites (moment > 0)");
  if (o.train < 1) throw InputError("spinlat map: --configs must be at least 1");
  if (o.held_out < 0) throw InputError("spinlat map: --held-out must not be negative");
  std::vector<MappedTable> templates;
  std::vector<Column> cols;
  build_columns(s, o, templates, cols);

  std::vector<TermPtr> terms;
  double rc = 0.0;
  for (const auto& c : cols) {
    terms.push_back(make_mapped_term(s, c.unit));
    rc = std::max(rc, terms.back()->cutoff());
  }
  const NeighborList list = build_neighbor_list(s, std::max(rc, 1e-3));
  for (auto& t : terms) t->bind(s, list);

  const bool transverse = !o.landau;
  const std::size_t total = static_cast<std::size_t>(o.train + o.held_out);
  std::vector<Eigen::MatrixXd> As(total);
  std::vector<Eigen::VectorXd> bs(total);
  for (std::size_t k = 0; k < total; ++k) {
    const System c = sample(s, o.seed, k, o.landau, o.moment_spread);
    rows_of(c, h, terms, list, transverse, As[k], bs[k]);
    if (!bs[k].allFinite())
      throw NumericalError("spinlat map: the input's Hamiltonian gave a non-finite energy or magnetic force on "
                           "sampled configuration " + std::to_string(k));
  }

  // Weighted, column-normalised training system.
  const int ncol = static_cast<int>(cols.size()) + 1;
  const int per = static_cast<int>(As[0].rows());
  Eigen::MatrixXd A(per * o.train, ncol);
  Eigen::VectorXd b(per * o.train);
  for (int k = 0; k < o.train; ++k) {
    A.middleRows(k * per, per) = As[k];
    b.segment(k * per, per) = bs[k];
    A.block(k * per + 1, 0, per - 1, ncol) *= o.force_weight;
    b.segment(k * per + 1, per - 1) *= o.force_weight;
  }
  SpinMap m;
  Eigen::VectorXd scale = A.colwise().norm().transpose();
  std::vector<int> kept;
  std::vector<char> drop(ncol, 0);
  for (int j = 0; j < ncol; ++j)
    if (!(scale(j) > 0.0)) drop[j] = 1;
  {
    std::vector<int> live;
    for (int j = 0; j < ncol; ++j)
      if (!drop[j]) live.push_back(j);
    Eigen::MatrixXd As_(A.rows(), static_cast<int>(live.size()));
    for (std::size_t q = 0; q < live.size(); ++q) As_.col(static_cast<int>(q)) = A.col(live[q]) / scale(live[q]);
    Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr(As_);
    qr.setThreshold(o.rank_tolerance);
    const int rank = static_cast<int>(qr.rank());
    for (int q = rank; q < static_cast<int>(live.size()); ++q) drop[live[qr.colsPermutation().indices()(q)]] = 1;
  }
  for (int j = 0; j < ncol; ++j) {
    if (!drop[j]) {
      kept.push_back(j);
      continue;
    }
    const std::string label = j < ncol - 1 ? cols[j].label : std::string("energy constant");
    m.dropped.push_back(label + ": not determined by the samples (zero or linearly dependent column); set to 0");
  }
  Eigen::MatrixXd Ak(A.rows(), static_cast<int>(kept.size()));
  for (std::size_t q = 0; q < kept.size(); ++q) Ak.col(static_cast<int>(q)) = A.col(kept[q]) / scale(kept[q]);
  const Eigen::VectorXd xk = Ak.colPivHouseholderQr().solve(b);
  Eigen::VectorXd x = Eigen::VectorXd::Zero(ncol);
  for (std::size_t q = 0; q < kept.size(); ++q) x(kept[q]) = xk(static_cast<int>(q)) / scale(kept[q]);

  m.atoms = s.size();
  m.magnetic = s.magnetic_sites().size();
  m.transverse_only = transverse;
  m.energy_offset = x(ncol - 1);
  for (std::size_t j = 0; j < cols.size(); ++j) {
    m.column_labels.push_back(cols[j].label);
    m.coefficients.push_back(x(static_cast<int>(j)));
  }
  m.train = errors_of(std::vector<Eigen::MatrixXd>(As.begin(), As.begin() + o.train),
                      std::vector<Eigen::VectorXd>(bs.begin(), bs.begin() + o.train), x);
  m.held_out = errors_of(std::vector<Eigen::MatrixXd>(As.begin() + o.train, As.end()),
                         std::vector<Eigen::VectorXd>(bs.begin() + o.train, bs.end()), x);

  // Output tables: coefficients into their tables; the single-ion tensors into uniaxial axes.
  std::map<std::string, Mat3> tensor;
  for (std::size_t j = 0; j < cols.size(); ++j) {
    const Column& c = cols[j];
    if (c.table >= 0 && templates[c.table].kind == "bond") {
      templates[c.table].bond_D[c.index / 3][c.index % 3] = x(static_cast<int>(j));
    } else if (c.table >= 0) {
      templates[c.table].values[c.index] = x(static_cast<int>(j));
    } else {
      if (!tensor.count(c.species)) tensor[c.species] = Mat3::Zero();
      tensor[c.species] += x(static_cast<int>(j)) * c.axis * c.axis.transpose();
    }
  }
  const std::vector<std::string> species = magnetic_species(s);
  for (auto t : templates) {
    if (t.kind == "bond") {
      // Keep the bonds with a non-zero D.
      MappedTable kept = t;
      kept.bonds.clear();
      kept.bond_D.clear();
      for (std::size_t b = 0; b < t.bonds.size(); ++b)
        if (t.bond_D[b] != Vec3::Zero()) {
          kept.bonds.push_back(t.bonds[b]);
          kept.bond_D.push_back(t.bond_D[b]);
        }
      if (!kept.bonds.empty()) m.tables.push_back(kept);
      continue;
    }
    bool nonzero = false;
    for (double v : t.values) nonzero |= v != 0.0;
    if (nonzero) m.tables.push_back(t);
  }
  for (const auto& [sp, K] : tensor) {
    m.anisotropy_tensor[sp] = K;
    const std::vector<std::string> f = species.size() == 1 ? std::vector<std::string>{} : std::vector<std::string>{sp};
    const double ref = anisotropy_tables(K, f, m.tables);
    std::size_t n = 0;
    for (std::size_t i = 0; i < s.size(); ++i) n += s.magnetic(i) && s.species_name[s.species[i]] == sp;
    m.energy_offset -= ref * static_cast<double>(n) / static_cast<double>(s.size());
  }

  // J per (distance, species pair) from the heisenberg tables that select both species.
  {
    const double rmax = magnetic_shells(s, static_cast<std::size_t>(o.shells))[o.shells - 1];
    const NeighborList l2 = build_neighbor_list(s, rmax + 0.01);
    for (std::size_t a = 0; a < species.size(); ++a)
      for (std::size_t b2 = a; b2 < species.size(); ++b2) {
        // Radii where pairs of exactly this type occur.
        std::vector<double> d;
        for (std::size_t i = 0; i < s.size(); ++i) {
          if (!s.magnetic(i) || s.species_name[s.species[i]] != species[a]) continue;
          for (int k = l2.begin(static_cast<int>(i)); k < l2.end(static_cast<int>(i)); ++k) {
            const int j = l2.index[k];
            if (s.magnetic(j) && s.species_name[s.species[j]] == species[b2] && l2.distance[k] <= rmax + kShellTolerance)
              d.push_back(l2.distance[k]);
          }
        }
        std::sort(d.begin(), d.end());
        std::vector<double> radii;
        for (double r : d)
          if (radii.empty() || r - radii.back() > kShellTolerance) radii.push_back(r);
        for (double r : radii) {
          double J = 0.0;
          for (const auto& t : m.tables) {
            if (t.type != "heisenberg") continue;
            auto has = [&](const std::string& n) {
              return t.species.empty() || std::find(t.species.begin(), t.species.end(), n) != t.species.end();
            };
            if (!has(species[a]) || !has(species[b2])) continue;
            const std::vector<double> tr = pair_radii(s, l2, t.species, rmax, nullptr);
            for (std::size_t k = 0; k < tr.size() && k < t.values.size(); ++k)
              if (std::abs(tr[k] - r) <= kShellTolerance) J += t.values[k];
          }
          m.exchange.push_back(PairCoupling{species[a], species[b2], r, J});
        }
      }
  }

  // Mean-field ordering temperature: ⟨ê_i⟩ = (β/3) Σ_j J_ij ⟨ê_j⟩ for classical unit vectors
  // (Langevin function L(x) ≈ x/3), so k_B T_MF = λ_max(J)/3; for one ferromagnetic sublattice
  // λ = Σ_j J_0j (sc nearest neighbours: 6J/3 = 2J).
  if (o.mean_field) {
    const std::vector<int> mag = s.magnetic_sites();
    std::vector<int> idx(s.size(), -1);
    for (std::size_t q = 0; q < mag.size(); ++q) idx[mag[q]] = static_cast<int>(q);
    Eigen::MatrixXd M = Eigen::MatrixXd::Zero(static_cast<int>(mag.size()), static_cast<int>(mag.size()));
    for (const MappedPair& p : mapped_pairs(s, m)) M(idx[p.i], idx[p.j]) += p.J;
    if (M.rows() > 0) {
      Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(0.5 * (M + M.transpose()), Eigen::EigenvaluesOnly);
      m.tc_mean_field = std::max(0.0, es.eigenvalues().maxCoeff()) / (3.0 * units::k_B);
      m.tc_mean_field_ferro = std::max(0.0, M.sum() / static_cast<double>(M.rows())) / (3.0 * units::k_B);
    }
  }
  return m;
}

std::vector<MappedPair> mapped_pairs(const System& s, const SpinMap& m) {
  double rc = 0.0;
  for (const auto& t : m.tables)
    if (t.type == "heisenberg" || t.type == "dmi" || t.type == "biquadratic") rc = std::max(rc, make_mapped_term(s, t)->cutoff());
  std::vector<MappedPair> out;
  if (rc <= 0.0) return out;
  const NeighborList list = build_neighbor_list(s, rc);
  std::vector<MappedPair> entry(list.pairs());
  for (std::size_t i = 0; i < s.size(); ++i)
    for (int k = list.begin(static_cast<int>(i)); k < list.end(static_cast<int>(i)); ++k)
      entry[k] = MappedPair{static_cast<int>(i), list.index[k], list.image[k], 0.0, Vec3::Zero(), 0.0};
  for (const auto& t : m.tables) {
    if (t.type != "heisenberg" && t.type != "dmi" && t.type != "biquadratic") continue;
    const SpeciesFilter f = filter_of(s, t.species);
    if (t.type == "dmi") {
      DMInteraction dmi = t.kind == "bond" ? DMInteraction(t.bonds, t.bond_D, f)
                                           : DMInteraction(s, t.kind == "bulk" ? DMInteraction::Kind::bulk
                                                                               : DMInteraction::Kind::interfacial,
                                                           t.values, t.vector, f);
      dmi.bind(s, list);
      for (std::size_t i = 0; i < s.size(); ++i)
        for (int k = list.begin(static_cast<int>(i)); k < list.end(static_cast<int>(i)); ++k)
          if (list.index[k] != static_cast<int>(i)) entry[k].D += dmi.pair_vector(s, list, static_cast<int>(i), k);
      continue;
    }
    const ShellTable table = ShellTable::find(s, t.values.size(), f);
    const std::vector<int> shell = table.assign(s, list, f);
    for (std::size_t k = 0; k < list.pairs(); ++k) {
      if (shell[k] < 0) continue;
      const double v = t.values[shell[k]];
      if (t.type == "heisenberg") entry[k].J += v;
      if (t.type == "biquadratic") entry[k].Q += v;
    }
  }
  // Self-images (j = i, image ≠ 0: cells smaller than twice the range) are couplings of the
  // periodic lattice like any other: VAMPIRE and UppASD repeat the cell, and the mean-field
  // mode of the cell sees them.
  for (const auto& p : entry)
    if (p.J != 0.0 || p.Q != 0.0 || p.D != Vec3::Zero()) out.push_back(p);
  return out;
}

std::string map_summary(const SpinMap& m) {
  std::ostringstream o;
  o << std::setprecision(6);
  auto errs = [&](const char* name, const FitErrors& e) {
    if (e.configurations == 0) {
      o << name << ": none (no configurations; --held-out 0)\n";
      return;
    }
    o << name << " (" << e.configurations << " configurations): energy rmse " << e.energy_rmse * 1e3
      << " meV/atom (max " << e.energy_max * 1e3 << "), magnetic force rmse " << e.force_rmse * 1e3
      << " meV/muB (max " << e.force_max * 1e3 << "; reference rms " << e.force_rms * 1e3 << ")\n";
  };
  errs("fit errors, training", m.train);
  errs("fit errors, held out", m.held_out);
  o << "force components fitted: " << (m.transverse_only ? "transverse (fixed |m|)" : "all three (|m| varied)") << "\n";
  o << "energy constant not in the spin model: " << m.energy_offset << " eV/atom\n";
  o << "isotropic exchange (E = -sum_{i<j} J_ij e_i.e_j, meV):\n";
  for (const auto& p : m.exchange)
    o << "  " << p.a << "-" << p.b << "  r = " << std::setprecision(6) << p.radius << " A  J = " << p.J * 1e3 << "\n";
  for (const auto& [sp, K] : m.anisotropy_tensor) {
    o << "single-ion tensor K (" << sp << ", E = -e.K.e, meV):";
    for (int a = 0; a < 3; ++a)
      for (int b = a; b < 3; ++b) o << " K" << "xyz"[a] << "xyz"[b] << "=" << K(a, b) * 1e3;
    o << "\n";
  }
  for (const auto& t : m.tables)
    if (t.type == "dmi" && t.kind == "bond") {
      o << "DMI vectors (E = sum_{i<j} D_ij.(e_i x e_j), D for r_ij = b, meV):\n";
      for (std::size_t b = 0; b < t.bonds.size(); ++b)
        o << "  b = (" << t.bonds[b].x() << ", " << t.bonds[b].y() << ", " << t.bonds[b].z() << ") A  D = ("
          << t.bond_D[b].x() * 1e3 << ", " << t.bond_D[b].y() * 1e3 << ", " << t.bond_D[b].z() * 1e3 << ")\n";
    }
  for (std::size_t j = 0; j < m.column_labels.size(); ++j)
    if (m.column_labels[j].rfind("Q", 0) == 0 ||
        m.column_labels[j].rfind("Landau", 0) == 0 || m.column_labels[j].rfind("Kc", 0) == 0)
      o << "  " << m.column_labels[j] << " = " << m.coefficients[j] << "\n";
  if (m.tc_mean_field > 0.0)
    o << "mean-field ordering temperature: " << m.tc_mean_field << " K (largest mode of the cell), "
      << m.tc_mean_field_ferro << " K (ferromagnetic mode)\n";
  else
    o << "mean-field ordering temperature: none (no mode of the cell has a positive coupling)\n";
  for (const auto& d : m.dropped) o << "dropped: " << d << "\n";
  return o.str();
}

std::string spin_model_toml(const Config& c, const SpinMap& m, const std::string& source) {
  std::ostringstream o;
  std::istringstream summary(map_summary(m));
  o << "# Effective spin model written by `spinlat map " << source << "` (docs/mapping.md).\n";
  o << "# Fitted to the input's Hamiltonian at its structure on a frozen lattice; energies equal the\n";
  o << "# input's up to the constant below.\n";
  for (std::string line; std::getline(summary, line);) o << "# " << line << "\n";
  o << "\n";
  toml::table doc = toml::parse(c.text, c.path);
  toml::table out;
  out.insert("title", c.title.empty() ? std::string("spin model mapped from ") + source
                                      : c.title + " (spin model mapped by spinlat map)");
  if (auto* v = doc.get("seed")) out.insert(std::string("seed"), *v);
  if (auto* v = doc.get("threads")) out.insert(std::string("threads"), *v);
  if (auto* st = doc.get_as<toml::table>("structure")) {
    toml::table structure = *st;
    if (structure.contains("file")) structure.insert_or_assign("file", std::filesystem::absolute(c.structure.file).string());
    out.insert("structure", structure);
  }
  // Spin-only stages and sweeps carry over; lattice dynamics need the lattice potential the
  // spin model does not have.
  std::vector<std::string> left;
  // Surrogate-driven sampling of the mapped model would map it onto itself: its stages and
  // sweeps sample it directly (a sweep with Wolff clusters when it is isotropic exchange only).
  bool isotropic = true;
  for (const auto& t : m.tables) isotropic = isotropic && t.type == "heisenberg";
  auto sample_directly = [&](toml::table& t, const std::string& where) {
    bool had = false;
    for (const char* k : {"surrogate", "surrogate_steps", "surrogate_block"}) had = t.erase(k) > 0 || had;
    const bool surrogate_sweep = t["algorithm"].value_or(std::string()) == "surrogate";
    if (surrogate_sweep) t.insert_or_assign("algorithm", isotropic ? "wolff" : "metropolis");
    if (had || surrogate_sweep)
      left.push_back(where + ": surrogate-driven sampling dropped (this is the surrogate)" +
                     (surrogate_sweep ? std::string("; algorithm = \"") + (isotropic ? "wolff" : "metropolis") + "\"" : ""));
  };
  if (auto* stages = doc.get_as<toml::array>("stage")) {
    toml::array keep;
    int index = 0;
    for (auto& node : *stages) {
      const toml::table& st = *node.as_table();  // validated by read_config
      ++index;
      const std::string type = st["type"].value_or(std::string());
      if (type == "mc" || type == "llg" || type == "minimize") {
        toml::table copy = st;
        sample_directly(copy, "stage." + std::to_string(index - 1));
        keep.push_back(copy);
      }
      else left.push_back("left out [[stage]] type = \"" + type + "\" (it moves atoms: the spin model has no lattice)");
    }
    if (!keep.empty()) out.insert("stage", keep);
  }
  if (auto* sweep = doc.get_as<toml::table>("sweep")) {
    const auto* method = sweep->get_as<std::string>("method");
    const std::string mm = method ? **method : "mc";
    if (mm == "mc" || mm == "llg") {
      toml::table copy = *sweep;
      sample_directly(copy, "[sweep]");
      out.insert("sweep", copy);
    }
    else left.push_back("left out [sweep] method = \"" + mm + "\" (it moves atoms: the spin model has no lattice)");
  }
  for (const auto& [key, value] : doc) {
    const std::string k(key.str());
    if (k != "title" && k != "seed" && k != "threads" && k != "structure" && k != "stage" && k != "sweep" &&
        k != "potential")
      left.push_back("left out [" + k + "]" + (k == "output" ? " (it names the original's file; give -o to spinlat run)" : ""));
  }
  if (!out.contains("stage") && !out.contains("sweep")) {
    // An input must run something: a short Monte Carlo stage to edit.
    toml::table stage{{"type", "mc"}, {"temperature", 300.0}, {"sweeps", 1000}};
    out.insert("stage", toml::array{stage});
    left.push_back("no spin-only stage or sweep: a placeholder [[stage]] mc at 300 K was written; edit it");
  }
  for (const auto& l : left) o << "# note: " << l << "\n";
  o << out << "\n";
  for (const auto& t : m.tables) {
    o << "\n[[potential]]\ntype = \"" << t.type << "\"\n";
    auto list = [&](const std::vector<double>& v) {
      std::string r = "[";
      for (std::size_t k = 0; k < v.size(); ++k) r += (k ? ", " : "") + fmt(v[k]);
      return r + "]";
    };
    auto vec = [&](const Vec3& v) { return "[" + fmt(v.x()) + ", " + fmt(v.y()) + ", " + fmt(v.z()) + "]"; };
    if (t.type == "heisenberg") o << "J = " << list(t.values) << "\n";
    if (t.type == "biquadratic") o << "Q = " << list(t.values) << "\n";
    if (t.type == "dmi" && t.kind == "bond") {
      o << "kind = \"bond\"\n# [bx, by, bz (A), Dx, Dy, Dz (eV)]: D_ij = D for r_ij = b, -D for r_ij = -b\nbonds = [\n";
      for (std::size_t b = 0; b < t.bonds.size(); ++b)
        o << "  [" << fmt(t.bonds[b].x()) << ", " << fmt(t.bonds[b].y()) << ", " << fmt(t.bonds[b].z()) << ", "
          << fmt(t.bond_D[b].x()) << ", " << fmt(t.bond_D[b].y()) << ", " << fmt(t.bond_D[b].z()) << "],\n";
      o << "]\n";
    } else if (t.type == "dmi") {
      o << "kind = \"" << t.kind << "\"\nD = " << list(t.values) << "\n";
      if (t.kind == "interfacial") o << "normal = " << vec(t.vector) << "\n";
    }
    if (t.type == "anisotropy") {
      o << "kind = \"" << t.kind << "\"\nK = " << fmt(t.values[0]) << "\n";
      if (t.kind == "uniaxial") o << "axis = " << vec(t.vector) << "\n";
    }
    if (t.type == "landau") o << "A = " << fmt(t.values[0]) << "\nB = " << fmt(t.values[1]) << "\nC = " << fmt(t.values[2]) << "\n";
    if (!t.species.empty()) {
      o << "species = [";
      for (std::size_t k = 0; k < t.species.size(); ++k) o << (k ? ", " : "") << "\"" << t.species[k] << "\"";
      o << "]\n";
    }
  }
  return o.str();
}

namespace {

Vec3 fractional_in_cell(const System& s, const Vec3& r) {
  Vec3 f = s.cell.fractional(r);
  for (int a = 0; a < 3; ++a) {
    f[a] -= std::floor(f[a]);
    if (f[a] >= 1.0 - 1e-12) f[a] = 0.0;
  }
  return f;
}

/// Image shift of a pair once both atoms are wrapped into the cell (the neighbour list's image
/// refers to the stored positions): with r_i = r_i' + w_i·h, n' = n + w_j − w_i.
Int3 wrapped_image(const System& s, const MappedPair& p) {
  auto shift = [&](int i) {
    const Vec3 d = s.cell.fractional(s.position[i]) - fractional_in_cell(s, s.position[i]);
    return Int3(static_cast<int>(std::lround(d.x())), static_cast<int>(std::lround(d.y())),
                static_cast<int>(std::lround(d.z())));
  };
  return p.image + shift(p.j) - shift(p.i);
}

/// The mapped model on a unit cell for the outside codes: the simulation cell divided by
/// `cells` (the input's conventional cells) when every magnetic atom is a translate of one in
/// the first cell with the same species and moment, else the whole simulation cell. Only
/// magnetic atoms, renumbered from 0; pairs start in the unit cell, images in unit cells.
struct CellModel {
  Mat3 h = Mat3::Identity();
  std::vector<Vec3> frac;
  std::vector<int> material;
  std::vector<double> moment;
  std::vector<Vec3> spin;
  std::vector<std::string> materials;
  std::vector<MappedPair> pairs;
  bool reduced = false;
};

CellModel cell_model(const System& s, const SpinMap& m, Int3 cells) {
  CellModel x;
  x.materials = magnetic_species(s);
  const std::vector<int> mag = s.magnetic_sites();
  const std::vector<MappedPair> all = mapped_pairs(s, m);
  // Unit-cell coordinates of every magnetic atom: cell index c and position u in [0, 1)³.
  auto split = [&](const Int3& n) {
    std::vector<Int3> c(s.size(), Int3::Zero());
    std::vector<Vec3> u(s.size(), Vec3::Zero());
    for (int i : mag) {
      const Vec3 g = fractional_in_cell(s, s.position[i]).cwiseProduct(n.cast<double>());
      for (int a = 0; a < 3; ++a) {
        c[i][a] = std::min(n[a] - 1, static_cast<int>(std::floor(g[a] + 1e-9)));
        u[i][a] = std::max(0.0, g[a] - c[i][a]);
      }
    }
    return std::make_pair(c, u);
  };
  auto same = [](const Vec3& a, const Vec3& b) {
    for (int k = 0; k < 3; ++k) {
      const double d = std::abs(a[k] - b[k]);
      if (std::min(d, 1.0 - d) > 1e-6) return false;
    }
    return true;
  };
  if (cells.minCoeff() < 1) cells = Int3(1, 1, 1);
  for (int attempt = 0; attempt < 2; ++attempt, cells = Int3(1, 1, 1)) {
    const auto [c, u] = split(cells);
    std::vector<int> basis, of(s.size(), -1);
    for (int i : mag)
      if (c[i] == Int3::Zero()) { of[i] = static_cast<int>(basis.size()); basis.push_back(i); }
    bool ok = basis.size() * static_cast<std::size_t>(cells.prod()) == mag.size();
    for (int i : mag) {
      if (!ok) break;
      if (of[i] >= 0) continue;
      for (std::size_t b = 0; b < basis.size() && of[i] < 0; ++b)
        if (same(u[i], u[basis[b]]) && s.species[i] == s.species[basis[b]] && s.moment[i] == s.moment[basis[b]])
          of[i] = static_cast<int>(b);
      ok = of[i] >= 0;
    }
    if (!ok) continue;
    x.reduced = cells != Int3(1, 1, 1);
    for (int a = 0; a < 3; ++a) x.h.row(a) = s.cell.h.row(a) / cells[a];
    for (int i : basis) {
      x.frac.push_back(u[i]);
      x.material.push_back(static_cast<int>(std::find(x.materials.begin(), x.materials.end(),
                                                       s.species_name[s.species[i]]) - x.materials.begin()));
      x.moment.push_back(s.moment[i]);
      x.spin.push_back(s.spin[i]);
    }
    for (const MappedPair& p : all) {
      if (c[p.i] != Int3::Zero()) continue;
      const Int3 n = c[p.j] + wrapped_image(s, p).cwiseProduct(cells);
      x.pairs.push_back(MappedPair{of[p.i], of[p.j], n, p.J, p.D, p.Q});
    }
    return x;
  }
  throw std::logic_error("spin map: the simulation cell is always a unit cell");
}

}  // namespace

std::string vampire_ucf(const System& s, const SpinMap& m, const Int3& cells) {
  const CellModel x = cell_model(s, m, cells);
  bool tensor = false;
  for (const auto& p : x.pairs) tensor |= p.D != Vec3::Zero();
  std::ostringstream o;
  o << std::setprecision(12);
  o << "# VAMPIRE unit cell file written by spinlat map ("
    << (x.reduced ? "one conventional cell of the input" : "the whole simulation cell of the input") << ").\n";
  o << "# VAMPIRE: E = -sum_i sum_j S_i.J_ij.S_j / 2 over both directions listed here, J in joules,\n";
  o << "# i.e. E = -sum_{i<j} J_ij S_i.S_j: the same J as spinlat's heisenberg (eV -> J).\n";
  o << "# Fit errors (held out): energy " << m.held_out.energy_rmse * 1e3 << " meV/atom, magnetic force "
    << m.held_out.force_rmse * 1e3 << " meV/muB; mean-field Tc " << m.tc_mean_field << " K.\n";
  for (const auto& t : m.tables)
    if (t.type == "biquadratic" || t.type == "landau" || t.type == "anisotropy")
      o << "# not in this file: " << t.type << " term (uniaxial anisotropy: see the .mat file)\n";
  o << "# Unit cell size (Angstrom):\n";
  Vec3 len;
  for (int a = 0; a < 3; ++a) len[a] = x.h.row(a).norm();
  o << len.x() << " " << len.y() << " " << len.z() << "\n";
  o << "# Unit cell vectors:\n";
  for (int a = 0; a < 3; ++a) {
    const Vec3 v = x.h.row(a).transpose() / len[a];
    o << v.x() << " " << v.y() << " " << v.z() << "\n";
  }
  o << "# Atoms num_atoms num_materials; id cx cy cz mat lc hc\n";
  o << x.frac.size() << " " << x.materials.size() << "\n";
  for (std::size_t q = 0; q < x.frac.size(); ++q)
    o << q << " " << x.frac[q].x() << " " << x.frac[q].y() << " " << x.frac[q].z() << " " << x.material[q] << " 0 0\n";
  o << "# Interactions n exctype; id i j dx dy dz " << (tensor ? "Jxx Jxy Jxz Jyx Jyy Jyz Jzx Jzy Jzz" : "Jij") << "\n";
  o << x.pairs.size() << " " << (tensor ? "tensorial" : "isotropic") << "\n";
  std::size_t id = 0;
  for (const auto& p : x.pairs) {
    o << id++ << " " << p.i << " " << p.j << " " << p.image.x() << " " << p.image.y() << " " << p.image.z();
    if (!tensor) {
      o << " " << p.J * kJoulePerEv << "\n";
      continue;
    }
    // −S_i·T·S_j = −J S_i·S_j + D·(S_i × S_j) with D·(S_i × S_j) = Σ ε_abc D_a S_i^b S_j^c:
    // T = J·1 with T_xy = −D_z, T_yx = D_z, T_xz = D_y, T_zx = −D_y, T_yz = −D_x, T_zy = D_x.
    Mat3 T = p.J * Mat3::Identity();
    T(0, 1) -= p.D.z(); T(1, 0) += p.D.z();
    T(0, 2) += p.D.y(); T(2, 0) -= p.D.y();
    T(1, 2) -= p.D.x(); T(2, 1) += p.D.x();
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b) o << " " << T(a, b) * kJoulePerEv;
    o << "\n";
  }
  return o.str();
}

std::string vampire_mat(const System& s, const SpinMap& m) {
  const std::vector<std::string> materials = magnetic_species(s);
  std::ostringstream o;
  o << std::setprecision(12);
  o << "# VAMPIRE material file written by spinlat map (exchange is in the unit cell file).\n";
  o << "material:num-materials = " << materials.size() << "\n";
  for (std::size_t k = 0; k < materials.size(); ++k) {
    double mom = 0.0;
    for (std::size_t i = 0; i < s.size(); ++i)
      if (s.magnetic(i) && s.species_name[s.species[i]] == materials[k]) { mom = s.moment[i]; break; }
    const std::string id = "material[" + std::to_string(k + 1) + "]:";
    o << id << "material-name = " << materials[k] << "\n";
    o << id << "material-element = " << materials[k] << "\n";
    o << id << "atomic-spin-moment = " << mom << " !muB\n";
    o << id << "damping-constant = 1.0\n";
    // One uniaxial axis per material fits VAMPIRE's E = −k_u (S·e)² (J/atom).
    int count = 0;
    const MappedTable* u = nullptr;
    for (const auto& t : m.tables)
      if (t.type == "anisotropy" && t.kind == "uniaxial" &&
          (t.species.empty() || t.species == std::vector<std::string>{materials[k]})) { ++count; u = &t; }
    if (count == 1) {
      o << id << "uniaxial-anisotropy-constant = " << u->values[0] * kJoulePerEv << "\n";
      o << id << "uniaxial-anisotropy-direction = " << u->vector.x() << "," << u->vector.y() << "," << u->vector.z() << "\n";
    } else if (count > 1) {
      o << "# " << materials[k] << ": " << count << " uniaxial axes fitted; VAMPIRE takes one: not written\n";
    }
  }
  return o.str();
}

std::map<std::string, std::string> uppasd_files(const System& s, const SpinMap& m, const Int3& cells) {
  const CellModel x = cell_model(s, m, cells);
  std::map<std::string, std::string> files;
  // UppASD: H = −Σ_{i≠j} J_ij e_i·e_j and H_DM = −Σ_{i≠j} D_ij·(e_i × e_j), J in mRy, each
  // ordered pair listed (Skubic et al., J. Phys.: Condens. Matter 20, 315203 (2008); the UppASD
  // manual). Each unordered pair appears twice in Σ_{i≠j}, so J_UppASD = J/2 and
  // D_UppASD = −D/2 for spinlat's E = −Σ_{i<j} J ê_i·ê_j + Σ_{i<j} D·(ê_i × ê_j).
  const double mry = 1e-3 * kRydbergEv;
  std::ostringstream pos, mom, jf, dm, inp;
  for (auto* f : {&pos, &mom, &jf, &dm, &inp}) *f << std::setprecision(12);
  for (std::size_t q = 0; q < x.frac.size(); ++q) {
    pos << q + 1 << " " << x.material[q] + 1 << " " << x.frac[q].x() << " " << x.frac[q].y() << " " << x.frac[q].z() << "\n";
    mom << q + 1 << " 1 " << x.moment[q] << " " << x.spin[q].x() << " " << x.spin[q].y() << " " << x.spin[q].z() << "\n";
  }
  bool dmi = false;
  for (const auto& p : x.pairs) {
    const std::string head = std::to_string(p.i + 1) + " " + std::to_string(p.j + 1) + " " +
                             std::to_string(p.image.x()) + " " + std::to_string(p.image.y()) + " " +
                             std::to_string(p.image.z());
    if (p.J != 0.0) jf << head << " " << 0.5 * p.J / mry << "\n";
    if (p.D != Vec3::Zero()) {
      dmi = true;
      const Vec3 d = -0.5 * p.D / mry;
      dm << head << " " << d.x() << " " << d.y() << " " << d.z() << "\n";
    }
  }
  const double alat = x.h.row(0).norm();
  inp << "# UppASD input fragment written by spinlat map ("
      << (x.reduced ? "one conventional cell of the input" : "the input's whole simulation cell") << ").\n";
  inp << "# Fit errors (held out): energy " << m.held_out.energy_rmse * 1e3 << " meV/atom, magnetic force "
      << m.held_out.force_rmse * 1e3 << " meV/muB; mean-field Tc " << m.tc_mean_field << " K.\n";
  for (const auto& t : m.tables)
    if (t.type == "biquadratic" || t.type == "landau" || t.type == "anisotropy")
      inp << "# not written: " << t.type << " term (spinlat conventions in the mapped TOML)\n";
  const Int3 n = x.reduced ? cells : Int3(1, 1, 1);
  inp << "ncell " << n.x() << " " << n.y() << " " << n.z() << "\nBC P P P\ncell";
  for (int a = 0; a < 3; ++a)
    inp << " " << x.h(a, 0) / alat << " " << x.h(a, 1) / alat << " " << x.h(a, 2) / alat << (a < 2 ? "\n    " : "\n");
  inp << "alat " << alat * 1e-10 << "\n";
  inp << "Sym 0\nposfiletype D\nmaptype 2\nposfile ./posfile\nmomfile ./momfile\nexchange ./jfile\n";
  if (dmi) inp << "dm ./dmfile\n";
  files["posfile"] = pos.str();
  files["momfile"] = mom.str();
  files["jfile"] = jf.str();
  if (dmi) files["dmfile"] = dm.str();
  files["inpsd.dat"] = inp.str();
  return files;
}

void add_map_terms(const std::string& list, const std::string& where, MapOptions& o) {
  std::istringstream is(list);
  for (std::string item; std::getline(is, item, ',');) {
    if (item == "dmi") o.dmi = true;
    else if (item == "anisotropy") o.anisotropy = true;
    else if (item == "biquadratic") o.biquadratic = true;
    else if (item == "landau") o.landau = true;
    else if (item != "exchange" && !item.empty())
      throw InputError(where + ": unknown term '" + item + "' (expected exchange, dmi, anisotropy, biquadratic, landau)");
  }
}

int map_command(const std::vector<std::string>& args, const TermRegistry& registry, std::ostream& out) {
  const char* usage =
      "usage: spinlat map INPUT.toml -o OUT [--format toml|vampire|uppasd] [--shells N] "
      "[--terms dmi,anisotropy,biquadratic,landau] [--configs N] [--held-out N] [--force-weight W] "
      "[--seed S] [--set KEY=VALUE ...]";
  std::vector<std::string> positional, overrides;
  std::string output, format = "toml";
  MapOptions o;
  bool seed_given = false;
  for (std::size_t k = 0; k < args.size(); ++k) {
    const std::string& a = args[k];
    auto value = [&]() -> std::string {
      if (k + 1 >= args.size()) throw InputError("option " + a + " needs a value (" + usage + ")");
      return args[++k];
    };
    auto integer = [&](const std::string& v) {
      try {
        std::size_t used = 0;
        const long long n = std::stoll(v, &used);
        if (used != v.size()) throw std::invalid_argument(v);
        return n;
      } catch (const std::exception&) {
        throw InputError("option " + a + ": expected an integer, got '" + v + "'");
      }
    };
    if (a == "-o" || a == "--output") output = value();
    else if (a == "--format") format = value();
    else if (a == "--shells") o.shells = static_cast<int>(integer(value()));
    else if (a == "--configs") o.train = static_cast<int>(integer(value()));
    else if (a == "--held-out") o.held_out = static_cast<int>(integer(value()));
    else if (a == "--seed") { o.seed = static_cast<std::uint64_t>(integer(value())); seed_given = true; }
    else if (a == "--force-weight") {
      const std::string v = value();
      try { o.force_weight = std::stod(v); } catch (const std::exception&) {
        throw InputError("option --force-weight: expected a number, got '" + v + "'");
      }
      if (!(o.force_weight >= 0.0)) throw InputError("option --force-weight: expected a number >= 0");
    } else if (a == "--set") overrides.push_back(value());
    else if (a.rfind("--set=", 0) == 0) overrides.push_back(a.substr(6));
    else if (a == "--terms") add_map_terms(value(), "option --terms", o);
    else if (!a.empty() && a[0] == '-') throw InputError("unknown option '" + a + "' (" + usage + ")");
    else positional.push_back(a);
  }
  if (positional.size() != 1 || output.empty()) throw InputError(usage);
  if (format != "toml" && format != "vampire" && format != "uppasd")
    throw InputError("option --format: expected toml, vampire or uppasd, got '" + format + "'");

  const Config c = read_config(positional[0], overrides);
  if (c.threads > 0) omp_set_num_threads(c.threads);
  if (!seed_given) o.seed = c.seed;
  const System s = build_system(c);
  Hamiltonian h = build_hamiltonian(c, s, registry);
  const SpinMap m = map_spin_model(s, h, o);
  out << map_summary(m);

  auto write = [&](const std::filesystem::path& p, const std::string& text) {
    std::ofstream f(p);
    if (!f) throw InputError("cannot write " + p.string());
    f << text;
    if (!f) throw InputError("cannot write " + p.string());
    out << "wrote " << p.string() << "\n";
  };
  if (format == "toml") {
    write(output, spin_model_toml(c, m, positional[0]));
  } else if (format == "vampire") {
    std::filesystem::path mat = output;
    mat.replace_extension(".mat");
    write(output, vampire_ucf(s, m, c.structure.cells));
    write(mat, vampire_mat(s, m));
  } else {
    std::filesystem::create_directories(output);
    for (const auto& [name, text] : uppasd_files(s, m, c.structure.cells)) write(std::filesystem::path(output) / name, text);
  }
  return 0;
}

}  // namespace spinlat
