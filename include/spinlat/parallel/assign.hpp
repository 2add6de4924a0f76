#pragma once
// Which rank runs which unit of work (docs/parallel.md).
#include <vector>

namespace spinlat::parallel {

/// The rank of each unit of cost `cost[u]`: the longest first, each to the least loaded rank
/// so far, ties to the lower unit and rank (Graham's LPT rule, R. L. Graham, SIAM J. Appl.
/// Math. 17, 416 (1969): makespan ≤ (4/3 − 1/(3K)) × the best). Deterministic, so every rank
/// computes the same assignment.
std::vector<int> longest_first(const std::vector<double>& cost, int ranks);

}  // namespace spinlat::parallel
