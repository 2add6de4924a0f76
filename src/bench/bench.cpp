#include "spinlat/bench/bench.hpp"

#include <omp.h>

#include <cstdio>
#include <vector>

#include "spinlat/core/error.hpp"
#include "spinlat/bench/llg.hpp"
#include "spinlat/bench/md.hpp"
#include "spinlat/bench/sld.hpp"
#include "spinlat/bench/mc.hpp"

namespace spinlat {

int run_benchmarks(const BenchOptions& o, std::ostream& out) {
  const bool all = o.which == "all";
  if (!all && o.which != "mc" && o.which != "llg" && o.which != "md" && o.which != "sld") {
    out << "unknown benchmark '" << o.which << "' (expected mc, llg, md, sld or all)\n";
    return 2;
  }
  std::vector<int> threads;
  if (o.threads > 0) threads = {o.threads};
  else {
    threads = {1};
    if (omp_get_num_procs() > 1) threads.push_back(2);
  }
  char line[256];
  out << "spinlat bench (" << omp_get_num_procs() << " processors)\n";
  if (all || o.which == "mc") {
    for (int L : {32, 64})
      for (int t : threads) {
        const int sweeps = o.quick ? 5 : (L == 32 ? 400 : 60);
        const auto r = run_metropolis_benchmark(L, t, sweeps);
        std::snprintf(line, sizeof line, "mc   metropolis gaussian  sc %2d^3  threads %d  %10.3e spin trials/s  (acceptance %.2f)\n",
                      L, t, r.trials_per_second, r.acceptance);
        out << line << std::flush;
      }
  }
  if (all || o.which == "llg") {
    for (int L : {32, 64})
      for (int t : threads) {
        const int steps = o.quick ? 5 : (L == 32 ? 300 : 40);
        std::snprintf(line, sizeof line, "llg  heun stochastic      sc %2d^3  threads %d  %10.3e spin-steps/s\n", L, t,
                      benchmark_llg(L, t, steps));
        out << line << std::flush;
      }
  }
  if (all || o.which == "md") {
    for (int atoms : {2000, 16000})
      for (int t : threads) {
        const int steps = o.quick ? 3 : (atoms == 2000 ? 200 : 30);
        try {
          std::snprintf(line, sizeof line, "md   eam Fe verlet NVE    %5d atoms  threads %d  %10.3e atom-steps/s\n", atoms, t,
                        benchmark_md(atoms, t, steps));
        } catch (const InputError& e) {
          std::snprintf(line, sizeof line, "md   skipped: %s\n", e.what());
        }
        out << line << std::flush;
      }
  }
  if (all || o.which == "sld") {
    for (int atoms : {2000, 16000})
      for (int t : threads) {
        const int steps = o.quick ? 3 : (atoms == 2000 ? 200 : 30);
        try {
          std::snprintf(line, sizeof line, "sld  Fe EAM+Bethe-Slater  %5d atoms  threads %d  %10.3e atom-steps/s\n", atoms, t,
                        benchmark_sld(atoms, t, steps));
        } catch (const InputError& e) {
          std::snprintf(line, sizeof line, "sld  skipped: %s\n", e.what());
        }
        out << line << std::flush;
      }
  }
  return 0;
}

}  // namespace spinlat
