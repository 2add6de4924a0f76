// Spin-lattice dynamics (dynamics/sld.hpp) and hybrid MC/MD (dynamics/hybrid.hpp): exact
// single-spin solutions, exact spin-energy conservation of the colour sweep at fixed
// positions, time reversibility, short NVE conservation, thread-count independence and
// bit-exact checkpoints. The long physics validations are in tests/physics/test_sld_iron.cpp.
#include <gtest/gtest.h>

#include <omp.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <utility>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/dynamics/sld.hpp"
#include "spinlat/bench/sld.hpp"
#include "spinlat/dynamics/hybrid.hpp"
#include "spinlat/lattice/eam.hpp"
#include "spinlat/terms/radial_exchange.hpp"
#include "spinlat/terms/selection.hpp"
#include "spinlat/terms/spin_kernel.hpp"
#include "spinlat/terms/zeeman.hpp"

using namespace spinlat;

namespace {

#define SKIP_WITHOUT_FE()                                                                          \
  if (!std::filesystem::exists(kMishinFeEamPath))                                                  \
  GTEST_SKIP() << "Mishin Fe EAM file " << kMishinFeEamPath << " not installed (Debian package lammps-examples)"

RadialFunction iron_exchange() { return RadialFunction::bethe_slater(0.02726, 0.2171, 1.841, 3.4); }

/// One magnetic atom alone in a big non-periodic box.
System single_atom(double moment, const Vec3& spin) {
  System s;
  s.cell.h = 20.0 * Mat3::Identity();
  s.cell.periodic = {false, false, false};
  s.species_name = {"Fe"};
  s.species_mass = {55.845};
  s.add_atom(Vec3(10, 10, 10), 0, moment, spin);
  return s;
}

/// Angle of ê about z and its polar angle.
double azimuth(const Vec3& e) { return std::atan2(e[1], e[0]); }
double polar(const Vec3& e) { return std::acos(std::max(-1.0, std::min(1.0, e[2]))); }

double max_abs_diff(const std::vector<Vec3>& a, const std::vector<Vec3>& b) {
  double d = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) d = std::max(d, (a[i] - b[i]).cwiseAbs().maxCoeff());
  return d;
}

bool bit_equal(const std::vector<Vec3>& a, const std::vector<Vec3>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    for (int k = 0; k < 3; ++k)
      if (a[i][k] != b[i][k]) return false;
  return true;
}

/// A term that forwards to a RadialExchange without being one: drives the generic path.
class Opaque : public Term {
 public:
  explicit Opaque(RadialFunction f) : t_("bethe-slater", std::move(f)) {}
  std::string type() const override { return "opaque"; }
  double cutoff() const override { return t_.cutoff(); }
  bool depends_on_positions() const override { return true; }
  void bind(const System& s, const NeighborList& l) override { t_.bind(s, l); }
  double compute(const System& s, const NeighborList& l, Derivatives& d) const override { return t_.compute(s, l, d); }
  void add_site_energies(const System& s, const NeighborList& l, std::vector<double>& e) const override {
    t_.add_site_energies(s, l, e);
  }
  double local_energy_change(const System& s, const NeighborList& l, int i, const Vec3& e, double m) const override {
    return t_.local_energy_change(s, l, i, e, m);
  }

 private:
  RadialExchange t_;
};

}  // namespace

// ---- single moment: exact precession and Gilbert relaxation ----------------------------------

// Both spin updates: the colour sweep, and the whole-lattice update, whose two stages see the
// same constant field here, so it too is exact at any dt.
const SldSpinUpdate kUpdates[] = {SldSpinUpdate::suzuki_trotter, SldSpinUpdate::explicit_midpoint};

TEST(SldSingleSpin, PrecessionMatchesGammaB) {
  // ω = γ_e B/(1+α²) (docs/spin-dynamics.md). The sweep rotates exactly, so any dt gives the exact
  // angle: a 1 T field along z, θ0 = 60°, 1 ps in 7 steps.
  for (SldSpinUpdate u : kUpdates) {
    SCOPED_TRACE(static_cast<int>(u));
    const double theta0 = units::kPi / 3.0;
    System s = single_atom(2.2, Vec3(std::sin(theta0), 0.0, std::cos(theta0)));
    Hamiltonian h;
    h.add(std::make_unique<Zeeman>(Vec3(0, 0, 1.0)));
    SldOptions o;
    o.dt = 1.0 / 7.0;
    o.spin_update = u;
    SpinLatticeIntegrator sld(s, h, o, 1);
    EXPECT_TRUE(sld.fast_field());
    EXPECT_EQ(sld.colors(), 1);
    sld.run(7);
    const double phi = units::gamma_e * 1.0 * 1.0;  // rad after 1 ps
    EXPECT_NEAR(azimuth(s.spin[0]), phi, 1e-12);    // counter-clockwise about +B
    EXPECT_NEAR(polar(s.spin[0]), theta0, 1e-12);
    EXPECT_NEAR(s.spin[0].norm(), 1.0, 1e-15);
  }
}

TEST(SldSingleSpin, GilbertRelaxationFollowsTanHalfAngleLaw) {
  // tan(θ/2) = tan(θ0/2) exp(−α γ_e B t/(1+α²)), precession at γ_e B/(1+α²): external field of
  // 50 T (B_ext path), α = 0.3, θ0 = 170°, 0.2 ps in 10 steps.
  for (SldSpinUpdate u : kUpdates) {
    SCOPED_TRACE(static_cast<int>(u));
    const double theta0 = 170.0 * units::kPi / 180.0, alpha = 0.3, B = 50.0, t = 0.2;
    System s = single_atom(2.2, Vec3(std::sin(theta0), 0.0, std::cos(theta0)));
    Hamiltonian h;
    SldOptions o;
    o.dt = t / 10;
    o.damping = {alpha};
    o.field.field = Vec3(0, 0, B);
    o.spin_update = u;
    SpinLatticeIntegrator sld(s, h, o, 1);
    sld.run(10);
    const double g = units::gamma_e / (1.0 + alpha * alpha);
    const double expect_theta = 2.0 * std::atan(std::tan(theta0 / 2) * std::exp(-alpha * g * B * t));
    EXPECT_NEAR(polar(s.spin[0]), expect_theta, 1e-12);
    const double expect_phi = std::remainder(g * B * t, 2.0 * units::kPi);
    EXPECT_NEAR(std::remainder(azimuth(s.spin[0]) - expect_phi, 2.0 * units::kPi), 0.0, 1e-12);
  }
}

namespace {

/// ⟨ê·B̂⟩ of one moment (2.2 μB) in 10 T at 10 K with α = 1, dt = 0.01 ps, over 20 blocks of 200
/// ps after 10 ps, and its standard error; `o` sets the spin update.
std::pair<double, double> langevin_average(SldOptions o) {
  const double B = 10.0, T = 10.0, m = 2.2;
  System s = single_atom(m, Vec3::UnitX());
  Hamiltonian h;
  h.add(std::make_unique<Zeeman>(Vec3(0, 0, B)));
  o.dt = 0.01;
  o.temperature = T;
  o.damping = {1.0};
  SpinLatticeIntegrator sld(s, h, o, 12);
  sld.run(1000);
  const int blocks = 20, per = 20000;
  std::vector<double> mean(blocks, 0.0);
  for (int b = 0; b < blocks; ++b)
    for (int k = 0; k < per; ++k) {
      sld.step();
      mean[b] += s.spin[0][2] / per;
    }
  double avg = 0.0, var = 0.0;
  for (double v : mean) avg += v / blocks;
  for (double v : mean) var += (v - avg) * (v - avg) / (blocks - 1) / blocks;
  return {avg, std::sqrt(var)};
}

/// coth(x) − 1/x for x = μ μB B/(k_B T) of langevin_average (Langevin, Ann. Chim. Phys. 5, 70 (1905)).
double langevin_exact() {
  const double x = 2.2 * units::mu_B * 10.0 / (units::k_B * 10.0);
  return 1.0 / std::tanh(x) - 1.0 / x;
}

}  // namespace

TEST(SldSingleSpin, ThermalFieldSamplesLangevinFunction) {
  // One moment (2.2 μB) in 10 T at 10 K with α = 1: ⟨ê·B̂⟩ = L(x) (x = 1.478). 4000 ps in
  // steps of 0.01 ps (relaxation time ~1 ps); 5σ from 20 blocks.
  const auto [avg, se] = langevin_average(SldOptions{});
  EXPECT_NEAR(avg, langevin_exact(), 5.0 * se);
  EXPECT_LT(se, 0.01);
}

// ---- exchange-coupled crystals ---------------------------------------------------------------

TEST(SldSweep, ConservesSpinEnergyExactlyAtFixedPositions) {
  // With atoms that cannot move (huge mass), every colour move is the exact flow of a
  // sub-Hamiltonian linear in ê_i: the spin energy is conserved to rounding at any dt, here a
  // coarse 2 fs (precession angle ~0.2 rad per step for these random spins).
  System s = build_supercell(standard_lattice("bcc", 2.8665, 0.0, {"Fe"}, {2.2}), Int3(3, 3, 3));
  s.species_mass = {1e20};
  set_spins_random(s, 5);
  Hamiltonian h;
  h.add(std::make_unique<RadialExchange>("bethe-slater", iron_exchange()));
  SldOptions o;
  o.dt = 2e-3;
  SpinLatticeIntegrator sld(s, h, o, 1);
  // bcc with first and second neighbours (8 + 6) needs more than two colours.
  EXPECT_GE(sld.colors(), 3);
  const double e0 = sld.potential_energy();
  const std::vector<Vec3> start = s.spin;
  sld.run(200);
  EXPECT_GT(max_abs_diff(start, s.spin), 0.5);  // the spins did move
  EXPECT_NEAR(sld.potential_energy(), e0, 1e-12);  // measured 8e-16 eV (|E| = 0.24 eV)
  for (const auto& e : s.spin) EXPECT_NEAR(e.norm(), 1.0, 1e-14);
}

TEST(SldSweep, ColoringSeparatesCoupledSites) {
  System s = build_supercell(standard_lattice("bcc", 2.8665, 0.0, {"Fe"}, {2.2}), Int3(4, 4, 4));
  s.species_mass = {55.845};
  Hamiltonian h;
  h.add(std::make_unique<RadialExchange>("bethe-slater", iron_exchange()));
  SpinLatticeIntegrator sld(s, h, SldOptions{}, 1);
  const Coloring& c = sld.coloring();
  const NeighborList& list = h.neighbors();
  // Every pair within cutoff + skin has two colours.
  for (int i = 0; i < int(s.size()); ++i)
    for (int k = list.begin(i); k < list.end(i); ++k) {
      if (list.distance[k] < 3.4 + h.skin() && list.index[k] != i) {
        ASSERT_NE(c.color[i], c.color[list.index[k]]) << i << " " << list.index[k];
      }
    }
  std::size_t total = 0;
  for (const auto& v : c.sites) total += v.size();
  EXPECT_EQ(total, s.size());
}

TEST(SldSweep, SpeciesSelectionOfRadialExchangeIsHonoured) {
  // B2 "FeCo" (corner Fe, centre Co) with the exchange acting on Fe-Fe pairs only (second
  // neighbours) plus a Co-Co exchange of another form: the integrator's field and forces
  // equal the terms' own magnetic forces and forces.
  System s = build_supercell(standard_lattice("bcc", 2.8665, 0.0, {"Fe", "Co"}, {2.2, 1.7}), Int3(3, 3, 3));
  s.species_mass = {55.845, 58.933};
  set_spins_random(s, 8);
  set_velocities(s, 100.0, 8);
  Hamiltonian h;
  h.add(std::make_unique<RadialExchange>("bethe-slater", iron_exchange(), SpeciesFilter({"Fe"}, s)));
  h.add(std::make_unique<RadialExchange>("ma-dudarev", RadialFunction::ma_dudarev(0.05, 3.2), SpeciesFilter({"Co"}, s)));
  SpinLatticeIntegrator sld(s, h, SldOptions{}, 1);
  const std::vector<Vec3> field = sld.exchange_field();
  std::vector<Vec3> fm, f;
  Derivatives d;
  d.magnetic_force = &fm;
  d.force = &f;
  const double e = h.compute(s, d);
  for (std::size_t i = 0; i < s.size(); ++i) {
    const Vec3 ht = field[i] - s.spin[i].dot(field[i]) * s.spin[i];
    EXPECT_LT((ht - s.moment[i] * fm[i]).norm(), 1e-12) << i;
    EXPECT_LT((f[i] - sld.forces()[i]).norm(), 1e-12) << i;
  }
  EXPECT_NEAR(e, sld.potential_energy(), 1e-12);
  // Fe-Fe and Co-Co second neighbours only: the sublattices decouple, so a Co site may share
  // the colour of its Fe first neighbour (atoms 0 and 1 of the first cell).
  EXPECT_EQ(s.species[0], 0);
  EXPECT_EQ(s.species[1], 1);
  EXPECT_EQ(sld.coloring().color[0], sld.coloring().color[1]);
}

TEST(SldSweep, TinyCellCountsSelfImageEnergy) {
  // One conventional bcc cell (a = 2.8665 Å < cutoff 3.4 Å): each moment couples to its own
  // periodic images, a constant the pair table leaves out; the energy still equals the
  // Hamiltonian's and is conserved.
  System s = build_supercell(standard_lattice("bcc", 2.8665, 0.0, {"Fe"}, {2.2}), Int3(1, 1, 1));
  s.species_mass = {55.845};
  set_spins_random(s, 2);
  set_velocities(s, 300.0, 2);
  Hamiltonian h;
  h.add(std::make_unique<RadialExchange>("bethe-slater", iron_exchange()));
  SldOptions o;
  o.dt = 1e-4;
  SpinLatticeIntegrator sld(s, h, o, 1);
  EXPECT_NEAR(sld.potential_energy(), h.energy(s), 1e-12);
  const double e0 = sld.total_energy();
  sld.run(1000);
  EXPECT_NEAR(sld.potential_energy(), h.energy(s), 1e-12);
  EXPECT_NEAR(sld.total_energy(), e0, 1e-8);
}

TEST(SldIron, TimeReversible) {
  // The splitting is symmetric: running forward, reversing velocities and moments (time
  // reversal of precession: ê → −ê), and running again returns to the start to rounding.
  SKIP_WITHOUT_FE();
  System s = sld_iron_system(3, 300.0, 11);
  Hamiltonian h = sld_iron_hamiltonian(s);
  SldOptions o;
  o.dt = 2e-4;
  SpinLatticeIntegrator sld(s, h, o, 1);
  const std::vector<Vec3> r0 = s.position, v0 = s.velocity, e0 = s.spin;
  sld.run(100);
  EXPECT_GT(max_abs_diff(r0, s.position), 1e-3);
  for (auto& v : s.velocity) v = -v;
  for (auto& e : s.spin) e = -e;
  sld.compute_forces();
  sld.run(100);
  for (auto& v : s.velocity) v = -v;
  for (auto& e : s.spin) e = -e;
  EXPECT_LT(max_abs_diff(r0, s.position), 1e-10);
  EXPECT_LT(max_abs_diff(v0, s.velocity), 1e-8);
  EXPECT_LT(max_abs_diff(e0, s.spin), 1e-10);
}

TEST(SldIron, ShortNveConservesEnergyAndUnitSpins) {
  // 54 atoms, random spins, lattice at 100 K, dt = 0.1 fs, 0.1 ps: the total energy stays
  // within 1e-6 eV/atom of its start (it fluctuates by ~1e-8: physics test for the scaling).
  SKIP_WITHOUT_FE();
  System s = sld_iron_system(3, 100.0, 3);
  Hamiltonian h = sld_iron_hamiltonian(s);
  SldOptions o;
  o.dt = 1e-4;
  SpinLatticeIntegrator sld(s, h, o, 1);
  const double e0 = sld.total_energy();
  const SldEnergies parts0 = sld.energies();
  EXPECT_NEAR(parts0.total(), e0, 1e-9);
  double worst = 0.0;
  for (int k = 0; k < 10; ++k) {
    sld.run(100);
    worst = std::max(worst, std::abs(sld.total_energy() - e0) / s.size());
  }
  EXPECT_LT(worst, 1e-6);
  for (const auto& e : s.spin) EXPECT_NEAR(e.norm(), 1.0, 1e-14);
  // Energy moved between the spins and the lattice (they are coupled).
  const SldEnergies parts = sld.energies();
  EXPECT_GT(std::abs(parts.magnetic - parts0.magnetic), 1e-4);
  EXPECT_NEAR(parts.total(), sld.total_energy(), 1e-9);
}

TEST(SldIron, GenericPathAgreesWithFastPath) {
  // The same exchange through the generic field path (Term::compute magnetic forces, per
  // colour) follows the fast path's trajectory closely at a small step.
  SKIP_WITHOUT_FE();
  System a = sld_iron_system(2, 100.0, 9);
  System b = a;
  Hamiltonian ha = sld_iron_hamiltonian(a);
  Hamiltonian hb;
  hb.add(std::make_unique<EamPotential>(read_eam_file(kMishinFeEamPath), b));
  hb.add(std::make_unique<Opaque>(iron_exchange()));
  hb.set_skin(0.5);
  SldOptions o;
  o.dt = 2e-5;
  SpinLatticeIntegrator fa(a, ha, o, 1), fb(b, hb, o, 1);
  EXPECT_TRUE(fa.fast_field());
  EXPECT_FALSE(fb.fast_field());
  fa.run(200);
  fb.run(200);
  EXPECT_LT(max_abs_diff(a.spin, b.spin), 1e-6);
  EXPECT_LT(max_abs_diff(a.position, b.position), 1e-9);
  EXPECT_NEAR(fa.total_energy(), fb.total_energy(), 1e-7);
}

TEST(SldIron, SpinTemperatureMatchesObservable) {
  // This integrator's Nurdin-Schotte estimate equals the observables' one for a ferromagnet
  // tilted at random (both linear in ê).
  SKIP_WITHOUT_FE();
  System s = sld_iron_system(3, 100.0, 3);
  for (auto& e : s.spin) e = (Vec3(0, 0, 1) + 0.3 * e).normalized();
  Hamiltonian h = sld_iron_hamiltonian(s);
  SpinLatticeIntegrator sld(s, h, SldOptions{}, 1);
  const std::vector<Vec3> field = sld.exchange_field();
  // h_i = Σ_j J(r_ij) ê_j: its transverse part is |m| times the magnetic force.
  std::vector<Vec3> fm;
  Derivatives d;
  d.magnetic_force = &fm;
  h.compute(s, d);
  for (std::size_t i = 0; i < s.size(); ++i) {
    const Vec3 ht = field[i] - s.spin[i].dot(field[i]) * s.spin[i];
    EXPECT_LT((ht - s.moment[i] * fm[i]).norm(), 1e-12);
  }
  const double Ts = sld.spin_temperature();
  EXPECT_GT(Ts, 10.0);
  EXPECT_TRUE(std::isfinite(Ts));
}

// ---- reproducibility -------------------------------------------------------------------------

namespace {

/// Both baths on, small noise blocks, parallel loops forced: the hardest case for
/// thread-count independence and checkpoints.
SldOptions bath_settings() {
  SldOptions o;
  o.dt = 2e-4;
  o.temperature = 500.0;
  o.damping = {0.1};
  o.lattice_damping = 5.0;
  o.spin_substeps = 2;
  o.block = 16;
  o.parallel_min = 1;
  return o;
}

}  // namespace

TEST(SldIron, OneAndTwoThreadsBitIdentical) {
  SKIP_WITHOUT_FE();
  System base = sld_iron_system(3, 300.0, 21);
  auto run = [&](int threads) {
    System s = base;
    Hamiltonian h = sld_iron_hamiltonian(s, 0.005);  // tiny skin: list rebuilds on the way
    const int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    SldOptions o = bath_settings();
    o.threads = threads;
    SpinLatticeIntegrator sld(s, h, o, 77);
    // Few steps: each has ~25 parallel regions, and two threads on a busy machine can wait
    // milliseconds at every barrier.
    sld.run(12);
    omp_set_num_threads(saved);
    EXPECT_GT(sld.rebuilds(), 1);
    return s;
  };
  const System a = run(1), b = run(2);
  EXPECT_TRUE(bit_equal(a.position, b.position));
  EXPECT_TRUE(bit_equal(a.velocity, b.velocity));
  EXPECT_TRUE(bit_equal(a.spin, b.spin));
}

TEST(SldIron, CheckpointContinuesBitForBit) {
  SKIP_WITHOUT_FE();
  System base = sld_iron_system(3, 300.0, 22);
  // Uninterrupted: 300 steps.
  System a = base;
  Hamiltonian ha = sld_iron_hamiltonian(a, 0.05);
  SpinLatticeIntegrator sa(a, ha, bath_settings(), 5);
  sa.run(300);
  // Interrupted after 170 steps; a fresh System, Hamiltonian and integrator continue.
  System b = base;
  std::string state;
  System saved;
  {
    Hamiltonian hb = sld_iron_hamiltonian(b, 0.05);
    SpinLatticeIntegrator sb(b, hb, bath_settings(), 5);
    sb.run(170);
    state = sb.save_state();
    saved = b;
  }
  System c = saved;
  Hamiltonian hc = sld_iron_hamiltonian(c, 0.05);
  SpinLatticeIntegrator sc(c, hc, bath_settings(), 5);
  sc.load_state(state);
  EXPECT_EQ(sc.steps_done(), 170);
  sc.run(130);
  EXPECT_TRUE(bit_equal(a.position, c.position));
  EXPECT_TRUE(bit_equal(a.velocity, c.velocity));
  EXPECT_TRUE(bit_equal(a.spin, c.spin));
  EXPECT_EQ(sa.total_energy(), sc.total_energy());
  EXPECT_GT(sa.rebuilds(), 1);
  EXPECT_THROW(sc.load_state("spinlat-md 1\n"), InputError);
}

TEST(SldOptionsCheck, RejectsBadValues) {
  System s = single_atom(2.2, Vec3::UnitZ());
  Hamiltonian h;
  SldOptions o;
  o.dt = 0.0;
  EXPECT_THROW(SpinLatticeIntegrator(s, h, o, 1), InputError);
  o = SldOptions{};
  o.damping = {0.1, 0.2, 0.3};
  EXPECT_THROW(SpinLatticeIntegrator(s, h, o, 1), InputError);
  o = SldOptions{};
  o.spin_substeps = 0;
  EXPECT_THROW(SpinLatticeIntegrator(s, h, o, 1), InputError);
  o = SldOptions{};
  o.lattice_damping = -1.0;
  EXPECT_THROW(SpinLatticeIntegrator(s, h, o, 1), InputError);
}

// ---- hybrid Monte Carlo / molecular dynamics --------------------------------------------------

TEST(SldHybrid, CheckpointAndThreadsBitIdentical) {
  SKIP_WITHOUT_FE();
  System base = sld_iron_system(2, 300.0, 31);
  HybridOptions hs;
  hs.temperature = 400.0;
  hs.md_steps_per_sweep = 5;
  hs.dt = 1e-3;
  hs.lattice_damping = 5.0;
  hs.mc.block = 4;
  auto fresh = [&](System& s, Hamiltonian& h) { return std::make_unique<HybridMcMd>(s, h, hs, 8); };
  // Uninterrupted, two threads.
  System a = base;
  Hamiltonian ha = sld_iron_hamiltonian(a, 0.05);
  const int saved_threads = omp_get_max_threads();
  omp_set_num_threads(2);
  auto ra = fresh(a, ha);
  ra->run(20, true);
  ra->run(20);
  omp_set_num_threads(1);
  // Interrupted at 30 sweeps, one thread.
  System b = base;
  std::string state;
  {
    Hamiltonian hb = sld_iron_hamiltonian(b, 0.05);
    auto rb = fresh(b, hb);
    rb->run(20, true);
    rb->run(10);
    state = rb->save_state();
  }
  System c = b;
  Hamiltonian hc = sld_iron_hamiltonian(c, 0.05);
  auto rc = fresh(c, hc);
  rc->load_state(state);
  rc->run(10);
  omp_set_num_threads(saved_threads);
  EXPECT_EQ(rc->sweeps_done(), 40);
  EXPECT_TRUE(bit_equal(a.spin, c.spin));
  EXPECT_TRUE(bit_equal(a.position, c.position));
  EXPECT_TRUE(bit_equal(a.velocity, c.velocity));
  EXPECT_GT(ra->sampler().acceptance(), 0.05);
}

// ---- whole-lattice update (integrator = "explicit-midpoint") ----------------------------------

namespace {

/// Opaque that counts its evaluations (one per Term::compute call).
class CountedOpaque : public Opaque {
 public:
  using Opaque::Opaque;
  double compute(const System& s, const NeighborList& l, Derivatives& d) const override {
    ++calls;
    return Opaque::compute(s, l, d);
  }
  mutable long calls = 0;
};

SldOptions midpoint(double dt) {
  SldOptions o;
  o.dt = dt;
  o.spin_update = SldSpinUpdate::explicit_midpoint;
  return o;
}

/// EAM + the iron exchange through the generic path (what a learned model takes).
Hamiltonian generic_iron(const System& s, CountedOpaque** counter = nullptr, double skin = 0.5) {
  Hamiltonian h;
  h.add(std::make_unique<EamPotential>(read_eam_file(kMishinFeEamPath), s));
  auto t = std::make_unique<CountedOpaque>(iron_exchange());
  if (counter) *counter = t.get();
  h.add(std::move(t));
  h.set_skin(skin);
  return h;
}

/// RMS of E(t) − E(0) (eV/atom) over `samples` samples of `every` steps.
double rms_energy_error(SpinLatticeIntegrator& sld, std::size_t atoms, int samples, int every) {
  const double e0 = sld.total_energy();
  double sum = 0.0;
  for (int k = 0; k < samples; ++k) {
    sld.run(every);
    const double d = (sld.total_energy() - e0) / double(atoms);
    sum += d * d;
  }
  return std::sqrt(sum / samples);
}

}  // namespace

TEST(SldMidpoint, ThermalFieldSamplesLangevinFunction) {
  // As SldSingleSpin.ThermalFieldSamplesLangevinFunction: the noise, drawn once per step and
  // held over Δt, gives ⟨ê·B̂⟩ = L(x) (within 5σ of 20 blocks).
  SldOptions o;
  o.spin_update = SldSpinUpdate::explicit_midpoint;
  const auto [avg, se] = langevin_average(o);
  EXPECT_NEAR(avg, langevin_exact(), 5.0 * se);
  EXPECT_LT(se, 0.01);
}

TEST(SldMidpoint, TwoEvaluationsPerStepWhereTheColourSweepTakesMany) {
  // A generic (learned-like) term: the whole-lattice update evaluates it twice per step
  // (midpoint fields; forces and fields together), the colour sweep 8C − 3 times.
  SKIP_WITHOUT_FE();
  System a = sld_iron_system(3, 100.0, 9), b = a;
  CountedOpaque *ca = nullptr, *cb = nullptr;
  Hamiltonian ha = generic_iron(a, &ca), hb = generic_iron(b, &cb);
  SpinLatticeIntegrator fa(a, ha, midpoint(1e-4), 1);
  SldOptions o;
  o.dt = 1e-4;
  SpinLatticeIntegrator fb(b, hb, o, 1);
  ASSERT_FALSE(fa.fast_field());
  ASSERT_GT(fb.colors(), 1);
  const long a0 = ca->calls, b0 = cb->calls;
  fa.run(10);
  fb.run(10);
  EXPECT_EQ(ca->calls - a0, 2 * 10);
  EXPECT_EQ(cb->calls - b0, (8 * fb.colors() - 3) * 10);
}

TEST(SldMidpoint, SecondOrderAndFollowsTheColourSweep) {
  // NVE, random spins, lattice at 100 K, 54 atoms, generic exchange + EAM, 0.1 ps: the RMS
  // energy error falls 4× when Δt halves (second order; 4 ± 30 %), and the trajectory agrees
  // with the symplectic colour sweep's at a small step.
  SKIP_WITHOUT_FE();
  const System base = sld_iron_system(3, 100.0, 3);
  double rms[2];
  for (int k = 0; k < 2; ++k) {
    System s = base;
    Hamiltonian h = generic_iron(s);
    const double dt = k == 0 ? 2e-4 : 1e-4;
    SpinLatticeIntegrator sld(s, h, midpoint(dt), 1);
    rms[k] = rms_energy_error(sld, s.size(), 20, k == 0 ? 25 : 50);
  }
  std::printf("RMS energy error (eV/atom): %.3g at 0.2 fs, %.3g at 0.1 fs, ratio %.3f\n", rms[0], rms[1], rms[0] / rms[1]);
  EXPECT_LT(rms[0], 1e-6);
  EXPECT_NEAR(rms[0] / rms[1], 4.0, 1.2);

  System a = base, b = base;
  Hamiltonian ha = generic_iron(a), hb = sld_iron_hamiltonian(b);
  SpinLatticeIntegrator fa(a, ha, midpoint(2e-5), 1);
  SldOptions o;
  o.dt = 2e-5;
  SpinLatticeIntegrator fb(b, hb, o, 1);
  fa.run(200);
  fb.run(200);
  std::printf("against the colour sweep after 4 fs: spins %.3g, positions %.3g A\n", max_abs_diff(a.spin, b.spin),
              max_abs_diff(a.position, b.position));
  EXPECT_LT(max_abs_diff(a.spin, b.spin), 1e-6);
  EXPECT_LT(max_abs_diff(a.position, b.position), 1e-9);
  EXPECT_NEAR(fa.total_energy(), fb.total_energy(), 1e-7);
  for (const auto& e : a.spin) EXPECT_NEAR(e.norm(), 1.0, 1e-14);
}

TEST(SldMidpoint, ThreadsAndCheckpointsBitIdentical) {
  // Both baths, list rebuilds, the generic path: 1 and 2 threads, and a checkpoint after 7 of 12
  // steps, give the same bits.
  SKIP_WITHOUT_FE();
  const System base = sld_iron_system(3, 300.0, 21);
  SldOptions o = bath_settings();
  o.spin_substeps = 1;
  o.spin_update = SldSpinUpdate::explicit_midpoint;
  auto run = [&](int threads, int split) {
    System s = base;
    const int saved = omp_get_max_threads();
    omp_set_num_threads(threads);
    SldOptions ot = o;
    ot.threads = threads;
    std::string state;
    {
      Hamiltonian h = generic_iron(s, nullptr, 0.005);
      SpinLatticeIntegrator sld(s, h, ot, 77);
      sld.run(split);
      state = sld.save_state();
      EXPECT_GT(sld.rebuilds(), 1);
    }
    Hamiltonian h = generic_iron(s, nullptr, 0.005);
    SpinLatticeIntegrator sld(s, h, ot, 77);
    sld.load_state(state);
    sld.run(12 - split);
    omp_set_num_threads(saved);
    return s;
  };
  const System a = run(1, 12), b = run(2, 12), c = run(1, 7);
  EXPECT_TRUE(bit_equal(a.position, b.position));
  EXPECT_TRUE(bit_equal(a.velocity, b.velocity));
  EXPECT_TRUE(bit_equal(a.spin, b.spin));
  EXPECT_TRUE(bit_equal(a.position, c.position));
  EXPECT_TRUE(bit_equal(a.velocity, c.velocity));
  EXPECT_TRUE(bit_equal(a.spin, c.spin));
  o.spin_substeps = 2;
  System s = base;
  Hamiltonian h = generic_iron(s);
  EXPECT_THROW(SpinLatticeIntegrator(s, h, o, 1), InputError);
  EXPECT_THROW(parse_sld_spin_update("verlet"), InputError);
}
