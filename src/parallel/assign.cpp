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

}  // namespace spinlat::parallel
