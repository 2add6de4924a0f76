// Stochastic LLG: exact single-moment dynamics, convergence order, conservation laws, field
// schedules, noise amplitude, thread independence and checkpoints (fast unit tests; the long
// equilibrium validations are in tests/physics/test_llg_*.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "spinlat/core/error.hpp"
#include "spinlat/dynamics/llg_noise.hpp"
#include "test_llg_helpers.hpp"

using namespace spinlat;
using namespace llgtest;

namespace {

/// Exact damped precession about B ẑ (docs/spin-dynamics.md): φ = φ0 + ωt with
/// ω = γ_e B/(1+α²) (counter-clockwise about +B), tan(θ/2) = tan(θ0/2) exp(−α ω t).
Vec3 exact_precession(double theta0, double B, double alpha, double t) {
  const double w = units::gamma_e * B / (1.0 + alpha * alpha);
  const double theta = 2.0 * std::atan(std::tan(0.5 * theta0) * std::exp(-alpha * w * t));
  const double phi = w * t;
  return Vec3(std::sin(theta) * std::cos(phi), std::sin(theta) * std::sin(phi), std::cos(theta));
}

enum class FieldSource { external, kernel, generic };

/// One moment (2 μB) in B ẑ from θ0 = 1 rad, φ0 = 0, integrated to time t with step dt.
/// The field comes from the integrator's external field, or from a Zeeman term through the
/// kernel or the generic path.
Vec3 run_single(LLGIntegrator integ, double alpha, double B, double dt, double t, FieldSource src) {
  const double theta0 = 1.0;
  System s = isolated_moments(1, 2.0, Vec3(std::sin(theta0), 0, std::cos(theta0)));
  Hamiltonian h;
  if (src != FieldSource::external) h.add(std::make_unique<TestZeeman>(Vec3(0, 0, B)));
  h.bind(s);
  LLGOptions p;
  p.integrator = integ;
  p.dt = dt;
  p.damping = {alpha};
  p.path = src == FieldSource::generic ? FieldPath::generic : FieldPath::automatic;
  if (src == FieldSource::external) p.field.field = Vec3(0, 0, B);
  LLG llg(h, s, p, 1);
  const long long n = std::llround(t / dt);
  llg.run(s, n);
  return s.spin[0];
}

}  // namespace

TEST(LLG, ParsesNames) {
  EXPECT_EQ(parse_llg_integrator("heun"), LLGIntegrator::heun);
  EXPECT_EQ(parse_llg_integrator("depondt"), LLGIntegrator::depondt);
  EXPECT_EQ(parse_llg_integrator("midpoint"), LLGIntegrator::midpoint);
  EXPECT_THROW(parse_llg_integrator("euler"), InputError);
  EXPECT_EQ(to_string(LLGIntegrator::depondt), "depondt");
  EXPECT_EQ(parse_field_schedule("rotating"), ExternalField::Schedule::rotating);
  EXPECT_THROW(parse_field_schedule("pulse"), InputError);
}

// 3e6 deviates: mean, variance and kurtosis, and the two-sided tail probabilities
// P(|x| > a) = erfc(a/√2) at points inside layers, at a layer edge (0.2723) and beyond the
// base strip (r = 3.4426, the tail branch), each within 5 binomial standard errors; the x, y,
// z components are uncorrelated.
template <class Draw>
void expect_standard_normal_triples(Draw&& draw) {
  const int n = 1000000;
  const double pts[] = {0.1, 0.27232086470466382, 0.5, 1.0, 2.0, 3.0, 3.4426198558966523, 4.0};
  std::vector<long> over(8, 0);
  double m1 = 0, m2 = 0, m4 = 0, xy = 0, yz = 0;
  for (int k = 0; k < n; ++k) {
    const Vec3 g = draw();
    xy += g.x() * g.y();
    yz += g.y() * g.z();
    for (int c = 0; c < 3; ++c) {
      const double x = g[c];
      m1 += x; m2 += x * x; m4 += x * x * x * x;
      for (int j = 0; j < 8; ++j) over[j] += std::abs(x) > pts[j];
    }
  }
  const double N = 3.0 * n;
  EXPECT_NEAR(m1 / N, 0.0, 5 * std::sqrt(1.0 / N));
  EXPECT_NEAR(m2 / N, 1.0, 5 * std::sqrt(2.0 / N));
  EXPECT_NEAR(m4 / N, 3.0, 5 * std::sqrt(96.0 / N));
  EXPECT_NEAR(xy / n, 0.0, 5 * std::sqrt(1.0 / n));
  EXPECT_NEAR(yz / n, 0.0, 5 * std::sqrt(1.0 / n));
  for (int j = 0; j < 8; ++j) {
    const double p = std::erfc(pts[j] / std::sqrt(2.0));
    EXPECT_NEAR(over[j] / N, p, 5 * std::sqrt(p * (1 - p) / N)) << "a = " << pts[j];
  }
}

TEST(LLGNoise, ThreeDeviatesAreStandardNormal) {
  Engine eng(2718);
  expect_standard_normal_triples([&] { return gaussian3(eng); });
}

TEST(LLGNoise, BatchedDeviatesAreStandardNormal) {
  // The thermal field's block generator (rejected draws replaced after the block), in
  // blocks of 1000 sites so that the replacement path runs ~36 times per block.
  Engine eng(2718);
  std::vector<Vec3> block(1000);
  std::vector<std::uint64_t> redo;
  std::size_t next = block.size();
  expect_standard_normal_triples([&] {
    if (next == block.size()) {
      gaussian3_batch(eng, block.size(), [&](std::size_t k) -> Vec3& { return block[k]; }, redo);
      next = 0;
    }
    return block[next++];
  });
}

TEST(LLG, RejectsBadSettings) {
  Model M = sc_heisenberg(3, 0.01, 2.0, 1);
  LLGOptions p;
  p.dt = 0.0;
  EXPECT_THROW(LLG(M.h, M.s, p, 1), InputError);
  p.dt = 1e-4;
  p.damping = {0.1, 0.2};  // one species only
  EXPECT_THROW(LLG(M.h, M.s, p, 1), InputError);
  p.damping = {-0.1};
  EXPECT_THROW(LLG(M.h, M.s, p, 1), InputError);
}

TEST(LLG, ExternalFieldSchedules) {
  ExternalField f;
  f.field = Vec3(1, 2, 3);
  EXPECT_EQ(f.at(7.0), Vec3(1, 2, 3));
  f.schedule = ExternalField::Schedule::ramp;
  f.field_end = Vec3(3, 2, 1);
  f.ramp_time = 2.0;
  EXPECT_NEAR((f.at(1.0) - Vec3(2, 2, 2)).norm(), 0.0, 1e-15);
  EXPECT_NEAR((f.at(5.0) - Vec3(3, 2, 1)).norm(), 0.0, 1e-15);
  // Rotating: the component along the axis stays, the transverse part turns counter-clockwise
  // at 2πf: a quarter period takes x̂ to ŷ.
  f.schedule = ExternalField::Schedule::rotating;
  f.field = Vec3(0.1, 0, 1.0);
  f.axis = Vec3(0, 0, 2.0);
  f.frequency = 0.5;  // THz: period 2 ps
  EXPECT_NEAR((f.at(0.5) - Vec3(0, 0.1, 1.0)).norm(), 0.0, 1e-14);
  EXPECT_NEAR((f.at(2.0) - Vec3(0.1, 0, 1.0)).norm(), 0.0, 1e-14);
}

TEST(LLG, DampedPrecessionOfOneMoment) {
  // B = 10 T: ω = 1.76 rad/ps; to t = 5 ps with dt = 1 fs (ω dt = 1.8e-3). Each scheme is
  // second order: expected global error ~ (ω dt)² ω t ~ 3e-5 at most; tolerance 1e-4.
  for (LLGIntegrator integ : all_integrators())
    for (double alpha : {0.0, 0.1, 1.0})
      for (FieldSource src : {FieldSource::external, FieldSource::kernel, FieldSource::generic}) {
        const Vec3 e = run_single(integ, alpha, 10.0, 1e-3, 5.0, src);
        const Vec3 x = exact_precession(1.0, 10.0, alpha, 5.0);
        EXPECT_LT((e - x).norm(), 1e-4) << to_string(integ) << " alpha " << alpha << " source "
                                        << static_cast<int>(src);
        EXPECT_NEAR(e.norm(), 1.0, 1e-13);
      }
}

TEST(LLG, SecondOrderForOneMoment) {
  // Global error at t = 2 ps against the exact solution, α = 0.1, B = 10 T,
  // dt = 20, 10, 5, 2.5 fs: the log-log slope must be 2 ± 0.3.
  const std::vector<double> dts{0.02, 0.01, 0.005, 0.0025};
  for (LLGIntegrator integ : all_integrators()) {
    std::vector<double> err;
    for (double dt : dts)
      err.push_back((run_single(integ, 0.1, 10.0, dt, 2.0, FieldSource::external) -
                     exact_precession(1.0, 10.0, 0.1, 2.0)).norm());
    const double slope = loglog_slope(dts, err);
    std::printf("[measured] one moment, %s: errors %.3g .. %.3g, slope %.3f\n", to_string(integ).c_str(),
                err[0], err.back(), slope);
    EXPECT_NEAR(slope, 2.0, 0.3) << to_string(integ) << " errors " << err[0] << " .. " << err.back();
  }
}

TEST(LLG, SecondOrderForCoupledMoments) {
  // 4³ sc Heisenberg ferromagnet (J = 10 meV, 2 μB; exchange field ~ 500 T, ω ~ 90 rad/ps)
  // from random spins, α = 0.1, to t = 0.1 ps: max_i |ê_i − ê_i^ref| with the reference from
  // the same scheme at dt/16 of the smallest step. Slope 2 ± 0.3.
  const std::vector<double> dts{4e-4, 2e-4, 1e-4, 5e-5};
  const double t = 0.1;
  for (LLGIntegrator integ : all_integrators()) {
    auto run = [&](double dt) {
      Model M = sc_heisenberg(4, 0.01, 2.0, 7);
      LLGOptions p;
      p.integrator = integ;
      p.dt = dt;
      p.damping = {0.1};
      LLG llg(M.h, M.s, p, 1);
      llg.run(M.s, std::llround(t / dt));
      return M.s.spin;
    };
    const auto ref = run(dts.back() / 16);
    std::vector<double> err;
    for (double dt : dts) {
      const auto e = run(dt);
      double m = 0.0;
      for (std::size_t i = 0; i < e.size(); ++i) m = std::max(m, (e[i] - ref[i]).norm());
      err.push_back(m);
    }
    const double slope = loglog_slope(dts, err);
    std::printf("[measured] 4^3 Heisenberg, %s: errors %.3g .. %.3g, slope %.3f\n",
                to_string(integ).c_str(), err[0], err.back(), slope);
    EXPECT_NEAR(slope, 2.0, 0.3) << to_string(integ) << " errors " << err[0] << " .. " << err.back();
  }
}

TEST(LLG, KernelAndGenericPathsAgree) {
  // Exchange + Zeeman (the inline kernel loop), and + uniaxial anisotropy (SpinKernel::field),
  // damping, no noise: the two field evaluations are the same function, so trajectories
  // agree to round-off.
  for (bool with_anisotropy : {false, true})
  for (LLGIntegrator integ : all_integrators()) {
    std::vector<Vec3> out[2];
    for (int g = 0; g < 2; ++g) {
      Model M = sc_heisenberg(4, 0.01, 2.0, 3);
      M.h.add(std::make_unique<TestZeeman>(Vec3(1.0, -2.0, 5.0)));
      if (with_anisotropy) M.h.add(std::make_unique<TestUniaxial>(0.002, Vec3(1, 1, 0)));
      M.h.bind(M.s);
      LLGOptions p;
      p.integrator = integ;
      p.damping = {0.3};
      p.path = g ? FieldPath::generic : FieldPath::kernel;
      LLG llg(M.h, M.s, p, 1);
      EXPECT_EQ(llg.uses_kernel(), g == 0);
      llg.run(M.s, 200);
      out[g] = M.s.spin;
    }
    double m = 0.0;
    for (std::size_t i = 0; i < out[0].size(); ++i) m = std::max(m, (out[0][i] - out[1][i]).norm());
    std::printf("[measured] kernel vs generic, %s%s: max |de| = %.3g\n", to_string(integ).c_str(),
                with_anisotropy ? " (anisotropy)" : "", m);
    EXPECT_LT(m, 1e-11) << to_string(integ);
  }
}

TEST(LLG, EffectiveFieldIsExchangeOverMomentPlusExternal) {
  // B_i = Σ_j J ê_j/(|m| μB) + B_ext (transverse parts; the generic path projects) on both paths.
  Model M = sc_heisenberg(3, 0.01, 2.0, 6);
  const Vec3 bext(0.3, 0.0, -1.0);
  for (FieldPath path : {FieldPath::kernel, FieldPath::generic}) {
    LLGOptions p;
    p.path = path;
    p.field.field = bext;
    LLG llg(M.h, M.s, p, 1);
    const auto B = llg.effective_field(M.s);
    const auto& list = M.h.neighbors();
    for (int i = 0; i < static_cast<int>(M.s.size()); ++i) {
      Vec3 h = Vec3::Zero();
      for (int k = list.begin(i); k < list.end(i); ++k) h += 0.01 * M.s.spin[list.index[k]];
      const Vec3 expect = h / (2.0 * units::mu_B) + bext;
      const Vec3& e = M.s.spin[i];
      const Vec3 dt = (B[i] - expect) - e.dot(B[i] - expect) * e;  // transverse difference
      EXPECT_LT(dt.norm(), 1e-9 * expect.norm()) << "site " << i;
    }
  }
}

TEST(LLG, ConservesEnergyAndNormsWithoutDampingShortRun) {
  // α = 0, T = 0, 4³ random Heisenberg, 1e4 steps of 0.1 fs (1 ps). Energies relative to the
  // ground-state scale 3NJ. Midpoint: exact up to round-off (bilinear energy); Heun and
  // Depondt: bounded O(dt²) drift (measured ~1e-8 and ~1e-9 here). The long run is in
  // tests/physics/test_llg_conservation.cpp.
  for (LLGIntegrator integ : all_integrators()) {
    Model M = sc_heisenberg(4, 0.01, 2.0, 11);
    const double scale = 3.0 * M.s.size() * 0.01;
    const double E0 = M.h.energy(M.s);
    LLGOptions p;
    p.integrator = integ;
    p.dt = 1e-4;
    p.damping = {0.0};
    LLG llg(M.h, M.s, p, 1);
    llg.run(M.s, 10000);
    const double dE = std::abs(M.h.energy(M.s) - E0) / scale;
    double dn = 0.0;
    for (const Vec3& e : M.s.spin) dn = std::max(dn, std::abs(e.norm() - 1.0));
    std::printf("[measured] 1e4 steps, %s: |dE|/3NJ = %.3g, max ||e|-1| = %.3g\n", to_string(integ).c_str(), dE, dn);
    EXPECT_LT(dn, 1e-13) << to_string(integ);
    EXPECT_LT(dE, integ == LLGIntegrator::midpoint ? 1e-12 : 1e-6) << to_string(integ) << " dE " << dE;
  }
}

TEST(LLG, MidpointIterationConverges) {
  // The fixed point is reached within a few iterations at ω dt ~ 0.01.
  Model M = sc_heisenberg(4, 0.01, 2.0, 5);
  LLGOptions p;
  p.integrator = LLGIntegrator::midpoint;
  p.dt = 1e-4;
  p.temperature = 50.0;
  p.damping = {0.2};
  LLG llg(M.h, M.s, p, 9);
  llg.run(M.s, 10);
  EXPECT_GE(llg.last_iterations(), 2);
  EXPECT_LE(llg.last_iterations(), 12);
}

TEST(LLG, NonMagneticSitesStayPut) {
  Model M = sc_heisenberg(3, 0.01, 2.0, 2);
  M.s.moment[4] = 0.0;
  M.s.spin[4] = Vec3::Zero();
  M.h.bind(M.s);
  for (LLGIntegrator integ : all_integrators()) {
    LLGOptions p;
    p.integrator = integ;
    p.temperature = 100.0;
    LLG llg(M.h, M.s, p, 1);
    llg.run(M.s, 20);
    EXPECT_EQ(M.s.spin[4], Vec3::Zero());
    EXPECT_NEAR(M.s.spin[5].norm(), 1.0, 1e-12);
  }
}

TEST(LLG, ThermalFieldVarianceUsesEachSitesMoment) {
  // With no deterministic field, one Heun step rotates ê by the noise alone: to first order
  // ⟨1 − ê·ê0⟩ = 2 D dt, D = α γ_e k_B T / ((1+α²) |m| μB) (rotational diffusion of a
  // moment with ⟨b b⟩ = 2αk_BT/(γ_e|m|μB)). Checked for |m| = 1 and 3 μB over 20000
  // independent moments: |Δê|² is χ² with two degrees of freedom (relative spread 1), so the
  // relative standard error of the mean is 1/sqrt(20000) = 0.7%; tolerance 4% (5σ plus the
  // O(D dt) second-order correction, ~0.1% here).
  const double alpha = 0.5, T = 300.0, dt = 1e-5;
  for (double m : {1.0, 3.0}) {
    System s = isolated_moments(20000, m);
    Hamiltonian h;
    h.bind(s);
    LLGOptions p;
    p.dt = dt;
    p.temperature = T;
    p.damping = {alpha};
    LLG llg(h, s, p, 17);
    llg.step(s);
    double sum = 0.0;
    for (const Vec3& e : s.spin) sum += 1.0 - e.z();
    const double D = alpha * units::gamma_e * units::k_B * T / ((1 + alpha * alpha) * m * units::mu_B);
    EXPECT_NEAR(sum / s.size() / (2 * D * dt), 1.0, 0.04) << "m = " << m;
  }
}

TEST(LLG, ResultsDoNotDependOnThreadCount) {
  // Thermal runs with several noise blocks: 1 and 2 threads give bit-identical spins.
  for (LLGIntegrator integ : all_integrators()) {
    std::vector<Vec3> out[2];
    for (int t = 0; t < 2; ++t) {
      Model M = sc_heisenberg(6, 0.01, 2.0, 4);
      LLGOptions p;
      p.integrator = integ;
      p.temperature = 150.0;
      p.damping = {0.2};
      p.block = 50;  // 5 blocks, the last one partial
      p.threads = t + 1;
      LLG llg(M.h, M.s, p, 99);
      llg.run(M.s, 20);
      out[t] = M.s.spin;
    }
    for (std::size_t i = 0; i < out[0].size(); ++i) ASSERT_EQ(out[0][i], out[1][i]) << to_string(integ) << " site " << i;
  }
}

TEST(LLG, LongitudinalRunsAreThreadIndependentAndCheckpointable) {
  // Heisenberg + Landau on-site terms with moment-size fluctuations: 1 vs 2 threads, and a
  // save/load in the middle, give bit-identical spins and moments.
  auto model = [] {
    Model M = sc_heisenberg(5, 0.01, 2.0, 12);
    M.h.add(std::make_unique<TestLandau>(-0.744824, 0.345295, -0.00790205));
    M.h.bind(M.s);
    return M;
  };
  LLGOptions p;
  p.temperature = 500.0;
  p.damping = {0.2};
  p.longitudinal = true;
  p.block = 40;
  std::vector<double> moments[3];
  std::vector<Vec3> spins[3];
  for (int t = 0; t < 2; ++t) {
    Model M = model();
    p.threads = t + 1;
    LLG llg(M.h, M.s, p, 4);
    llg.run(M.s, 30);
    moments[t] = M.s.moment;
    spins[t] = M.s.spin;
  }
  {
    Model M = model();
    std::string state;
    {
      LLG a(M.h, M.s, p, 4);
      a.run(M.s, 12);
      state = a.save_state();
    }
    LLG b(M.h, M.s, p, 0);
    b.load_state(state);
    b.run(M.s, 18);
    moments[2] = M.s.moment;
    spins[2] = M.s.spin;
  }
  for (int c = 1; c < 3; ++c)
    for (std::size_t i = 0; i < spins[0].size(); ++i) {
      ASSERT_EQ(moments[0][i], moments[c][i]) << "case " << c << " site " << i;
      ASSERT_EQ(spins[0][i], spins[c][i]) << "case " << c << " site " << i;
    }
  EXPECT_NE(moments[0][0], 2.0);  // the moments did move
}

TEST(LLG, CheckpointContinuesBitForBit) {
  for (LLGIntegrator integ : all_integrators()) {
    LLGOptions p;
    p.integrator = integ;
    p.temperature = 150.0;
    p.damping = {0.2};
    p.block = 100;
    p.field.schedule = ExternalField::Schedule::rotating;
    p.field.field = Vec3(0.5, 0, 2.0);
    p.field.frequency = 1.0;
    // Uninterrupted: 60 steps.
    Model A = sc_heisenberg(5, 0.01, 2.0, 8);
    LLG a(A.h, A.s, p, 5);
    a.run(A.s, 60);
    // Interrupted after 25 steps: spins and state saved, a fresh integrator continues.
    Model B = sc_heisenberg(5, 0.01, 2.0, 8);
    std::string state;
    std::vector<Vec3> spins;
    {
      LLG b(B.h, B.s, p, 5);
      b.run(B.s, 25);
      state = b.save_state();
      spins = B.s.spin;
    }
    Model C = sc_heisenberg(5, 0.01, 2.0, 8);
    C.s.spin = spins;
    LLG c(C.h, C.s, p, 12345);  // a different seed: the state must override it
    c.load_state(state);
    EXPECT_EQ(c.steps_done(), 25);
    c.run(C.s, 35);
    EXPECT_EQ(c.steps_done(), 60);
    for (std::size_t i = 0; i < A.s.size(); ++i) ASSERT_EQ(A.s.spin[i], C.s.spin[i]) << to_string(integ);
  }
}

TEST(LLG, RejectsForeignCheckpoints) {
  Model M = sc_heisenberg(3, 0.01, 2.0, 1);
  LLGOptions p;
  LLG llg(M.h, M.s, p, 1);
  EXPECT_THROW(llg.load_state("garbage"), InputError);
  Model N = sc_heisenberg(4, 0.01, 2.0, 1);
  LLG other(N.h, N.s, p, 1);
  EXPECT_THROW(llg.load_state(other.save_state()), InputError);
  std::string s = llg.save_state();
  EXPECT_THROW(llg.load_state(s.substr(0, s.size() / 2)), InputError);
  EXPECT_NO_THROW(llg.load_state(s));
}

TEST(LLG, PerSpeciesDamping) {
  // Two isolated species relax at their own rates: α = 0.05 and 0.5, B = 10 T, 3 ps.
  System s = isolated_moments(2, 2.0, Vec3(std::sin(1.0), 0, std::cos(1.0)));
  s.species_name = {"Fe", "Gd"};
  s.species_mass = {55.845, 157.25};
  s.species[1] = 1;
  Hamiltonian h;
  h.bind(s);
  LLGOptions p;
  p.integrator = LLGIntegrator::midpoint;
  p.dt = 1e-3;
  p.damping = {0.05, 0.5};
  p.field.field = Vec3(0, 0, 10.0);
  LLG llg(h, s, p, 1);
  llg.run(s, 3000);
  EXPECT_LT((s.spin[0] - exact_precession(1.0, 10.0, 0.05, 3.0)).norm(), 1e-4);
  EXPECT_LT((s.spin[1] - exact_precession(1.0, 10.0, 0.5, 3.0)).norm(), 1e-4);
}

TEST(LLG, RotatingFieldDrivesResonance) {
  // FMR in the rotating frame: a 10 mT circularly polarised field at the Larmor frequency of
  // a 1 T bias tips an undamped moment away from the axis linearly in time,
  // θ(t) = γ_e b t (exact in the rotating frame at resonance); off resonance it only nutates.
  const double B0 = 1.0, b = 0.01, f0 = units::gamma_e * B0 / (2 * units::kPi);
  for (double detune : {1.0, 1.5}) {
    System s = isolated_moments(1, 2.0);
    Hamiltonian h;
    h.bind(s);
    LLGOptions p;
    p.integrator = LLGIntegrator::depondt;
    p.dt = 0.01;
    p.damping = {0.0};
    p.field.schedule = ExternalField::Schedule::rotating;
    p.field.field = Vec3(b, 0, B0);
    p.field.frequency = detune * f0;
    LLG llg(h, s, p, 1);
    const double t = 500.0;  // γ b t = 0.88 rad
    llg.run(s, std::llround(t / p.dt));
    const double theta = std::acos(s.spin[0].z());
    if (detune == 1.0)
      EXPECT_NEAR(theta, units::gamma_e * b * t, 1e-3);
    else
      EXPECT_LT(theta, 0.05);  // max nutation 2b/(ΔB) = 0.04 rad for a 0.5 T detuning
  }
}
