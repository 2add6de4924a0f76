#pragma once
#include "spinlat/core/error.hpp"
// Running an input file: stages in order, or a temperature sweep; results to HDF5.
#include <atomic>
#include <string>
#include <vector>

#include "spinlat/dynamics/md.hpp"
#include "spinlat/workflows/build.hpp"
#include "spinlat/workflows/input.hpp"
#include "spinlat/terms/hamiltonian.hpp"
#include "spinlat/terms/registry.hpp"

namespace spinlat {

struct RunOptions {
  std::string input;                   ///< TOML file
  std::string output;                  ///< HDF5 file ("" = [output] file of the input)
  std::vector<std::string> overrides;  ///< --set KEY=VALUE
  bool restart = false;                ///< continue from the output's checkpoint
  bool quiet = false;
  /// Set by a signal handler: the run writes a checkpoint and returns early.
  const std::atomic<bool>* stop = nullptr;
};

/// The command that continues a stopped run: the same input, `-o` and every `--set`, then
/// `--restart` (printed when a run stops with a checkpoint).
std::string restart_command(const RunOptions& options);

/// Line of `key = ...` inside the TOML table [table] of the input file (0 if not there).
int line_of_key(const Config& c, const std::string& table, const std::string& key);
/// An InputError about `table.key`: naming the `--set` argument that gave it (or a table above
/// it) its value, else the file and the key's line.
InputError key_input_error(const Config& c, const std::string& table, const std::string& key, const std::string& message);
/// The same for a dotted key whose line (0: unknown) the caller knows.
InputError key_input_error(const Config& c, const std::string& dotted, int line, const std::string& message);

/// The input location of a stage's or the sweep's driver (`where` = "stage.2" or "sweep"):
/// its file, the key that chose the sampler (algorithm, method or type) and that key's line.
InputError driver_input_error(const Config& c, const std::string& where, const std::string& message);

/// Runs `make` (building a driver against the Hamiltonian); an InputError that names no file
/// (a sampler refusing the Hamiltonian, e.g. Wolff with anisotropy) comes back naming the
/// input file, the stage or sweep key and its line. `validate` builds every driver this way,
/// so it refuses what `run` would.
template <class Make>
auto with_input_location(const Config& c, const std::string& where, Make&& make) -> decltype(make()) {
  try {
    return make();
  } catch (const InputError& e) {
    if (!e.file().empty()) throw;
    throw driver_input_error(c, where, e.what());
  }
}

/// Throws InputError unless the input has a [[stage]] or a [sweep]. Reading an input does not
/// require one (`spinlat eval` needs only [structure] and [[potential]]); running it does.
void require_something_to_run(const Config& c);

/// Reads, validates and builds everything an input needs without running; returns a short
/// human-readable summary. Throws InputError on any problem.
std::string validate_input(const std::string& path, const std::vector<std::string>& overrides,
                           const TermRegistry& registry);

/// Runs the input. Returns 0 when finished, 3 when interrupted by a stop request (a
/// checkpoint was written and --restart continues). Throws InputError / NumericalError.
int run_input(const RunOptions& options, const TermRegistry& registry);

}  // namespace spinlat
