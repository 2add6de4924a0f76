// Thermostatted spin-lattice dynamics (dynamics/sld.hpp) on the LAMMPS SPIN iron model:
//   - spin bath only, frozen lattice: the stochastic colour sweep samples the Boltzmann
//     distribution of the moments (mean exchange energy equal to Metropolis Monte Carlo's;
//     spin temperature equal to the bath's);
//   - lattice bath only: the lattice temperature equals the bath's while the (precessing,
//     undamped) moments take up energy through the exchange forces;
//   - both baths: lattice and spin temperatures equal the bath's, and the magnetic energy
//     equals that of an independent sampler (hybrid Metropolis / Langevin MD, sld_hybrid.hpp).
// Error bars: means of 20 consecutive blocks; tolerances 5σ (fixed seeds).
#include <gtest/gtest.h>

#include <omp.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <vector>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/dynamics/sld.hpp"
#include "spinlat/bench/sld.hpp"
#include "spinlat/dynamics/hybrid.hpp"
#include "spinlat/mc/metropolis.hpp"
#include "spinlat/observables/temperature.hpp"
#include "spinlat/terms/radial_exchange.hpp"

#include "physics/sld_test_helpers.hpp"

using namespace spinlat;
using namespace spinlat::sld_test;

namespace {

/// Exchange energy per atom of the bethe-slater term(s).
double exchange_energy(const System& s, const Hamiltonian& h) {
  double e = 0.0;
  Derivatives none;
  for (const auto& t : h.terms())
    if (t->type() == "bethe-slater") e += t->compute(s, h.neighbors(), none);
  return e / s.size();
}

}  // namespace

TEST(SldThermal, SpinBathAloneSamplesBoltzmannOnFrozenLattice) {
  // 54 moments on a perfect bcc lattice that cannot move (mass 1e20 amu), Bethe-Slater
  // exchange, 600 K, α = 0.1, dt = 0.2 fs, 40 ps: the mean exchange energy equals Metropolis
  // Monte Carlo's on the same lattice and the spin temperature equals 600 K (5σ). (The
  // thermal field is weak first order in dt, like stochastic Heun: at α = 1 and dt = 0.5 fs
  // the spin temperature comes out ~2% low; at α = 0.1, 0.2 fs no bias is visible at 1%.)
  OneThread one;
  const double T = 600.0;
  System base = build_supercell(standard_lattice("bcc", 2.8665, 0.0, {"Fe"}, {2.2}), Int3(3, 3, 3));
  base.species_mass = {1e20};
  auto hamiltonian = [] {
    Hamiltonian h;
    h.add(std::make_unique<RadialExchange>("bethe-slater", RadialFunction::bethe_slater(0.02726, 0.2171, 1.841, 3.4)));
    h.set_skin(0.5);
    return h;
  };
  Stat sld_e, sld_ts;
  {
    System s = base;
    set_spins_random(s, 3);
    Hamiltonian h = hamiltonian();
    SldOptions o;
    o.dt = 2e-4;
    o.temperature = T;
    o.damping = {0.1};
    SpinLatticeIntegrator sld(s, h, o, 4);
    sld.run(5000);
    std::vector<double> e, num, den;
    for (int k = 0; k < 4000; ++k) {  // 40 ps, every 0.01 ps
      sld.run(50);
      e.push_back(exchange_energy(s, h));
      const SpinTemperatureSums sums = spin_temperature_sums(s, h);
      num.push_back(sums.numerator);
      den.push_back(sums.denominator);
    }
    sld_e = block_stat(e);
    sld_ts = block_ratio(num, den);
  }
  Stat mc_e;
  {
    System s = base;
    set_spins_random(s, 5);
    Hamiltonian h = hamiltonian();
    h.bind(s);
    MetropolisOptions mo;
    mo.seed = 6;
    MetropolisSampler mc(h, s, mo);
    mc.set_temperature(T);
    mc.equilibrate(s, 1000);
    std::vector<double> e;
    for (int k = 0; k < 20000; ++k) {
      mc.sweep(s);
      e.push_back(exchange_energy(s, h));
    }
    mc_e = block_stat(e);
  }
  std::printf("spin bath, frozen lattice, %.0f K: sld E %.5f +- %.5f, Ts %.1f +- %.1f K; Metropolis E %.5f +- %.5f eV/atom\n",
              T, sld_e.mean, sld_e.err, sld_ts.mean, sld_ts.err, mc_e.mean, mc_e.err);
  EXPECT_LT(std::abs(sld_e.mean - mc_e.mean), 5.0 * std::hypot(sld_e.err, mc_e.err));
  EXPECT_LT(std::abs(sld_ts.mean - T), 5.0 * sld_ts.err);
  EXPECT_LT(sld_ts.err, 0.02 * T);
  EXPECT_LT(std::hypot(sld_e.err, mc_e.err), 0.02 * std::abs(mc_e.mean));
}

TEST(SldThermal, LatticeBathAloneHoldsTheLatticeAtTheBathTemperature) {
  // Lattice bath only (friction 20/ps, 300 K), undamped moments starting nearly ferromagnetic:
  // the kinetic temperature equals 300 K, and the moments only precess: the total spin, which
  // the isotropic exchange conserves, is untouched by the lattice noise. (That conservation
  // also keeps such moments cold: near its maximum there are no states to heat into.)
  SKIP_WITHOUT_FE();
  OneThread one;
  const double T = 300.0;
  System s = sld_iron_system(3, T, 61);
  for (auto& e : s.spin) e = (Vec3::UnitZ() + 0.2 * e).normalized();
  Hamiltonian h = sld_iron_hamiltonian(s);
  SldOptions o;
  o.dt = 2e-4;
  o.temperature = T;
  o.lattice_damping = 20.0;
  SpinLatticeIntegrator sld(s, h, o, 7);
  Vec3 m0 = Vec3::Zero();
  for (const auto& e : s.spin) m0 += e;
  sld.run(5000);  // 1 ps
  std::vector<double> tl;
  for (int k = 0; k < 600; ++k) {  // 12 ps
    sld.run(100);
    tl.push_back(kinetic_temperature(s));
  }
  const Stat TL = block_stat(tl);
  Vec3 m = Vec3::Zero();
  for (const auto& e : s.spin) m += e;
  std::printf("lattice bath only, 300 K: Tl %.1f +- %.1f K; |dM|/N %.1e\n", TL.mean, TL.err, (m - m0).norm() / s.size());
  EXPECT_LT(std::abs(TL.mean - T), 5.0 * TL.err);
  EXPECT_LT(TL.err, 0.02 * T);
  EXPECT_LT((m - m0).norm() / s.size(), 1e-4);
}

TEST(SldThermal, BothBathsSampleTheBathTemperatureLikeHybridMonteCarlo) {
  // NVT at 300 K with both baths (Gilbert α = 0.1, lattice friction 20/ps), dt = 0.2 fs:
  // lattice and spin temperatures equal 300 K within 5σ, and the mean magnetic energy equals
  // that of hybrid Metropolis / Langevin MD at 300 K (the same canonical distribution,
  // sampled by an independent method).
  SKIP_WITHOUT_FE();
  OneThread one;
  const double T = 300.0;
  Stat sld_tl, sld_ts, sld_em;
  {
    System s = sld_iron_system(3, T, 51);
    Hamiltonian h = sld_iron_hamiltonian(s);
    SldOptions o;
    o.dt = 2e-4;
    o.temperature = T;
    o.damping = {0.1};
    o.lattice_damping = 20.0;
    SpinLatticeIntegrator sld(s, h, o, 2);
    sld.run(10000);  // 2 ps
    std::vector<double> tl, num, den, em;
    for (int k = 0; k < 400; ++k) {  // 16 ps, every 0.04 ps
      sld.run(200);
      tl.push_back(kinetic_temperature(s));
      const SpinTemperatureSums sums = spin_temperature_sums(s, h);
      num.push_back(sums.numerator);
      den.push_back(sums.denominator);
      em.push_back(sld.energies().magnetic / s.size());
    }
    sld_tl = block_stat(tl);
    sld_ts = block_ratio(num, den);
    sld_em = block_stat(em);
  }
  Stat hy_tl, hy_ts, hy_em;
  {
    System s = sld_iron_system(3, T, 52);
    Hamiltonian h = sld_iron_hamiltonian(s);
    HybridOptions hs;
    hs.temperature = T;
    hs.md_steps_per_sweep = 10;
    hs.dt = 1e-3;
    hs.lattice_damping = 10.0;
    HybridMcMd hy(s, h, hs, 3);
    hy.run(300, true);
    std::vector<double> tl, num, den, em;
    for (int k = 0; k < 4000; ++k) {
      hy.sweep();
      tl.push_back(kinetic_temperature(s));
      const SpinTemperatureSums sums = spin_temperature_sums(s, h);
      num.push_back(sums.numerator);
      den.push_back(sums.denominator);
      em.push_back(exchange_energy(s, h));
    }
    hy_tl = block_stat(tl);
    hy_ts = block_ratio(num, den);
    hy_em = block_stat(em);
  }
  std::printf("NVT 300 K, sld: Tl %.1f +- %.1f, Ts %.1f +- %.1f K, Emag %.5f +- %.5f eV/atom\n", sld_tl.mean,
              sld_tl.err, sld_ts.mean, sld_ts.err, sld_em.mean, sld_em.err);
  std::printf("          hybrid: Tl %.1f +- %.1f, Ts %.1f +- %.1f K, Emag %.5f +- %.5f eV/atom\n", hy_tl.mean,
              hy_tl.err, hy_ts.mean, hy_ts.err, hy_em.mean, hy_em.err);
  EXPECT_LT(std::abs(sld_tl.mean - T), 5.0 * sld_tl.err);
  EXPECT_LT(std::abs(sld_ts.mean - T), 5.0 * sld_ts.err);
  EXPECT_LT(std::abs(hy_tl.mean - T), 5.0 * hy_tl.err);
  EXPECT_LT(std::abs(hy_ts.mean - T), 5.0 * hy_ts.err);
  EXPECT_LT(std::abs(sld_em.mean - hy_em.mean), 5.0 * std::hypot(sld_em.err, hy_em.err));
  // The error bars are small enough to matter: a bath off by 10% would fail.
  EXPECT_LT(sld_ts.err, 0.02 * T);
  EXPECT_LT(sld_tl.err, 0.02 * T);
}
