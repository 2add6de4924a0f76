// Lattice molecular dynamics on bcc Fe (Mishin 2006 EAM): NVE energy conservation of velocity
// Verlet (error ∝ dt²), Langevin BAOAB sampling (kinetic and configurational temperature
// equal the bath temperature), stochastic cell rescaling, checkpoints and thread-count
// independence.
#include <gtest/gtest.h>

#include <omp.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/dynamics/md.hpp"
#include "spinlat/bench/md.hpp"
#include "spinlat/lattice/eam.hpp"
#include "spinlat/lattice/pair.hpp"

using namespace spinlat;

namespace {

const std::string kFe = kMishinFeEamPath;

#define SKIP_WITHOUT_FE()                                                                         \
  if (!std::filesystem::exists(kFe))                                                              \
  GTEST_SKIP() << "Mishin Fe EAM file " << kFe << " not installed (Debian package lammps-examples)"

// The Mishin file's bcc equilibrium lattice constant (test_lattice.cpp).
constexpr double kA0 = 2.8665;

System fe_crystal(int n, double T, std::uint64_t seed, double a = kA0) {
  System s = build_supercell(standard_lattice("bcc", a, 0.0, {"Fe"}, {0.0}), Int3(n, n, n));
  s.species_mass = {55.845};
  set_velocities(s, T, seed);
  return s;
}

Hamiltonian fe_hamiltonian(const System& s) {
  static const EamFile file = read_eam_file(kFe);
  Hamiltonian h;
  h.add(std::make_unique<EamPotential>(file, s));
  h.set_skin(0.5);
  return h;
}

// Mean and standard error from consecutive block means.
struct Stat {
  double mean = 0, err = 0;
};
Stat block_stat(const std::vector<double>& x, int blocks) {
  const std::size_t per = x.size() / blocks;
  std::vector<double> m(blocks, 0.0);
  for (int b = 0; b < blocks; ++b) {
    for (std::size_t k = 0; k < per; ++k) m[b] += x[b * per + k];
    m[b] /= per;
  }
  Stat s;
  for (double v : m) s.mean += v / blocks;
  double var = 0;
  for (double v : m) var += (v - s.mean) * (v - s.mean);
  s.err = std::sqrt(var / (blocks - 1) / blocks);
  return s;
}

}  // namespace

TEST(MdObservables, KineticEnergyTemperatureAndIdealGasPressure) {
  System s = fe_crystal(3, 500.0, 7);
  // set_velocities rescales to exactly T with 3N−3 degrees of freedom.
  EXPECT_NEAR(lattice_temperature(s), 500.0, 1e-9);
  Vec3 p = Vec3::Zero();
  for (std::size_t i = 0; i < s.size(); ++i) p += s.mass(i) * s.velocity[i];
  EXPECT_LT(p.norm(), 1e-10);
  // With no forces the pressure is the ideal-gas 2K/(3V) = (N−1) k_B T / V.
  const double P = pressure(s, Mat3::Zero());
  EXPECT_NEAR(P, (s.size() - 1.0) * units::k_B * 500.0 / s.cell.volume(), 1e-12);
  EXPECT_NEAR(pressure_tensor(s, Mat3::Zero()).trace() / 3.0, P, 1e-15);
}

TEST(MdVerlet, HarmonicDimerMatchesExactSolutionToSecondOrder) {
  // Two atoms bound by a Morse potential at small amplitude: nearly harmonic with
  // ω² = 2 D0 α² / μ. Velocity Verlet's phase error is ω³ dt² t / 24, so the trajectory at
  // t = 1 ps converges to second order; checked against the analytic period.
  System s;
  s.cell.h = 30.0 * Mat3::Identity();
  s.species_name = {"X"};
  s.species_mass = {10.0};
  const double D0 = 0.5, alpha = 1.2, r0 = 2.5, amp = 1e-5;
  s.add_atom(Vec3(10, 10, 10), 0, 0, Vec3::Zero());
  s.add_atom(Vec3(10 + r0 + amp, 10, 10), 0, 0, Vec3::Zero());
  PairFunction f;
  f.style = PairFunction::Style::morse;
  f.D0 = D0;
  f.alpha = alpha;
  f.r0 = r0;
  f.cutoff = 8.0;
  const double mu = 5.0;
  const double omega = std::sqrt(2 * D0 * alpha * alpha / mu * units::ftm2v);  // rad/ps
  const double T = 2 * units::kPi / omega;
  double err[2];
  for (int k = 0; k < 2; ++k) {
    System c = s;
    Hamiltonian h;
    h.add(std::make_unique<PairPotential>(f));
    h.set_skin(0.5);
    MdOptions o;
    o.dt = T / (100.0 * (k + 1));
    LatticeIntegrator md(c, h, o);
    md.run(325 * (k + 1));  // 3¼ periods: exactly r = r0, where a phase error shows fully
    err[k] = std::abs((c.position[1] - c.position[0]).norm() - r0);
  }
  // Verlet's phase error after 3¼ periods at 100 steps/period is (ω dt)² ωt / 24 ≈ 3.4e-3 rad
  // (Morse anharmonicity shifts the mean separation by 1.5 α amp² = 2e-5 amp: negligible), so
  // |r − r0| ≈ amp · 3.4e-3, quartering when dt halves.
  std::printf("Morse dimer: |r - r0| = %.3e, %.3e Å (100, 200 steps/period)\n", err[0], err[1]);
  EXPECT_NEAR(err[0], amp * 3.4e-3, amp * 0.3e-3);
  EXPECT_NEAR(err[0] / err[1], 4.0, 0.3);
}

TEST(MdVerlet, EnergyConservationScalesAsDtSquared) {
  SKIP_WITHOUT_FE();
  // 128 atoms of bcc Fe, velocities for 300 K (the lattice then equilibrates near 150 K),
  // 1 ps of NVE at dt = 2, 1, 0.5 fs: the total-energy error of velocity Verlet is bounded
  // and of order dt² (a shadow Hamiltonian), so its RMS fluctuation quarters as dt halves.
  double rms[3], drift[3];
  const double dts[3] = {2e-3, 1e-3, 0.5e-3};
  for (int k = 0; k < 3; ++k) {
    System s = fe_crystal(4, 300.0, 11);
    Hamiltonian h = fe_hamiltonian(s);
    MdOptions o;
    o.dt = dts[k];
    LatticeIntegrator md(s, h, o);
    const double e0 = md.total_energy();
    const int steps = static_cast<int>(std::lround(1.0 / o.dt));
    double sum2 = 0;
    for (int n = 0; n < steps; ++n) {
      md.step();
      const double de = md.total_energy() - e0;
      sum2 += de * de;
    }
    rms[k] = std::sqrt(sum2 / steps) / s.size();
    drift[k] = std::abs(md.total_energy() - e0) / s.size();
    std::printf("NVE Fe128 dt = %.1f fs: RMS |E − E0| = %.3e eV/atom, |E(1 ps) − E0| = %.3e eV/atom, T = %.1f K\n",
                o.dt * 1e3, rms[k], drift[k], md.temperature());
  }
  EXPECT_LT(rms[1], 2e-5);  // eV/atom at 1 fs, against k_B T ≈ 0.013 eV of kinetic energy
  EXPECT_NEAR(rms[0] / rms[1], 4.0, 0.8);
  EXPECT_NEAR(rms[1] / rms[2], 4.0, 0.8);
  EXPECT_LT(drift[1], 3 * rms[1]);  // no secular drift beyond the bounded fluctuation
}

// Without a barostat the integrator leaves the virial out of its force evaluations (LAMMPS
// computes it only on thermo steps) and evaluates it when asked: the same bits as a force
// evaluation with the virial, after steps and a neighbour-list rebuild; forces and energy too.
TEST(MdVerlet, VirialOnDemandEqualsAFullEvaluation) {
  SKIP_WITHOUT_FE();
  System s = fe_crystal(5, 900.0, 7);
  Hamiltonian h = fe_hamiltonian(s);
  MdOptions o;
  o.dt = 2e-3;
  LatticeIntegrator md(s, h, o);
  md.run(40);
  ASSERT_GT(md.rebuilds(), 1);
  const Mat3 lazy = md.virial();
  std::vector<Vec3> f;
  Mat3 w = Mat3::Zero();
  Derivatives d;
  d.force = &f;
  d.virial = &w;
  const double e = h.compute(s, d);
  EXPECT_EQ(lazy, w);
  EXPECT_EQ(md.pressure(), pressure(s, w));
  EXPECT_EQ(e, md.potential_energy());
  for (std::size_t i = 0; i < s.size(); ++i) EXPECT_EQ(f[i], md.forces()[i]);
  EXPECT_GT(std::abs(w.trace()), 1e-3);  // a real virial (thermal, off equilibrium)
}

TEST(MdLangevin, BaoabSamplesTheBathTemperature) {
  SKIP_WITHOUT_FE();
  // 250 atoms, T = 300 K, γ = 10/ps, dt = 2 fs: 2 ps of equilibration, then 10 ps measured in
  // 20 blocks of 0.5 ps (≫ the 0.1 ps correlation time). The kinetic temperature (3N−3
  // degrees of freedom: the noise carries no net momentum) and the configurational
  // temperature ⟨|F|²⟩ / (k_B ⟨∇²U⟩) (Rugh 1997) must both equal T within 5 standard errors.
  const double T = 300.0;
  System s = fe_crystal(5, 2 * T, 3);
  Hamiltonian h = fe_hamiltonian(s);
  MdOptions o;
  o.dt = 2e-3;
  o.temperature = T;
  o.lattice_damping = 10.0;
  o.seed = 2024;
  LatticeIntegrator md(s, h, o);
  md.run(1000);
  Engine probe(99);
  std::vector<double> temp, f2, lap;
  for (int n = 0; n < 5000; ++n) {
    md.step();
    temp.push_back(md.temperature());
    if (n % 10 == 0) {
      const auto c = configurational_temperature_sample(s, h, md.forces(), probe);
      f2.push_back(c.force2);
      lap.push_back(c.laplacian);
    }
  }
  const Stat t = block_stat(temp, 20);
  // Configurational temperature per block, then its spread.
  std::vector<double> tconf;
  for (int b = 0; b < 20; ++b) {
    double a = 0, l = 0;
    for (int k = 0; k < 25; ++k) { a += f2[b * 25 + k]; l += lap[b * 25 + k]; }
    tconf.push_back(a / l / units::k_B);
  }
  const Stat tc = block_stat(tconf, 20);
  std::printf("Langevin BAOAB Fe250 300 K: <T_kin> = %.2f ± %.2f K, T_conf = %.2f ± %.2f K\n", t.mean, t.err,
              tc.mean, tc.err);
  EXPECT_LT(t.err, 3.0);  // the test can resolve 1%
  EXPECT_NEAR(t.mean, T, 5 * t.err);
  EXPECT_LT(tc.err, 5.0);
  EXPECT_NEAR(tc.mean, T, 5 * tc.err);
  Vec3 p = Vec3::Zero();
  for (std::size_t i = 0; i < s.size(); ++i) p += s.mass(i) * s.velocity[i];
  EXPECT_LT(p.norm(), 1e-9);
}

TEST(MdLangevin, CheckpointContinuesBitForBit) {
  SKIP_WITHOUT_FE();
  System s = fe_crystal(3, 300.0, 5);
  Hamiltonian h = fe_hamiltonian(s);
  MdOptions o;
  o.dt = 2e-3;
  o.temperature = 600.0;
  o.lattice_damping = 5.0;
  o.seed = 77;
  o.barostat_tau = 0.5;
  o.pressure = 1.0;
  o.barostat_every = 5;
  LatticeIntegrator md(s, h, o);
  md.run(120);
  const System saved_system = s;
  const std::string state = md.save_state();
  md.run(200);
  // A fresh System, Hamiltonian and integrator continue from the checkpoint.
  System s2 = saved_system;
  Hamiltonian h2 = fe_hamiltonian(s2);
  LatticeIntegrator md2(s2, h2, o);
  md2.load_state(state);
  EXPECT_EQ(md2.step_count(), 120);
  md2.run(200);
  EXPECT_GT(md.rebuilds(), 2);  // the list history was exercised
  EXPECT_EQ(md2.rebuilds(), md.rebuilds());
  EXPECT_EQ(s2.cell.h, s.cell.h);
  for (std::size_t i = 0; i < s.size(); ++i) {
    ASSERT_EQ(s2.position[i], s.position[i]) << i;
    ASSERT_EQ(s2.velocity[i], s.velocity[i]) << i;
  }
  EXPECT_EQ(md2.potential_energy(), md.potential_energy());
  EXPECT_THROW(md2.load_state("garbage"), InputError);
}

TEST(MdLangevin, TrajectoryIndependentOfThreadCount) {
  SKIP_WITHOUT_FE();
  // 1024 atoms in 4 random-stream blocks of 256: threaded force loops and noise blocks.
  const int saved = omp_get_max_threads();
  std::vector<Vec3> pos[2], vel[2];
  for (int k = 0; k < 2; ++k) {
    omp_set_num_threads(k + 1);
    System s = fe_crystal(8, 300.0, 9);
    Hamiltonian h = fe_hamiltonian(s);
    MdOptions o;
    o.dt = 2e-3;
    o.temperature = 300.0;
    o.lattice_damping = 2.0;
    o.seed = 5;
    o.block = 256;
    LatticeIntegrator md(s, h, o);
    md.run(15);
    pos[k] = s.position;
    vel[k] = s.velocity;
  }
  omp_set_num_threads(saved);
  for (std::size_t i = 0; i < pos[0].size(); ++i) {
    ASSERT_EQ(pos[0][i], pos[1][i]) << i;
    ASSERT_EQ(vel[0][i], vel[1][i]) << i;
  }
}

TEST(MdBarostat, StochasticCellRescalingReachesTargetPressure) {
  SKIP_WITHOUT_FE();
  // Bernetti & Bussi (2020) isotropic cell rescaling with a Langevin bath: from the 0 K
  // lattice constant at 300 K to a 5 GPa target. After 2 ps, over 6 ps: the mean pressure
  // equals the target within 5 standard errors; the volume shrank by (P0 − P_th)/B with
  // B ≈ 178 GPa (this potential) and a thermal pressure P_th ≈ α_V B T ≈ 1.5–3 GPa; the
  // volume fluctuations match ⟨δV²⟩ = k_B T V / B within their large statistical error.
  System s = fe_crystal(4, 300.0, 21);
  Hamiltonian h = fe_hamiltonian(s);
  const double V0 = s.cell.volume();
  MdOptions o;
  o.dt = 2e-3;
  o.temperature = 300.0;
  o.lattice_damping = 5.0;
  o.seed = 8;
  o.pressure = 5.0;
  o.barostat_tau = 0.2;
  o.barostat_every = 5;
  LatticeIntegrator md(s, h, o);
  md.run(1000);
  std::vector<double> P, V;
  for (int n = 0; n < 3000; ++n) {
    md.step();
    P.push_back(md.pressure_GPa());
    V.push_back(s.cell.volume());
  }
  const Stat p = block_stat(P, 12), v = block_stat(V, 12);
  double var = 0;
  for (double x : V) var += (x - v.mean) * (x - v.mean) / V.size();
  const double B = 178.0 / units::eVA3_to_GPa;  // eV/Å³
  const double var_expected = units::k_B * 300.0 * v.mean / B;
  std::printf("SCR Fe128 300 K, target 5 GPa: <P> = %.3f ± %.3f GPa, <V>/V0 = %.5f ± %.5f, "
              "var(V) / (kT V / B) = %.2f\n", p.mean, p.err, v.mean / V0, v.err / V0, var / var_expected);
  EXPECT_LT(p.err, 0.25);
  EXPECT_NEAR(p.mean, 5.0, 5 * p.err);
  EXPECT_GT(v.mean / V0, 1.0 - 3.5 / 178.0);
  EXPECT_LT(v.mean / V0, 1.0 - 2.0 / 178.0);
  EXPECT_GT(var / var_expected, 0.5);
  EXPECT_LT(var / var_expected, 2.0);
  EXPECT_NEAR(s.cell.h(0, 0), s.cell.h(1, 1), 1e-12);  // isotropic
}

TEST(MdBenchmark, RunsAndReportsThroughput) {
  SKIP_WITHOUT_FE();
  const double rate = benchmark_md(250, 1, 50);
  std::printf("benchmark_md(250 atoms, 1 thread): %.3g atom-steps/s\n", rate);
  EXPECT_GT(rate, 0.0);
  EXPECT_THROW(benchmark_md(16, 1, 1, "/nonexistent.eam.alloy"), InputError);
}
