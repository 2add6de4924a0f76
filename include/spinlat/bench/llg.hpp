#pragma once
// Throughput of the stochastic Heun LLG integrator, measured as VAMPIRE's `benchmark`
// program does: simple cubic L³ nearest-neighbour Heisenberg ferromagnet, thermal field on.
namespace spinlat {

/// Spin-steps per second of `steps` Heun steps (after one warm-up step) on an sc L×L×L
/// lattice with nearest-neighbour J = 10 meV, |m| = 2 μB, random initial spins, α = 0.1,
/// T = 300 K, Δt = 0.1 fs, using `threads` OpenMP threads (0 = the OpenMP default).
double benchmark_llg(int L, int threads, int steps);

}  // namespace spinlat
