#include "spinlat/bench/mc.hpp"

#include <chrono>

#include <omp.h>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/terms/hamiltonian.hpp"
#include "spinlat/terms/heisenberg.hpp"

namespace spinlat {

MetropolisBenchmark run_metropolis_benchmark(int L, int threads, int sweeps, MoveType move) {
  const double J = 0.01;  // eV
  System s = build_supercell(standard_lattice("sc", 1.0, 0.0, {"Fe"}, {1.0}), Int3(L, L, L));
  Hamiltonian h;
  h.add(std::make_unique<HeisenbergExchange>(s, std::vector<double>{J}));
  h.bind(s);

  const int old_threads = omp_get_max_threads();
  if (threads > 0) omp_set_num_threads(threads);
  MetropolisOptions opt;
  opt.move = move;
  opt.seed = 12345;
  MetropolisSampler mc(h, s, opt);
  mc.set_temperature(units::temperature_of(J));
  mc.equilibrate(s, 20);
  mc.reset_counters();
  const auto t0 = std::chrono::steady_clock::now();
  mc.run(s, sweeps);
  const auto t1 = std::chrono::steady_clock::now();
  if (threads > 0) omp_set_num_threads(old_threads);

  MetropolisBenchmark b;
  b.L = L;
  b.threads = threads > 0 ? threads : old_threads;
  b.sweeps = sweeps;
  b.seconds = std::chrono::duration<double>(t1 - t0).count();
  b.trials_per_second = static_cast<double>(s.size()) * sweeps / b.seconds;
  b.acceptance = mc.acceptance();
  return b;
}

double benchmark_metropolis(int L, int threads, int sweeps) {
  return run_metropolis_benchmark(L, threads, sweeps).trials_per_second;
}

}  // namespace spinlat
