// Whole-lattice delayed acceptance (mc/lattice_delayed_acceptance.hpp) on the bundled learned
// iron model: the chain driven by a Heisenberg surrogate with Wolff clusters samples the
// learned model exactly, i.e. as brute-force Metropolis of the model does (issue 13, item 2:
// "on a small cell the energy histogram, ⟨|m|⟩ and U4 equal brute-force learned Metropolis
// within error bars, with a good surrogate and with a deliberately poor one").
//
// bcc Fe 3×3×3 (54 atoms) at 740 K, near the model's Curie temperature, where |m| fluctuates
// most. Statistics: 40 bins of the series (bins ≫ τ_int), 5 combined standard errors.
#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <vector>

#include "sampling_test_helpers.hpp"
#include "spinlat/core/crystal.hpp"
#include "spinlat/learned/learned_term.hpp"
#include "spinlat/mc/lattice_delayed_acceptance.hpp"
#include "spinlat/mc/metropolis.hpp"
#include "spinlat/terms/hamiltonian.hpp"
#include "spinlat/terms/heisenberg.hpp"

using namespace spinlat;
using sampling_test::Estimate;
using sampling_test::binned;

namespace {

struct Series {
  std::vector<double> e, m;  // eV/atom, |m|
};

constexpr int kBins = 40;

double magnetization(const System& s) {
  Vec3 m = Vec3::Zero();
  for (const Vec3& e : s.spin) m += e;
  return m.norm() / static_cast<double>(s.size());
}

void record(const Hamiltonian& h, const System& s, Series& out) {
  out.e.push_back(h.energy(s) / static_cast<double>(s.size()));
  out.m.push_back(magnetization(s));
}

void expect_same(const Series& ref, const Series& da, const std::string& what) {
  const Estimate e0 = binned(ref.e, kBins), e1 = binned(da.e, kBins), m0 = binned(ref.m, kBins), m1 = binned(da.m, kBins);
  const Estimate u0 = sampling_test::binder(ref.m, kBins), u1 = sampling_test::binder(da.m, kBins);
  std::printf("  %s: E %.6f +- %.6f vs %.6f +- %.6f eV/atom; <|m|> %.4f +- %.4f vs %.4f +- %.4f; U4 %.4f +- %.4f vs %.4f +- %.4f\n",
              what.c_str(), e0.mean, e0.err, e1.mean, e1.err, m0.mean, m0.err, m1.mean, m1.err, u0.mean, u0.err,
              u1.mean, u1.err);
  EXPECT_NEAR(e0.mean, e1.mean, 5 * std::hypot(e0.err, e1.err)) << what;
  EXPECT_NEAR(m0.mean, m1.mean, 5 * std::hypot(m0.err, m1.err)) << what;
  EXPECT_NEAR(u0.mean, u1.mean, 5 * std::hypot(u0.err, u1.err)) << what;
  // Energy histogram: 6 bins between the reference's 5th and 95th percentiles, and the tails.
  std::vector<double> sorted = ref.e;
  std::sort(sorted.begin(), sorted.end());
  const double lo = sorted[sorted.size() / 20], hi = sorted[sorted.size() * 19 / 20];
  const int nb = 8;
  auto bin_of = [&](double x) { return x < lo ? 0 : x >= hi ? nb - 1 : 1 + std::min(nb - 3, int((x - lo) / (hi - lo) * (nb - 2))); };
  for (int b = 0; b < nb; ++b) {
    std::vector<double> i0, i1;
    for (double x : ref.e) i0.push_back(bin_of(x) == b ? 1.0 : 0.0);
    for (double x : da.e) i1.push_back(bin_of(x) == b ? 1.0 : 0.0);
    const Estimate h0 = binned(i0, kBins), h1 = binned(i1, kBins);
    EXPECT_NEAR(h0.mean, h1.mean, 5 * std::hypot(h0.err, h1.err)) << what << ": energy histogram bin " << b;
  }
}

}  // namespace

TEST(LearnedLatticeDelayedAcceptance, SamplesTheBundledModelExactly) {
  const std::string path = std::string(SPINLAT_SOURCE_DIR) + "/inputs/models/fe_bcc.spl";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "no bundled model";
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  const System s0 = build_supercell(standard_lattice("bcc", 2.83, 0.0, {"Fe"}, {2.2}), {3, 3, 3});
  LearnedOptions lo;
  lo.model = path;
  Hamiltonian h;
  h.add(std::make_unique<LearnedPotential>(lo));
  h.bind(s0);
  const double T = 740.0;

  Series ref;
  {
    System s = s0;
    MetropolisOptions o;
    o.seed = 21;
    MetropolisSampler mc(h, s, o);
    mc.set_temperature(T);
    mc.equilibrate(s, 500);
    for (int k = 0; k < 12000; ++k) {
      mc.sweep(s);
      record(h, s, ref);
    }
  }
  // The model maps to J1 ≈ 20 meV, J2 ≈ 12 meV (spinlat map): a good surrogate, and a poor
  // one with the shells' ratio inverted, which no fitted scale λ can mend.
  for (const bool good : {true, false}) {
    System s = s0;
    Hamiltonian sur;
    sur.add(std::make_unique<HeisenbergExchange>(s, good ? std::vector<double>{0.020, 0.012} : std::vector<double>{0.008, 0.020}));
    sur.bind(s);
    LatticeDelayedAcceptanceOptions o;
    o.seed = 22;
    o.inner_steps = 2;
    LatticeDelayedAcceptanceSampler da(h, sur, s, o);
    da.set_temperature(T);
    da.set_adaptive(true);
    for (int k = 0; k < 300; ++k) da.sweep(s);
    da.set_adaptive(false);
    Series out;
    for (int k = 0; k < 8000; ++k) {
      da.sweep(s);
      record(h, s, out);
    }
    const std::string what = good ? "good surrogate (20, 12 meV)" : "poor surrogate (8, 20 meV)";
    std::printf("  %s: outer acceptance %.3f, fitted scale %.3f\n", what.c_str(), da.outer_acceptance(),
                da.surrogate_scale());
    expect_same(ref, out, what);
    EXPECT_TRUE(da.uses_clusters());
  }
  omp_set_num_threads(saved);
}
