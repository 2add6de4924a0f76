// Stochastic LLG samples the Boltzmann distribution (docs/spin-dynamics.md): independent
// moments in a field follow the Langevin function.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "test_llg_helpers.hpp"

using namespace spinlat;
using namespace llgtest;

TEST(LLGThermal, IndependentMomentsFollowTheLangevinFunction) {
  // 1000 independent 2 μB moments in B ẑ at T = 10 K with x = |m| μB B/(k_B T) = 2:
  // ⟨cos θ⟩ = L(2) = coth 2 − 1/2 = 0.53731 and ⟨cos²θ⟩ = 1 − 2 L(x)/x = 0.46269 (exact).
  // α = 0.5: relaxation time ~1 ps; 10 ps equilibration, then 100 ps averaged per moment.
  // Error bars from the spread of the 1000 independent per-moment averages (~0.0015);
  // tolerance 5σ. Each integrator has its own seed. The field reaches each integrator by a
  // different path: heun through the kernel (Zeeman term), depondt through the generic path,
  // midpoint as the integrator's external field.
  // Step: dt = 2 fs (γ_e B dt = 0.005). Heun's weak (order-1) bias, measured with 20000
  // moments, is ⟨cos θ⟩ − L(2) = +0.0019(3) at dt = 5 fs and +0.0011(3) at 2.5 fs, so about
  // +0.0008 (σ/2) at 2 fs; the midpoint rule gives −0.0000(3) at 5 fs.
  // Measured ⟨cos θ⟩ (exact 0.5373): heun 0.5388(14), depondt 0.5375(15), midpoint 0.5375(15);
  // ⟨cos²θ⟩ (exact 0.4627): 0.4628(8), 0.4627(9), 0.4634(9).
  const double m = 2.0, T = 10.0, x = 2.0;
  const double B = x * units::k_B * T / (m * units::mu_B);
  const int n = 1000;
  for (LLGIntegrator integ : all_integrators()) {
    System s = isolated_moments(n, m);
    Hamiltonian h;
    LLGOptions p;
    p.integrator = integ;
    p.dt = 0.002;
    p.temperature = T;
    p.damping = {0.5};
    if (integ == LLGIntegrator::midpoint) p.field.field = Vec3(0, 0, B);
    else h.add(std::make_unique<TestZeeman>(Vec3(0, 0, B)));
    if (integ == LLGIntegrator::depondt) p.path = FieldPath::generic;
    h.bind(s);
    LLG llg(h, s, p, 2024 + static_cast<int>(integ));
    llg.run(s, 5000);
    std::vector<double> c1(n, 0.0), c2(n, 0.0);
    const int steps = 50000;
    for (int k = 0; k < steps; ++k) {
      llg.step(s);
      for (int i = 0; i < n; ++i) {
        const double c = s.spin[i].z();
        c1[i] += c;
        c2[i] += c * c;
      }
    }
    for (int i = 0; i < n; ++i) { c1[i] /= steps; c2[i] /= steps; }
    const Stat a = mean_err(c1), b = mean_err(c2);
    std::printf("[measured] %s: <cos> = %.4f +- %.4f (exact %.4f), <cos^2> = %.4f +- %.4f (exact %.4f)\n",
                to_string(integ).c_str(), a.mean, a.err, langevin(x), b.mean, b.err, 1 - 2 * langevin(x) / x);
    EXPECT_NEAR(a.mean, langevin(x), 5 * a.err) << to_string(integ);
    EXPECT_NEAR(b.mean, 1.0 - 2.0 * langevin(x) / x, 5 * b.err) << to_string(integ);
    EXPECT_LT(a.err, 0.004);  // the test must be able to tell L(2) from L(1.8) = 0.50
  }
}
