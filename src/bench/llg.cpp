#include "spinlat/bench/llg.hpp"

#include <chrono>
#include <stdexcept>

#include "spinlat/core/crystal.hpp"
#include "spinlat/dynamics/llg.hpp"
#include "spinlat/terms/heisenberg.hpp"

namespace spinlat {

double benchmark_llg(int L, int threads, int steps) {
  if (L < 3 || steps < 1) throw std::invalid_argument("benchmark_llg: need L >= 3 and steps >= 1");
  System s = build_supercell(standard_lattice("sc", 2.5, 0.0, {"Fe"}, {2.0}), Int3(L, L, L));
  set_spins_random(s, 1);
  Hamiltonian h;
  h.add(std::make_unique<HeisenbergExchange>(s, std::vector<double>{0.010}));
  h.bind(s);
  LLGOptions p;
  p.integrator = LLGIntegrator::heun;
  p.dt = 1e-4;
  p.temperature = 300.0;
  p.damping = {0.1};
  p.threads = threads;
  LLG llg(h, s, p, 12345);
  llg.step(s);  // warm-up: buffers, per-site constants, caches
  const auto t0 = std::chrono::steady_clock::now();
  llg.run(s, steps);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return static_cast<double>(s.size()) * steps / seconds;
}

}  // namespace spinlat
