#pragma once
// `spinlat train CONFIG.toml [--restart]` without LibTorch's headers (for the command line).
#include <iosfwd>
#include <string>
#include <vector>

namespace spinlat {

/// Reads the config, trains, writes model, log, checkpoint and summary; prints progress and
/// the final MAE/RMSE table to `out`. `overrides` are --set KEY=VALUE assignments (dotted
/// paths, e.g. data.max_frames=20). Returns the exit status: 0, or 3 when SIGINT/SIGTERM
/// stopped it after an epoch with a checkpoint (the last line says how to resume).
/// InputError for bad input.
int train_command(const std::string& config, bool restart, std::ostream& out,
                  const std::vector<std::string>& overrides = {});

}  // namespace spinlat
