// The learned module's commands (spinlat/learned/tools/commands.hpp): they replace the
// placeholders of builtin_commands() (src/app/commands.cpp) in a LibTorch build.
#include "spinlat/learned/tools/commands.hpp"

#include <iostream>
#include <string>
#include <vector>

#include "spinlat/io/extxyz.hpp"
#include "spinlat/learned/tools/bench.hpp"
#include "spinlat/learned/tools/convert.hpp"
#include "spinlat/learned/tools/evaluate.hpp"
#include "spinlat/learned/tools/export.hpp"
#include "spinlat/learned/tools/train_command.hpp"
#include "spinlat/learned/torch_info.hpp"
#include "spinlat/workflows/all_terms.hpp"
#include "spinlat/workflows/build.hpp"
#include "spinlat/workflows/input.hpp"

namespace spinlat {

namespace {

// The placeholder's entry with a new function (usage, help and flags kept).
void replace(CommandRegistry& r, const std::string& name, std::function<int(const Command&, const CommandLine&)> fn) {
  const Command* old = r.find(name);
  if (!old) throw std::logic_error("add_learned_commands: no command '" + name + "' to replace");
  r.add(with_function(*old, std::move(fn)));
}

int eval(const Command& self, const CommandLine& a) {
  if (a.positional.size() != 2 || a.output.empty()) throw usage_error(self);
  const Config c = read_config(a.positional[0], a.overrides);
  const System s = build_system(c);
  Hamiltonian h = build_hamiltonian(c, s, all_terms());
  const auto frames = read_extxyz(a.positional[1]);
  std::vector<Frame> out;
  evaluate_frames(h, frames, out, s.species_name);
  write_extxyz(a.output, out);
  std::cerr << "evaluated " << out.size() << " frames -> " << a.output << "\n";
  return 0;
}

int train(const Command& self, const CommandLine& a) {
  if (a.positional.size() != 1) throw usage_error(self);
  return train_command(a.positional[0], a.restart, std::cout, a.overrides);
}

int export_model(const Command& self, const CommandLine& a) {
  if (a.positional.size() != 1 || a.output.empty()) throw usage_error(self);
  return export_command(a.positional[0], a.output, std::cout);
}

int convert(const Command& self, const CommandLine& a) {
  if (a.positional.size() != 1 || a.output.empty()) throw usage_error(self);
  return convert_command(a.positional[0], a.output, std::cout);
}

int bench_learned(const CommandLine& a) {
  LearnedBenchOptions lo;
  if (a.positional.size() > 1) lo.model = a.positional[1];
  for (std::size_t k = 2; k < a.positional.size(); ++k) {  // sizes in conventional cells
    const std::string& c = a.positional[k];
    if (c.empty() || c.find_first_not_of("0123456789") != std::string::npos || c.size() > 3 || std::stoi(c) < 1)
      throw InputError("spinlat bench learned: CELLS must be positive integers, got '" + c + "'");
    lo.cells.push_back(std::stoi(c));
  }
  lo.quick = a.quick;
  lo.threads = a.threads;
  return run_learned_benchmark(lo, std::cout);
}

}  // namespace

void add_learned_commands(CommandRegistry& r) {
  replace(r, "eval", eval);
  replace(r, "train", train);
  replace(r, "export", export_model);
  replace(r, "convert", convert);
  // `bench learned` here; every other suite stays the engine's.
  const auto engine_bench = r.find("bench")->run;
  replace(r, "bench", [engine_bench](const Command&, const CommandLine& a) {
    if (!a.positional.empty() && a.positional[0] == "learned") return bench_learned(a);
    return engine_bench(a);
  });
  r.build_notes.push_back("LibTorch " + torch_version());
}

}  // namespace spinlat
