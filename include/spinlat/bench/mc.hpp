#pragma once
// Throughput of the Metropolis sampler on the standard benchmark: classical Heisenberg
// ferromagnet on a simple cubic L×L×L lattice (periodic, nearest-neighbour J = 10 meV,
// |m| = 1 μB) at k_B T = J (ordered phase below Tc = 1.443 J), Gaussian moves with σ adapted
// during 20 untimed warm-up sweeps (the set-up of VAMPIRE's `sim:program = benchmark`).
#include "spinlat/mc/metropolis.hpp"

namespace spinlat {

struct MetropolisBenchmark {
  int L = 0, threads = 0;
  long long sweeps = 0;
  double seconds = 0.0;            ///< wall time of the timed sweeps
  double trials_per_second = 0.0;  ///< L³ · sweeps / seconds
  double acceptance = 0.0;         ///< of the timed sweeps
};

/// Times `sweeps` sweeps with `threads` OpenMP threads (0: the current default).
MetropolisBenchmark run_metropolis_benchmark(int L, int threads, int sweeps,
                                             MoveType move = MoveType::gaussian);
/// Trials per second of run_metropolis_benchmark (for `spinlat bench`).
double benchmark_metropolis(int L, int threads, int sweeps);

}  // namespace spinlat
