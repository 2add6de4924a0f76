// The `spinlat` command line (CONTRACT.md "Commands").
#include <omp.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "spinlat/core/error.hpp"
#include "spinlat/core/threads.hpp"
#include "spinlat/version.hpp"
#include "spinlat/workflows/all_terms.hpp"
#include "spinlat/bench/bench.hpp"
#include "spinlat/workflows/run.hpp"
#include "spinlat/workflows/spin_map.hpp"
#ifdef SPINLAT_HAVE_TORCH
#include "spinlat/io/extxyz.hpp"
#include "spinlat/learned/tools/evaluate.hpp"
#include "spinlat/learned/tools/export.hpp"
#include "spinlat/learned/mace_native.hpp"
#include "spinlat/learned/tools/convert.hpp"
#include "spinlat/learned/tools/bench.hpp"
#include "spinlat/learned/learned_term.hpp"
#include "spinlat/learned/torch_info.hpp"
#include "spinlat/learned/tools/train_command.hpp"
#endif

namespace {

// The only process-wide state: set from a signal handler, read by the run loop.
std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop.store(true); }

const char* kUsage = R"(spinlat — Monte Carlo and spin-lattice dynamics for finite-temperature magnetism

usage:
  spinlat run INPUT.toml [-o OUT.h5] [--set KEY=VALUE ...] [--restart] [--quiet]
  spinlat validate INPUT.toml [--set KEY=VALUE ...]
  spinlat eval INPUT.toml FRAMES.xyz -o OUT.xyz
  spinlat train CONFIG.toml [--set KEY=VALUE ...] [--restart]
  spinlat export MODEL.spl -o MODEL.pt
  spinlat map INPUT.toml -o SPIN_MODEL.toml [--format toml|vampire|uppasd] [--shells N] [--terms dmi,anisotropy,biquadratic,landau]
  spinlat convert MODEL.pt -o MODEL.spl
  spinlat bench [mc|llg|md|sld|all] [--quick] [--threads N]
  spinlat bench learned [MODEL] [CELLS ...] [--quick] [--threads N]
  spinlat --version | --help

run       runs every stage (and the sweep) of an input, writing HDF5 as it goes; SIGINT/SIGTERM
          write a checkpoint and stop; --restart continues from it.
validate  checks an input (keys, values, structure, potentials) without running it.
export    writes a native model (spinlat train) as a TorchScript module with the same energies.
convert   converts an upstream magnetic MACE TorchScript file to spinlat's plain C++ evaluator.
--set     overrides any key by dotted path, e.g. --set structure.cells=[8,8,8]
          --set potential.0.J=[0.01] (array index for arrays of tables).
Units: LAMMPS metal (Å, eV, ps, amu, K) plus μB and tesla. See README.md and docs/.
)";

spinlat::TermRegistry make_registry() { return spinlat::all_terms(); }

struct Args {
  std::vector<std::string> positional;
  std::vector<std::string> overrides;
  std::string output;
  bool restart = false, quiet = false, quick = false;
  int threads = -1;
};

Args parse_args(int argc, char** argv, int first) {
  Args a;
  for (int k = first; k < argc; ++k) {
    const std::string s = argv[k];
    auto value = [&](const char* what) -> std::string {
      if (k + 1 >= argc) throw spinlat::InputError(std::string("option ") + s + " needs " + what);
      return argv[++k];
    };
    if (s == "-o" || s == "--output") a.output = value("a file name");
    else if (s == "--set") a.overrides.push_back(value("KEY=VALUE"));
    else if (s.rfind("--set=", 0) == 0) a.overrides.push_back(s.substr(6));
    else if (s == "--restart") a.restart = true;
    else if (s == "--quiet" || s == "-q") a.quiet = true;
    else if (s == "--quick") a.quick = true;
    else if (s == "--threads") a.threads = std::stoi(value("a number"));
    else if (!s.empty() && s[0] == '-') throw spinlat::InputError("unknown option '" + s + "' (see spinlat --help)");
    else a.positional.push_back(s);
  }
  return a;
}

int command_run(const Args& a) {
  if (a.positional.size() != 1) throw spinlat::InputError("usage: spinlat run INPUT.toml [-o OUT.h5] [--set KEY=VALUE ...] [--restart]");
  spinlat::RunOptions o;
  o.input = a.positional[0];
  o.output = a.output;
  o.overrides = a.overrides;
  o.restart = a.restart;
  o.quiet = a.quiet;
  o.stop = &g_stop;
  return spinlat::run_input(o, make_registry());
}

int command_validate(const Args& a) {
  if (a.positional.size() != 1) throw spinlat::InputError("usage: spinlat validate INPUT.toml [--set KEY=VALUE ...]");
  std::cout << spinlat::validate_input(a.positional[0], a.overrides, make_registry());
  std::cout << a.positional[0] << ": valid\n";
  return 0;
}

int command_eval(const Args& a) {
  if (a.positional.size() != 2 || a.output.empty())
    throw spinlat::InputError("usage: spinlat eval INPUT.toml FRAMES.xyz -o OUT.xyz");
#ifdef SPINLAT_HAVE_TORCH
  const spinlat::Config c = spinlat::read_config(a.positional[0], a.overrides);
  const spinlat::System s = spinlat::build_system(c);
  spinlat::Hamiltonian h = spinlat::build_hamiltonian(c, s, make_registry());
  const auto frames = spinlat::read_extxyz(a.positional[1]);
  std::vector<spinlat::Frame> out;
  spinlat::evaluate_frames(h, frames, out, s.species_name);
  spinlat::write_extxyz(a.output, out);
  std::cerr << "evaluated " << out.size() << " frames -> " << a.output << "\n";
  return 0;
#else
  throw spinlat::InputError("spinlat eval needs a build with LibTorch (SPINLAT_WITH_TORCH=ON)");
#endif
}

int command_bench(const Args& a) {
  spinlat::BenchOptions o;
  o.quick = a.quick;
  o.threads = a.threads;
  o.which = a.positional.empty() ? "all" : a.positional[0];
  if (o.which == "learned") {
#ifdef SPINLAT_HAVE_TORCH
    spinlat::LearnedBenchOptions lo;
    if (a.positional.size() > 1) lo.model = a.positional[1];
    for (std::size_t k = 2; k < a.positional.size(); ++k) {  // sizes in conventional cells
      const std::string& c = a.positional[k];
      if (c.empty() || c.find_first_not_of("0123456789") != std::string::npos || c.size() > 3 || std::stoi(c) < 1)
        throw spinlat::InputError("spinlat bench learned: CELLS must be positive integers, got '" + c + "'");
      lo.cells.push_back(std::stoi(c));
    }
    lo.quick = a.quick;
    lo.threads = a.threads;
    return spinlat::run_learned_benchmark(lo, std::cout);
#else
    throw spinlat::InputError("spinlat bench learned needs a build with LibTorch (SPINLAT_WITH_TORCH=ON)");
#endif
  }
  return spinlat::run_benchmarks(o, std::cout);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string cmd = argv[1];
  // Commands that run parallel work: libgomp's wait policy must be set before it loads
  // (core/threads.hpp); this re-executes the program once when the user has not set it.
  if (cmd == "run" || cmd == "bench" || cmd == "train" || cmd == "eval") spinlat::reexec_with_wait_policy(argv);
  if (cmd == "run") {
    // Installed first thing: a stop request during start-up still ends in a checkpoint.
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
  }
  try {
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
      std::cout << kUsage;
      return 0;
    }
    if (cmd == "--version" || cmd == "version") {
      std::cout << "spinlat " << spinlat::kVersion;
#ifdef SPINLAT_HAVE_TORCH
      std::cout << " (LibTorch " << spinlat::torch_version() << ")";
#endif
      std::cout << ", OpenMP threads available: " << omp_get_max_threads() << "\n";
      std::cout << "threads = 0 would use " << spinlat::threads_summary(spinlat::resolve_threads(0)) << "\n";
      return 0;
    }
    if (cmd == "map") return spinlat::map_command(std::vector<std::string>(argv + 2, argv + argc), make_registry(), std::cout);
    const Args a = parse_args(argc, argv, 2);
    if (cmd == "run") return command_run(a);
    if (cmd == "validate") return command_validate(a);
    if (cmd == "bench") return command_bench(a);
    if (cmd == "eval") return command_eval(a);
    if (cmd == "train") {
      if (a.positional.size() != 1) throw spinlat::InputError("usage: spinlat train CONFIG.toml [--set KEY=VALUE ...] [--restart]");
#ifdef SPINLAT_HAVE_TORCH
      return spinlat::train_command(a.positional[0], a.restart, std::cout, a.overrides);
#else
      throw spinlat::InputError("spinlat train needs a build with LibTorch (SPINLAT_WITH_TORCH=ON)");
#endif
    }
    if (cmd == "export") {
      if (a.positional.size() != 1 || a.output.empty()) throw spinlat::InputError("usage: spinlat export MODEL.spl -o MODEL.pt");
#ifdef SPINLAT_HAVE_TORCH
      return spinlat::export_command(a.positional[0], a.output, std::cout);
#else
      throw spinlat::InputError("spinlat export needs a build with LibTorch (SPINLAT_WITH_TORCH=ON)");
#endif
    }
    if (cmd == "convert") {
      if (a.positional.size() != 1 || a.output.empty()) throw spinlat::InputError("usage: spinlat convert MODEL.pt -o MODEL.spl");
#ifdef SPINLAT_HAVE_TORCH
      return spinlat::convert_command(a.positional[0], a.output, std::cout);
#else
      throw spinlat::InputError("spinlat convert needs a build with LibTorch (SPINLAT_WITH_TORCH=ON)");
#endif
    }
    std::cerr << "spinlat: unknown command '" << cmd << "' (expected run, validate, eval, train, export, convert, bench)\n";
    return 2;
  } catch (const spinlat::InputError& e) {
    std::cerr << "spinlat: error: " << e.what() << "\n";
    return 2;
  } catch (const spinlat::NumericalError& e) {
    std::cerr << "spinlat: numerical error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "spinlat: error: " << e.what() << "\n";
    return 1;
  }
}
