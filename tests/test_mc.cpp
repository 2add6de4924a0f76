// Monte Carlo samplers: colouring, Metropolis moves against exact single- and two-spin
// results, longitudinal moves against the exact Landau distribution, Wolff, parallel
// tempering, thread-count independence and bit-for-bit checkpoints.
//
// Stochastic tests compare with exact results within 5 standard errors, the error from
// binning the time series into 50 blocks much longer than the autocorrelation time; every
// seed is fixed, so each test is deterministic and its margin was checked once (the measured
// deviations are quoted in docs/monte-carlo.md).
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <numeric>
#include <tuple>
#include <vector>

#include "sampling_test_helpers.hpp"
#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/bench/mc.hpp"
#include "spinlat/terms/coloring.hpp"
#include "spinlat/mc/metropolis.hpp"
#include "spinlat/mc/parallel_tempering.hpp"
#include "spinlat/mc/wolff.hpp"
#include "spinlat/terms/hamiltonian.hpp"
#include "spinlat/terms/heisenberg.hpp"
#include "spinlat/terms/landau.hpp"
#include "spinlat/terms/zeeman.hpp"
#include "spinlat/terms/spin_kernel.hpp"

using namespace spinlat;

// ---- test-only terms, written straight from their formulas ----------------------------------
namespace spinlat::testing {

/// E = −Σ_i |m_i| μB ê_i·B (B in T). `kernel` chooses whether it offers the kernel fast path.
class TestField : public Term {
 public:
  TestField(const Vec3& B, bool kernel) : B_(B), kernel_(kernel) {}
  std::string type() const override { return "test-field"; }
  bool depends_on_moment_size() const override { return true; }
  double compute(const System& s, const NeighborList&, Derivatives& d) const override {
    double e = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
      e -= units::mu_B * s.moment_vector(i).dot(B_);
      if (d.magnetic_force) (*d.magnetic_force)[i] += units::mu_B * B_;
    }
    return e;
  }
  void add_site_energies(const System& s, const NeighborList&, std::vector<double>& e) const override {
    for (std::size_t i = 0; i < s.size(); ++i) e[i] -= units::mu_B * s.moment_vector(i).dot(B_);
  }
  double local_energy_change(const System& s, const NeighborList&, int i, const Vec3& e_new,
                             double m_new) const override {
    return -units::mu_B * (m_new * e_new - s.moment_vector(i)).dot(B_);
  }
  bool add_to_spin_kernel(const System& s, const NeighborList&, SpinKernel& k) const override {
    if (!kernel_) return false;
    for (std::size_t i = 0; i < s.size(); ++i)
      if (s.magnetic(i)) k.add_zeeman(static_cast<int>(i), units::mu_B * B_);
    return true;
  }

 private:
  Vec3 B_;
  bool kernel_;
};

/// E = −Σ_pairs J ê_i·ê_j over an explicit list of pairs (each listed once).
class TestPairs : public Term {
 public:
  TestPairs(std::vector<std::tuple<int, int, double>> pairs, bool kernel)
      : pairs_(std::move(pairs)), kernel_(kernel) {}
  std::string type() const override { return "test-pairs"; }
  double compute(const System& s, const NeighborList&, Derivatives&) const override {
    double e = 0;
    for (auto [i, j, J] : pairs_) e -= J * s.spin[i].dot(s.spin[j]);
    return e;
  }
  void add_site_energies(const System& s, const NeighborList&, std::vector<double>& e) const override {
    for (auto [i, j, J] : pairs_) {
      const double h = -0.5 * J * s.spin[i].dot(s.spin[j]);
      e[i] += h;
      e[j] += h;
    }
  }
  double local_energy_change(const System& s, const NeighborList&, int i, const Vec3& e_new,
                             double) const override {
    double d = 0;
    for (auto [a, b, J] : pairs_) {
      if (a == i) d -= J * (e_new - s.spin[a]).dot(s.spin[b]);
      if (b == i) d -= J * (e_new - s.spin[b]).dot(s.spin[a]);
    }
    return d;
  }
  bool add_to_spin_kernel(const System&, const NeighborList&, SpinKernel& k) const override {
    if (!kernel_) return false;
    for (auto [i, j, J] : pairs_) {
      k.add_pair(i, j, J);
      k.add_pair(j, i, J);
    }
    return true;
  }

 private:
  std::vector<std::tuple<int, int, double>> pairs_;
  bool kernel_;
};

/// Landau on-site energy E = Σ_i (A m_i² + B m_i⁴ + C m_i⁶), m_i = |m_i| in μB, eV.
/// Independent of directions, so it joins the kernel as nothing (direction moves stay on the
/// fast path) unless `kernel` is false.
class TestLandau : public Term {
 public:
  TestLandau(double A, double B, double C, bool kernel) : A_(A), B_(B), C_(C), kernel_(kernel) {}
  std::string type() const override { return "test-landau"; }
  bool depends_on_moment_size() const override { return true; }
  double f(double m) const { const double m2 = m * m; return m2 * (A_ + m2 * (B_ + m2 * C_)); }
  double compute(const System& s, const NeighborList&, Derivatives&) const override {
    double e = 0;
    for (std::size_t i = 0; i < s.size(); ++i) e += f(s.moment[i]);
    return e;
  }
  void add_site_energies(const System& s, const NeighborList&, std::vector<double>& e) const override {
    for (std::size_t i = 0; i < s.size(); ++i) e[i] += f(s.moment[i]);
  }
  double local_energy_change(const System& s, const NeighborList&, int i, const Vec3&,
                             double m_new) const override {
    return f(m_new) - f(s.moment[i]);
  }
  bool add_to_spin_kernel(const System&, const NeighborList&, SpinKernel&) const override {
    return kernel_;
  }

 private:
  double A_, B_, C_;
  bool kernel_;
};

}  // namespace spinlat::testing

using namespace spinlat::testing;

namespace {

using sampling_test::Estimate;
using sampling_test::binned;

double langevin(double x) { return 1.0 / std::tanh(x) - 1.0 / x; }

constexpr double kJ = 0.01;  // eV, the exchange scale of the lattice tests
double kelvin(double t) { return t * kJ / units::k_B; }  // k_B T = t J

System cluster(const std::vector<Vec3>& positions, double m) {
  System s;
  s.cell.h = 20.0 * Mat3::Identity();
  s.cell.periodic = {false, false, false};
  s.species_name = {"X"};
  s.species_mass = {1.0};
  for (const Vec3& r : positions) s.add_atom(r, 0, m, Vec3(0, 0, 1));
  return s;
}

System lattice(const std::string& name, int L) {
  return build_supercell(standard_lattice(name, 1.0, 0.0, {"Fe"}, {1.0}), Int3(L, L, L));
}

Hamiltonian heisenberg(const System& s, double J) {
  Hamiltonian h;
  h.add(std::make_unique<HeisenbergExchange>(s, std::vector<double>{J}));
  h.bind(s);
  return h;
}

double magnetization(const System& s) {
  Vec3 m = Vec3::Zero();
  for (const Vec3& e : s.spin) m += e;
  return m.norm() / static_cast<double>(s.size());
}

bool same_spins(const System& a, const System& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a.spin[i] != b.spin[i] || a.moment[i] != b.moment[i]) return false;
  return true;
}

}  // namespace

// ---- colouring ---------------------------------------------------------------------------------

TEST(Coloring, SimpleCubicEvenIsCheckerboard) {
  System s = lattice("sc", 8);
  Hamiltonian h = heisenberg(s, kJ);
  const Coloring c = color_interactions(h, s);
  EXPECT_EQ(c.colors, 2);
  EXPECT_TRUE(is_proper_coloring(c, h.spin_kernel()->offset, h.spin_kernel()->neighbor));
  std::size_t total = 0;
  for (const auto& v : c.sites) total += v.size();
  EXPECT_EQ(total, s.size());
  // Checkerboard: colour = parity of x + y + z (atoms ordered x fastest).
  for (int i = 0; i < 512; ++i) EXPECT_EQ(c.color[i], (i % 8 + (i / 8) % 8 + i / 64) % 2);
}

TEST(Coloring, OddAndNonBipartiteGraphsAreProper) {
  for (auto [name, L, shells] : {std::tuple<std::string, int, int>{"sc", 5, 1}, {"bcc", 3, 2},
                                 {"fcc", 3, 1}, {"sc", 4, 3}}) {
    System s = lattice(name, L);
    Hamiltonian h;
    h.add(std::make_unique<HeisenbergExchange>(s, std::vector<double>(shells, kJ)));
    h.bind(s);
    const Coloring c = color_interactions(h, s);
    EXPECT_TRUE(is_proper_coloring(c, h.spin_kernel()->offset, h.spin_kernel()->neighbor)) << name;
    EXPECT_LE(c.colors, h.spin_kernel()->max_neighbors() + 1) << name;  // greedy bound
    EXPECT_GE(c.colors, 2) << name;
  }
  // A deliberately improper colouring is detected (the check can fail).
  System s = lattice("sc", 4);
  Hamiltonian h = heisenberg(s, kJ);
  Coloring bad = color_interactions(h, s);
  bad.color.assign(s.size(), 0);
  EXPECT_FALSE(is_proper_coloring(bad, h.spin_kernel()->offset, h.spin_kernel()->neighbor));
}

TEST(Coloring, NonMagneticSitesAreLeftOut) {
  System s = lattice("sc", 4);
  s.moment[5] = 0.0;
  s.spin[5] = Vec3::Zero();
  Hamiltonian h = heisenberg(s, kJ);
  const Coloring c = color_interactions(h, s);
  EXPECT_EQ(c.color[5], -1);
  std::size_t total = 0;
  for (const auto& v : c.sites) total += v.size();
  EXPECT_EQ(total, s.size() - 1);
}

TEST(Metropolis, MoveNames) {
  for (MoveType m : {MoveType::uniform, MoveType::gaussian, MoveType::flip, MoveType::hinzke_nowak})
    EXPECT_EQ(parse_move(move_name(m)), m);
  EXPECT_EQ(parse_move("hinzke_nowak"), MoveType::hinzke_nowak);
  EXPECT_THROW(parse_move("gauss"), InputError);
}

// ---- detailed balance against exact results -----------------------------------------------------

namespace {
/// Single moment |m| = 2 μB in B = 10 T along n at x = |m| μB B / k_B T = 2: ⟨ê·n⟩ = L(x) and
/// ⟨(ê·n)²⟩ = 1 − 2 L(x)/x (Langevin, exact).
void check_langevin(MoveType move, bool kernel) {
  const double m = 2.0, B = 10.0, x = 2.0;
  const double T = m * units::mu_B * B / (units::k_B * x);
  const Vec3 n = Vec3(1, 2, 2) / 3.0;
  System s = cluster({Vec3(10, 10, 10)}, m);
  Hamiltonian h;
  h.add(std::make_unique<TestField>(B * n, kernel));
  h.bind(s);
  MetropolisOptions o;
  o.move = move;
  o.seed = 11;
  MetropolisSampler mc(h, s, o);
  EXPECT_EQ(mc.uses_kernel(), kernel);
  mc.set_temperature(T);
  mc.equilibrate(s, 3000);
  std::vector<double> c, c2;
  for (int k = 0; k < 200000; ++k) {
    mc.sweep(s);
    const double z = s.spin[0].dot(n);
    c.push_back(z);
    c2.push_back(z * z);
  }
  const Estimate e1 = binned(c), e2 = binned(c2);
  const std::string tag = move_name(move) + (kernel ? " (kernel)" : " (general)");
  std::printf("  %-22s <e.n> = %.5f +- %.5f (exact %.5f), <(e.n)^2> = %.5f +- %.5f (exact %.5f)\n",
              tag.c_str(), e1.mean, e1.err, langevin(x), e2.mean, e2.err, 1 - 2 * langevin(x) / x);
  EXPECT_NEAR(e1.mean, langevin(x), 5 * e1.err) << tag;
  EXPECT_NEAR(e2.mean, 1.0 - 2.0 * langevin(x) / x, 5 * e2.err) << tag;
  EXPECT_LT(e1.err, 0.01) << tag;  // the test has the power to see a wrong distribution
  EXPECT_NEAR(s.spin[0].norm(), 1.0, 1e-12);
}
}  // namespace

TEST(Metropolis, LangevinWithEngineZeemanTerm) {
  // The same exact result through the engine's own zeeman term (kernel path).
  const double m = 2.0, B = 10.0, x = 2.0;
  const double T = m * units::mu_B * B / (units::k_B * x);
  System s = cluster({Vec3(10, 10, 10)}, m);
  Hamiltonian h;
  h.add(std::make_unique<Zeeman>(Vec3(0, 0, B)));
  h.bind(s);
  MetropolisOptions o;
  o.move = MoveType::hinzke_nowak;
  o.seed = 12;
  MetropolisSampler mc(h, s, o);
  mc.set_temperature(T);
  mc.equilibrate(s, 3000);
  std::vector<double> c;
  for (int k = 0; k < 200000; ++k) {
    mc.sweep(s);
    c.push_back(s.spin[0].z());
  }
  const Estimate e = binned(c);
  EXPECT_NEAR(e.mean, langevin(x), 5 * e.err);
}

TEST(Metropolis, LangevinUniformMove) {
  check_langevin(MoveType::uniform, true);
  check_langevin(MoveType::uniform, false);
}
TEST(Metropolis, LangevinGaussianMove) {
  check_langevin(MoveType::gaussian, true);
  check_langevin(MoveType::gaussian, false);
}
TEST(Metropolis, LangevinHinzkeNowakMove) {
  check_langevin(MoveType::hinzke_nowak, true);
  check_langevin(MoveType::hinzke_nowak, false);
}

TEST(Metropolis, GaussianWidthAdaptsOnlyWhileEquilibrating) {
  System s = lattice("sc", 6);
  set_spins_random(s, 1);
  Hamiltonian h = heisenberg(s, kJ);
  MetropolisOptions o;
  o.sigma = 5.0;  // far too wide at low T: acceptance starts far below the target
  MetropolisSampler mc(h, s, o);
  mc.set_temperature(kelvin(0.5));
  mc.equilibrate(s, 300);
  const double sigma = mc.sigma();
  EXPECT_LT(sigma, 2.0);
  mc.reset_counters();
  mc.run(s, 200);
  EXPECT_EQ(mc.sigma(), sigma);  // frozen while measuring
  EXPECT_NEAR(mc.acceptance(), 0.5, 0.05);
}

namespace {
/// Two classical spins, E = −J ê1·ê2: ⟨ê1·ê2⟩ = coth(βJ) − 1/(βJ) = L(βJ) for either sign.
template <class Sampler>
Estimate two_spin_average(double betaJ, Sampler&& step, System& s, int samples) {
  std::vector<double> c;
  for (int k = 0; k < samples; ++k) {
    step(s);
    c.push_back(s.spin[0].dot(s.spin[1]));
  }
  (void)betaJ;
  return binned(c);
}
}  // namespace

TEST(Metropolis, TwoSpinExchange) {
  for (double betaJ : {1.5, -1.5}) {
    for (MoveType move : {MoveType::gaussian, MoveType::hinzke_nowak}) {
      for (bool kernel : {true, false}) {
        System s = cluster({Vec3(5, 5, 5), Vec3(6, 5, 5)}, 1.0);
        const double J = kJ * (betaJ > 0 ? 1 : -1);
        Hamiltonian h;
        h.add(std::make_unique<TestPairs>(std::vector<std::tuple<int, int, double>>{{0, 1, J}}, kernel));
        h.bind(s);
        MetropolisOptions o;
        o.move = move;
        o.seed = 5;
        MetropolisSampler mc(h, s, o);
        if (kernel) {
          EXPECT_EQ(mc.coloring().colors, 2);
        }
        mc.set_temperature(std::abs(J) / (units::k_B * std::abs(betaJ)));
        mc.equilibrate(s, 2000);
        const Estimate e = two_spin_average(betaJ, [&](System& x) { mc.sweep(x); }, s, 100000);
        std::printf("  betaJ %+.1f %-12s kernel %d: <e1.e2> = %.5f +- %.5f (exact %.5f)\n", betaJ,
                    move_name(move).c_str(), kernel, e.mean, e.err, langevin(betaJ));
        EXPECT_NEAR(e.mean, langevin(betaJ), 5 * e.err)
            << "betaJ " << betaJ << " " << move_name(move) << " kernel " << kernel;
        EXPECT_LT(e.err, 0.01);
      }
    }
  }
}

TEST(Wolff, TwoSpinExchange) {
  // Wolff alone is ergodic here (reflections about random planes) and its bond probability
  // is the whole algorithm: the exact correlation checks it for both signs of J.
  for (double betaJ : {1.5, -1.5}) {
    System s = cluster({Vec3(5, 5, 5), Vec3(6, 5, 5)}, 1.0);
    const double J = kJ * (betaJ > 0 ? 1 : -1);
    Hamiltonian h;
    h.add(std::make_unique<TestPairs>(std::vector<std::tuple<int, int, double>>{{0, 1, J}}, true));
    h.bind(s);
    WolffSampler w(h, s, 9);
    w.set_temperature(kJ / (units::k_B * std::abs(betaJ)));
    w.steps(s, 1000);
    const Estimate e = two_spin_average(betaJ, [&](System& x) { w.step(x); }, s, 200000);
    std::printf("  Wolff betaJ %+.1f: <e1.e2> = %.5f +- %.5f (exact %.5f)\n", betaJ, e.mean, e.err,
                langevin(betaJ));
    EXPECT_NEAR(e.mean, langevin(betaJ), 5 * e.err) << betaJ;
    EXPECT_GT(w.mean_cluster_size(), 1.0);
    EXPECT_LT(w.mean_cluster_size(), 2.0);
  }
}

TEST(Wolff, OpenChainWithFixedClustersPerSweep) {
  // Open chain of 5 spins: the bonds are independent, ⟨ê_i·ê_{i+1}⟩ = L(βJ) exactly. Sweeps
  // of a fixed number of clusters sample it; stopping after "N flipped sites" instead gives
  // 0.464 against 0.438 at βJ = 1.5 (the stopping-time bias this test guards against).
  for (double betaJ : {1.5, -1.0}) {
    std::vector<Vec3> r;
    std::vector<std::tuple<int, int, double>> pairs;
    const double J = kJ * (betaJ > 0 ? 1 : -1);
    for (int i = 0; i < 5; ++i) r.push_back(Vec3(2 + i, 5, 5));
    for (int i = 0; i < 4; ++i) pairs.emplace_back(i, i + 1, J);
    System s = cluster(r, 1.0);
    Hamiltonian h;
    h.add(std::make_unique<TestPairs>(pairs, true));
    h.bind(s);
    WolffSampler w(h, s, 13);
    w.set_temperature(kJ / (units::k_B * std::abs(betaJ)));
    w.equilibrate(s, 2000);
    EXPECT_GE(w.clusters_per_sweep(), 2);
    std::vector<double> c;
    for (int k = 0; k < 100000; ++k) {
      w.sweep(s);
      double sum = 0;
      for (int i = 0; i < 4; ++i) sum += s.spin[i].dot(s.spin[i + 1]);
      c.push_back(sum / 4);
    }
    const Estimate e = binned(c);
    std::printf("  Wolff chain betaJ %+.1f: <e_i.e_i+1> = %.5f +- %.5f (exact %.5f)\n", betaJ, e.mean,
                e.err, langevin(betaJ));
    EXPECT_NEAR(e.mean, langevin(betaJ), 5 * e.err) << betaJ;
    EXPECT_LT(e.err, 0.005);
  }
}

TEST(Wolff, RejectsNonExchangeTerms) {
  System s = lattice("sc", 4);
  {
    Hamiltonian h;
    h.add(std::make_unique<HeisenbergExchange>(s, std::vector<double>{kJ}));
    h.add(std::make_unique<TestField>(Vec3(0, 0, 1), true));
    h.bind(s);
    EXPECT_FALSE(wolff_applicable(h));
    EXPECT_THROW(WolffSampler(h, s, 1), InputError);
  }
  {
    Hamiltonian h;
    h.add(std::make_unique<HeisenbergExchange>(s, std::vector<double>{kJ}));
    h.add(std::make_unique<TestField>(Vec3(0, 0, 0), false));  // no kernel form at all
    h.bind(s);
    EXPECT_THROW(WolffSampler(h, s, 1), InputError);
  }
  {
    Hamiltonian h;  // a zero field keeps the symmetry
    h.add(std::make_unique<HeisenbergExchange>(s, std::vector<double>{kJ}));
    h.add(std::make_unique<TestField>(Vec3(0, 0, 0), true));
    h.bind(s);
    EXPECT_TRUE(wolff_applicable(h));
  }
}

TEST(Metropolis, ZeroTemperatureQuenchNeverRaisesEnergy) {
  System s = lattice("sc", 6);
  set_spins_random(s, 4);
  Hamiltonian h = heisenberg(s, kJ);
  MetropolisSampler mc(h, s, {});
  mc.set_temperature(0.0);
  double E = h.energy(s);
  const double E0 = E;
  for (int k = 0; k < 50; ++k) {
    mc.sweep(s);
    const double En = h.energy(s);
    EXPECT_LE(En, E + 1e-12);
    E = En;
  }
  EXPECT_LT(E, 0.5 * E0 - 1.0 * kJ * s.size());  // it really relaxed toward −3J per site
}

// ---- longitudinal moves -----------------------------------------------------------------------

namespace {
/// Exact averages for one moment vector m ∈ R³ with E = A m² + B m⁴ + C m⁶ − m μB B cosθ:
/// P(m, cosθ) ∝ m² exp(−βE); the angular integral is analytic (sinh a / a, a = β μB B m),
/// the radial one by Simpson's rule.
struct LandauExact {
  double m, m2, mz;
};
LandauExact landau_exact(double A, double B4, double C, double field, double beta) {
  const int n = 40000;
  const double top = 4.0, h = top / n;
  double Z = 0, M = 0, M2 = 0, MZ = 0;
  for (int k = 0; k <= n; ++k) {
    const double m = k * h;
    const double w = (k == 0 || k == n) ? 1 : (k % 2 ? 4 : 2);
    const double a = beta * units::mu_B * field * m;
    const double E = m * m * (A + m * m * (B4 + m * m * C));
    const double ang = a > 1e-8 ? std::sinh(a) / a : 1.0;
    const double p = w * m * m * std::exp(-beta * E) * ang;
    Z += p;
    M += p * m;
    M2 += p * m * m;
    MZ += p * m * (a > 1e-8 ? langevin(a) : a / 3.0);
  }
  return {M / Z, M2 / Z, MZ / Z};
}
}  // namespace

TEST(Metropolis, LongitudinalMovesSampleLandauDistribution) {
  const double A = -0.5, B4 = 0.2, C = 0.01, field = 400.0, kT = 0.05;
  const LandauExact ex = landau_exact(A, B4, C, field, 1.0 / kT);
  // Without the Jacobian (m'/m)² the mean size would be lower by ~0.05 μB: 40 error bars.
  // Cases: test-only terms on the kernel path and on the general path, then the engine's
  // own landau and zeeman terms.
  for (int variant : {0, 1, 2}) {
    const bool kernel = variant == 0;
    System s = cluster({Vec3(10, 10, 10)}, 1.1);
    Hamiltonian h;
    if (variant < 2) {
      h.add(std::make_unique<TestLandau>(A, B4, C, kernel));
      h.add(std::make_unique<TestField>(Vec3(0, 0, field), kernel));
    } else {
      h.add(std::make_unique<spinlat::LandauTerm>(A, B4, C));
      h.add(std::make_unique<Zeeman>(Vec3(0, 0, field)));
    }
    h.bind(s);
    MetropolisOptions o;
    o.longitudinal = true;
    o.seed = 21;
    MetropolisSampler mc(h, s, o);
    mc.set_temperature(units::temperature_of(kT));
    mc.equilibrate(s, 3000);
    std::vector<double> m, m2, mz;
    for (int k = 0; k < 200000; ++k) {
      mc.sweep(s);
      m.push_back(s.moment[0]);
      m2.push_back(s.moment[0] * s.moment[0]);
      mz.push_back(s.moment_vector(0).z());
    }
    const Estimate em = binned(m), em2 = binned(m2), emz = binned(mz);
    std::printf("  variant %d: <m> = %.5f +- %.5f (exact %.5f), <m^2> = %.5f +- %.5f (exact %.5f), "
                "<m_z> = %.5f +- %.5f (exact %.5f)\n", variant, em.mean, em.err, ex.m, em2.mean,
                em2.err, ex.m2, emz.mean, emz.err, ex.mz);
    EXPECT_NEAR(em.mean, ex.m, 5 * em.err) << "variant " << variant;
    EXPECT_NEAR(em2.mean, ex.m2, 5 * em2.err) << "variant " << variant;
    EXPECT_NEAR(emz.mean, ex.mz, 5 * emz.err) << "variant " << variant;
    EXPECT_LT(em.err, 0.005);
    const auto& c = mc.counters();
    EXPECT_GT(c.accepted[3], c.trials[3] / 4);  // the step adapted to a sensible acceptance
  }
}

// ---- thread independence and checkpoints -----------------------------------------------------

namespace {
std::vector<Vec3> metropolis_run(const Hamiltonian& h, System s, MetropolisOptions o, int threads) {
  omp_set_num_threads(threads);
  MetropolisSampler mc(h, s, o);
  mc.set_temperature(kelvin(1.2));
  mc.equilibrate(s, 10);
  mc.run(s, 10);
  return s.spin;
}
}  // namespace

TEST(Metropolis, ResultIndependentOfThreadCount) {
  const int saved = omp_get_max_threads();
  System s = lattice("sc", 8);
  set_spins_random(s, 3);
  for (bool field : {false, true}) {
    Hamiltonian h;
    h.add(std::make_unique<HeisenbergExchange>(s, std::vector<double>{kJ}));
    if (field) h.add(std::make_unique<TestField>(Vec3(0, 0, 30.0), true));
    h.bind(s);
    for (MoveType move : {MoveType::gaussian, MoveType::hinzke_nowak}) {
      MetropolisOptions o;
      o.move = move;
      o.block = 64;  // 8 blocks: real parallel work at 2 threads
      o.seed = 99;
      const auto a = metropolis_run(h, s, o, 1);
      const auto b = metropolis_run(h, s, o, 2);
      ASSERT_EQ(MetropolisSampler(h, s, o).block_count(), 8u);
      bool same = true;
      for (std::size_t i = 0; i < a.size(); ++i) same = same && a[i] == b[i];
      EXPECT_TRUE(same) << "field " << field << " move " << move_name(move);
      EXPECT_NE(a[0], s.spin[0]);  // the spins did move
    }
  }
  omp_set_num_threads(saved);
}

TEST(Metropolis, CheckpointContinuesBitForBit) {
  for (bool longitudinal : {false, true}) {
    System s = lattice("sc", 6);
    set_spins_random(s, 8);
    Hamiltonian h;
    h.add(std::make_unique<HeisenbergExchange>(s, std::vector<double>{kJ}));
    if (longitudinal) h.add(std::make_unique<TestLandau>(-0.02, 0.01, 0.0, true));
    h.bind(s);
    MetropolisOptions o;
    o.move = MoveType::hinzke_nowak;
    o.longitudinal = longitudinal;
    o.block = 100;
    o.seed = 4;
    MetropolisSampler a(h, s, o);
    a.set_temperature(kelvin(1.0));
    a.equilibrate(s, 5);
    a.set_adaptive(true);  // checkpoint in the middle of equilibration
    a.sweep(s);
    const std::string state = a.save_state();
    System copy = s;
    for (int k = 0; k < 5; ++k) a.sweep(s);
    a.run(s, 10);

    MetropolisSampler b(h, copy, o);  // fresh sampler, default temperature and σ
    b.load_state(state);
    EXPECT_TRUE(b.adaptive());
    for (int k = 0; k < 5; ++k) b.sweep(copy);
    b.run(copy, 10);
    EXPECT_TRUE(same_spins(s, copy)) << "longitudinal " << longitudinal;
    EXPECT_EQ(a.sigma(), b.sigma());
    EXPECT_EQ(a.longitudinal_step(), b.longitudinal_step());
    EXPECT_EQ(a.counters().trials, b.counters().trials);
    EXPECT_EQ(a.counters().accepted, b.counters().accepted);
    EXPECT_EQ(a.save_state(), b.save_state());
  }
  {  // Longitudinal moves without a size-dependent term would let |m| run away: refused.
    System s = lattice("sc", 4);
    Hamiltonian h = heisenberg(s, kJ);
    MetropolisOptions o;
    o.longitudinal = true;
    EXPECT_THROW(MetropolisSampler(h, s, o), InputError);
  }
  // A damaged state is rejected with an InputError, not silently accepted.
  System s = lattice("sc", 4);
  Hamiltonian h = heisenberg(s, kJ);
  MetropolisSampler m(h, s, {});
  EXPECT_THROW(m.load_state("spinlat-wolff 1\n"), InputError);
  std::string st = m.save_state();
  EXPECT_THROW(m.load_state(st.substr(0, st.size() / 2)), InputError);
}

TEST(Wolff, CheckpointContinuesBitForBit) {
  System s = lattice("sc", 6);
  set_spins_random(s, 2);
  Hamiltonian h = heisenberg(s, kJ);
  WolffSampler a(h, s, 17);
  a.set_temperature(kelvin(1.4));
  a.equilibrate(s, 10);
  a.set_adaptive(true);  // checkpoint in the middle of equilibration
  a.sweep(s);
  const std::string state = a.save_state();
  System copy = s;
  for (int k = 0; k < 5; ++k) a.sweep(s);
  a.run(s, 20);
  WolffSampler b(h, copy, 17);
  b.load_state(state);
  EXPECT_TRUE(b.adaptive());
  for (int k = 0; k < 5; ++k) b.sweep(copy);
  b.run(copy, 20);
  EXPECT_EQ(b.clusters_per_sweep(), a.clusters_per_sweep());
  EXPECT_TRUE(same_spins(s, copy));
  EXPECT_EQ(a.clusters(), b.clusters());
  EXPECT_EQ(a.flipped(), b.flipped());
}

TEST(ParallelTempering, ThreadIndependentAndCheckpointable) {
  const int saved = omp_get_max_threads();
  System s = lattice("sc", 4);
  set_spins_random(s, 6);
  Hamiltonian h = heisenberg(s, kJ);
  ParallelTemperingOptions o;
  o.metropolis.seed = 3;
  o.wolff_per_sweep = 1;
  const std::vector<double> T = {kelvin(1.0), kelvin(1.3), kelvin(1.6), kelvin(2.0)};
  auto run = [&](int threads) {
    omp_set_num_threads(threads);
    ParallelTempering pt(h, s, T, o);
    pt.equilibrate(20);
    pt.run(20);
    return pt;
  };
  ParallelTempering a = run(1), b = run(2);
  for (std::size_t k = 0; k < T.size(); ++k) {
    EXPECT_TRUE(same_spins(a.system(k), b.system(k))) << k;
    EXPECT_EQ(a.energies()[k], b.energies()[k]);
  }
  EXPECT_EQ(a.replica_at(), b.replica_at());
  omp_set_num_threads(saved);

  // Checkpoint: save after 10 rounds, restore into an object built from another start.
  ParallelTempering c(h, s, T, o);
  c.equilibrate(10);
  const std::string state = c.save_state();
  c.run(15);
  System other = lattice("sc", 4);
  ParallelTempering d(h, other, T, o);
  d.load_state(state);
  d.run(15);
  for (std::size_t k = 0; k < T.size(); ++k) EXPECT_TRUE(same_spins(c.system(k), d.system(k))) << k;
  EXPECT_EQ(c.replica_at(), d.replica_at());
  EXPECT_EQ(c.exchange_attempts(), d.exchange_attempts());
  EXPECT_EQ(c.save_state(), d.save_state());
}

// ---- samplers agree on a critical lattice ------------------------------------------------------

namespace {
struct Series {
  std::vector<double> m, e;
};
}  // namespace

TEST(Wolff, AgreesWithMetropolisNearTc) {
  // sc L = 8 at k_B T = 1.45 J (just above the bulk Tc = 1.443 J): ⟨|m|⟩ and E/N from
  // Metropolis (Gaussian moves) and from Wolff clusters alone must agree within 5σ.
  const int L = 8;
  System s0 = lattice("sc", L);
  Hamiltonian h = heisenberg(s0, kJ);
  const double T = kelvin(1.45);
  const int measure = 20000;
  const double N = static_cast<double>(s0.size());

  Series met, wol;
  {
    System s = s0;
    MetropolisSampler mc(h, s, {});
    mc.set_temperature(T);
    mc.equilibrate(s, 2000);
    for (int k = 0; k < measure; ++k) {
      mc.sweep(s);
      met.m.push_back(magnetization(s));
      met.e.push_back(h.spin_kernel()->energy(s.spin, s.moment) / N / kJ);
    }
  }
  double mean_cluster;
  {
    System s = s0;
    WolffSampler w(h, s, 23);
    w.set_temperature(T);
    w.equilibrate(s, 500);
    w.reset_counters();
    for (int k = 0; k < measure; ++k) {
      w.sweep(s);
      wol.m.push_back(magnetization(s));
      wol.e.push_back(h.spin_kernel()->energy(s.spin, s.moment) / N / kJ);
    }
    mean_cluster = w.mean_cluster_size();
  }
  const Estimate mm = binned(met.m), wm = binned(wol.m), me = binned(met.e), we = binned(wol.e);
  std::printf("  sc L=8 t=1.45: <|m|> Metropolis %.5f +- %.5f, Wolff %.5f +- %.5f; E/NJ %.5f +- %.5f, "
              "%.5f +- %.5f; mean cluster %.1f\n", mm.mean, mm.err, wm.mean, wm.err, me.mean, me.err,
              we.mean, we.err, mean_cluster);
  EXPECT_NEAR(mm.mean, wm.mean, 5 * std::hypot(mm.err, wm.err));
  EXPECT_NEAR(me.mean, we.mean, 5 * std::hypot(me.err, we.err));
  // Energy near Tc is about −1 J per site (3 bonds × ⟨ê·ê⟩ ≈ 0.33, Holm & Janke 1993).
  EXPECT_NEAR(me.mean, -1.0, 0.1);
  EXPECT_GT(mean_cluster, 10.0);  // near Tc clusters span a good part of the 512 sites
  EXPECT_LT(mm.err, 0.01);
}

TEST(ParallelTempering, ReproducesIndependentRuns) {
  const int L = 4;
  System s0 = lattice("sc", L);
  set_spins_random(s0, 12);
  Hamiltonian h = heisenberg(s0, kJ);
  const std::vector<double> t = {1.1, 1.3, 1.5, 1.7};
  std::vector<double> T;
  for (double x : t) T.push_back(kelvin(x));
  const double N = static_cast<double>(s0.size());
  const int rounds = 20000;

  ParallelTemperingOptions o;
  o.metropolis.seed = 31;
  ParallelTempering pt(h, s0, T, o);
  pt.equilibrate(1000);
  std::vector<std::vector<double>> ept(T.size());
  for (int r = 0; r < rounds; ++r) {
    pt.round();
    for (std::size_t k = 0; k < T.size(); ++k) ept[k].push_back(pt.energies()[k] / N / kJ);
  }
  for (double a : pt.exchange_acceptance()) {
    std::printf("  exchange acceptance %.3f\n", a);
    EXPECT_GT(a, 0.05);
    EXPECT_LT(a, 1.0);
  }
  std::vector<int> perm = pt.replica_at();
  std::sort(perm.begin(), perm.end());
  for (std::size_t k = 0; k < perm.size(); ++k) EXPECT_EQ(perm[k], static_cast<int>(k));

  for (std::size_t k = 0; k < T.size(); ++k) {
    System s = s0;
    MetropolisOptions mo;
    mo.seed = 77;
    MetropolisSampler mc(h, s, mo);
    mc.set_temperature(T[k]);
    mc.equilibrate(s, 1000);
    std::vector<double> e;
    for (int r = 0; r < rounds; ++r) {
      mc.sweep(s);
      e.push_back(h.spin_kernel()->energy(s.spin, s.moment) / N / kJ);
    }
    const Estimate a = binned(ept[k]), b = binned(e);
    std::printf("  t = %.1f: E/NJ tempering %.5f +- %.5f, independent %.5f +- %.5f\n", t[k], a.mean,
                a.err, b.mean, b.err);
    EXPECT_NEAR(a.mean, b.mean, 5 * std::hypot(a.err, b.err)) << "t = " << t[k];
    EXPECT_LT(a.err, 0.01);
  }
}

TEST(Benchmark, ReportsThroughput) {
  const MetropolisBenchmark b = run_metropolis_benchmark(8, 1, 20);
  EXPECT_EQ(b.L, 8);
  EXPECT_GT(b.trials_per_second, 0.0);
  EXPECT_GT(b.acceptance, 0.3);  // σ adapted toward 0.5 during warm-up
  EXPECT_LT(b.acceptance, 0.7);
}
