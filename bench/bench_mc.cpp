// Monte Carlo micro-benchmarks (Google Benchmark; configure with -DSPINLAT_GBENCH=ON).
// Nearest-neighbour Heisenberg ferromagnet on sc L³ at k_B T = J: trials per second of one
// Metropolis sweep for each move, and flipped sites per second of Wolff clusters near Tc.
// Thread count: OMP_NUM_THREADS (results are identical for any count).
#include <benchmark/benchmark.h>

#include <memory>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/mc/metropolis.hpp"
#include "spinlat/mc/wolff.hpp"
#include "spinlat/terms/hamiltonian.hpp"
#include "spinlat/terms/heisenberg.hpp"

using namespace spinlat;

namespace {
constexpr double kJ = 0.01;

struct Setup {
  System s;
  Hamiltonian h;
  explicit Setup(int L) {
    s = build_supercell(standard_lattice("sc", 1.0, 0.0, {"Fe"}, {1.0}), Int3(L, L, L));
    h.add(std::make_unique<HeisenbergExchange>(s, std::vector<double>{kJ}));
    h.bind(s);
  }
};

void BM_Metropolis(benchmark::State& state) {
  const int L = static_cast<int>(state.range(0));
  Setup x(L);
  MetropolisOptions o;
  o.move = static_cast<MoveType>(state.range(1));
  MetropolisSampler mc(x.h, x.s, o);
  mc.set_temperature(units::temperature_of(kJ));
  mc.equilibrate(x.s, 20);
  for (auto _ : state) mc.sweep(x.s);
  state.counters["trials/s"] = benchmark::Counter(
      static_cast<double>(x.s.size()) * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["acceptance"] = mc.acceptance();
}

void BM_Wolff(benchmark::State& state) {
  const int L = static_cast<int>(state.range(0));
  Setup x(L);
  WolffSampler w(x.h, x.s, 1);
  w.set_temperature(units::temperature_of(1.443 * kJ));
  w.equilibrate(x.s, 50);
  std::uint64_t flipped = 0;
  for (auto _ : state) flipped += w.sweep(x.s);
  state.counters["flips/s"] =
      benchmark::Counter(static_cast<double>(flipped), benchmark::Counter::kIsRate);
  state.counters["mean_cluster"] = w.mean_cluster_size();
}
}  // namespace

BENCHMARK(BM_Metropolis)
    ->ArgsProduct({{32, 64}, {0, 1, 3}})
    ->ArgNames({"L", "move"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_Wolff)->Arg(32)->ArgName("L")->Unit(benchmark::kMillisecond)->UseRealTime();
