// Stochastic LLG samples the Boltzmann distribution also when moments differ from site to
// site (docs/spin-dynamics.md): a two-sublattice ferrimagnet with |m| = 1 and 3 μB against a
// Metropolis Monte Carlo written here. The thermal field's variance must use each site's own
// moment.
#include <gtest/gtest.h>

#include <boost/random/normal_distribution.hpp>
#include <cmath>
#include <cstdio>

#include "test_llg_helpers.hpp"

using namespace spinlat;
using namespace llgtest;

namespace {

/// Ferrimagnet: the rocksalt structure's two fcc sublattices form one simple cubic lattice
/// (NN distance 2.5 Å) whose nearest neighbours are always on the other sublattice. Species
/// A (|m| = 1 μB) and B (|m| = 3 μB), antiferromagnetic J = −5 meV between them
/// (k_B Tc = 1.443 |J|: Tc = 84 K for the infinite lattice). 3³ cells = 216 sites.
Model ferrimagnet() {
  Model M;
  M.s = build_supercell(standard_lattice("rocksalt", 5.0, 0.0, {"Fe", "Gd"}, {1.0, 3.0}), Int3(3, 3, 3));
  for (std::size_t i = 0; i < M.s.size(); ++i)
    M.s.spin[i] = M.s.species[i] == 0 ? Vec3(Vec3::UnitZ()) : Vec3(-Vec3::UnitZ());
  M.h.add(std::make_unique<HeisenbergExchange>(M.s, std::vector<double>{-0.005}));
  M.h.bind(M.s);
  return M;
}

/// Sublattice order |Σ_A ê|/N_A, |Σ_B ê|/N_B and the net magnetisation |Σ m_i| / Σ |m_i|.
struct Order {
  std::vector<double> a, b, net;
  void measure(const System& s) {
    Vec3 sa = Vec3::Zero(), sb = Vec3::Zero(), m = Vec3::Zero();
    double na = 0, nb = 0, mt = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s.species[i] == 0) { sa += s.spin[i]; ++na; } else { sb += s.spin[i]; ++nb; }
      m += s.moment[i] * s.spin[i];
      mt += s.moment[i];
    }
    a.push_back(sa.norm() / na);
    b.push_back(sb.norm() / nb);
    net.push_back(m.norm() / mt);
  }
};

}  // namespace

TEST(LLGThermal, FerrimagnetWithUnequalMomentsMatchesMonteCarlo) {
  // T = 50 K (0.6 Tc). Reference: Metropolis (symmetric Gaussian-cone proposals, acceptance
  // 0.53), 1e5 sweeps after 1e4. LLG: α = 1; heun at dt = 0.25 fs for 100 ps, depondt and
  // midpoint at dt = 0.5 fs for 100 ps, after 10 ps; samples every 10 steps. Errors from 50
  // bins (bins of 2 ps are many correlation times: 20 bins give the same errors). Tolerance:
  // 5 combined standard errors (~0.005 for the sublattice order).
  //
  // Measured here: MC m_A = m_B = 0.7727(3), M = 0.3870(2); LLG m_A/m_B/M: heun
  // 0.7741(8)/0.7728(10)/0.3867(6), depondt 0.7740(8)/0.7722(11)/0.3863(7), midpoint
  // 0.7734(8)/0.7719(11)/0.3862(7). (Heun's weak-order-1 bias in m_A is +0.0033 at dt = 1 fs
  // and +0.0019 at 0.5 fs, hence its smaller step.)
  // With a deliberately wrong noise that uses a common moment (2 μB) for both sublattices,
  // heun at 0.25 fs lands at m_A = 0.836(1), m_B = 0.705(1), M = 0.320(1): the light
  // sublattice is too cold and the heavy one too hot, 60-80 error bars away.
  const double T = 50.0;
  Order mc;
  {
    Model M = ferrimagnet();
    const SpinKernel& k = *M.h.spin_kernel();
    Engine eng(7);
    boost::random::normal_distribution<double> N;
    const double beta = 1.0 / (units::k_B * T);
    for (int sweep = 0; sweep < 110000; ++sweep) {
      for (std::size_t i = 0; i < M.s.size(); ++i) {
        const Vec3 e = (M.s.spin[i] + 0.5 * Vec3(N(eng), N(eng), N(eng))).normalized();
        const double dE = k.delta_energy(M.s.spin, M.s.moment, static_cast<int>(i), e);
        if (dE <= 0.0 || uniform01(eng) < std::exp(-beta * dE)) M.s.spin[i] = e;
      }
      if (sweep >= 10000) mc.measure(M.s);
    }
  }
  const Stat ra = binned(mc.a, 50), rb = binned(mc.b, 50), rn = binned(mc.net, 50);
  std::printf("[measured] MC: m_A = %.4f +- %.4f, m_B = %.4f +- %.4f, M = %.4f +- %.4f\n", ra.mean,
              ra.err, rb.mean, rb.err, rn.mean, rn.err);
  for (LLGIntegrator integ : all_integrators()) {
    Model M = ferrimagnet();
    LLGOptions p;
    p.integrator = integ;
    p.dt = integ == LLGIntegrator::heun ? 2.5e-4 : 5e-4;
    p.temperature = T;
    p.damping = {1.0};
    p.threads = 1;
    LLG llg(M.h, M.s, p, 31);
    llg.run(M.s, std::llround(10.0 / p.dt));
    Order o;
    const long long steps = std::llround(100.0 / p.dt);
    for (long long k = 0; k < steps; ++k) {
      llg.step(M.s);
      if (k % 10 == 0) o.measure(M.s);
    }
    const Stat a = binned(o.a, 50), b = binned(o.b, 50), n = binned(o.net, 50);
    std::printf("[measured] LLG %s: m_A = %.4f +- %.4f, m_B = %.4f +- %.4f, M = %.4f +- %.4f\n",
                to_string(integ).c_str(), a.mean, a.err, b.mean, b.err, n.mean, n.err);
    auto tol = [](const Stat& x, const Stat& y) { return 5.0 * std::hypot(x.err, y.err); };
    EXPECT_NEAR(a.mean, ra.mean, tol(a, ra)) << to_string(integ) << " sublattice A (1 μB)";
    EXPECT_NEAR(b.mean, rb.mean, tol(b, rb)) << to_string(integ) << " sublattice B (3 μB)";
    EXPECT_NEAR(n.mean, rn.mean, tol(n, rn)) << to_string(integ) << " net magnetisation";
    // The comparison must be sharp enough to see a wrong noise scaling (shifts of ~0.06).
    EXPECT_LT(tol(a, ra), 0.01);
  }
}
