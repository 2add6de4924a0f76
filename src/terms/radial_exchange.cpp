#include "spinlat/terms/radial_exchange.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "spinlat/core/error.hpp"
#include "spinlat/terms/registry.hpp"
#include "spinlat/terms/spin_kernel.hpp"

namespace spinlat {

// ---- radial forms --------------------------------------------------------------------------

RadialFunction RadialFunction::bethe_slater(double a, double b, double d, double cutoff) {
  RadialFunction f;
  f.form_ = Form::bethe_slater;
  f.a_ = a;
  f.b_ = b;
  f.d_ = d;
  f.cutoff_ = cutoff;
  return f;
}

RadialFunction RadialFunction::ma_dudarev(double J0, double cutoff) {
  RadialFunction f;
  f.form_ = Form::ma_dudarev;
  f.a_ = J0;
  f.cutoff_ = cutoff;
  return f;
}

RadialFunction RadialFunction::table(std::vector<double> r, std::vector<double> J, bool cubic) {
  if (r.size() != J.size()) throw InputError("exchange table: r and J differ in length");
  if (r.size() < (cubic ? 3u : 2u))
    throw InputError("exchange table needs at least " + std::string(cubic ? "3" : "2") + " points");
  if (!(r[0] > 0.0)) throw InputError("exchange table: distances must be positive");
  for (std::size_t k = 1; k < r.size(); ++k)
    if (!(r[k] > r[k - 1])) throw InputError("exchange table: distances must increase strictly");
  RadialFunction f;
  f.form_ = cubic ? Form::table_cubic : Form::table_linear;
  f.cutoff_ = r.back();
  const std::size_t n = r.size();
  f.m_.assign(n, 0.0);
  if (cubic) {
    // Natural cubic spline (M_0 = M_{n−1} = 0): the tridiagonal system of Press et al.,
    // Numerical Recipes §3.3, solved by the Thomas algorithm.
    std::vector<double> c(n, 0.0), rhs(n, 0.0);
    for (std::size_t k = 1; k + 1 < n; ++k) {
      const double h0 = r[k] - r[k - 1], h1 = r[k + 1] - r[k];
      const double diag = (h0 + h1) / 3.0;
      const double lower = h0 / 6.0, upper = h1 / 6.0;
      const double b = (J[k + 1] - J[k]) / h1 - (J[k] - J[k - 1]) / h0;
      // forward elimination (row k−1 already reduced to M_{k−1} + c_{k−1} M_k = rhs_{k−1})
      const double denom = diag - lower * c[k - 1];
      c[k] = upper / denom;
      rhs[k] = (b - lower * rhs[k - 1]) / denom;
    }
    for (std::size_t k = n - 2; k >= 1; --k) f.m_[k] = rhs[k] - c[k] * f.m_[k + 1];
  }
  f.r_ = std::move(r);
  f.y_ = std::move(J);
  return f;
}

bool RadialFunction::evaluate(double r, double& J, double& dJ) const {
  J = dJ = 0.0;
  if (r >= cutoff_) return true;
  switch (form_) {
    case Form::bethe_slater: {
      // J = 4a x (1 − b x) exp(−x), x = (r/d)²; dJ/dr = 4a exp(−x) (1 − 2bx − x + bx²) · 2r/d².
      const double x = (r / d_) * (r / d_);
      const double ex = std::exp(-x);
      J = 4.0 * a_ * x * (1.0 - b_ * x) * ex;
      dJ = 4.0 * a_ * ex * (1.0 - 2.0 * b_ * x - x * (1.0 - b_ * x)) * 2.0 * r / (d_ * d_);
      return true;
    }
    case Form::ma_dudarev: {
      const double u = 1.0 - r / cutoff_;
      J = a_ * u * u * u;
      dJ = -3.0 * a_ * u * u / cutoff_;
      return true;
    }
    case Form::table_linear:
    case Form::table_cubic: {
      if (r < r_.front()) return false;
      // interval [r_k, r_{k+1}] holding r
      const std::size_t k = static_cast<std::size_t>(std::upper_bound(r_.begin(), r_.end(), r) - r_.begin()) - 1;
      const double h = r_[k + 1] - r_[k];
      const double A = (r_[k + 1] - r) / h, B = 1.0 - A;
      J = A * y_[k] + B * y_[k + 1];
      dJ = (y_[k + 1] - y_[k]) / h;
      if (form_ == Form::table_cubic) {
        J += ((A * A * A - A) * m_[k] + (B * B * B - B) * m_[k + 1]) * h * h / 6.0;
        dJ += (-(3.0 * A * A - 1.0) * m_[k] + (3.0 * B * B - 1.0) * m_[k + 1]) * h / 6.0;
      }
      return true;
    }
  }
  return true;
}

// ---- the term ------------------------------------------------------------------------------

RadialExchange::RadialExchange(std::string type, RadialFunction J, SpeciesFilter species)
    : type_(std::move(type)), J_(std::move(J)), species_(std::move(species)) {}

void RadialExchange::bind(const System& s, const NeighborList& list) {
  species_.bind(s);
  active_.assign(list.pairs(), 0);
  for (std::size_t i = 0; i < list.atoms(); ++i) {
    if (!species_(s, i)) continue;
    for (int k = list.begin(static_cast<int>(i)); k < list.end(static_cast<int>(i)); ++k)
      active_[k] = species_.pair(s, static_cast<std::size_t>(i), static_cast<std::size_t>(list.index[k]));
  }
}

void RadialExchange::below_table(double r) const {
  std::ostringstream msg;
  msg << type_ << ": a pair distance " << r << " Å lies below the table's first point " << J_.inner()
      << " Å";
  throw NumericalError(msg.str());
}

Vec3 RadialExchange::exchange_field(const System& s, const NeighborList& list, int i, bool skip_self) const {
  Vec3 h = Vec3::Zero();
  for (int k = list.begin(i); k < list.end(i); ++k) {
    if (!active_[k]) continue;
    const int j = list.index[k];
    if (skip_self && j == i) continue;
    const double r = list.current_displacement(s, i, k).norm();
    double J, dJ;
    if (!J_.evaluate(r, J, dJ)) below_table(r);
    h += J * s.spin[j];
  }
  return h;
}

double RadialExchange::compute(const System& s, const NeighborList& list, Derivatives& d) const {
  const int n = static_cast<int>(s.size());
  // Per-site partial results, summed afterwards in site order: the result does not depend on
  // the thread count. Each thread writes only its own atoms (the full list has both ends).
  std::vector<double> es(n, 0.0);
  std::vector<Mat3> ws(d.virial ? n : 0, Mat3::Zero());
  double worst = -1.0;  // a distance below a table's first point, if any
#pragma omp parallel for schedule(static) reduction(max : worst)
  for (int i = 0; i < n; ++i) {
    if (list.begin(i) == list.end(i) || !species_(s, i)) continue;
    const Vec3& ei = s.spin[i];
    Vec3 h = Vec3::Zero(), f = Vec3::Zero();
    Mat3 w = Mat3::Zero();
    for (int k = list.begin(i); k < list.end(i); ++k) {
      if (!active_[k]) continue;
      const Vec3 dv = list.current_displacement(s, i, k);
      const double r = dv.norm();
      double J, dJ;
      if (!J_.evaluate(r, J, dJ)) { worst = std::max(worst, r); continue; }
      if (J == 0.0 && dJ == 0.0) continue;
      const Vec3& ej = s.spin[list.index[k]];
      h += J * ej;
      // Pair energy E_p(r_ij) = −J(r) ê_i·ê_j; the force on i is +∂E_p/∂r_ij (r_ij = r_j − r_i).
      const Vec3 g = -dJ * ei.dot(ej) / r * dv;
      f += g;
      if (d.virial) w -= 0.5 * dv * g.transpose();  // each pair seen from both ends
    }
    es[i] = -0.5 * ei.dot(h);
    if (d.force) (*d.force)[i] += f;
    // −∂E/∂m_i of a function of ê_i = m_i/|m_i|: the transverse part of −∂E/∂ê_i over |m_i|.
    if (d.magnetic_force) (*d.magnetic_force)[i] += (h - ei.dot(h) * ei) / s.moment[i];
    if (d.virial) ws[i] = w;
  }
  if (worst >= 0.0) below_table(worst);
  double e = 0.0;
  for (int i = 0; i < n; ++i) e += es[i];
  if (d.virial)
    for (int i = 0; i < n; ++i) *d.virial += ws[i];
  return e;
}

void RadialExchange::add_site_energies(const System& s, const NeighborList& list, std::vector<double>& e) const {
  for (std::size_t i = 0; i < s.size(); ++i)
    if (species_(s, i)) e[i] -= 0.5 * s.spin[i].dot(exchange_field(s, list, static_cast<int>(i), false));
}

double RadialExchange::local_energy_change(const System& s, const NeighborList& list, int i,
                                           const Vec3& spin_new, double moment_new) const {
  if (!species_(s, i)) return 0.0;
  // A self-image moves together with i: ê_i·ê_i stays 1.
  return -(spin_new - s.spin[i]).dot(exchange_field(s, list, i, true));
}

bool RadialExchange::add_to_spin_kernel(const System& s, const NeighborList& list, SpinKernel& kern) const {
  for (std::size_t i = 0; i < s.size(); ++i)
    for (int k = list.begin(static_cast<int>(i)); k < list.end(static_cast<int>(i)); ++k) {
      if (!active_[k]) continue;
      const double r = list.current_displacement(s, static_cast<int>(i), k).norm();
      double J, dJ;
      if (!J_.evaluate(r, J, dJ)) below_table(r);
      if (J != 0.0) kern.add_pair(static_cast<int>(i), list.index[k], J);
    }
  return true;
}

// ---- factories -----------------------------------------------------------------------------

TermPtr make_bethe_slater(Params& p, const TermContext& ctx) {
  const double a = p.real("a");
  const double b = p.real("b");
  const double d = p.real("d");
  p.require(d > 0.0, "d", "expected a positive length scale d (Å)");
  const double rc = p.real("cutoff");
  p.require(rc > 0.0, "cutoff", "expected a positive cutoff (Å)");
  SpeciesFilter species = read_pair_species(p, *ctx.system);
  return std::make_unique<RadialExchange>("bethe-slater", RadialFunction::bethe_slater(a, b, d, rc),
                                          std::move(species));
}

TermPtr make_ma_dudarev(Params& p, const TermContext& ctx) {
  const double J0 = p.real("J0");
  const double rc = p.real("cutoff");
  p.require(rc > 0.0, "cutoff", "expected a positive cutoff rc (Å)");
  SpeciesFilter species = read_pair_species(p, *ctx.system);
  return std::make_unique<RadialExchange>("ma-dudarev", RadialFunction::ma_dudarev(J0, rc), std::move(species));
}

TermPtr make_exchange_table(Params& p, const TermContext& ctx) {
  const std::string interp = p.choice("interpolation", {"cubic", "linear"}, "cubic");
  p.touch("table");
  const toml::node* node = p.table().get("table");
  if (!node) p.fail("table", "missing required table of [r (Å), J (eV)] pairs");
  const toml::array* rows = node->as_array();
  if (!rows) p.fail("table", "expected an array of [r, J] pairs");
  std::vector<double> r, J;
  for (std::size_t k = 0; k < rows->size(); ++k) {
    const toml::array* row = (*rows)[k].as_array();
    const auto x = row && row->size() == 2 ? (*row)[0].value<double>() : std::nullopt;
    const auto y = row && row->size() == 2 ? (*row)[1].value<double>() : std::nullopt;
    if (!x || !y || !std::isfinite(*x) || !std::isfinite(*y))
      p.fail("table", "entry " + std::to_string(k) + " must be a pair of numbers [r (Å), J (eV)]");
    r.push_back(*x);
    J.push_back(*y);
  }
  const bool cubic = interp == "cubic";
  p.require(r.size() >= (cubic ? 3u : 2u), "table",
            std::string("expected at least ") + (cubic ? "3" : "2") + " points for " + interp + " interpolation");
  p.require(r[0] > 0.0, "table", "distances must be positive");
  for (std::size_t k = 1; k < r.size(); ++k)
    p.require(r[k] > r[k - 1], "table", "distances must increase strictly (entry " + std::to_string(k) + ")");
  SpeciesFilter species = read_pair_species(p, *ctx.system);
  return std::make_unique<RadialExchange>("exchange-table", RadialFunction::table(r, J, cubic), std::move(species));
}

}  // namespace spinlat
