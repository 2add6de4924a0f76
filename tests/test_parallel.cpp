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
using spinlat::parallel::block_of;
using spinlat::parallel::plan_ladders;

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

TEST(BlockOf, ContiguousBlocksCoverEveryItemOnce) {
  for (std::size_t items = 0; items <= 12; ++items)
    for (int ranks = 1; ranks <= 5; ++ranks) {
      std::size_t next = 0, largest = 0, smallest = items + 1;
      for (int r = 0; r < ranks; ++r) {
        const auto [first, last] = block_of(items, ranks, r);
        EXPECT_EQ(first, next) << items << " items, rank " << r << " of " << ranks;
        ASSERT_GE(last, first);
        largest = std::max(largest, last - first);
        smallest = std::min(smallest, last - first);
        if (r > 0) {
          const auto before = block_of(items, ranks, r - 1);
          EXPECT_LE(last - first, before.second - before.first) << "the longer blocks first";
        }
        next = last;
      }
      EXPECT_EQ(next, items);
      EXPECT_LE(largest - smallest, 1u) << "balanced";
      EXPECT_EQ(largest, (items + std::size_t(ranks) - 1) / std::size_t(ranks));
    }
  // 2 replicas, 3 ranks: rank 0 and 1 hold one each, rank 2 none.
  EXPECT_EQ(block_of(2, 3, 0), std::make_pair(std::size_t(0), std::size_t(1)));
  EXPECT_EQ(block_of(2, 3, 2), std::make_pair(std::size_t(2), std::size_t(2)));
}

TEST(PlanLadders, SpreadsOnlyWhenShorter) {
  // One ladder of 4 replicas, 2 ranks: whole 4c on one rank, spread 2c per rank.
  auto p = plan_ladders({64.0}, 4, 2);
  EXPECT_TRUE(p.spread);
  EXPECT_EQ(p.whole, 256.0);
  EXPECT_EQ(p.spread_makespan, 128.0);
  // 3 replicas of sizes 4, 5, 6 over 2 ranks: longest-first 3 × 216 = 648 against spread
  // 2 × (64 + 125 + 216) = 810 (the block of 2 replicas sets the pace): whole ladders.
  p = plan_ladders({64.0, 125.0, 216.0}, 3, 2);
  EXPECT_FALSE(p.spread);
  EXPECT_EQ(p.whole, 648.0);
  EXPECT_EQ(p.spread_makespan, 810.0);
  // 2 replicas, 3 ranks: one replica per rank (the third idle) beats a whole ladder.
  p = plan_ladders({64.0}, 2, 3);
  EXPECT_TRUE(p.spread);
  EXPECT_EQ(p.spread_makespan, 64.0);
  // A tie keeps whole ladders (no messages): 2 equal ladders of 4 over 2 ranks.
  EXPECT_FALSE(plan_ladders({64.0, 64.0}, 4, 2).spread);
  // One rank: nothing to spread over.
  EXPECT_FALSE(plan_ladders({64.0, 216.0}, 4, 1).spread);
  // Neither plan beats the perfect split Σ cost / K, and the choice is the shorter one.
  boost::random::mt19937_64 rng(11);
  for (int trial = 0; trial < 100; ++trial) {
    const int ranks = 2 + trial % 4;
    const std::size_t replicas = 1 + static_cast<std::size_t>(rng() % 9);
    std::vector<double> cost(1 + rng() % 4);
    double total = 0.0;
    for (double& c : cost) total += (c = 1.0 + double(rng() % 500)) * double(replicas);
    p = plan_ladders(cost, replicas, ranks);
    EXPECT_GE(p.whole * (1 + 1e-12), total / ranks);
    EXPECT_GE(p.spread_makespan * (1 + 1e-12), total / ranks);
    EXPECT_EQ(p.spread, p.spread_makespan < p.whole);
  }
}

}  // namespace
