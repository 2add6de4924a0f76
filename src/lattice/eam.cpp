#include "spinlat/lattice/eam.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <omp.h>

#include "spinlat/core/error.hpp"
#include "spinlat/io/paths.hpp"
#include "spinlat/terms/registry.hpp"

namespace spinlat {

// ---- LAMMPS's spline (pair_eam.cpp, PairEAM::interpolate) ------------------------------------

void EamSpline::build(const std::vector<double>& f, double d) {
  n = static_cast<int>(f.size());
  delta = d;
  inv_delta = 1.0 / d;
  c.assign(n + 1, std::array<double, 7>{});
  for (int m = 1; m <= n; ++m) c[m][6] = f[m - 1];
  // Knot slopes (per grid step): one-sided and centred differences at the ends, the
  // fourth-order five-point formula inside.
  c[1][5] = c[2][6] - c[1][6];
  c[2][5] = 0.5 * (c[3][6] - c[1][6]);
  c[n - 1][5] = 0.5 * (c[n][6] - c[n - 2][6]);
  c[n][5] = c[n][6] - c[n - 1][6];
  for (int m = 3; m <= n - 2; ++m)
    c[m][5] = ((c[m - 2][6] - c[m + 2][6]) + 8.0 * (c[m + 1][6] - c[m - 1][6])) / 12.0;
  // Hermite cubic per interval from the two values and two slopes.
  for (int m = 1; m <= n - 1; ++m) {
    c[m][4] = 3.0 * (c[m + 1][6] - c[m][6]) - 2.0 * c[m][5] - c[m + 1][5];
    c[m][3] = c[m][5] + c[m + 1][5] - 2.0 * (c[m + 1][6] - c[m][6]);
  }
  c[n][4] = 0.0;
  c[n][3] = 0.0;
  for (int m = 1; m <= n; ++m) {
    c[m][2] = c[m][5] / delta;
    c[m][1] = 2.0 * c[m][4] / delta;
    c[m][0] = 3.0 * c[m][3] / delta;
  }
}

// ---- file reading ---------------------------------------------------------------------------

namespace {

// Line-oriented reader with LAMMPS PotentialFileReader semantics: after the three comment
// lines, blank lines and '#' comments are skipped, each record (a header or an array of
// values) starts on a fresh line, and values left over on an array's last line are ignored.
class TableReader {
 public:
  TableReader(const std::string& path) : path_(path) {
    std::ifstream in(path);
    if (!in) throw InputError(path, "", 0, "cannot open EAM potential file");
    std::string line;
    while (std::getline(in, line)) lines_.push_back(line);
  }
  const std::string& path() const { return path_; }

  std::string raw_line(const std::string& what) {
    if (next_ >= lines_.size()) fail_eof(what);
    return lines_[next_++];
  }
  /// Tokens of the next non-blank line; `line` gets its 1-based number.
  std::vector<std::string> tokens(const std::string& what, int& line) {
    while (next_ < lines_.size()) {
      std::string s = lines_[next_++];
      const auto hash = s.find('#');
      if (hash != std::string::npos) s.erase(hash);
      std::istringstream is(s);
      std::vector<std::string> t;
      std::string w;
      while (is >> w) t.push_back(w);
      if (!t.empty()) {
        line = static_cast<int>(next_);
        return t;
      }
    }
    fail_eof(what);
  }
  double number(const std::string& tok, int line, const std::string& what) const {
    const char* b = tok.c_str();
    char* e = nullptr;
    errno = 0;
    const double v = std::strtod(b, &e);
    if (e == b || *e != '\0' || !std::isfinite(v))
      throw InputError(path_, "", line, "expected a number in " + what + ", found '" + tok + "'");
    return v;
  }
  long integer(const std::string& tok, int line, const std::string& what) const {
    const char* b = tok.c_str();
    char* e = nullptr;
    errno = 0;
    const long v = std::strtol(b, &e, 10);
    if (e == b || *e != '\0' || e != b + tok.size())  // also rejects an embedded NUL
      throw InputError(path_, "", line, "expected an integer " + what + ", found '" + tok + "'");
    // Table sizes and counts beyond 10^8 are corrupt files, not potentials.
    if (errno == ERANGE || v > 100000000L || v < -100000000L)
      throw InputError(path_, "", line, "integer " + what + " out of range: '" + tok + "'");
    return v;
  }
  std::vector<double> values(std::size_t count, const std::string& what) {
    std::vector<double> out;  // no reserve(count): a corrupt count must not allocate gigabytes
    while (out.size() < count) {
      int line = 0;
      const auto t = tokens(what + " (" + std::to_string(count) + " values, " + std::to_string(out.size()) +
                                " read)", line);
      for (std::size_t k = 0; k < t.size() && out.size() < count; ++k) out.push_back(number(t[k], line, what));
    }
    return out;
  }

 private:
  [[noreturn]] void fail_eof(const std::string& what) const {
    throw InputError(path_, "", static_cast<int>(lines_.size()), "file ends early: expected " + what);
  }
  std::string path_;
  std::vector<std::string> lines_;
  std::size_t next_ = 0;
};

std::string lower(std::string s) {
  for (auto& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

}  // namespace

std::string eam_format_from_name(const std::string& path) {
  const std::string p = lower(path);
  const auto ends = [&](const std::string& suf) {
    return p.size() >= suf.size() && p.compare(p.size() - suf.size(), suf.size(), suf) == 0;
  };
  return ends(".fs") ? "fs" : "alloy";
}

int EamFile::element_index(const std::string& name) const {
  for (std::size_t k = 0; k < elements.size(); ++k)
    if (elements[k] == name) return static_cast<int>(k);
  return -1;
}

EamFile read_eam_file(const std::string& path, const std::string& format_in) {
  const std::string format = format_in.empty() ? eam_format_from_name(path) : format_in;
  if (format != "alloy" && format != "fs")
    throw InputError(path, "format", 0, "EAM format must be \"alloy\" or \"fs\", not \"" + format + "\"");
  TableReader rd(path);
  EamFile f;
  f.path = path;
  f.format = format;
  for (int k = 0; k < 3; ++k) f.comments.push_back(rd.raw_line("three comment lines"));

  int line = 0;
  auto t = rd.tokens("the element line (count and names)", line);
  const long ne = rd.integer(t[0], line, "element count");
  if (ne < 1 || static_cast<long>(t.size()) - 1 != ne)
    throw InputError(path, "", line,
                     "element line must give a positive count followed by that many names, found '" +
                         std::to_string(t.size() - 1) + "' names for count " + t[0]);
  for (long k = 0; k < ne; ++k) f.elements.push_back(t[k + 1]);
  const auto N = static_cast<std::size_t>(ne);

  t = rd.tokens("the grid line (Nrho drho Nr dr cutoff)", line);
  if (t.size() < 5) throw InputError(path, "", line, "grid line must be 'Nrho drho Nr dr cutoff'");
  f.nrho = static_cast<int>(rd.integer(t[0], line, "Nrho"));
  f.drho = rd.number(t[1], line, "drho");
  f.nr = static_cast<int>(rd.integer(t[2], line, "Nr"));
  f.dr = rd.number(t[3], line, "dr");
  f.cutoff = rd.number(t[4], line, "cutoff");
  // The spline needs five points; spacings and cutoff must be positive.
  if (f.nrho < 5 || f.nr < 5 || !(f.drho > 0) || !(f.dr > 0) || !(f.cutoff > 0))
    throw InputError(path, "", line, "grid line: need Nrho, Nr >= 5 and positive drho, dr and cutoff");

  f.F.resize(N);
  f.rho.resize(N);
  f.z2r.resize(N);
  for (std::size_t e = 0; e < N; ++e) {
    const std::string& name = f.elements[e];
    t = rd.tokens("the header of element " + name + " (Z mass [a lattice])", line);
    if (t.size() < 2) throw InputError(path, "", line, "element " + name + " header must be 'Z mass [a lattice]'");
    f.atomic_number.push_back(static_cast<int>(rd.integer(t[0], line, "atomic number")));
    f.mass.push_back(rd.number(t[1], line, "mass"));
    f.lattice_constant.push_back(t.size() > 2 ? rd.number(t[2], line, "lattice constant") : 0.0);
    f.lattice_type.push_back(t.size() > 3 ? t[3] : "");
    f.F[e] = rd.values(f.nrho, "F(rho) of " + name);
    const std::size_t nd = format == "fs" ? N : 1;
    for (std::size_t b = 0; b < nd; ++b)
      f.rho[e].push_back(rd.values(f.nr, format == "fs" ? "rho(r) of " + name + " at " + f.elements[b]
                                                         : "rho(r) of " + name));
  }
  for (std::size_t i = 0; i < N; ++i)
    for (std::size_t j = 0; j <= i; ++j)
      f.z2r[i].push_back(rd.values(f.nr, "r*phi(r) of " + f.elements[i] + "-" + f.elements[j]));
  return f;
}

// ---- the term -------------------------------------------------------------------------------

EamPotential::EamPotential(EamFile file, const System& reference) : file_(std::move(file)) {
  const int N = static_cast<int>(file_.elements.size());
  for (int e = 0; e < N; ++e) {
    F_.emplace_back();
    F_.back().build(file_.F[e], file_.drho);
  }
  for (int b = 0; b < N; ++b)
    for (const auto& table : file_.rho[b]) {
      rho_.emplace_back();
      rho_.back().build(table, file_.dr);
    }
  for (int i = 0; i < N; ++i)
    for (int j = 0; j <= i; ++j) {
      z2r_.emplace_back();
      z2r_.back().build(file_.z2r[i][j], file_.dr);
    }
  rhomax_ = (file_.nrho - 1) * file_.drho;
  cut2_ = file_.cutoff * file_.cutoff;
  resolve_species(reference);
}

void EamPotential::resolve_species(const System& s) {
  // By name, for every System bound (another System may order its species differently).
  const int N = static_cast<int>(file_.elements.size());
  std::vector<int> map;
  for (const auto& name : s.species_name) {
    const int e = file_.element_index(name);
    if (e < 0) {
      std::string have;
      for (const auto& el : file_.elements) have += (have.empty() ? "" : ", ") + el;
      throw InputError(file_.path, "", 0,
                       "species '" + name + "' of the structure is not in this EAM file (it has: " + have + ")");
    }
    map.push_back(e);
  }
  species_element_ = map;
  nspecies_ = static_cast<int>(map.size());
  rho_index_.assign(nspecies_ * nspecies_, 0);
  z2r_index_.assign(nspecies_ * nspecies_, 0);
  for (int a = 0; a < nspecies_; ++a)
    for (int b = 0; b < nspecies_; ++b) {
      const int ea = species_element_[a], eb = species_element_[b];
      // density at an a-atom due to a b-atom: alloy ρ_b; fs ρ_{b→a} (LAMMPS type2rhor[j][i]).
      rho_index_[a * nspecies_ + b] = file_.format == "fs" ? eb * N + ea : eb;
      const int hi = std::max(ea, eb), lo = std::min(ea, eb);
      z2r_index_[a * nspecies_ + b] = hi * (hi + 1) / 2 + lo;
    }
}

void EamPotential::build_tables() {
  // Rebuilt only when the species map changes (a rebind with the same species keeps them).
  if (tables_for_ == species_element_ && !tables_.empty()) return;
  const int nr = file_.nr;
  tables_.assign(nspecies_ * nspecies_, PairTable{});
  for (int a = 0; a < nspecies_; ++a)
    for (int b = 0; b < nspecies_; ++b) {
      const EamSpline* src[3] = {&z2r_[z2r_index_[a * nspecies_ + b]], &rho_[rho_index_[a * nspecies_ + b]],
                                 &rho_[rho_index_[b * nspecies_ + a]]};
      PairTable& t = tables_[a * nspecies_ + b];
      t.splines = src[2] == src[1] ? 2 : 3;
      t.c.assign(static_cast<std::size_t>(nr + 1) * t.splines * 8, 0.0);
      for (int m = 1; m <= nr; ++m)
        for (int k = 0; k < t.splines; ++k)
          std::copy(src[k]->c[m].begin(), src[k]->c[m].end(), t.c.begin() + (static_cast<std::size_t>(m) * t.splines + k) * 8);
    }
  tables_for_ = species_element_;
  symmetric_ = std::all_of(tables_.begin(), tables_.end(), [](const PairTable& t) { return t.splines == 2; });
}

void EamPotential::bind(const System& s, const NeighborList& list) {
  resolve_species(s);
  build_tables();
}

double EamPotential::pair(int a, int b, double r, double* dphi) const {
  const EamSpline& z = z2r_[z2r_index_[a * nspecies_ + b]];
  int m;
  double p;
  z.locate(r, m, p);
  const double z2 = z.value(m, p), phi = z2 / r;
  if (dphi) *dphi = z.derivative(m, p) / r - phi / r;
  return phi;
}

namespace {
// F(ρ) and F'(ρ) (compute() calls it per atom: inlined there).
inline double embed(const EamSpline& sp, double rhomax, double rho, double& dF) {
  int m;
  double p;
  sp.locate(rho, m, p);
  const double fp = sp.derivative(m, p);
  double e = sp.value(m, p);
  // Beyond the table LAMMPS continues F linearly (energy conserving, fp constant).
  if (rho > rhomax) e += fp * (rho - rhomax);
  dF = fp;
  return e;
}
}  // namespace

double EamPotential::embedding(int a, double rho, double* dF) const {
  double fp;
  const double e = embed(F_[species_element_[a]], rhomax_, rho, fp);
  if (dF) *dF = fp;
  return e;
}

std::vector<double> EamPotential::densities(const System& s, const NeighborList& list) const {
  list.require_full(s.size(), "eam");
  const int n = static_cast<int>(s.size());
  const Mat3 ht = s.cell.h.transpose();
  std::vector<double> rho(n, 0.0);
#pragma omp parallel for schedule(static) if (n >= 512)
  for (int i = 0; i < n; ++i) {
    const int row = s.species[i] * nspecies_;
    double sum = 0.0;
    for (int k = list.begin(i); k < list.end(i); ++k) {
      const int j = list.index[k];
      const Vec3 d = s.position[j] + ht * list.image[k].cast<double>() - s.position[i];
      const double r2 = d.squaredNorm();
      if (r2 >= cut2_) continue;
      const EamSpline& sp = rho_[rho_index_[row + s.species[j]]];
      int m;
      double p;
      sp.locate(std::sqrt(r2), m, p);
      sum += sp.value(m, p);
    }
    rho[i] = sum;
  }
  return rho;
}

double EamPotential::compute_reference(const System& s, const NeighborList& list, Derivatives& d) const {
  const int n = static_cast<int>(s.size());
  const Mat3 ht = s.cell.h.transpose();
  const std::vector<double> rho = densities(s, list);
  std::vector<double> fp(n), site(n);
  for (int i = 0; i < n; ++i) site[i] = embedding(s.species[i], rho[i], &fp[i]);

  const bool want_force = d.force != nullptr, want_virial = d.virial != nullptr;
  std::vector<Mat3> vir(want_virial ? n : 0);
  // Gather form over the full list: atom i collects the whole derivative of every pair it
  // belongs to, so no two threads write the same atom and sums run in list order.
#pragma omp parallel for schedule(static) if (n >= 512)
  for (int i = 0; i < n; ++i) {
    const int a = s.species[i];
    double epair = 0.0;
    Vec3 f = Vec3::Zero();
    Mat3 w = Mat3::Zero();
    for (int k = list.begin(i); k < list.end(i); ++k) {
      const int j = list.index[k];
      const Vec3 dv = s.position[j] + ht * list.image[k].cast<double>() - s.position[i];
      const double r2 = dv.squaredNorm();
      if (r2 >= cut2_) continue;
      const double r = std::sqrt(r2), inv_r = 1.0 / r;
      const int b = s.species[j];
      int m;
      double p;
      const EamSpline& z = z2r_[z2r_index_[a * nspecies_ + b]];
      z.locate(r, m, p);  // all tables share the r grid: one lookup serves the three
      const double phi = z.value(m, p) * inv_r;
      epair += 0.5 * phi;
      if (!want_force && !want_virial) continue;
      const double phip = z.derivative(m, p) * inv_r - phi * inv_r;
      const int ia = rho_index_[a * nspecies_ + b], ib = rho_index_[b * nspecies_ + a];
      const double rho_ji = rho_[ia].derivative(m, p);  // density at i due to j
      const double rho_ij = ia == ib ? rho_ji : rho_[ib].derivative(m, p);
      // dE/dr of this pair: both embedding energies and the pair function (LAMMPS psip).
      const double psip = fp[i] * rho_ji + fp[j] * rho_ij + phip;
      const Vec3 g = (psip * inv_r) * dv;  // ∂E/∂r_ij
      f += g;                              // −∂E/∂r_i = +∂E/∂r_ij
      if (want_virial) w.noalias() -= 0.5 * dv * g.transpose();
    }
    site[i] += epair;
    if (want_force) (*d.force)[i] += f;
    if (want_virial) vir[i] = w;
  }
  double e = 0.0;
  for (int i = 0; i < n; ++i) e += site[i];
  if (want_virial)
    for (int i = 0; i < n; ++i) *d.virial += vir[i];
  return e;
}

namespace {

// LAMMPS's cubic (EamSpline::value / derivative) on 8 packed coefficients (7 and a pad).
// (Keeping only the 4 value coefficients and deriving the slope from them halves the table
// but measured no faster: the pair loop is bound by its dependency chain, r² → √ → locate →
// table → polynomial, not by the table's size.)
inline double spline_value(const double* c, double p) { return ((c[3] * p + c[4]) * p + c[5]) * p + c[6]; }
inline double spline_derivative(const double* c, double p) { return (c[0] * p + c[1]) * p + c[2]; }

}  // namespace

double EamPotential::compute(const System& s, const NeighborList& list, Derivatives& d) const {
  const HalfList& half = list.half;
  if (half.atoms() != s.size()) return compute_reference(s, list, d);
  const int n = static_cast<int>(s.size());
  const bool want_force = d.force != nullptr, want_virial = d.virial != nullptr;
  const bool want_grad = want_force || want_virial;
  half.shifts(s, shift_);
  const std::size_t np = half.pairs();
  drho_in_.resize(np);
  dphi_.resize(np);
  if (!symmetric_) drho_out_.resize(np);
  density_.resize(n);
  fp_.resize(n);
  site_.resize(n);
  if (want_virial) own_virial_.resize(n);
  const EamSpline& grid = z2r_[0];  // all r tables share one grid
  const double inv_dr = grid.inv_delta;
  const int nr = grid.n;
  const bool sym = symmetric_;
  const Vec3* x = s.position.data();
  const int* species = s.species.data();
  const int* partner = half.partner.data();
  const int* image_slot = half.image_slot.data();
  const int* own_offset = half.own_offset.data();
  const Vec3* shift = shift_.data();
  double* drho_in = drho_in_.data();
  double* drho_out = sym ? drho_in_.data() : drho_out_.data();
  double* dphi = dphi_.data();
  const PairTable* tables = tables_.data();
  const int nspec = nspecies_;
  const double cut2 = cut2_;
  double* rho_at = density_.data();
  double* fp = fp_.data();
  double* site = site_.data();
  Vec3* force = want_force ? d.force->data() : nullptr;
  const int max_threads = n >= 512 ? omp_get_max_threads() : 1;
  cross_rho_.reserve_threads(max_threads);
  cross_g_.reserve_threads(max_threads);

  // Scatter with Newton's third law, deterministic for any thread count (half_list.hpp): the
  // pairs of atom i have partners j ≤ i, so in one thread's pass over atoms in increasing
  // order every sum at atom j is its own pairs' sum followed by the contributions of the atoms
  // i > j in increasing order, LAMMPS's serial scatter. A thread takes one contiguous range
  // [lo, hi); a pair whose partner lies below lo (in an earlier thread's range) leaves its
  // share in the thread's list of cross shares, and after the barrier atom j's thread adds
  // those of later threads, in increasing pair order: the same sequence, so the same bits, as
  // one thread.
  // One parallel region (threads that wait at a barrier cost nothing to a shared machine).
#pragma omp parallel if (n >= 512)
  {
    const int nt = omp_get_num_threads(), t = omp_get_thread_num();
    const auto [lo, hi] = balanced_range(half.own_offset, 4, t, nt);
    auto& my_cross_rho = cross_rho_.by_thread[t];
    auto& my_cross_g = cross_g_.by_thread[t];
    my_cross_rho.clear();
    my_cross_g.clear();
    // Pass 1, each pair once from its owning atom i: separation, the splines (one locate for
    // all three), φ and the density at i summed here, the density at j scattered (or left in
    // the cross shares), and the derivatives that pass 3 needs stored per pair. In two loops per atom:
    // (a) geometry and table interval of every pair, (b) the splines. The arithmetic is that of
    // one loop; split, the table loads of (b) no longer wait behind each pair's r² → √ →
    // locate chain, so the core keeps several in flight (the tables, ~0.9 MB for Mishin Fe, live
    // in L2, and their latency bound the fused loop).
    struct Geometry {
      const double* c;  // coefficients of the pair's interval; null beyond the cutoff
      double u, inv_r;
    };
    std::vector<Geometry> geo;
    for (int i = lo; i < hi; ++i) {
      const int a = species[i];
      const Vec3 xi = x[i];
      const int p0 = own_offset[i], p1 = own_offset[i + 1];
      if (geo.size() < static_cast<std::size_t>(p1 - p0)) geo.resize(p1 - p0);
      Geometry* gi = geo.data() - p0;
      const PairTable* row = tables + a * nspec;
      for (int p = p0; p < p1; ++p) {
        const int j = partner[p];
        const Vec3 dv = (x[j] - xi) + shift[image_slot[p]];
        const double r2 = dv.squaredNorm();
        if (r2 >= cut2) {
          gi[p].c = nullptr;
          continue;
        }
        const double r = std::sqrt(r2);
        // EamSpline::locate's arithmetic, inlined.
        double u = r * inv_dr + 1.0;
        int m = static_cast<int>(u);
        m = std::max(1, std::min(m, nr - 1));
        u -= m;
        const PairTable& tab = row[species[j]];
        gi[p] = Geometry{tab.c.data() + static_cast<std::size_t>(m) * tab.splines * 8, std::min(u, 1.0), 1.0 / r};
      }
      rho_at[i] = 0.0;  // nothing reaches i before its own pass: partners are ≤ i
      double rho = 0.0, e = 0.0;
      for (int p = p0; p < p1; ++p) {
        const double* c = gi[p].c;
        if (!c) {
          drho_in[p] = drho_out[p] = dphi[p] = 0.0;
          continue;
        }
        const double u = gi[p].u, inv_r = gi[p].inv_r;
        const double phi = spline_value(c, u) * inv_r;
        dphi[p] = (spline_derivative(c, u) * inv_r - phi * inv_r) * inv_r;
        const double rho_in = spline_value(c + 8, u);
        drho_in[p] = spline_derivative(c + 8, u) * inv_r;
        double rho_out = rho_in;
        if (!sym) {
          if (row[species[partner[p]]].splines == 3) {
            rho_out = spline_value(c + 16, u);
            drho_out[p] = spline_derivative(c + 16, u) * inv_r;
          } else {
            drho_out[p] = drho_in[p];
          }
        }
        const int j = partner[p];
        if (j >= lo) rho_at[j] += rho_out;
        else my_cross_rho.push_back({j, rho_out});
        rho += rho_in;
        e += phi;
      }
      rho_at[i] += rho;
      site[i] = e;
    }
#pragma omp barrier
    // Pass 2: the densities from later threads' atoms, then F(ρ) and F'.
    cross_rho_.apply(t, nt, lo, hi, [&](int j, double rho) { rho_at[j] += rho; });
    for (int i = lo; i < hi; ++i) site[i] += embed(F_[species_element_[species[i]]], rhomax_, rho_at[i], fp[i]);
#pragma omp barrier
    if (want_grad) {
      // Pass 3: q = dE/dr / r = F'_i ρ'_{j→i}/r + F'_j ρ'_{i→j}/r + φ'/r per pair (LAMMPS's
      // psip / r); −∂E/∂r_i = Σ q r_ij over i's pairs, −∂E/∂r_j gets −q r_ij. r_ij is
      // recomputed with pass 1's expression rather than stored there: at 16000 atoms the
      // per-pair arrays leave the caches, and 24 bytes per pair less to write and read back
      // costs less than the subtraction.
      for (int i = lo; i < hi; ++i) {
        const double fpi = fp[i];
        const Vec3 xi = x[i];
        Vec3 f = Vec3::Zero();
        Mat3 w = Mat3::Zero();
        for (int p = own_offset[i]; p < own_offset[i + 1]; ++p) {
          const int j = partner[p];
          const double q = fpi * drho_in[p] + fp[j] * drho_out[p] + dphi[p];
          if (q == 0.0) continue;  // beyond the cutoff (zero entries): adds exactly nothing
          const Vec3 dv = (x[j] - xi) + shift[image_slot[p]];
          const Vec3 g = q * dv;
          f += g;
          if (want_force) {
            if (j >= lo) force[j] -= g;
            else my_cross_g.push_back({j, g});
          }
          if (want_virial) w.noalias() -= dv * g.transpose();
        }
        if (want_force) force[i] += f;
        if (want_virial) own_virial_[i] = w;
      }
      if (want_force && nt > 1) {
#pragma omp barrier
        // Pass 4: the forces from later threads' atoms, in pair order.
        cross_g_.apply(t, nt, lo, hi, [&](int j, const Vec3& g) { force[j] -= g; });
      }
    }
  }
  double e = 0.0;
  for (int i = 0; i < n; ++i) e += site_[i];
  if (want_virial)
    for (int i = 0; i < n; ++i) *d.virial += own_virial_[i];
  return e;
}

void EamPotential::add_site_energies(const System& s, const NeighborList& list, std::vector<double>& e) const {
  const int n = static_cast<int>(s.size());
  const Mat3 ht = s.cell.h.transpose();
  const std::vector<double> rho = densities(s, list);
  for (int i = 0; i < n; ++i) {
    double ei = embedding(s.species[i], rho[i]);
    for (int k = list.begin(i); k < list.end(i); ++k) {
      const int j = list.index[k];
      const Vec3 dv = s.position[j] + ht * list.image[k].cast<double>() - s.position[i];
      const double r2 = dv.squaredNorm();
      if (r2 < cut2_) ei += 0.5 * pair(s.species[i], s.species[j], std::sqrt(r2));
    }
    e[i] += ei;
  }
}

TermPtr make_eam(Params& p, const TermContext& ctx) {
  std::string file = p.string("file");
  std::string format;
  if (p.has("format")) format = p.choice("format", {"alloy", "fs"});
  namespace fs = std::filesystem;
  const fs::path path(resolve_input_path(ctx.input_dir, file));
  if (!fs::exists(path))
    throw InputError(p.file(), p.key_path("file"), p.line("file"), "EAM file '" + path.string() + "' not found");
  if (!ctx.system) throw InputError(p.file(), p.path(), p.line(), "eam needs the structure to map species");
  return std::make_unique<EamPotential>(read_eam_file(path.string(), format), *ctx.system);
}

}  // namespace spinlat
