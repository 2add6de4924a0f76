#include "spinlat/learned/tools/bench.hpp"

#include <omp.h>

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/io/extxyz.hpp"
#include "spinlat/learned/learned_term.hpp"
#include "spinlat/learned/mace_native.hpp"
#include "spinlat/mc/metropolis.hpp"
#include "spinlat/terms/hamiltonian.hpp"

namespace spinlat {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// CPU time of the whole process (all threads), s: on a shared machine it counts only what
// this process ran.
double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// bcc Fe, cells³ conventional cells (2 atoms each), moments 2.2 μB at random directions and
// positions jiggled by 0.05 Å so that no symmetry makes the work smaller than in a run.
System bench_system(int cells) {
  System s = build_supercell(standard_lattice("bcc", 2.8665, 0.0, {"Fe"}, {2.2}), {cells, cells, cells});
  set_spins_random(s, 7);
  Engine rng(8);
  for (auto& r : s.position)
    for (int c = 0; c < 3; ++c) r[c] += 0.05 * (2.0 * uniform01(rng) - 1.0);
  return s;
}

// Seconds per full evaluation (energy, forces, magnetic forces), the mean over repetitions
// lasting at least `min_time` (at least two): wall clock, and the process's CPU time in `cpu`.
double full_evaluation_seconds(const Hamiltonian& h, const System& s, double min_time, double* cpu = nullptr) {
  std::vector<Vec3> f(s.size()), b(s.size());
  Derivatives d;
  d.force = &f;
  d.magnetic_force = &b;
  h.compute(s, d);  // warm-up
  int n = 0;
  const double c0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  do {
    h.compute(s, d);
    ++n;
  } while (n < 2 || seconds_since(t0) < min_time);
  if (cpu) *cpu = (cpu_seconds() - c0) / n;
  return seconds_since(t0) / n;
}

// Peak resident memory of this process so far, MB (the high-water mark: it only grows).
double peak_rss_mb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // Linux: kB
}

// Upstream eager PyTorch on the same frame, through scripts/bench-upstream-eager.sh (next to
// the binary's source tree: <binary>/../scripts, or $SPINLAT_SCRIPTS). Returns the script's
// result line, or "missing: <why>".
std::string upstream_eager(const std::string& model, const System& s, double min_time) {
  namespace fs = std::filesystem;
  fs::path dir;
  if (const char* e = std::getenv("SPINLAT_SCRIPTS")) dir = e;
  else {
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) dir = exe.parent_path().parent_path() / "scripts";
  }
  const fs::path script = dir / "bench-upstream-eager.sh";
  if (!fs::exists(script)) return "missing: no " + script.string() + " (set SPINLAT_SCRIPTS)";
  const fs::path frame = fs::temp_directory_path() / ("spinlat_bench_" + std::to_string(getpid()) + ".xyz");
  write_extxyz(frame.string(), {Frame(s)});
  const std::string cmd = "'" + script.string() + "' '" + model + "' '" + frame.string() + "' " +
                          std::to_string(min_time) + " 2>&1";
  std::string text;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    while (std::fgets(buf, sizeof buf, p)) text += buf;
    const int rc = pclose(p);
    fs::remove(frame);
    std::istringstream in(text);
    std::string line, last;
    while (std::getline(in, line)) {
      if (line.rfind("upstream-eager ", 0) == 0) return line;
      if (!line.empty()) last = line;
    }
    return "missing: " + (last.empty() ? "the script failed (status " + std::to_string(rc) + ")" : last);
  }
  fs::remove(frame);
  return "missing: could not run " + script.string();
}

// The number after `key` in the script's line (-1 if absent).
double field(const std::string& line, const std::string& key) {
  std::istringstream in(line);
  std::string w;
  while (in >> w)
    if (w == key && in >> w) return std::stod(w);
  return -1.0;
}

// Which kernels the converted evaluator runs here (docs/learned-potential.md, "Kernels").
std::string mace_kernels_line() {
  const bool simd = mace_simd_available() && !mace_portable_kernels_forced();
  return std::string("converted evaluator's kernels: ") + (simd ? "avx2+fma" : "portable") +
         (mace_portable_kernels_forced() ? " (SPINLAT_PORTABLE_KERNELS)" : "");
}

// An upstream MACE TorchScript file: upstream eager PyTorch, spinlat's TorchScript path and the
// converted native evaluator side by side on the same frames, one thread (issue 12).
int side_by_side(const LearnedBenchOptions& o, std::ostream& out) {
  namespace fs = std::filesystem;
  char line[320];
  const double min_time = o.quick ? 0.2 : 2.0;
  const fs::path spl = fs::temp_directory_path() / ("spinlat_bench_" + std::to_string(getpid()) + ".spl");
  write_mace_archive(convert_mace_torchscript(o.model), spl.string());
  std::vector<int> sizes = o.cells;
  if (sizes.empty()) sizes = {4, 6};  // 128 and 432 atoms
  const int threads = o.threads > 0 ? o.threads : 1;
  set_learned_threads(threads);
  omp_set_num_threads(threads);
  out << "E + forces + magnetic forces, float64, " << threads
      << " thread(s); atoms/s from CPU time of the process (wall clock in brackets); peak RSS: the process's "
         "high-water mark after the path ran (spinlat: native first, then TorchScript; run one size per call for a clean "
         "figure; Python: its own process)\n"
      << mace_kernels_line() << "\n";
  for (int cells : sizes) {
    const System s = bench_system(cells);
    const double n = static_cast<double>(s.size());
    for (const bool native : {true, false}) {
      LearnedOptions lo;
      lo.model = native ? spl.string() : o.model;
      lo.convert = false;  // the TorchScript row measures LibTorch
      const double rss0 = peak_rss_mb();
      Hamiltonian h;
      h.add(std::make_unique<LearnedPotential>(lo));
      h.bind(s);
      double cpu = 0.0;
      const double sec = full_evaluation_seconds(h, s, min_time, &cpu);
      std::snprintf(line, sizeof line,
                    "%-22s %5zu atoms  %10.3e atoms/s  (wall %10.3e)  peak RSS %8.1f MB (%.1f MB before the model "
                    "was loaded)\n",
                    native ? "spinlat native" : "spinlat TorchScript", s.size(), n / cpu, n / sec, peak_rss_mb(), rss0);
      out << line << std::flush;
    }
    const std::string up = upstream_eager(o.model, s, min_time);
    if (up.rfind("missing: ", 0) == 0) {
      out << "upstream eager PyTorch " << s.size() << " atoms  not measured: " << up.substr(9) << "\n";
    } else {
      std::snprintf(line, sizeof line,
                    "%-22s %5zu atoms  %10.3e atoms/s  (wall %10.3e)  peak RSS %8.1f MB (%.1f MB before the first "
                    "evaluation)\n",
                    "upstream eager PyTorch", s.size(), n / field(up, "cpu_s_per_eval"),
                    n / field(up, "wall_s_per_eval"), field(up, "rss_peak_MB"), field(up, "rss_before_MB"));
      out << line << std::flush;
    }
  }
  fs::remove(spl);
  return 0;
}

}  // namespace

int run_learned_benchmark(const LearnedBenchOptions& o, std::ostream& out) {
  std::vector<int> threads;
  if (o.threads > 0) threads = {o.threads};
  else {
    threads = {1};
    if (omp_get_num_procs() > 1) threads.push_back(2);
  }
  LearnedOptions lo;
  lo.model = o.model;
  lo.convert = false;  // a TorchScript file is measured as LibTorch runs it (side by side: both)
  char line[256];
  out << "spinlat bench learned: " << o.model << "\n";
  if (!is_mace_native_file(o.model) && LearnedPotential(lo).forward_form() == "mace") return side_by_side(o, out);
  if (is_mace_native_file(o.model)) out << mace_kernels_line() << "\n";
  const double min_time = o.quick ? 0.2 : 2.0;
  std::vector<int> sizes = o.cells;
  if (sizes.empty()) sizes = o.quick ? std::vector<int>{6} : std::vector<int>{10, 20};  // 432; 2000 and 16000 atoms
  for (int cells : sizes) {
    const System s = bench_system(cells);
    for (int t : threads) {
      set_learned_threads(t);
      omp_set_num_threads(t);
      Hamiltonian h;
      auto term = std::make_unique<LearnedPotential>(lo);
      const std::string form = term->forward_form();
      h.add(std::move(term));
      h.bind(s);
      double cpu = 0.0;
      const double sec = full_evaluation_seconds(h, s, min_time, &cpu);
      const double n = static_cast<double>(s.size());
      std::snprintf(line, sizeof line,
                    "learned E+F+magF  bcc Fe %5zu atoms  threads %d  %10.3e atom-evaluations/s  (CPU time: %10.3e)  %s\n",
                    s.size(), t, n / sec, n / cpu, form.c_str());
      out << line << std::flush;
    }
  }
  if (!o.cells.empty()) return 0;  // sizes given: full evaluations only
  // A Metropolis sweep (one trial per atom, Gaussian moves, 900 K) against a full evaluation of
  // the same system, for each Monte Carlo evaluator the model has: the plain C++ one ("auto",
  // native float64 models) and LibTorch's subgraph evaluation ("torch"). The trial cost does
  // not grow with N, so the ratio grows like N^0 when the local update works and like N when
  // it does not.
  set_learned_threads(1);
  omp_set_num_threads(1);
  for (int cells : o.quick ? std::vector<int>{4} : std::vector<int>{4, 6, 8, 10}) {
    const System start = bench_system(cells);
    double full = -1.0;
    for (const char* evaluator : {"auto", "torch"}) {
      LearnedOptions le = lo;
      le.mc_evaluator = evaluator;
      auto term = std::make_unique<LearnedPotential>(le);
      const bool fast = term->fast_trials();
      if (!fast && le.mc_evaluator == "auto") continue;  // TorchScript: the torch path only
      System s = start;
      Hamiltonian h;
      h.add(std::move(term));
      h.bind(s);
      if (full < 0.0) full = full_evaluation_seconds(h, s, min_time / 2);
      MetropolisOptions mo;
      mo.seed = 3;
      MetropolisSampler mc(h, s, mo);
      mc.set_temperature(900.0);
      mc.run(s, 1);  // warm-up (builds the term's trial cache)
      int sweeps = 0;
      const auto t0 = std::chrono::steady_clock::now();
      do {
        mc.run(s, 1);
        ++sweeps;
      } while (sweeps < (o.quick ? 1 : 2) || seconds_since(t0) < min_time / 2);
      const double sweep = seconds_since(t0) / sweeps;
      std::snprintf(line, sizeof line,
                    "learned metropolis bcc Fe %5zu atoms  threads 1  %-4s %10.3e spin trials/s  %7.2f us/trial  "
                    "sweep = %.2f full evaluations\n",
                    s.size(), fast ? "fast" : "torch", static_cast<double>(s.size()) / sweep,
                    1e6 * sweep / static_cast<double>(s.size()), sweep / full);
      out << line << std::flush;
    }
  }
  return 0;
}

}  // namespace spinlat
