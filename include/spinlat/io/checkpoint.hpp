#pragma once
// Checkpoints: everything a run needs to continue bit for bit (docs/output.md, "Checkpoints").
//
// A Checkpoint is a plain map of named blobs (byte strings: RNG states from
// StreamSet::save(), serialised object states), double arrays and int64 arrays. It is stored
// in its own HDF5 file, `<output>.ckpt`, never inside the results file, and replaced
// atomically: the new checkpoint is written to `<output>.ckpt.tmp`, flushed, fsync'ed,
// renamed over the old one, and the directory is fsync'ed (the POSIX rename is atomic).
// A kill or power loss at any instant therefore leaves either the previous or the new
// checkpoint intact, never a mixture. A 64-bit FNV-1a checksum over every name and byte is
// stored and verified on reading, so a damaged file is reported, not half-loaded.
//
// Layout: /blobs/<name> (uint8), /reals/<name> (float64), /integers/<name> (int64), with
// root attributes `format` = "spinlat-checkpoint", `format_version`, `spinlat_version`,
// `created` and `checksum`. Names may contain '/' (nested groups), e.g. "rng/metropolis".
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "spinlat/core/system.hpp"

namespace spinlat {

struct Checkpoint {
  std::map<std::string, std::string> blobs;
  std::map<std::string, std::vector<double>> reals;
  std::map<std::string, std::vector<std::int64_t>> integers;
  std::string source;  ///< file it was read from (for messages); empty if built in memory

  void set_blob(const std::string& name, std::string bytes) { blobs[name] = std::move(bytes); }
  void set_reals(const std::string& name, std::vector<double> v) { reals[name] = std::move(v); }
  void set_integers(const std::string& name, std::vector<std::int64_t> v) { integers[name] = std::move(v); }
  void set_real(const std::string& name, double v) { reals[name] = {v}; }
  void set_integer(const std::string& name, std::int64_t v) { integers[name] = {v}; }

  bool has(const std::string& name) const;
  /// Accessors throw InputError naming the checkpoint file and the missing/mistyped entry.
  const std::string& blob(const std::string& name) const;
  const std::vector<double>& real_array(const std::string& name) const;
  const std::vector<std::int64_t>& integer_array(const std::string& name) const;
  double real(const std::string& name) const;              ///< a one-element real array
  std::int64_t integer(const std::string& name) const;     ///< a one-element integer array
};

/// `<output>.ckpt`: where a run writing `output` keeps its checkpoint.
std::string checkpoint_path(const std::string& output);

/// Atomically replaces the checkpoint at `path` (stage_checkpoint + commit_checkpoint).
void write_checkpoint(const std::string& path, const Checkpoint& c);
/// First half of write_checkpoint: writes `<path>.tmp`, flushes and fsyncs it; returns its
/// path. The checkpoint at `path` is untouched until commit_checkpoint.
std::string stage_checkpoint(const std::string& path, const Checkpoint& c);
/// Second half: renames `<path>.tmp` over `path` and fsyncs the directory.
void commit_checkpoint(const std::string& path);
/// Reads a checkpoint; InputError for a missing, unreadable, foreign or corrupt file.
/// A leftover `<path>.tmp` (a crash between stage and commit) is ignored.
Checkpoint read_checkpoint(const std::string& path);

/// Stores a System under `prefix/`: position, velocity, spin (N×3 reals), moment (N),
/// species, sublattice (N ints), cell (3×3 rows), periodic (3 ints), species_name (blob,
/// newline separated), species_mass.
void store_system(Checkpoint& c, const System& s, const std::string& prefix = "system");
/// The System stored by store_system (bit-for-bit equal); InputError if inconsistent.
System restore_system(const Checkpoint& c, const std::string& prefix = "system");

}  // namespace spinlat
