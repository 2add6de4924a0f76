// The engine's commands of the `spinlat` program (docs/architecture.md "How to add a
// command"): run, validate, map, bench; eval, train, export and convert are the learned
// module's (src/learned/tools/commands.cpp) and here only say that they need LibTorch.
#include <iostream>
#include <string>
#include <vector>

#include "spinlat/app/commands.hpp"
#include "spinlat/workflows/all_terms.hpp"
#include "spinlat/bench/bench.hpp"
#include "spinlat/workflows/run.hpp"
#include "spinlat/workflows/screen.hpp"
#include "spinlat/workflows/spin_map.hpp"

namespace spinlat {

namespace {

int run_command(const Command& self, const CommandLine& a) {
  if (a.positional.size() != 1) throw usage_error(self);
  RunOptions o;
  o.input = a.positional[0];
  o.output = a.output;
  o.overrides = a.overrides;
  o.restart = a.restart;
  o.quiet = a.quiet;
  o.stop = a.stop;
  return run_input(o, all_terms());
}

int validate_command(const Command& self, const CommandLine& a) {
  if (a.positional.size() != 1) throw usage_error(self);
  std::cout << validate_input(a.positional[0], a.overrides, all_terms());
  std::cout << a.positional[0] << ": valid\n";
  return 0;
}

int bench_command(const CommandLine& a) {
  BenchOptions o;
  o.quick = a.quick;
  o.threads = a.threads;
  o.which = a.positional.empty() ? "all" : a.positional[0];
  if (o.which == "learned") throw InputError("spinlat bench learned needs a build with LibTorch (SPINLAT_WITH_TORCH=ON)");
  return run_benchmarks(o, std::cout);
}

// A command of the learned module in a build without LibTorch.
Command needs_torch(const std::string& name, std::vector<std::string> usage, std::string help, bool parallel) {
  Command c{name, std::move(usage), std::move(help), nullptr, parallel};
  c.run = [name](const CommandLine&) -> int {
    throw InputError("spinlat " + name + " needs a build with LibTorch (SPINLAT_WITH_TORCH=ON)");
  };
  return c;
}

}  // namespace

CommandRegistry builtin_commands() {
  CommandRegistry r;
  Command run{"run", {"spinlat run INPUT.toml [-o OUT.h5] [--set KEY=VALUE ...] [--restart] [--quiet]"},
              "runs every stage (and the sweep) of an input, writing HDF5 as it goes; SIGINT/SIGTERM "
              "write a checkpoint and stop; --restart continues from it.",
              nullptr};
  run.parallel = run.stoppable = true;
  r.add(with_function(run, run_command));
  r.add(with_function({"validate", {"spinlat validate INPUT.toml [--set KEY=VALUE ...]"},
                       "checks an input (keys, values, structure, potentials) without running it.", nullptr},
                      validate_command));
  r.add(needs_torch("eval", {"spinlat eval INPUT.toml FRAMES.xyz -o OUT.xyz"},
                    "evaluates the input's potentials on every frame of an extended XYZ file.", true));
  Command map{"map",
              {"spinlat map INPUT.toml -o SPIN_MODEL.toml [--format toml|vampire|uppasd] [--shells N] "
               "[--terms dmi,anisotropy,biquadratic,landau] [--configs N] [--held-out N] [--force-weight W] [--seed S] "
               "[--set KEY=VALUE ...]"},
              "maps the input's potentials onto a spin model (exchange shells and the chosen terms).",
              [](const CommandLine& a) { return map_command(a.raw, all_terms(), std::cout); }};
  map.own_options = true;
  r.add(map);
  Command screen{"screen",
                 {"spinlat screen LIST_OR_FOLDER --model MODEL -o OUT [--moment M | --moment Fe=2.2,Co=1.7] "
                  "[--axes 001,100,110,111] [--cells N] [--shells N] [--terms dmi,anisotropy,biquadratic,landau] "
                  "[--mc-sweeps N | --no-mc] [--relax-starts N] [--relax-steps N] [--seed S] [--threads N] [--quiet]"},
                 "screens many structures with one model: ground state, anisotropy energies, mapped exchange, "
                 "mean-field and Monte Carlo ordering temperatures; one table (OUT/screen.csv, OUT/screen.h5); "
                 "a killed screen continues where it stopped.",
                 [](const CommandLine& a) { return screen_command(a.raw, all_terms(), std::cout); }};
  screen.own_options = true;
  r.add(screen);
  r.add(needs_torch("train", {"spinlat train CONFIG.toml [--set KEY=VALUE ...] [--restart]"},
                    "fits a native learned potential to a data set.", true));
  r.add(needs_torch("export", {"spinlat export MODEL.spl -o MODEL.pt"},
                    "writes a native model (spinlat train) as a TorchScript module with the same energies.", false));
  r.add(needs_torch("convert", {"spinlat convert MODEL.pt -o MODEL.spl"},
                    "converts an upstream magnetic MACE TorchScript file to spinlat's plain C++ evaluator.", false));
  Command bench{"bench",
                {"spinlat bench [mc|llg|md|sld|all] [--quick] [--threads N]",
                 "spinlat bench learned [MODEL] [CELLS ...] [--quick] [--threads N]"},
                "prints throughput figures (docs/performance.md).", bench_command};
  bench.parallel = true;
  r.add(bench);
  return r;
}

}  // namespace spinlat
