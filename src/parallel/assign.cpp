#include "spinlat/parallel/assign.hpp"

#include <algorithm>
#include <cstddef>

namespace spinlat::parallel {

std::vector<int> longest_first(const std::vector<double>& cost, int ranks) {
  std::vector<std::size_t> order(cost.size());
  for (std::size_t u = 0; u < order.size(); ++u) order[u] = u;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return cost[a] > cost[b]; });
  std::vector<double> load(static_cast<std::size_t>(std::max(ranks, 1)), 0.0);
  std::vector<int> rank(cost.size(), 0);
  for (std::size_t u : order) {
    const auto least = std::min_element(load.begin(), load.end()) - load.begin();
    rank[u] = static_cast<int>(least);
    load[static_cast<std::size_t>(least)] += cost[u];
  }
  return rank;
}

double makespan(const std::vector<double>& cost, const std::vector<int>& rank, int ranks) {
  std::vector<double> load(static_cast<std::size_t>(std::max(ranks, 1)), 0.0);
  for (std::size_t u = 0; u < cost.size(); ++u) load[static_cast<std::size_t>(rank[u])] += cost[u];
  return *std::max_element(load.begin(), load.end());
}

std::pair<std::size_t, std::size_t> block_of(std::size_t items, int ranks, int rank) {
  const std::size_t K = static_cast<std::size_t>(std::max(ranks, 1)), r = static_cast<std::size_t>(rank);
  const std::size_t base = items / K, extra = items % K;
  const std::size_t first = r * base + std::min(r, extra);
  return {first, first + base + (r < extra ? 1 : 0)};
}

LadderPlan plan_ladders(const std::vector<double>& replica_cost, std::size_t replicas, int ranks) {
  LadderPlan p;
  std::vector<double> ladder;
  for (double c : replica_cost) ladder.push_back(c * double(replicas));
  p.whole = makespan(ladder, longest_first(ladder, ranks), ranks);
  const auto largest = block_of(replicas, ranks, 0);  // rank 0's block is a largest one
  for (double c : replica_cost) p.spread_makespan += c * double(largest.second - largest.first);
  p.spread = ranks > 1 && p.spread_makespan < p.whole;
  return p;
}

}  // namespace spinlat::parallel
