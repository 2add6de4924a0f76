// Surrogate-driven (delayed-acceptance) Monte Carlo, mc/delayed_acceptance.hpp: the chain
// samples exp(−βE_model) exactly whatever the surrogate (Christen & Fox, J. Comput. Graph.
// Stat. 14, 795 (2005)). The expensive model is analytic here (Heisenberg + biquadratic +
// uniaxial anisotropy) so that brute-force Metropolis of it is cheap; the learned model is
// exercised through the command line at the end.
//
// Stochastic comparisons: 50 bins of the time series (bins ≫ τ_int), 5 combined standard
// errors; seeds fixed, so each test is deterministic (measured deviations: docs/mapping.md).
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <vector>

#include "cli_test_helpers.hpp"
#include "restart_test_helpers.hpp"
#include "sampling_test_helpers.hpp"
#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/io/hdf5.hpp"
#include "spinlat/mc/delayed_acceptance.hpp"
#include "spinlat/mc/lattice_delayed_acceptance.hpp"
#include "spinlat/mc/metropolis.hpp"
#include "spinlat/mc/parallel_tempering.hpp"
#include "spinlat/terms/anisotropy.hpp"
#include "spinlat/terms/biquadratic.hpp"
#include "spinlat/terms/hamiltonian.hpp"
#include "spinlat/terms/heisenberg.hpp"

using namespace spinlat;
using sampling_test::Estimate;
using sampling_test::binder;
using sampling_test::binned;

namespace {

constexpr double kJ = 0.01;  // eV
double kelvin(double t) { return t * kJ / units::k_B; }

System lattice(int L) { return build_supercell(standard_lattice("sc", 1.0, 0.0, {"Fe"}, {1.0}), Int3(L, L, L)); }

/// E = −J Σ ê_i·ê_j − Q Σ (ê_i·ê_j)² − K Σ (ê_i·z)² on nearest neighbours; Q = 0 or K = 0 leave the term out.
Hamiltonian model(const System& s, double J, double Q, double K) {
  Hamiltonian h;
  h.add(std::make_unique<HeisenbergExchange>(s, std::vector<double>{J}));
  if (Q != 0.0) h.add(std::make_unique<BiquadraticExchange>(s, std::vector<double>{Q}));
  if (K != 0.0) h.add(std::make_unique<UniaxialAnisotropy>(K, Vec3(0, 0, 1)));
  h.bind(s);
  return h;
}
// The expensive model of these tests.
Hamiltonian expensive(const System& s) { return model(s, kJ, 0.2 * kJ, 0.3 * kJ); }

struct Series {
  std::vector<double> e, m;  // E/(N J), |m|
};

double magnetization(const System& s) {
  Vec3 m = Vec3::Zero();
  for (const Vec3& e : s.spin) m += e;
  return m.norm() / static_cast<double>(s.size());
}

// One thread for the long statistical runs: on a 64-site cell there is one block, and idle
// OpenMP threads spinning between the many tiny parallel regions only burn a shared machine.
struct OneThread {
  int saved = omp_get_max_threads();
  OneThread() { omp_set_num_threads(1); }
  ~OneThread() { omp_set_num_threads(saved); }
};

double energy(const Hamiltonian& h, const System& s) { return h.energy(s) / static_cast<double>(s.size()) / kJ; }

Series brute_force(const Hamiltonian& h, System s, double T, int equilibrate, int measure) {
  const OneThread one;
  MetropolisOptions o;
  o.seed = 31;
  MetropolisSampler mc(h, s, o);
  mc.set_temperature(T);
  mc.equilibrate(s, equilibrate);
  Series out;
  for (int k = 0; k < measure; ++k) {
    mc.sweep(s);
    out.e.push_back(energy(h, s));
    out.m.push_back(magnetization(s));
  }
  return out;
}

Series surrogate_driven(const Hamiltonian& h, const Hamiltonian& sur, System s, double T, int equilibrate,
                        int measure, DelayedAcceptanceCounters* counters = nullptr) {
  const OneThread one;
  DelayedAcceptanceOptions o;
  o.inner_steps = 5;
  o.seed = 47;
  DelayedAcceptanceSampler da(h, sur, s, o);
  da.set_temperature(T);
  da.set_adaptive(true);
  for (int k = 0; k < equilibrate; ++k) da.sweep(s);
  da.set_adaptive(false);
  da.reset_counters();
  Series out;
  for (int k = 0; k < measure; ++k) {
    da.sweep(s);
    out.e.push_back(energy(h, s));
    out.m.push_back(magnetization(s));
  }
  if (counters) *counters = da.counters();
  return out;
}

// The whole lattice as the block (mc/lattice_delayed_acceptance.hpp): each outer step is
// `inner` surrogate sweeps (with Wolff clusters when the surrogate is isotropic exchange).
Series lattice_driven(const Hamiltonian& h, const Hamiltonian& sur, System s, double T, int equilibrate, int measure,
                      int inner, LatticeDelayedAcceptanceCounters* counters = nullptr, double* scale = nullptr) {
  const OneThread one;
  LatticeDelayedAcceptanceOptions o;
  o.inner_steps = inner;
  o.seed = 53;
  LatticeDelayedAcceptanceSampler da(h, sur, s, o);
  da.set_temperature(T);
  da.set_adaptive(true);
  for (int k = 0; k < equilibrate; ++k) da.sweep(s);
  da.set_adaptive(false);
  const LatticeDelayedAcceptanceCounters before = da.counters();
  Series out;
  for (int k = 0; k < measure; ++k) {
    da.sweep(s);
    out.e.push_back(energy(h, s));
    out.m.push_back(magnetization(s));
  }
  if (counters) {
    *counters = da.counters();
    counters->outer_trials -= before.outer_trials;
    counters->outer_accepted -= before.outer_accepted;
  }
  if (scale) *scale = da.surrogate_scale();
  return out;
}

// ⟨E⟩, ⟨|m|⟩, U4 and the energy histogram (8 bins between the reference's 2nd and 98th
// percentiles, plus the two tails) agree within 5σ.
void expect_same_distribution(const Series& ref, const Series& da, const std::string& what) {
  const Estimate e0 = binned(ref.e), e1 = binned(da.e), m0 = binned(ref.m), m1 = binned(da.m);
  const Estimate u0 = binder(ref.m), u1 = binder(da.m);
  std::printf("  %s: E/NJ %.5f +- %.5f vs %.5f +- %.5f; <|m|> %.5f +- %.5f vs %.5f +- %.5f; U4 %.4f +- %.4f vs %.4f +- %.4f\n",
              what.c_str(), e0.mean, e0.err, e1.mean, e1.err, m0.mean, m0.err, m1.mean, m1.err, u0.mean, u0.err, u1.mean,
              u1.err);
  EXPECT_NEAR(e0.mean, e1.mean, 5 * std::hypot(e0.err, e1.err)) << what;
  EXPECT_NEAR(m0.mean, m1.mean, 5 * std::hypot(m0.err, m1.err)) << what;
  EXPECT_NEAR(u0.mean, u1.mean, 5 * std::hypot(u0.err, u1.err)) << what;
  std::vector<double> sorted = ref.e;
  std::sort(sorted.begin(), sorted.end());
  const double lo = sorted[sorted.size() / 50], hi = sorted[sorted.size() * 49 / 50];
  const int nbins = 10;
  auto bin_of = [&](double x) { return x < lo ? 0 : x >= hi ? nbins - 1 : 1 + std::min(nbins - 3, int((x - lo) / (hi - lo) * (nbins - 2))); };
  double worst = 0;
  for (int b = 0; b < nbins; ++b) {
    std::vector<double> i0, i1;
    for (double x : ref.e) i0.push_back(bin_of(x) == b ? 1.0 : 0.0);
    for (double x : da.e) i1.push_back(bin_of(x) == b ? 1.0 : 0.0);
    const Estimate h0 = binned(i0), h1 = binned(i1);
    const double err = std::hypot(h0.err, h1.err);
    EXPECT_NEAR(h0.mean, h1.mean, 5 * err) << what << ": energy histogram bin " << b;
    if (err > 0) worst = std::max(worst, std::abs(h0.mean - h1.mean) / err);
  }
  std::printf("  %s: largest energy-histogram deviation %.2f sigma\n", what.c_str(), worst);
}

}  // namespace

// The physics: 4×4×4 simple cubic at k_B T = 1.5 J, where |m| and E fluctuate strongly.
TEST(DelayedAcceptance, GoodSurrogateSamplesTheModelExactly) {
  const System s0 = lattice(4);
  const Hamiltonian h = expensive(s0);
  const Hamiltonian good = model(s0, 1.1 * kJ, 0.0, 0.3 * kJ);  // biquadratic left out, J absorbs part of it
  const double T = kelvin(1.5);
  const Series ref = brute_force(h, s0, T, 2000, 50000);
  DelayedAcceptanceCounters c;
  const Series da = surrogate_driven(h, good, s0, T, 1000, 25000, &c);
  const double outer = double(c.outer_accepted) / double(c.outer_trials);
  std::printf("  good surrogate: outer acceptance %.4f, inner %.4f\n", outer, double(c.inner_accepted) / double(c.inner_trials));
  expect_same_distribution(ref, da, "good surrogate");
  EXPECT_GT(outer, 0.8);  // a good surrogate: most composite moves survive the correction
}

TEST(DelayedAcceptance, PoorSurrogateStillSamplesTheModelExactly) {
  const System s0 = lattice(4);
  const Hamiltonian h = expensive(s0);
  const Hamiltonian poor = model(s0, 0.7 * kJ, 0.0, 0.0);  // J 30% low, no biquadratic, no anisotropy
  const double T = kelvin(1.5);
  const Series ref = brute_force(h, s0, T, 2000, 50000);
  DelayedAcceptanceCounters c;
  const Series da = surrogate_driven(h, poor, s0, T, 1000, 25000, &c);
  const double outer = double(c.outer_accepted) / double(c.outer_trials);
  std::printf("  poor surrogate: outer acceptance %.4f, inner %.4f\n", outer, double(c.inner_accepted) / double(c.inner_trials));
  expect_same_distribution(ref, da, "poor surrogate");
  // Power of the comparison: the surrogate's own distribution (what the chain would sample
  // without the outer correction) is far outside these error bars.
  const Series uncorrected = brute_force(poor, s0, T, 2000, 20000);
  const Estimate m0 = binned(ref.m), m1 = binned(uncorrected.m);
  std::printf("  poor surrogate alone: <|m|> %.5f +- %.5f\n", m1.mean, m1.err);
  EXPECT_GT(std::abs(m0.mean - m1.mean), 10 * std::hypot(m0.err, m1.err));
  EXPECT_LT(outer, 0.9);  // the correction does reject: the test would see a wrong surrogate's bias
}

TEST(DelayedAcceptance, SurrogateEqualToModelAcceptsEveryOuterMove) {
  System s = lattice(4);
  set_spins_random(s, 5);
  const Hamiltonian h = expensive(s), same = expensive(s);
  DelayedAcceptanceOptions o;
  o.seed = 3;
  o.move = MoveType::hinzke_nowak;
  DelayedAcceptanceSampler da(h, same, s, o);
  da.set_temperature(kelvin(1.0));
  for (int k = 0; k < 200; ++k) EXPECT_EQ(da.sweep(s), 1.0);
  EXPECT_GT(da.counters().outer_trials, 10000u);
  EXPECT_EQ(da.counters().outer_accepted, da.counters().outer_trials);
  EXPECT_EQ(da.outer_acceptance(), 1.0);
  EXPECT_GT(da.inner_acceptance(), 0.1);
  EXPECT_LT(da.inner_acceptance(), 0.95);
}

TEST(DelayedAcceptance, ResultIndependentOfThreadCount) {
  const int saved = omp_get_max_threads();
  System s0 = lattice(6);
  set_spins_random(s0, 11);
  const Hamiltonian h = expensive(s0), sur = model(s0, 0.8 * kJ, 0.0, 0.0);
  std::vector<std::vector<Vec3>> spins;
  std::vector<std::string> states;
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    System s = s0;
    DelayedAcceptanceOptions o;
    o.block = 16;  // 14 blocks: real parallel work at 2 threads
    o.seed = 19;
    DelayedAcceptanceSampler da(h, sur, s, o);
    da.set_temperature(kelvin(1.2));
    da.set_adaptive(true);
    for (int k = 0; k < 30; ++k) da.sweep(s);
    spins.push_back(s.spin);
    states.push_back(da.save_state());
  }
  omp_set_num_threads(saved);
  EXPECT_TRUE(spins[0] == spins[1]);
  EXPECT_EQ(states[0], states[1]);
  EXPECT_NE(spins[0][0], s0.spin[0]);  // the spins did move
}

TEST(DelayedAcceptance, CheckpointContinuesBitForBit) {
  System s = lattice(5);
  set_spins_random(s, 8);
  const Hamiltonian h = expensive(s), sur = model(s, 0.9 * kJ, 0.0, 0.2 * kJ);
  DelayedAcceptanceOptions o;
  o.seed = 4;
  o.block = 30;
  DelayedAcceptanceSampler a(h, sur, s, o);
  a.set_temperature(kelvin(1.3));
  a.set_adaptive(true);  // checkpoint while σ adapts
  for (int k = 0; k < 7; ++k) a.sweep(s);
  const std::string state = a.save_state();
  System copy = s;
  for (int k = 0; k < 10; ++k) a.sweep(s);

  DelayedAcceptanceSampler b(h, sur, copy, o);  // fresh: default temperature and σ
  b.load_state(state);
  for (int k = 0; k < 10; ++k) b.sweep(copy);
  EXPECT_TRUE(s.spin == copy.spin);
  EXPECT_EQ(a.sigma(), b.sigma());
  EXPECT_EQ(a.save_state(), b.save_state());
  EXPECT_THROW(b.load_state("spinlat-metropolis 1\n"), InputError);
  EXPECT_THROW(b.load_state(state.substr(0, state.size() / 2)), InputError);
  EXPECT_THROW(a.set_temperature(0.0), InputError);
}

// Parallel tempering whose replicas move by surrogate-driven sweeps (poor surrogate): the
// replica at k_B T = 1.5 J reproduces brute-force Metropolis, and a checkpoint continues bit
// for bit.
TEST(DelayedAcceptance, ParallelTemperingWithSurrogate) {
  const OneThread one;
  const System s0 = lattice(4);
  const Hamiltonian h = expensive(s0);
  auto poor = std::make_shared<const Hamiltonian>(model(s0, 0.7 * kJ, 0.0, 0.0));
  const double T = kelvin(1.5);
  const Series ref = brute_force(h, s0, T, 2000, 50000);
  ParallelTemperingOptions o;
  o.metropolis.seed = 12;
  o.surrogate = poor;
  o.delayed.inner_steps = 5;
  ParallelTempering pt(h, s0, {kelvin(1.3), T, kelvin(1.8)}, o);
  pt.equilibrate(1000);
  const std::string state = pt.save_state();
  Series da;
  for (int k = 0; k < 25000; ++k) {
    pt.run(1);
    da.e.push_back(energy(h, pt.system(1)));
    da.m.push_back(magnetization(pt.system(1)));
  }
  ASSERT_NE(pt.delayed(1), nullptr);
  std::printf("  parallel tempering: outer acceptance at 1.5 J %.4f, exchange acceptance %.3f %.3f\n",
              pt.delayed(1)->outer_acceptance(), pt.exchange_acceptance()[0], pt.exchange_acceptance()[1]);
  expect_same_distribution(ref, da, "parallel tempering, poor surrogate");
  ParallelTempering again(h, s0, {kelvin(1.3), T, kelvin(1.8)}, o);
  again.load_state(state);
  again.run(25000);
  EXPECT_TRUE(again.system(1).spin == pt.system(1).spin);
  EXPECT_EQ(again.save_state(), pt.save_state());
}

// ---- through the command line ------------------------------------------------------------

namespace {

const std::string kModelTables = R"(
[[potential]]
type = "heisenberg"
J = [0.01]
[[potential]]
type = "biquadratic"
Q = [0.002]
[[potential]]
type = "anisotropy"
K = 0.003
axis = [0.0, 0.0, 1.0]
)";

const std::string kStructure = R"(
[structure]
lattice = "sc"
a = 1.0
cells = [6, 6, 6]
species = ["Fe"]
moment = [2.0]
)";

}  // namespace

TEST(DelayedAcceptance, KilledSweepAndStagesContinueBitForBit) {
  using namespace restart_test;
  const fs::path dir = scratch("delayed_acceptance");
  write_text(dir / "surrogate.toml", "title = \"surrogate\"\n" + kStructure + "[[potential]]\ntype = \"heisenberg\"\nJ = [0.011]\n");
  const std::string sweep = "title = \"surrogate sweep\"\nseed = 9\nthreads = 1\n" + kStructure + kModelTables + R"(
[sweep]
temperatures = [150.0, 170.0, 190.0]
sizes = [6]
method = "mc"
algorithm = "surrogate"
surrogate = "surrogate.toml"
surrogate_steps = 4
equilibrate = 100
measure = 300
[output]
checkpoint_every = 20
)";
  const std::string stages = "title = \"surrogate stages\"\nseed = 9\nthreads = 1\n" + kStructure + kModelTables + R"(
[[stage]]
type = "mc"
temperature = 160.0
sweeps = 400
surrogate = "surrogate.toml"
[output]
observables_every = 10
checkpoint_every = 20
)";
  for (const auto& [name, text, group] : {std::tuple{"sweep", sweep, "/sweep"}, std::tuple{"stages", stages, "/observables"}}) {
    write_text(dir / (std::string(name) + ".toml"), text);
    const fs::path ref = dir / (std::string(name) + "_ref.h5"), out = dir / (std::string(name) + "_killed.h5");
    ASSERT_EQ(run_to_end({SPINLAT_BINARY, "run", (dir / (std::string(name) + ".toml")).string(), "-o", ref.string(), "--quiet"}), 0);
    const int landed = run_with_kills(dir / (std::string(name) + ".toml"), out, 3, 17, 0.3);
    std::printf("  %s: %d kills landed\n", name, landed);
    expect_same_datasets(ref.string(), out.string(), group);
  }
  File f = File::open((dir / "sweep_ref.h5").string());
  ASSERT_TRUE(f.is_dataset("/sweep/outer_acceptance"));
  ASSERT_TRUE(f.is_dataset("/sweep/inner_acceptance"));
  for (double a : f.read_doubles("/sweep/outer_acceptance")) {
    EXPECT_GT(a, 0.5);
    EXPECT_LE(a, 1.0);
  }
  File g = File::open((dir / "stages_ref.h5").string());
  EXPECT_TRUE(g.is_dataset("/observables/outer_acceptance/value"));
}

TEST(DelayedAcceptance, InputErrorsNameTheKey) {
  using namespace restart_test;
  const fs::path dir = scratch("delayed_acceptance_errors");
  auto check = [&](const std::string& tail, const std::string& expect) {
    write_text(dir / "in.toml", "seed = 1\n" + kStructure + kModelTables + tail);
    const auto r = spinlat::test::run_cli("validate " + (dir / "in.toml").string());
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find(expect), std::string::npos) << r.output;
  };
  check("[sweep]\ntemperatures = [100.0]\nsizes = [4]\nalgorithm = \"surrogate\"\nsurrogate = \"missing.toml\"\n", "missing.toml");
  check("[sweep]\ntemperatures = [100.0]\nsizes = [4]\nsurrogate = \"x.toml\"\n", "only used with algorithm = 'surrogate'");
  check("[[stage]]\ntype = \"mc\"\ntemperature = 0.0\nsweeps = 10\nsurrogate = \"x.toml\"\n", "temperature > 0");
}

// Without `surrogate` the sweep maps the input's Hamiltonian itself (isotropic exchange, two
// shells) and samples it exactly with that surrogate.
TEST(DelayedAcceptance, SweepMapsItsSurrogateWhenNoneIsGiven) {
  using namespace restart_test;
  const fs::path dir = scratch("delayed_acceptance_auto");
  write_text(dir / "in.toml", "seed = 4\nthreads = 1\n" + kStructure + kModelTables + R"(
[sweep]
temperatures = [150.0, 200.0]
sizes = [4]
algorithm = "surrogate"
equilibrate = 50
measure = 200
)");
  const auto r = spinlat::test::run_cli("run " + (dir / "in.toml").string() + " -o " + (dir / "out.h5").string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("outer_acceptance"), std::string::npos) << r.output;
  File f = File::open((dir / "out.h5").string());
  for (double a : f.read_doubles("/sweep/outer_acceptance")) {
    std::printf("  automatically mapped surrogate: outer acceptance %.4f\n", a);
    EXPECT_GT(a, 0.5);  // the mapped exchange absorbs most of the biquadratic term
    EXPECT_LT(a, 1.0);  // the anisotropy is not mapped: some moves are corrected
  }
}

// The bundled learned model with its own mapped surrogate (`spinlat map`): a short run through
// the command line; the outer acceptance says how good the mapped model is.
TEST(DelayedAcceptance, BundledLearnedModelWithMappedSurrogate) {
  using namespace restart_test;
  const std::string model = std::string(SPINLAT_SOURCE_DIR) + "/inputs/models/fe_bcc.spl";
  if (!fs::exists(model)) GTEST_SKIP() << "no bundled model";
  const fs::path dir = scratch("delayed_acceptance_learned");
  const std::string model_input = R"(
title = "learned"
seed = 3
threads = 1
[structure]
lattice = "bcc"
a = 2.83
cells = [3, 3, 3]
species = ["Fe"]
moment = [2.2]
[[potential]]
type = "learned"
model = ")" + model + "\"\n";
  write_text(dir / "map.toml", model_input);
  write_text(dir / "in.toml", model_input + R"(
[[stage]]
type = "mc"
temperature = 700.0
sweeps = 60
surrogate = "mapped.toml"
[output]
observables_every = 10
)");
  const auto map = spinlat::test::run_cli("map " + (dir / "map.toml").string() + " -o " + (dir / "mapped.toml").string());
  if (map.status != 0 && map.output.find("LibTorch") != std::string::npos) GTEST_SKIP() << map.output;
  ASSERT_EQ(map.status, 0) << map.output;
  const auto run = spinlat::test::run_cli("run " + (dir / "in.toml").string() + " -o " + (dir / "out.h5").string());
  ASSERT_EQ(run.status, 0) << run.output;
  EXPECT_NE(run.output.find("outer_acceptance"), std::string::npos) << run.output;
  File f = File::open((dir / "out.h5").string());
  const std::vector<double> a = f.read_doubles("/observables/outer_acceptance/value");
  ASSERT_FALSE(a.empty());
  std::printf("  bundled model, mapped surrogate, 700 K: outer acceptance %.3f\n", a.back());
  EXPECT_GT(a.back(), 0.3);
  EXPECT_LE(a.back(), 1.0);
}

// ---- the whole lattice as the block -------------------------------------------------------

// Isotropic surrogates (Wolff clusters in the inner chain), a good and a 30 % weak one, and an
// anisotropic one (Metropolis sweeps only): each samples the analytic model exactly, against
// brute-force Metropolis (4×4×4 sc, k_B T = 1.5 J).
TEST(LatticeDelayedAcceptance, SamplesTheModelExactlyWithGoodPoorAndAnisotropicSurrogates) {
  const System s0 = lattice(4);
  const Hamiltonian h = expensive(s0);
  const double T = kelvin(1.5);
  const Series ref = brute_force(h, s0, T, 2000, 50000);
  struct Case {
    const char* name;
    Hamiltonian sur;
    bool clusters;
  };
  Case cases[] = {{"isotropic surrogate", model(s0, 1.1 * kJ, 0.0, 0.0), true},
                  {"weak isotropic surrogate", model(s0, 0.7 * kJ, 0.0, 0.0), true},
                  {"anisotropic surrogate", model(s0, 1.1 * kJ, 0.0, 0.3 * kJ), false}};
  for (Case& c : cases) {
    LatticeDelayedAcceptanceCounters n;
    double scale = 0.0;
    const Series da = lattice_driven(h, c.sur, s0, T, 500, 20000, 2, &n, &scale);
    const double outer = double(n.outer_accepted) / double(n.outer_trials);
    std::printf("  %s: outer acceptance %.4f, scale %.4f, %llu cluster and %llu Metropolis sweeps\n", c.name, outer,
                scale, static_cast<unsigned long long>(n.cluster_sweeps), static_cast<unsigned long long>(n.metropolis_sweeps));
    expect_same_distribution(ref, da, c.name);
    EXPECT_EQ(n.cluster_sweeps > 0, c.clusters) << c.name;
    EXPECT_GT(n.metropolis_sweeps, 0u) << c.name;
    EXPECT_GT(outer, 0.05) << c.name;
    EXPECT_LT(outer, 1.0) << c.name;  // the model differs from every surrogate: some moves are corrected
  }
}

// A surrogate equal to the model: every outer move is accepted, and the fitted scale is 1.
TEST(LatticeDelayedAcceptance, SurrogateEqualToModelAcceptsEveryMove) {
  System s = lattice(4);
  set_spins_random(s, 5);
  const Hamiltonian h = model(s, kJ, 0.0, 0.0), same = model(s, kJ, 0.0, 0.0);
  LatticeDelayedAcceptanceOptions o;
  o.seed = 3;
  LatticeDelayedAcceptanceSampler da(h, same, s, o);
  da.set_temperature(kelvin(1.0));
  da.set_adaptive(true);
  for (int k = 0; k < 100; ++k) EXPECT_EQ(da.sweep(s), 1.0);
  EXPECT_EQ(da.surrogate_scale(), 1.0);
  EXPECT_TRUE(da.uses_clusters());
  EXPECT_EQ(da.outer_acceptance(), 1.0);
  EXPECT_GT(da.inner_acceptance(), 0.1);
}

// The fitted scale λ: a surrogate that is the model times 1/2 is fitted to λ = 2 (the slope of
// ΔE_model against ΔE_sur), after which every move is accepted.
TEST(LatticeDelayedAcceptance, FitsTheSurrogatesEnergyScale) {
  System s = lattice(4);
  set_spins_random(s, 6);
  const Hamiltonian h = model(s, kJ, 0.0, 0.0), half = model(s, 0.5 * kJ, 0.0, 0.0);
  LatticeDelayedAcceptanceOptions o;
  o.seed = 8;
  LatticeDelayedAcceptanceSampler da(h, half, s, o);
  da.set_temperature(kelvin(1.2));
  da.set_adaptive(true);
  for (int k = 0; k < 200; ++k) da.sweep(s);
  EXPECT_NEAR(da.surrogate_scale(), 2.0, 1e-12);
  da.set_adaptive(false);
  for (int k = 0; k < 50; ++k) EXPECT_EQ(da.sweep(s), 1.0);
}

TEST(LatticeDelayedAcceptance, ResultIndependentOfThreadCountAndCheckpointContinues) {
  const int saved = omp_get_max_threads();
  System s0 = lattice(8);
  set_spins_random(s0, 11);
  const Hamiltonian h = expensive(s0), sur = model(s0, 0.9 * kJ, 0.0, 0.0);
  std::vector<std::vector<Vec3>> spins;
  std::vector<std::string> states;
  LatticeDelayedAcceptanceOptions o;
  o.seed = 19;
  for (int threads : {1, 2}) {
    omp_set_num_threads(threads);
    System s = s0;
    LatticeDelayedAcceptanceSampler da(h, sur, s, o);
    da.set_temperature(kelvin(1.2));
    da.set_adaptive(true);
    for (int k = 0; k < 30; ++k) da.sweep(s);
    spins.push_back(s.spin);
    states.push_back(da.save_state());
  }
  omp_set_num_threads(saved);
  EXPECT_TRUE(spins[0] == spins[1]);
  EXPECT_EQ(states[0], states[1]);
  EXPECT_NE(spins[0][0], s0.spin[0]);

  // Checkpoint while adapting, continue in a fresh sampler: the same bits.
  System a_s = s0;
  LatticeDelayedAcceptanceSampler a(h, sur, a_s, o);
  a.set_temperature(kelvin(1.2));
  a.set_adaptive(true);
  for (int k = 0; k < 47; ++k) a.sweep(a_s);  // past two refits of the scale
  const std::string state = a.save_state();
  System b_s = a_s;
  for (int k = 0; k < 20; ++k) a.sweep(a_s);
  LatticeDelayedAcceptanceSampler b(h, sur, b_s, o);
  b.load_state(state);
  for (int k = 0; k < 20; ++k) b.sweep(b_s);
  EXPECT_TRUE(a_s.spin == b_s.spin);
  EXPECT_EQ(a.save_state(), b.save_state());
  EXPECT_NE(a.surrogate_scale(), 1.0);
  EXPECT_THROW(b.load_state("spinlat-metropolis 1\n"), InputError);
  EXPECT_THROW(b.load_state(state.substr(0, state.size() / 2)), InputError);
}

// Through the command line: a sweep with surrogate_block = "lattice", killed and continued,
// equals the uninterrupted run; /sweep holds the fitted scale; parallel tempering refuses it.
TEST(LatticeDelayedAcceptance, KilledSweepContinuesBitForBitAndInputErrors) {
  using namespace restart_test;
  const fs::path dir = scratch("lattice_delayed_acceptance");
  write_text(dir / "surrogate.toml", "title = \"surrogate\"\n" + kStructure + "[[potential]]\ntype = \"heisenberg\"\nJ = [0.011]\n");
  write_text(dir / "sweep.toml", "title = \"lattice block\"\nseed = 9\nthreads = 1\n" + kStructure + kModelTables + R"(
[sweep]
temperatures = [150.0, 170.0, 190.0]
sizes = [6]
method = "mc"
algorithm = "surrogate"
surrogate = "surrogate.toml"
surrogate_block = "lattice"
equilibrate = 100
measure = 300
[output]
checkpoint_every = 20
)");
  const fs::path ref = dir / "ref.h5", out = dir / "killed.h5";
  ASSERT_EQ(run_to_end({SPINLAT_BINARY, "run", (dir / "sweep.toml").string(), "-o", ref.string(), "--quiet"}), 0);
  const int landed = run_with_kills(dir / "sweep.toml", out, 3, 17, 0.3);
  std::printf("  lattice block sweep: %d kills landed\n", landed);
  expect_same_datasets(ref.string(), out.string(), "/sweep");
  File f = File::open(ref.string());
  ASSERT_TRUE(f.is_dataset("/sweep/surrogate_scale"));
  // The surrogate lacks the model's anisotropy, an error that adds up over the 216 sites:
  // few whole-lattice moves survive (measured 0.07-0.2), but some do.
  for (double a : f.read_doubles("/sweep/outer_acceptance")) {
    EXPECT_GT(a, 0.0);
    EXPECT_LT(a, 1.0);
  }
  for (double l : f.read_doubles("/sweep/surrogate_scale")) EXPECT_GT(l, 0.5);

  // `spinlat map` of this input writes the mapped model with a sweep that samples it directly
  // (Wolff: it maps to isotropic exchange), not one that would map the surrogate onto itself.
  const auto map = spinlat::test::run_cli("map " + (dir / "sweep.toml").string() + " -o " + (dir / "mapped.toml").string());
  ASSERT_EQ(map.status, 0) << map.output;
  std::ifstream in(dir / "mapped.toml");
  const std::string mapped((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(mapped.find("algorithm = 'wolff'"), std::string::npos) << mapped;
  EXPECT_EQ(mapped.find("surrogate_block"), std::string::npos) << mapped;
  EXPECT_NE(mapped.find("surrogate-driven sampling dropped"), std::string::npos) << mapped;
  const auto valid = spinlat::test::run_cli("validate " + (dir / "mapped.toml").string());
  EXPECT_EQ(valid.status, 0) << valid.output;

  auto check = [&](const std::string& tail, const std::string& expect) {
    write_text(dir / "in.toml", "seed = 1\n" + kStructure + kModelTables + tail);
    const auto r = spinlat::test::run_cli("validate " + (dir / "in.toml").string());
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find(expect), std::string::npos) << r.output;
  };
  check("[sweep]\ntemperatures = [100.0]\nsizes = [4]\nalgorithm = \"surrogate\"\nsurrogate_block = \"cube\"\n", "surrogate_block");
  check("[sweep]\ntemperatures = [100.0, 120.0]\nsizes = [4]\nalgorithm = \"parallel-tempering\"\nsurrogate = \"surrogate.toml\"\n"
        "surrogate_block = \"lattice\"\n", "site blocks only");
}
