// Without damping and noise, LLG conserves every |ê_i| and the energy (docs/spin-dynamics.md): 1e5 steps on a random 8³ Heisenberg ferromagnet for each integrator.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "test_llg_helpers.hpp"

using namespace spinlat;
using namespace llgtest;

TEST(LLGConservation, EnergyAndNormsOverLongRuns) {
  // sc 8³, J = 10 meV, |m| = 2 μB, random spins (exchange fields up to ~500 T, ω dt ≤ 0.01
  // at dt = 0.1 fs), α = 0, T = 0, 1e5 steps (10 ps). Energies are measured against the
  // ground-state scale 3NJ (the random start has E ≈ 0). Bounds:
  //   midpoint: 1e-10 (exact for this bilinear energy up to the fixed-point tolerance and
  //             round-off; measured 2.4e-16),
  //   heun, depondt: 1e-5 (not symplectic: an O(dt²) drift; measured 1.9e-6 for both over 10 ps).
  // Every |ê_i| stays 1 to 1e-13 (Heun renormalises; the rotations of Depondt and the
  // midpoint Cayley update preserve it exactly).
  for (LLGIntegrator integ : all_integrators()) {
    Model M = sc_heisenberg(8, 0.01, 2.0, 21);
    const double scale = 3.0 * M.s.size() * 0.01;
    const double E0 = M.h.energy(M.s);
    LLGOptions p;
    p.integrator = integ;
    p.dt = 1e-4;
    p.damping = {0.0};
    p.threads = 1;
    LLG llg(M.h, M.s, p, 1);
    double worst = 0.0;
    for (int chunk = 0; chunk < 100; ++chunk) {
      llg.run(M.s, 1000);
      worst = std::max(worst, std::abs(M.h.energy(M.s) - E0) / scale);
    }
    double dn = 0.0;
    for (const Vec3& e : M.s.spin) dn = std::max(dn, std::abs(e.norm() - 1.0));
    std::printf("[measured] %s: max |E - E0|/3NJ over 1e5 steps = %.3g, max ||e|-1| = %.3g\n",
                to_string(integ).c_str(), worst, dn);
    EXPECT_LT(dn, 1e-13) << to_string(integ);
    EXPECT_LT(worst, integ == LLGIntegrator::midpoint ? 1e-10 : 1e-5) << to_string(integ);
  }
}

TEST(LLGConservation, DampingOnlyLowersTheEnergy) {
  // With α > 0 and T = 0 the energy decreases monotonically (dE/dt = −α γ_e/(1+α²) Σ
  // |ê×B|² |m| μB ≤ 0), checked every 10 steps over 2 ps, for each integrator.
  for (LLGIntegrator integ : all_integrators()) {
    Model M = sc_heisenberg(6, 0.01, 2.0, 5);
    LLGOptions p;
    p.integrator = integ;
    p.dt = 1e-4;
    p.damping = {0.05};
    LLG llg(M.h, M.s, p, 1);
    double E = M.h.energy(M.s);
    for (int k = 0; k < 2000; ++k) {
      llg.run(M.s, 10);
      const double En = M.h.energy(M.s);
      ASSERT_LT(En, E) << to_string(integ) << " at step " << 10 * (k + 1);
      E = En;
    }
  }
}
