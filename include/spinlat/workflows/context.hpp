#pragma once
// What the workflows (sweep, stages) share while one input runs.
#include <optional>
#include <string>

#include "spinlat/io/checkpoint.hpp"
#include "spinlat/io/hdf5.hpp"
#include "spinlat/workflows/run.hpp"

namespace spinlat {

struct RunContext {
  const Config& config;
  const RunOptions& options;
  const TermRegistry& registry;
  h5::File& file;                        ///< the results file, open for writing
  std::string checkpoint_file;           ///< <output>.ckpt
  std::optional<Checkpoint> resume;      ///< set when continuing (--restart)

  bool stop_requested() const { return options.stop && options.stop->load(); }
  /// Writes `c` atomically after flushing the results file (so the checkpoint never refers to
  /// results that are not on disk).
  void save(Checkpoint& c) const;
};

/// Runs [sweep]; returns 0 when finished, 3 when stopped with a checkpoint.
int run_sweep(RunContext& ctx);
/// Runs the [[stage]] list; returns 0 when finished, 3 when stopped with a checkpoint.
int run_stages(RunContext& ctx);

/// Energy per atom (eV) through the fast kernel when present.
double energy_per_atom(const Hamiltonian& h, const System& s);

}  // namespace spinlat
