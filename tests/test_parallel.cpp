// parallel/assign.hpp: the longest-first assignment of sweep units to ranks, against the best
// assignment found by enumeration and Graham's bound (SIAM J. Appl. Math. 17, 416 (1969)).
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/random/mersenne_twister.hpp>
#include <vector>

#include "spinlat/parallel/assign.hpp"

namespace {

using spinlat::parallel::longest_first;
using spinlat::parallel::makespan;

/// The smallest makespan over all K^n assignments.
double best_makespan(const std::vector<double>& cost, int ranks) {
  std::vector<int> r(cost.size(), 0);
  double best = 1e300;
  while (true) {
    best = std::min(best, makespan(cost, r, ranks));
    std::size_t k = 0;
    while (k < r.size() && ++r[k] == ranks) r[k++] = 0;
    if (k == r.size()) return best;
  }
}

TEST(LongestFirst, SweepSizesGoLargestAlone) {
  // sizes 16, 12, 8 (cells 4096, 1728, 512) over 2 ranks: the largest alone, the others
  // together (round robin would give 16 and 8 to one rank: 4608).
  const std::vector<double> cost = {512, 1728, 4096};
  const std::vector<int> r = longest_first(cost, 2);
  EXPECT_EQ(r[2], 0);
  EXPECT_EQ(r[1], 1);
  EXPECT_EQ(r[0], 1);
  EXPECT_EQ(makespan(cost, r, 2), 4096.0);
  // More ranks than units: one each, the rest idle.
  const std::vector<int> r5 = longest_first(cost, 5);
  EXPECT_EQ(makespan(cost, r5, 5), 4096.0);
}

TEST(LongestFirst, WithinGrahamsBoundOfTheBest) {
  boost::random::mt19937_64 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    const int ranks = 2 + trial % 2;
    const std::size_t n = 3 + static_cast<std::size_t>(trial % 6);
    std::vector<double> cost(n);
    for (double& c : cost) c = 1.0 + double(rng() % 1000);
    const std::vector<int> r = longest_first(cost, ranks);
    ASSERT_EQ(r.size(), n);
    for (int k : r) ASSERT_TRUE(k >= 0 && k < ranks);
    EXPECT_EQ(r, longest_first(cost, ranks)) << "deterministic";
    const double opt = best_makespan(cost, ranks);
    EXPECT_LE(makespan(cost, r, ranks), (4.0 / 3.0 - 1.0 / (3.0 * ranks)) * opt * (1 + 1e-12)) << "trial " << trial;
  }
}

}  // namespace
