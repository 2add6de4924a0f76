#pragma once
// `spinlat bench`: throughput figures in stable units (docs/performance.md).
#include <ostream>
#include <string>

namespace spinlat {

struct BenchOptions {
  std::string which = "all";  ///< mc, llg, md, all
  bool quick = false;         ///< fewer sweeps/steps (a smoke run, noisier numbers)
  int threads = -1;           ///< -1: 1 and 2 threads; else only this count
};

/// Prints one line per benchmark; returns 0, or 2 for an unknown benchmark name.
int run_benchmarks(const BenchOptions& o, std::ostream& out);

}  // namespace spinlat
