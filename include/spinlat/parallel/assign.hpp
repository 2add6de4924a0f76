#pragma once
// Which rank runs which unit of work (docs/parallel.md).
#include <cstddef>
#include <utility>
#include <vector>

namespace spinlat::parallel {

/// The rank of each unit of cost `cost[u]`: the longest first, each to the least loaded rank
/// so far, ties to the lower unit and rank (Graham's LPT rule, R. L. Graham, SIAM J. Appl.
/// Math. 17, 416 (1969): makespan ≤ (4/3 − 1/(3K)) × the best). Deterministic, so every rank
/// computes the same assignment.
std::vector<int> longest_first(const std::vector<double>& cost, int ranks);

/// The largest load of a rank when unit u (cost `cost[u]`) runs on rank `rank[u]`.
double makespan(const std::vector<double>& cost, const std::vector<int>& rank, int ranks);

/// The items [first, last) of `rank` when `items` are cut into `ranks` contiguous blocks in rank
/// order, the first items % ranks blocks one longer (so rank 0 has work whenever any rank has).
std::pair<std::size_t, std::size_t> block_of(std::size_t items, int ranks, int rank);

/// How parallel-tempering ladders go over the ranks: whole ladders by longest_first (no
/// communication), or each ladder in turn over every rank, the replicas in block_of blocks
/// (replica exchange between ranks). Estimated makespans in units of one replica-sweep's cost.
struct LadderPlan {
  bool spread = false;  ///< each ladder over every rank
  double whole = 0.0;   ///< makespan of whole ladders by longest_first
  double spread_makespan = 0.0;  ///< Σ over ladders of the largest block's cost
};
/// `replica_cost[l]`: one replica of ladder l (∝ its atoms); every ladder has `replicas`
/// replicas. Spreads only when that is strictly shorter: exchanges between ranks cost a
/// message per round, which the estimate leaves out.
LadderPlan plan_ladders(const std::vector<double>& replica_cost, std::size_t replicas, int ranks);

}  // namespace spinlat::parallel
