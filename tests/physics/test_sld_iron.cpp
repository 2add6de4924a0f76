// Physics validation of coupled spin-lattice dynamics on the LAMMPS SPIN iron model (Mishin
// EAM + Bethe-Slater exchange a = 0.02726 eV, b = 0.2171, d = 1.841 Å, cutoff 3.4 Å,
// a0 = 2.8665 Å, |m| = 2.2 μB; Tranchida et al., J. Comput. Phys. 372, 406 (2018)):
//   - NVE: total energy conserved, its error ∝ Δt² (symmetric Suzuki-Trotter splitting,
//     Omelyan, Mryglod & Folk, PRL 86, 898 (2001)), no secular drift over 10 ps (at most
//     LAMMPS's on the same run);
//   - NVE energy exchange: hot (random) spins heat a cold lattice until the spin temperature
//     (Nurdin & Schotte, PRE 61, 3579 (2000)) approaches the lattice temperature.
// Thermostatted runs: tests/physics/test_sld_thermal.cpp.
#include <gtest/gtest.h>

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <vector>

#include "spinlat/core/units.hpp"
#include "spinlat/dynamics/sld.hpp"
#include "spinlat/bench/sld.hpp"
#include "spinlat/observables/temperature.hpp"

#include "physics/sld_test_helpers.hpp"

using namespace spinlat;
using namespace spinlat::sld_test;

namespace {

/// RMS of E(t) − E(0) per atom over `time` ps, sampled every fs, and |ê| − 1 at the end.
struct NveRun {
  double rms = 0.0, worst_norm = 0.0;
};
NveRun nve_energy_error(double dt, double time, std::uint64_t seed) {
  System s = sld_iron_system(3, 100.0, seed);  // 54 atoms, random spins, lattice at 100 K
  Hamiltonian h = sld_iron_hamiltonian(s);
  SldOptions o;
  o.dt = dt;
  SpinLatticeIntegrator sld(s, h, o, seed);
  const double e0 = sld.total_energy();
  const long every = std::lround(1e-3 / dt), total = std::lround(time / dt);
  double sum2 = 0.0;
  long m = 0;
  for (long k = 0; k < total; k += every) {
    sld.run(every);
    const double de = (sld.total_energy() - e0) / s.size();
    sum2 += de * de;
    ++m;
  }
  NveRun r;
  r.rms = std::sqrt(sum2 / m);
  for (const auto& e : s.spin) r.worst_norm = std::max(r.worst_norm, std::abs(e.norm() - 1.0));
  return r;
}

}  // namespace

TEST(SldIronPhysics, NveEnergyErrorScalesAsDtSquared) {
  // Halving Δt divides the energy error by 4 (second-order symplectic splitting). Measured:
  // RMS |E(t) − E(0)| = 1.1e-7 eV/atom at 0.2 fs and 2.7e-8 at 0.1 fs, ratio 3.9-4.2 for
  // several seeds.
  SKIP_WITHOUT_FE();
  OneThread one;
  const NveRun coarse = nve_energy_error(2e-4, 1.0, 1);
  const NveRun fine = nve_energy_error(1e-4, 1.0, 1);
  const double ratio = coarse.rms / fine.rms;
  std::printf("NVE energy error: rms %.3e (dt 0.2 fs), %.3e eV/atom (dt 0.1 fs), ratio %.2f\n", coarse.rms,
              fine.rms, ratio);
  EXPECT_NEAR(ratio, 4.0, 0.3 * 4.0);
  EXPECT_LT(fine.rms, 1e-7);
  EXPECT_LT(fine.worst_norm, 1e-14);
  EXPECT_LT(coarse.worst_norm, 1e-14);
}

TEST(SldIronPhysics, NveNoSecularDriftOverTenPicoseconds) {
  // The LAMMPS SPIN iron example's NVE run: 54 atoms, random spins, lattice at 100 K,
  // dt = 0.1 fs, 10 ps, E sampled every 10 fs. Least-squares slope of E(t) − E(0) and its
  // largest excursion, two seeds. LAMMPS (fix nve/spin): 6.5e-10 eV/atom/ps and 5.6e-8 eV/atom.
  // Measured with B S A S B (spins at the kick positions): slopes −2.9e-10 (seed 31) and
  // 6.4e-11 (seed 5), max |dE| 4.9e-8 and 5.1e-8. The earlier order B A S A B (spins at the
  // midpoint positions) drifted 9.5e-9 and 9.8e-9 eV/atom/ps with max 1.6e-7 and 1.4e-7
  // (docs/spin-lattice.md, "Why this order"), so both bounds catch it.
  SKIP_WITHOUT_FE();
  OneThread one;
  for (std::uint64_t seed : {31u, 5u}) {
    System s = sld_iron_system(3, 100.0, seed);
    Hamiltonian h = sld_iron_hamiltonian(s);
    SldOptions o;
    o.dt = 1e-4;
    SpinLatticeIntegrator sld(s, h, o, 1);
    const double e0 = sld.total_energy();
    std::vector<double> t, de;
    double worst = 0.0;
    for (int k = 0; k < 1000; ++k) {
      sld.run(100);
      t.push_back(sld.time());
      de.push_back((sld.total_energy() - e0) / s.size());
      worst = std::max(worst, std::abs(de.back()));
    }
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    const double m = double(t.size());
    for (std::size_t k = 0; k < t.size(); ++k) {
      sx += t[k];
      sy += de[k];
      sxx += t[k] * t[k];
      sxy += t[k] * de[k];
    }
    const double slope = (m * sxy - sx * sy) / (m * sxx - sx * sx);
    std::printf("NVE 10 ps, seed %u: max |dE| %.3e eV/atom, least-squares slope %.3e eV/atom/ps\n",
                unsigned(seed), worst, slope);
    EXPECT_LT(std::abs(slope), 2e-9) << "seed " << seed;
    EXPECT_LT(worst, 1e-7) << "seed " << seed;
  }
}

TEST(SldIronPhysics, HotSpinsHeatColdLatticeUntilTemperaturesMeet) {
  // NVE: random spins (infinitely hot) on a lattice at 10 K, dt = 0.2 fs. The exchange forces
  // carry energy into the lattice and the spin temperature falls towards the lattice
  // temperature (relaxation time ~5 ps here); compared over 20-36 ps. The chaotic trajectory's
  // last approach to equilibrium varies with the last bits of the forces, so an 8-ps window is
  // not enough: with the spin sub-steps at the kick positions (issue 14) Ts − Tl over the 8-ps
  // windows from 20 ps was 20.5, 3.5, 0.9, 11% of Tl (over 20-36 ps: 12%); with the earlier
  // midpoint order -2, -7, 5, 4, 2% from 28 ps and 38% over 12-20 ps. The total energy stays
  // constant, and so does the total spin Σ ê_i: the isotropic exchange is invariant under
  // global spin rotations, so the moments thermalise at fixed magnetisation (here |M|/N ≈ 0.1,
  // far below the ordered value). That constrained state is not canonical, and for 54 atoms
  // the Nurdin-Schotte estimator stays ~10% above the lattice temperature (measured over
  // 20-60 ps: Ts − Tl = 15 ± 10 K at Tl ≈ 158 K; projecting the three constrained directions out
  // of the estimator's numerator gives 164 K). So the test asks that the temperatures come
  // within 20% of each other from a 100-fold larger initial gap.
  SKIP_WITHOUT_FE();
  OneThread one;
  System s = sld_iron_system(3, 10.0, 41);
  Hamiltonian h = sld_iron_hamiltonian(s);
  SldOptions o;
  o.dt = 2e-4;
  SpinLatticeIntegrator sld(s, h, o, 1);
  const double e0 = sld.total_energy();
  Vec3 m0 = Vec3::Zero();
  for (const auto& e : s.spin) m0 += e;
  sld.run(1000);  // 0.2 ps
  const double ts_early = spin_temperature(s, h), tl_early = kinetic_temperature(s);
  EXPECT_GT(ts_early - tl_early, 1000.0);
  sld.run(99000);  // to 20 ps
  std::vector<double> tl, num, den;
  double worst = 0.0, worst_m = 0.0;
  for (int k = 0; k < 400; ++k) {  // 20-36 ps, every 0.04 ps
    sld.run(200);
    tl.push_back(kinetic_temperature(s));
    const SpinTemperatureSums sums = spin_temperature_sums(s, h);
    num.push_back(sums.numerator);
    den.push_back(sums.denominator);
    worst = std::max(worst, std::abs(sld.total_energy() - e0) / s.size());
    Vec3 m = Vec3::Zero();
    for (const auto& e : s.spin) m += e;
    worst_m = std::max(worst_m, (m - m0).norm() / s.size());
  }
  const Stat TL = block_stat(tl), TS = block_ratio(num, den);
  std::printf("energy exchange: t=0.2 ps Ts %.0f K Tl %.0f K; 20-36 ps Tl %.1f +- %.1f K, Ts %.1f +- %.1f K; "
              "max |dE| %.2e eV/atom, max |dM|/N %.1e\n",
              ts_early, tl_early, TL.mean, TL.err, TS.mean, TS.err, worst, worst_m);
  EXPECT_GT(TL.mean, 100.0);  // the lattice took up energy
  EXPECT_LT(std::abs(TS.mean - TL.mean), 0.2 * TL.mean);
  EXPECT_LT(worst, 1e-6);
  EXPECT_LT(worst_m, 1e-4);
}
