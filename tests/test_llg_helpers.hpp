#pragma once
// Test-only pieces for the LLG tests: tiny Zeeman and Landau terms (independent of the
// production terms, which other files own), system builders, and statistics helpers.
#include <cmath>
#include <memory>
#include <numeric>
#include <vector>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/dynamics/llg.hpp"
#include "spinlat/terms/heisenberg.hpp"
#include "spinlat/terms/spin_kernel.hpp"

namespace llgtest {
using namespace spinlat;

/// E = −Σ_i |m_i| μB ê_i·B (uniform B in tesla); −∂E/∂m_i = μB B.
class TestZeeman : public Term {
 public:
  explicit TestZeeman(const Vec3& B) : B_(B) {}
  std::string type() const override { return "test-zeeman"; }
  bool depends_on_moment_size() const override { return true; }
  double compute(const System& s, const NeighborList&, Derivatives& d) const override {
    double e = 0.0;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (!s.magnetic(i)) continue;
      e -= s.moment[i] * units::mu_B * s.spin[i].dot(B_);
      if (d.magnetic_force) (*d.magnetic_force)[i] += units::mu_B * B_;
    }
    return e;
  }
  void add_site_energies(const System& s, const NeighborList&, std::vector<double>& e) const override {
    for (std::size_t i = 0; i < s.size(); ++i) e[i] -= s.moment[i] * units::mu_B * s.spin[i].dot(B_);
  }
  double local_energy_change(const System& s, const NeighborList&, int i, const Vec3& spin_new,
                             double moment_new) const override {
    return -units::mu_B * (moment_new * spin_new - s.moment[i] * s.spin[i]).dot(B_);
  }
  bool add_to_spin_kernel(const System& s, const NeighborList&, SpinKernel& k) const override {
    for (std::size_t i = 0; i < s.size(); ++i)
      if (s.magnetic(i)) k.add_zeeman(static_cast<int>(i), units::mu_B * B_);
    return true;
  }

 private:
  Vec3 B_;
};

/// Uniaxial anisotropy E = −K Σ_i (ê_i·n)² (K in eV, n a unit vector); −∂E/∂m_i is the
/// transverse part of 2K(ê·n)n over |m_i|. Its kernel form makes the kernel non-"simple".
class TestUniaxial : public Term {
 public:
  TestUniaxial(double K, const Vec3& n) : K_(K), n_(n.normalized()) {}
  std::string type() const override { return "test-uniaxial"; }
  double compute(const System& s, const NeighborList&, Derivatives& d) const override {
    double e = 0.0;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (!s.magnetic(i)) continue;
      const Vec3& ei = s.spin[i];
      const double c = ei.dot(n_);
      e -= K_ * c * c;
      if (d.magnetic_force) {
        const Vec3 h = 2.0 * K_ * c * n_;
        (*d.magnetic_force)[i] += (h - ei.dot(h) * ei) / s.moment[i];
      }
    }
    return e;
  }
  void add_site_energies(const System& s, const NeighborList&, std::vector<double>& e) const override {
    for (std::size_t i = 0; i < s.size(); ++i)
      if (s.magnetic(i)) e[i] -= K_ * std::pow(s.spin[i].dot(n_), 2);
  }
  double local_energy_change(const System& s, const NeighborList&, int i, const Vec3& spin_new,
                             double) const override {
    return -K_ * (std::pow(spin_new.dot(n_), 2) - std::pow(s.spin[i].dot(n_), 2));
  }
  bool add_to_spin_kernel(const System& s, const NeighborList&, SpinKernel& k) const override {
    for (std::size_t i = 0; i < s.size(); ++i)
      if (s.magnetic(i)) k.add_uniaxial(static_cast<int>(i), K_, n_);
    return true;
  }

 private:
  double K_;
  Vec3 n_;
};

/// Landau on-site energy E = Σ_i (A m² + B m⁴ + C m⁶), m = |m_i| (Ma, Woo & Dudarev 2008).
class TestLandau : public Term {
 public:
  TestLandau(double A, double B, double C) : A_(A), B_(B), C_(C) {}
  std::string type() const override { return "test-landau"; }
  bool depends_on_moment_size() const override { return true; }
  double energy(double m) const { const double m2 = m * m; return m2 * (A_ + m2 * (B_ + m2 * C_)); }
  double dEdm(double m) const { const double m2 = m * m; return m * (2 * A_ + m2 * (4 * B_ + 6 * C_ * m2)); }
  double compute(const System& s, const NeighborList&, Derivatives& d) const override {
    double e = 0.0;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (!s.magnetic(i)) continue;
      e += energy(s.moment[i]);
      if (d.magnetic_force) (*d.magnetic_force)[i] -= dEdm(s.moment[i]) * s.spin[i];
    }
    return e;
  }
  void add_site_energies(const System& s, const NeighborList&, std::vector<double>& e) const override {
    for (std::size_t i = 0; i < s.size(); ++i) if (s.magnetic(i)) e[i] += energy(s.moment[i]);
  }
  double local_energy_change(const System& s, const NeighborList&, int i, const Vec3&,
                             double moment_new) const override {
    return energy(moment_new) - energy(s.moment[i]);
  }

 private:
  double A_, B_, C_;
};

/// A system and the Hamiltonian bound to it.
struct Model {
  System s;
  Hamiltonian h;
};

/// Simple cubic L³, nearest-neighbour J (eV), moment m (μB), random spins from `seed`.
inline Model sc_heisenberg(int L, double J, double m, std::uint64_t seed) {
  Model M;
  M.s = build_supercell(standard_lattice("sc", 2.5, 0.0, {"Fe"}, {m}), Int3(L, L, L));
  set_spins_random(M.s, seed);
  M.h.add(std::make_unique<HeisenbergExchange>(M.s, std::vector<double>{J}));
  M.h.bind(M.s);
  return M;
}

/// `n` isolated moments (10 Å apart, no exchange) of size m along `dir`.
inline System isolated_moments(int n, double m, const Vec3& dir = Vec3::UnitZ()) {
  System s;
  s.cell.h = Mat3::Identity() * 10.0 * n;
  s.species_name = {"Fe"};
  s.species_mass = {55.845};
  for (int i = 0; i < n; ++i) s.add_atom(Vec3(10.0 * i, 0, 0), 0, m, dir);
  return s;
}

/// Mean and standard error of independent samples.
struct Stat {
  double mean = 0.0, err = 0.0;
};
inline Stat mean_err(const std::vector<double>& x) {
  Stat r;
  const double n = static_cast<double>(x.size());
  r.mean = std::accumulate(x.begin(), x.end(), 0.0) / n;
  double v = 0.0;
  for (double a : x) v += (a - r.mean) * (a - r.mean);
  r.err = std::sqrt(v / (n - 1) / n);
  return r;
}
/// Mean and error from `nbins` consecutive bins of a correlated time series (the bins must
/// be much longer than the autocorrelation time).
inline Stat binned(const std::vector<double>& x, int nbins) {
  std::vector<double> b(nbins, 0.0);
  const std::size_t per = x.size() / nbins;
  for (int k = 0; k < nbins; ++k) {
    for (std::size_t j = 0; j < per; ++j) b[k] += x[k * per + j];
    b[k] /= static_cast<double>(per);
  }
  return mean_err(b);
}

/// Least-squares slope of log(err) against log(dt).
inline double loglog_slope(const std::vector<double>& dt, const std::vector<double>& err) {
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  const double n = static_cast<double>(dt.size());
  for (std::size_t k = 0; k < dt.size(); ++k) {
    const double x = std::log(dt[k]), y = std::log(err[k]);
    sx += x; sy += y; sxx += x * x; sxy += x * y;
  }
  return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

/// Langevin function coth(x) − 1/x.
inline double langevin(double x) { return 1.0 / std::tanh(x) - 1.0 / x; }

inline const std::vector<LLGIntegrator>& all_integrators() {
  static const std::vector<LLGIntegrator> v{LLGIntegrator::heun, LLGIntegrator::depondt,
                                            LLGIntegrator::midpoint};
  return v;
}

}  // namespace llgtest
