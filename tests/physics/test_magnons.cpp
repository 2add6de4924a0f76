// Thermal magnons of a bcc Heisenberg ferromagnet: S(q, ω) from stochastic LLG against linear
// spin-wave theory (docs/magnons.md: ω(q) = γ_e Σ_j J_0j (1 − cos q·r_0j)/(|m| μB)).
//
// bcc 10³ (2000 moments of 2.2 μB), J1 = 10 meV (8 neighbours), J2 = 5 meV (6), so
// k_B Tc ≈ 0.77 · (8 J1 + 6 J2)/3 ≈ 28 meV (Tc ≈ 330 K); T = 3 K ≈ 1% of Tc. Heun, dt = 0.5 fs.
// 2 ps at α = 0.1 populate the magnons, then 24 ps at α = 0.002 are recorded every 10 steps
// (5 fs: Nyquist 100 THz, above the 35 THz band top) on the standard path Γ-H-N-Γ-P-H|P-N
// (37 commensurate q). S⊥(q, f) is Welch-averaged over 11 Hann segments of 4 ps
// (Δf = 0.25 THz). At every q but Γ the peak of S⊥ lies within Δf of the LSWT branch that
// the structure factor sees. Expected deviations, all below Δf: thermal softening of the
// exchange (~k_B T/Σ_j J_0j ≈ 0.2%, ≤ 0.08 THz at the band top), Heun's phase error
// (+(ω dt)²/6 ≤ 0.2%), the damping shift (α² ~ 4e-6), line width α f ≤ 0.07 THz.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <memory>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/dynamics/llg.hpp"
#include "spinlat/observables/spectra.hpp"
#include "spinlat/terms/heisenberg.hpp"

using namespace spinlat;

TEST(Magnons, BccThermalSpectrumFollowsLinearSpinWaveTheory) {
  const int L = 10;
  const double a = 2.8665, m = 2.2, T = 3.0, dt = 0.0005, alpha = 0.002;
  System s = build_supercell(standard_lattice("bcc", a, 0.0, {"Fe"}, {m}), Int3(L, L, L));
  Hamiltonian h;
  h.add(std::make_unique<HeisenbergExchange>(s, std::vector<double>{0.010, 0.005}));
  h.bind(s);

  LLGOptions warm;
  warm.dt = dt;
  warm.temperature = T;
  warm.damping = {0.1};
  warm.threads = 1;  // results do not depend on it; one thread never spin-waits on a shared machine
  const std::uint64_t seed = std::getenv("SPINLAT_TEST_SEED") ? std::stoull(std::getenv("SPINLAT_TEST_SEED")) : 11;
  LLG(h, s, warm, seed).run(s, 4000);

  SpectrumOptions o;
  o.lattice = "bcc";
  o.cells = Int3(L, L, L);
  o.sample_every = 10;
  o.segments = 11;
  o.lswt_damping = alpha;
  SpinSpectrumRecorder rec(s, o, &h);
  ASSERT_EQ(rec.path().size(), 37u);
  ASSERT_EQ(rec.lswt().size(), 37u) << rec.lswt_status();

  LLGOptions run = warm;
  run.damping = {alpha};
  LLG llg(h, s, run, seed + 1);
  const long long steps = 48000;
  for (long long k = 0; k < steps; ++k) {
    if (rec.due(k)) rec.record(s, llg.time());
    llg.step(s);
  }
  const SpinSpectrum sp = rec.spectrum();
  std::printf("[measured] resolution %.4f THz, Nyquist %.1f THz, %zu samples, %zu segments of %zu\n",
              sp.resolution, sp.nyquist, rec.samples(), sp.segments, sp.segment_length);
  ASSERT_LT(sp.resolution, 0.26);

  double worst = 0.0;
  int wrong_model_resolved = 0, tested = 0;
  for (std::size_t iq = 0; iq < rec.path().size(); ++iq) {
    const LswtModes& md = rec.lswt()[iq];
    const int seen = md.weight[0] >= md.weight[1] ? 0 : 1;
    const double f_lswt = units::radps_to_THz(md.omega[seen]);
    std::vector<double> row(sp.intensity.begin() + iq * sp.frequency.size(),
                            sp.intensity.begin() + (iq + 1) * sp.frequency.size());
    const double f = peak_frequency(sp.frequency, row, 0.5 * sp.resolution);
    std::printf("[measured] q %2zu (d = %.3f 1/Å): LLG %7.3f THz, LSWT %7.3f THz, diff %+.3f THz\n", iq,
                rec.path().distance[iq], f, f_lswt, f - f_lswt);
    if (rec.path().q[iq].norm() < 1e-9) continue;  // Γ: the uniform mode has ω = 0
    EXPECT_NEAR(f, f_lswt, sp.resolution) << "q index " << iq;
    worst = std::max(worst, std::abs(f - f_lswt));
    // Power of the test: a model without the second shell (8 J1 (1 − Π cos(q_α a/2))) is
    // told apart at most wave vectors.
    const Vec3 q = rec.path().q[iq];
    const double wrong = units::radps_to_THz(units::gamma_e * 8 * 0.010 *
                                             (1 - std::cos(q.x() * a / 2) * std::cos(q.y() * a / 2) * std::cos(q.z() * a / 2)) /
                                             (m * units::mu_B));
    ++tested;
    if (std::abs(f - wrong) > sp.resolution) ++wrong_model_resolved;
  }
  EXPECT_GT(wrong_model_resolved, 3 * tested / 4);
  std::printf("[measured] largest |f_LLG − f_LSWT| = %.3f THz (resolution %.3f THz)\n", worst, sp.resolution);
}
