// Longitudinal moment fluctuations (Ma & Dudarev, PRB 86, 054416 (2012)): a single site with
// the Landau energy E(m) = A m² + B m⁴ + C m⁶ samples P(m) ∝ m² exp(−E(m)/k_B T) (the R³
// measure of a moment vector), with the Ma, Woo & Dudarev (PRB 78, 024434 (2008))
// bcc Fe values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "test_llg_helpers.hpp"

using namespace spinlat;
using namespace llgtest;

namespace {

/// ⟨m^k⟩ for P(m) ∝ m^power exp(−βE(m)) on [0, 4.5] μB by Simpson's rule (the weight is below
/// 1e-100 of its peak beyond 4 μB at 1000 K, before the m⁶ term turns the energy down at 5 μB).
double landau_moment(const TestLandau& L, double beta, int power, int k) {
  const int n = 20000;
  const double h = 4.5 / n;
  double z = 0.0, mk = 0.0;
  for (int i = 0; i <= n; ++i) {
    const double m = i * h;
    const double w = (i == 0 || i == n) ? 1.0 : (i % 2 ? 4.0 : 2.0);
    const double p = w * std::pow(m, power) * std::exp(-beta * L.energy(m));
    z += p;
    mk += p * std::pow(m, k);
  }
  return mk / z;
}

}  // namespace

TEST(LLGLongitudinal, SingleSiteLandauDistribution) {
  // 1000 independent sites at T = 1000 K, λ = 0.01 (Γ = λ γ_e/μB = 30 μB²/(eV ps), the
  // longitudinal relaxation time 1/(Γ E''(m*)) ≈ 11 fs), dt = 0.5 fs, 5 ps equilibration and
  // 20 ps of averages per site; errors from the spread of the 1000 per-site averages.
  // Exact (quadrature): ⟨m⟩ and ⟨m²⟩ of m² e^{−βE}. The 1D law e^{−βE} (dropping the
  // 2Γk_BT/m drift of the R³ measure) would give ⟨m⟩ = 1.004 instead of 1.078 μB (checked
  // below to be many error bars away), so the test sees the measure. Measured:
  // ⟨m⟩ = 1.0781(2) (exact 1.0780), ⟨m²⟩ = 1.1913(4) (exact 1.1910).
  const TestLandau L(-0.744824, 0.345295, -0.00790205);
  const double T = 1000.0, beta = 1.0 / (units::k_B * T);
  const int n = 1000;
  System s = isolated_moments(n, 1.0);
  Hamiltonian h;
  h.add(std::make_unique<TestLandau>(-0.744824, 0.345295, -0.00790205));
  h.bind(s);
  LLGOptions p;
  p.integrator = LLGIntegrator::heun;
  p.dt = 5e-4;
  p.temperature = T;
  p.damping = {0.1};
  p.longitudinal = true;
  p.longitudinal_damping = 0.01;
  LLG llg(h, s, p, 77);
  EXPECT_FALSE(llg.uses_kernel());
  llg.run(s, 10000);
  std::vector<double> m1(n, 0.0), m2(n, 0.0);
  const int steps = 40000;
  for (int k = 0; k < steps; ++k) {
    llg.step(s);
    for (int i = 0; i < n; ++i) {
      m1[i] += s.moment[i];
      m2[i] += s.moment[i] * s.moment[i];
    }
  }
  for (int i = 0; i < n; ++i) { m1[i] /= steps; m2[i] /= steps; }
  const Stat a = mean_err(m1), b = mean_err(m2);
  const double e1 = landau_moment(L, beta, 2, 1), e2 = landau_moment(L, beta, 2, 2);
  const double flat1 = landau_moment(L, beta, 0, 1);
  std::printf("[measured] <m> = %.4f +- %.4f (exact %.4f; 1D law %.4f), <m^2> = %.4f +- %.4f (exact %.4f)\n",
              a.mean, a.err, e1, flat1, b.mean, b.err, e2);
  EXPECT_NEAR(a.mean, e1, 5 * a.err);
  EXPECT_NEAR(b.mean, e2, 5 * b.err);
  EXPECT_GT(std::abs(flat1 - e1), 10 * a.err);
  for (int i = 0; i < n; ++i) ASSERT_NEAR(s.spin[i].norm(), 1.0, 1e-12);
}
