#pragma once
// `spinlat bench learned`: throughput of a learned model (docs/performance.md): full
// evaluations (energy, forces, magnetic forces) in atom-evaluations per second, and Metropolis
// trials per second (and a sweep's cost in full evaluations of the same system) for each Monte
// Carlo evaluator: the plain C++ one of native float64 models and LibTorch's. No LibTorch types here.
#include <ostream>
#include <string>
#include <vector>

namespace spinlat {

struct LearnedBenchOptions {
  std::string model = "inputs/models/fe_bcc.spl";  ///< a native or TorchScript model covering Fe
  bool quick = false;  ///< smaller systems, fewer repetitions
  int threads = -1;    ///< -1: 1 and 2 threads; else only this count
  /// Sizes of the full evaluations, in conventional bcc cells (2·c³ atoms); empty: 10 and 20
  /// (6 with quick). When given, the Metropolis part is left out.
  std::vector<int> cells;
};

/// Prints one line per figure; returns 0 (InputError for a missing or unusable model).
int run_learned_benchmark(const LearnedBenchOptions& o, std::ostream& out);

}  // namespace spinlat
