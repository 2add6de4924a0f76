// The `spinlat` command line (README.md, docs/architecture.md "How to add a command"): the
// commands of the registry (spinlat/app/commands.hpp), the engine's and the learned module's.
#include <omp.h>

#include <atomic>
#include <csignal>
#include <algorithm>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "spinlat/app/commands.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/core/threads.hpp"
#include "spinlat/parallel/ranks.hpp"
#include "spinlat/version.hpp"
// The build's one switch: a LibTorch build adds the learned module's commands.
#ifdef SPINLAT_HAVE_TORCH
#include "spinlat/learned/tools/commands.hpp"
#else
namespace spinlat {
inline void add_learned_commands(CommandRegistry&) {}  // builtin_commands() says LibTorch is needed
}  // namespace spinlat
#endif

namespace {

// The only process-wide state: set from a signal handler, read by the run loop.
std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop.store(true); }

spinlat::CommandRegistry all_commands() {
  spinlat::CommandRegistry r = spinlat::builtin_commands();
  spinlat::add_learned_commands(r);
  return r;
}

std::string usage(const spinlat::CommandRegistry& r) {
  std::ostringstream s;
  s << "spinlat — Monte Carlo and spin-lattice dynamics for finite-temperature magnetism\n\nusage:\n";
  for (const spinlat::Command& c : r.commands())
    for (const std::string& u : c.usage) s << "  " << u << "\n";
  s << "  spinlat --version | --help\n\n";
  for (const spinlat::Command& c : r.commands()) {  // the help wrapped at 96 columns, indented 10
    std::istringstream words(c.help);
    std::string line = c.name + std::string(10 - std::min<std::size_t>(9, c.name.size()), ' '), w;
    std::size_t width = line.size();
    while (words >> w) {
      if (width + w.size() > 96 && width > 10) {
        s << line << "\n";
        line = std::string(10, ' ');
        width = 10;
      } else if (width > 10) {
        line += ' ';
        ++width;
      }
      line += w;
      width += w.size();
    }
    s << line << "\n";
  }
  s << "--set     overrides any key by dotted path, e.g. --set structure.cells=[8,8,8]\n"
       "          --set potential.0.J=[0.01] (array index for arrays of tables).\n"
       "Units: LAMMPS metal (Å, eV, ps, amu, K) plus μB and tesla. See README.md and docs/.\n";
  return s.str();
}

}  // namespace

int main(int argc, char** argv) {
  const spinlat::CommandRegistry commands = all_commands();
  if (argc < 2) {
    std::cerr << usage(commands);
    return 2;
  }
  const std::string cmd = argv[1];
  const spinlat::Command* command = commands.find(cmd);
  // Commands that run parallel work: libgomp's wait policy must be set before it loads
  // (core/threads.hpp); this re-executes the program once when the user has not set it.
  if (command && command->parallel) spinlat::reexec_with_wait_policy(argv);
  if (command && command->stoppable) {
    // Installed first thing: a stop request during start-up still ends in a checkpoint.
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
  }
  // `run` under mpirun/srun: sweep points over ranks (docs/parallel.md); a plain process otherwise.
  struct Ranks {
    Ranks(bool on, int* argc, char*** argv) { if (on) spinlat::parallel::start(argc, argv); }
    ~Ranks() { spinlat::parallel::finish(); }
  } ranks(cmd == "run", &argc, &argv);
  // An error on one rank ends all of them: the others would wait for its results forever.
  auto fail = [](int code) { spinlat::parallel::abort_all(code); return code; };
  try {
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
      std::cout << usage(commands);
      return 0;
    }
    if (cmd == "--version" || cmd == "version") {
      std::cout << "spinlat " << spinlat::kVersion;
      if (spinlat::parallel::built_with_mpi()) std::cout << " (MPI)";
      for (const std::string& note : commands.build_notes) std::cout << " (" << note << ")";
      std::cout << ", OpenMP threads available: " << omp_get_max_threads() << "\n";
      std::cout << "threads = 0 would use " << spinlat::threads_summary(spinlat::resolve_threads(0)) << "\n";
      return 0;
    }
    if (!command) {
      std::cerr << "spinlat: unknown command '" << cmd << "' (expected " << commands.names() << "; see spinlat --help)\n";
      return 2;
    }
    const std::vector<std::string> args(argv + 2, argv + argc);
    spinlat::CommandLine line;
    if (command->own_options) line.raw = args;
    else line = spinlat::parse_command_line(args);
    line.stop = &g_stop;
    return command->run(line);
  } catch (const spinlat::InputError& e) {
    std::cerr << "spinlat: error: " << e.what() << "\n";
    return fail(2);
  } catch (const spinlat::NumericalError& e) {
    std::cerr << "spinlat: numerical error: " << e.what() << "\n";
    return fail(1);
  } catch (const std::exception& e) {
    std::cerr << "spinlat: error: " << e.what() << "\n";
    return fail(1);
  }
}
