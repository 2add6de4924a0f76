#pragma once
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
