// Spin and lattice temperature estimators.
//
// The spin temperature k_B T_s = Σ|ê×h|² / Σ Δ_S E rests on the identity
// ⟨|∇_S E|²⟩ = k_B T ⟨Δ_S E⟩ of any Boltzmann distribution on the spheres (integration by parts;
// Nurdin & Schotte, PRE 61, 3579 (2000) for the bilinear case). The tests check the analytic
// Laplacians against finite differences of the real terms, and the estimator against exact
// samples of one moment (field: Langevin; uniaxial anisotropy: rejection sampling) and against
// a Metropolis chain of an interacting lattice.
#include <gtest/gtest.h>

#include <boost/random/normal_distribution.hpp>
#include <cmath>
#include <cstdio>
#include <memory>
#include <omp.h>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/rng.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/observables/statistics.hpp"
#include "spinlat/observables/temperature.hpp"
#include "spinlat/terms/anisotropy.hpp"
#include "spinlat/terms/biquadratic.hpp"
#include "spinlat/terms/dmi.hpp"
#include "spinlat/terms/hamiltonian.hpp"
#include "spinlat/terms/heisenberg.hpp"
#include "spinlat/terms/spin_kernel.hpp"
#include "spinlat/terms/zeeman.hpp"

using namespace spinlat;

namespace {

System sc_lattice(int n, double moment = 2.2) {
  System s = build_supercell(standard_lattice("sc", 2.5, 0.0, {"Fe"}, {moment}), Int3(n, n, n));
  return s;
}

// Directions scattered around +z (so that Σ ê·h > 0 as in an ordered phase).
void scatter_spins(System& s, double spread, std::uint64_t seed) {
  Engine eng(seed);
  boost::random::normal_distribution<double> n(0.0, 1.0);
  for (auto& e : s.spin) e = (Vec3::UnitZ() + spread * Vec3(n(eng), n(eng), n(eng))).normalized();
}

Vec3 random_unit(Engine& eng) {
  boost::random::normal_distribution<double> n(0.0, 1.0);
  return Vec3(n(eng), n(eng), n(eng)).normalized();
}

// A unit vector with polar cosine c about z and a uniform azimuth.
Vec3 from_cos(double c, Engine& eng) {
  const double phi = 2.0 * units::kPi * uniform01(eng), s = std::sqrt(std::max(0.0, 1.0 - c * c));
  return Vec3(s * std::cos(phi), s * std::sin(phi), c);
}

System one_moment(double moment) {
  System s;
  s.cell.h = 10.0 * Mat3::Identity();
  s.species_name = {"Fe"};
  s.species_mass = {55.845};
  s.add_atom(Vec3::Zero(), 0, moment, Vec3::UnitZ());
  return s;
}

// Ratio estimate ⟨num⟩/⟨den⟩/k_B with a jackknife error over 50 blocks.
Value ratio_temperature(const std::vector<double>& num, const std::vector<double>& den) {
  return jackknife(50, [](double a, double b) { return a / b / units::k_B; }, num, den);
}

}  // namespace

TEST(SpinTemperature, HeisenbergEqualsTheClassicFormula) {
  System s = sc_lattice(6);
  scatter_spins(s, 0.7, 1);
  Hamiltonian h;
  h.add(std::make_unique<HeisenbergExchange>(s, std::vector<double>{0.01}));
  h.bind(s);
  ASSERT_NE(h.spin_kernel(), nullptr);
  const double classic = classic_spin_temperature(s, *h.spin_kernel());
  const SpinTemperatureSums k = spin_temperature_sums(s, h, SpinTemperatureMethod::kernel);
  const SpinTemperatureSums n = spin_temperature_sums(s, h, SpinTemperatureMethod::numeric);
  EXPECT_EQ(k.sites, 216);
  EXPECT_NEAR(k.temperature(), classic, 1e-12 * classic);
  // Second differences with δ = 1e-3 rad: O(δ²) truncation, ~1e-7 relative.
  EXPECT_NEAR(n.temperature(), classic, 1e-6 * classic);
  EXPECT_NEAR(n.numerator, k.numerator, 1e-10 * k.numerator);
  EXPECT_NEAR(spin_temperature(s, h), classic, 1e-12 * classic);
  EXPECT_GT(classic, 0.0);
}

TEST(SpinTemperature, AnalyticLaplaciansMatchFiniteDifferencesOfEveryKernelTerm) {
  // Exchange, biquadratic, DMI, Zeeman, uniaxial and cubic anisotropy on a small bcc crystal
  // with two moment sizes: the analytic path (kernel field + Laplacians) and the general path
  // (magnetic forces + second differences of local_energy_change) must agree term by term.
  System s = build_supercell(standard_lattice("bcc", 2.87, 0.0, {"Fe", "Co"}, {2.2, 1.7}), Int3(3, 3, 3));
  scatter_spins(s, 0.8, 2);
  Hamiltonian h;
  h.add(std::make_unique<HeisenbergExchange>(s, std::vector<double>{0.02, 0.005}));
  h.add(std::make_unique<BiquadraticExchange>(s, std::vector<double>{0.003}));
  h.add(std::make_unique<DMInteraction>(s, DMInteraction::Kind::bulk, std::vector<double>{0.002}));
  h.add(std::make_unique<Zeeman>(Vec3(1.0, -2.0, 5.0)));
  h.add(std::make_unique<UniaxialAnisotropy>(0.004, Vec3(1.0, 1.0, 0.3)));
  h.add(std::make_unique<CubicAnisotropy>(0.0025));
  h.bind(s);
  ASSERT_NE(h.spin_kernel(), nullptr);
  const SpinTemperatureSums k = spin_temperature_sums(s, h, SpinTemperatureMethod::kernel);
  const SpinTemperatureSums n = spin_temperature_sums(s, h, SpinTemperatureMethod::numeric);
  EXPECT_NEAR(n.numerator, k.numerator, 1e-9 * k.numerator);
  EXPECT_NEAR(n.denominator, k.denominator, 1e-6 * std::abs(k.denominator));
  // DMI depends on positions: the automatic choice takes the general path.
  EXPECT_EQ(spin_temperature_sums(s, h).denominator, n.denominator);
  // The classic 2 Σ ê·h misses the anisotropy and biquadratic Laplacians.
  const double classic = classic_spin_temperature(s, *h.spin_kernel());
  EXPECT_GT(std::abs(classic - k.temperature()), 1e-3 * k.temperature());
  std::printf("  all kernel terms: denominator analytic %.12g numeric %.12g; T_s %.4f K, classic %.4f K\n",
              k.denominator, n.denominator, k.temperature(), classic);

  // Site by site as well: one moment at a time in random directions (on-site terms only).
  for (int trial = 0; trial < 20; ++trial) {
    System one = one_moment(1.9);
    Engine eng(100 + trial);
    one.spin[0] = random_unit(eng);
    Hamiltonian g;
    g.add(std::make_unique<Zeeman>(Vec3(3.0, 0.0, -4.0)));
    g.add(std::make_unique<UniaxialAnisotropy>(-0.003, Vec3(0.0, 0.6, 0.8)));
    g.add(std::make_unique<CubicAnisotropy>(-0.002));
    g.bind(one);
    const SpinTemperatureSums a = spin_temperature_sums(one, g, SpinTemperatureMethod::kernel);
    const SpinTemperatureSums b = spin_temperature_sums(one, g, SpinTemperatureMethod::numeric);
    // Second differences at δ = 1e-3 rad carry an O(δ²) truncation error, ~1e-6 relative.
    EXPECT_NEAR(a.denominator, b.denominator, 1e-5 * (std::abs(a.denominator) + 0.01)) << "trial " << trial;
    EXPECT_NEAR(a.numerator, b.numerator, 1e-14) << "trial " << trial;
  }
}

TEST(SpinTemperature, OneMomentInAFieldSampledExactly) {
  // p(cos θ) ∝ exp(x cos θ), x = |m| μB B / k_B T, sampled by the inverse CDF
  // c = 1 + ln(u + (1 − u) e^(−2x)) / x. Both paths must give T within 5 σ, and ⟨cos θ⟩ the
  // Langevin function coth x − 1/x (a check of the sampler itself).
  const double T = 30.0, B = 50.0, m = 2.2;
  const double x = m * units::mu_B * B / (units::k_B * T);
  System s = one_moment(m);
  Hamiltonian h;
  h.add(std::make_unique<Zeeman>(Vec3(0.0, 0.0, B)));
  h.bind(s);
  Engine eng(2024);
  const int n = 200000;
  std::vector<double> num_k(n), den_k(n), num_n(n), den_n(n), cs(n);
  for (int k = 0; k < n; ++k) {
    const double u = uniform01(eng);
    const double c = 1.0 + std::log(u + (1.0 - u) * std::exp(-2.0 * x)) / x;
    s.spin[0] = from_cos(c, eng);
    cs[k] = c;
    const SpinTemperatureSums a = spin_temperature_sums(s, h, SpinTemperatureMethod::kernel);
    const SpinTemperatureSums b = spin_temperature_sums(s, h, SpinTemperatureMethod::numeric);
    num_k[k] = a.numerator; den_k[k] = a.denominator;
    num_n[k] = b.numerator; den_n[k] = b.denominator;
  }
  const Value mc = jackknife(50, [](double a) { return a; }, cs);
  EXPECT_NEAR(mc.value, 1.0 / std::tanh(x) - 1.0 / x, 5.0 * mc.error);
  const Value tk = ratio_temperature(num_k, den_k), tn = ratio_temperature(num_n, den_n);
  EXPECT_NEAR(tk.value, T, 5.0 * tk.error) << tk.value << " ± " << tk.error;
  EXPECT_NEAR(tn.value, T, 5.0 * tn.error) << tn.value << " ± " << tn.error;
  EXPECT_LT(tk.error, 0.01 * T);
  std::printf("  field: T_s kernel %.3f +- %.3f, numeric %.3f +- %.3f (T = %.1f K, x = %.3f)\n", tk.value, tk.error,
              tn.value, tn.error, T, x);
}

TEST(SpinTemperature, OneMomentWithUniaxialAnisotropySampledExactly) {
  // p(cos θ) ∝ exp(βK cos²θ) with βK = 2, sampled by rejection from the uniform cos θ. The
  // general estimator gives T; the classic 2 ê·h denominator gives K⟨c²(1−c²)⟩/⟨c²⟩ ≈ 0.2 k_B T.
  const double T = 40.0, K = 2.0 * units::k_B * T;
  System s = one_moment(2.0);
  Hamiltonian h;
  h.add(std::make_unique<UniaxialAnisotropy>(K, Vec3::UnitZ()));
  h.bind(s);
  Engine eng(7);
  const int n = 200000;
  std::vector<double> num(n), den(n), den_classic(n);
  for (int k = 0; k < n;) {
    const double c = 2.0 * uniform01(eng) - 1.0;
    if (uniform01(eng) >= std::exp(2.0 * (c * c - 1.0))) continue;
    s.spin[0] = from_cos(c, eng);
    const SpinTemperatureSums a = spin_temperature_sums(s, h);
    num[k] = a.numerator;
    den[k] = a.denominator;
    den_classic[k] = 2.0 * s.spin[0].dot(h.spin_kernel()->field(s.spin, s.moment, 0));
    ++k;
  }
  const Value t = ratio_temperature(num, den), tc = ratio_temperature(num, den_classic);
  EXPECT_NEAR(t.value, T, 5.0 * t.error) << t.value << " ± " << t.error;
  EXPECT_LT(t.error, 0.01 * T);
  EXPECT_GT(std::abs(tc.value - T), 20.0 * tc.error) << "classic " << tc.value;
  std::printf("  uniaxial: T_s %.3f +- %.3f, classic formula %.3f +- %.3f (T = %.1f K)\n", t.value, t.error, tc.value,
              tc.error, T);
}

TEST(SpinTemperature, MetropolisChainOfAnInteractingLattice) {
  // sc 4³ with exchange, uniaxial and cubic anisotropy at k_B T = J: a plain Metropolis chain
  // (written here, independent of the samplers) samples the Boltzmann distribution, so the
  // ratio of averages must equal T.
  const double J = 0.01, T = J / units::k_B;
  System s = sc_lattice(4);
  Hamiltonian h;
  h.add(std::make_unique<HeisenbergExchange>(s, std::vector<double>{J}));
  h.add(std::make_unique<UniaxialAnisotropy>(0.4 * J, Vec3::UnitZ()));
  h.add(std::make_unique<CubicAnisotropy>(0.3 * J));
  h.bind(s);
  Engine eng(99);
  boost::random::normal_distribution<double> g(0.0, 1.0);
  const double beta = 1.0 / (units::k_B * T);
  auto sweep = [&]() {
    for (std::size_t i = 0; i < s.size(); ++i) {
      const Vec3 e = (s.spin[i] + 0.6 * Vec3(g(eng), g(eng), g(eng))).normalized();
      const double dE = h.local_energy_change(s, static_cast<int>(i), e, s.moment[i]);
      if (dE <= 0.0 || uniform01(eng) < std::exp(-beta * dE)) s.spin[i] = e;
    }
  };
  for (int k = 0; k < 500; ++k) sweep();
  std::vector<double> num, den;
  for (int k = 0; k < 5000; ++k) {
    sweep();
    const SpinTemperatureSums a = spin_temperature_sums(s, h);
    num.push_back(a.numerator);
    den.push_back(a.denominator);
  }
  const Value t = ratio_temperature(num, den);
  EXPECT_NEAR(t.value, T, 5.0 * t.error) << t.value << " ± " << t.error;
  EXPECT_LT(t.error, 0.02 * T);
  std::printf("  Metropolis sc 4^3: T_s %.3f +- %.3f (T = %.3f K)\n", t.value, t.error, T);
}

TEST(SpinTemperature, IndependentOfThreadCount) {
  System s = sc_lattice(14);  // 2744 sites: above the size where the loops go parallel
  scatter_spins(s, 0.5, 3);
  Hamiltonian h;
  h.add(std::make_unique<HeisenbergExchange>(s, std::vector<double>{0.01}));
  h.add(std::make_unique<UniaxialAnisotropy>(0.002, Vec3::UnitZ()));
  h.bind(s);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const SpinTemperatureSums a = spin_temperature_sums(s, h, SpinTemperatureMethod::numeric);
  const SpinTemperatureSums c = spin_temperature_sums(s, h, SpinTemperatureMethod::kernel);
  omp_set_num_threads(2);
  const SpinTemperatureSums b = spin_temperature_sums(s, h, SpinTemperatureMethod::numeric);
  const SpinTemperatureSums d = spin_temperature_sums(s, h, SpinTemperatureMethod::kernel);
  omp_set_num_threads(saved);
  EXPECT_EQ(a.numerator, b.numerator);
  EXPECT_EQ(a.denominator, b.denominator);
  EXPECT_EQ(c.numerator, d.numerator);
  EXPECT_EQ(c.denominator, d.denominator);
}

namespace {
// A term with no kernel form: E = −K Σ_i (ê_i·n)⁴. Its Laplacian on the sphere, from
// Δ_S p = Δp − n(n+1) p with Δ z⁴ = 12 z², is Δ_S E = −K (12 c² − 20 c⁴), c = ê·n.
class QuarticAnisotropy : public Term {
 public:
  QuarticAnisotropy(double K, const Vec3& n) : K_(K), n_(n.normalized()) {}
  std::string type() const override { return "quartic-test"; }
  double compute(const System& s, const NeighborList&, Derivatives& d) const override {
    double e = 0.0;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (!s.magnetic(i)) continue;
      const double c = s.spin[i].dot(n_);
      e -= K_ * c * c * c * c;
      if (d.magnetic_force) {
        const Vec3 h = 4.0 * K_ * c * c * c * n_;  // −∂E/∂ê; transverse part over |m|
        (*d.magnetic_force)[i] += (h - s.spin[i].dot(h) * s.spin[i]) / s.moment[i];
      }
    }
    return e;
  }
  void add_site_energies(const System& s, const NeighborList&, std::vector<double>& e) const override {
    for (std::size_t i = 0; i < s.size(); ++i) e[i] -= K_ * std::pow(s.spin[i].dot(n_), 4);
  }
  double local_energy_change(const System& s, const NeighborList&, int i, const Vec3& e_new, double) const override {
    return -K_ * (std::pow(e_new.dot(n_), 4) - std::pow(s.spin[i].dot(n_), 4));
  }

 private:
  double K_;
  Vec3 n_;
};
}  // namespace

TEST(SpinTemperature, GeneralPathForATermWithoutKernel) {
  const double T = 25.0, K = 1.5 * units::k_B * T;
  System s = one_moment(1.5);
  Hamiltonian h;
  h.add(std::make_unique<QuarticAnisotropy>(K, Vec3::UnitZ()));
  h.bind(s);
  ASSERT_EQ(h.spin_kernel(), nullptr);
  EXPECT_THROW(spin_temperature_sums(s, h, SpinTemperatureMethod::kernel), std::invalid_argument);
  // The finite-difference Laplacian against the analytic one, in random directions.
  Engine eng(3);
  for (int trial = 0; trial < 20; ++trial) {
    s.spin[0] = random_unit(eng);
    const double c = s.spin[0].z();
    const SpinTemperatureSums a = spin_temperature_sums(s, h);
    const double exact = -K * (12.0 * c * c - 20.0 * c * c * c * c);
    EXPECT_NEAR(a.denominator, exact, 1e-5 * (std::abs(exact) + K));
    EXPECT_NEAR(a.numerator, std::pow(4.0 * K * c * c * c, 2) * (1.0 - c * c), 1e-15);
  }
  // Exact samples of p(c) ∝ exp(βK c⁴) (rejection from uniform c): the estimator gives T.
  const int n = 100000;
  std::vector<double> num(n), den(n);
  for (int k = 0; k < n;) {
    const double c = 2.0 * uniform01(eng) - 1.0;
    if (uniform01(eng) >= std::exp(1.5 * (c * c * c * c - 1.0))) continue;
    s.spin[0] = from_cos(c, eng);
    const SpinTemperatureSums a = spin_temperature_sums(s, h);
    num[k] = a.numerator;
    den[k] = a.denominator;
    ++k;
  }
  const Value t = ratio_temperature(num, den);
  EXPECT_NEAR(t.value, T, 5.0 * t.error) << t.value << " ± " << t.error;
  EXPECT_LT(t.error, 0.03 * T);
  std::printf("  quartic (no kernel): T_s %.3f +- %.3f (T = %.1f K)\n", t.value, t.error, T);
}

TEST(SpinTemperature, NoInteractionsGiveNaN) {
  System s = one_moment(1.0);
  Hamiltonian h;  // no terms: Σ Δ_S E = 0, the temperature is undefined
  h.bind(s);
  EXPECT_TRUE(std::isnan(spin_temperature(s, h)));
}

TEST(LatticeTemperature, KineticEnergyAndDegreesOfFreedom) {
  System s = sc_lattice(2);
  for (auto& v : s.velocity) v.setZero();
  s.velocity[0] = Vec3(3.0, 0.0, 0.0);
  s.velocity[1] = Vec3(0.0, -4.0, 0.0);
  // ½ m v² = ½ · 55.845 · 25 amu Å²/ps².
  const double ke = 0.5 * 55.845 * 25.0 * units::mvv2e;
  EXPECT_NEAR(lattice_kinetic_energy(s), ke, 1e-15);
  EXPECT_NEAR(kinetic_temperature(s), 2.0 * ke / (21.0 * units::k_B), 1e-10);
  EXPECT_NEAR(kinetic_temperature(s, 0), 2.0 * ke / (24.0 * units::k_B), 1e-10);
  // Maxwell-Boltzmann velocities rescaled to exactly 300 K with 3N − 3 degrees of freedom.
  System t = sc_lattice(4);
  set_velocities(t, 300.0, 5);
  EXPECT_NEAR(kinetic_temperature(t), 300.0, 1e-9);
}
