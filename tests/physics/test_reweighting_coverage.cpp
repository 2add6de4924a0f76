// Coverage of the jackknife error bars of the reweighted Binder crossing (issue 13, item 3):
// the 2D Ising model at L = 3 and 4 (exact g(E, |M|), tests/ising_exact.hpp), six
// temperatures with 1500 exact independent samples each, the whole estimate
// (critical_temperature_from_samples: multiple-histogram reweighting, crossing on the
// reweighted curves, jackknife over 16 blocks) repeated with 120 independent seeds, against the
// exact crossing of the exact U4 curves. About 50 s of CPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "ising_exact.hpp"
#include "spinlat/observables/critical.hpp"

using namespace spinlat;
using namespace ising_exact;

TEST(CriticalFromSamples, IsingCrossingAndCoverage) {
  // L = 3 and 4 at six temperatures around the crossing, 1500 exact samples each; repeated
  // with independent seeds. The reweighted crossing must be unbiased and its jackknife error
  // must cover the exact crossing in 68 % of the repeats: required 0.55–0.80 for 120 repeats
  // (±2.7 binomial σ), and mean error / observed spread within 0.75–1.33.
  const Dos &d3 = dos(3), &d4 = dos(4);
  const double tx = exact_crossing(d3, d4, 1.8, 2.8);
  std::printf("  exact crossing of U4(L=3) and U4(L=4): t = %.5f\n", tx);
  const std::vector<double> ts = {1.9, 2.1, 2.3, 2.5, 2.7, 2.9};
  CriticalOptions opt;
  opt.grid = 61;
  const int repeats = 120;
  int inside = 0, found = 0;
  double sum = 0, sum2 = 0, err_sum = 0;
  for (int r = 0; r < repeats; ++r) {
    Engine eng(splitmix64(1000 + r));
    const std::vector<SizeSamples> data = {sweep(d3, ts, 1500, eng), sweep(d4, ts, 1500, eng)};
    const CriticalTemperature c = critical_temperature_from_samples(data, opt);
    if (r == 0) std::printf("  repeat 0: %s\n", c.notes.c_str());
    ASSERT_TRUE(c.found()) << c.notes;
    ++found;
    const double t = c.Tc * units::k_B / kJ, e = c.Tc_err * units::k_B / kJ;
    inside += std::abs(t - tx) <= e;
    sum += t;
    sum2 += t * t;
    err_sum += e;
  }
  const double mean = sum / found, sd = std::sqrt(sum2 / found - mean * mean), cover = double(inside) / found;
  std::printf("  %d repeats: mean %.5f (exact %.5f), spread %.5f, mean error %.5f, within 1 sigma %.3f\n", found,
              mean, tx, sd, err_sum / found, cover);
  EXPECT_NEAR(mean, tx, 3.0 * sd / std::sqrt(double(found)) + 1e-3);
  EXPECT_GT(cover, 0.55);
  EXPECT_LT(cover, 0.80);
  EXPECT_GT(err_sum / found / sd, 0.75);
  EXPECT_LT(err_sum / found / sd, 1.33);
}

