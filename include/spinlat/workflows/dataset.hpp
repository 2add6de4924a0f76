#pragma once
// Labelled training frames from any stage (`dataset`, `dataset_every`; docs/input.md
// "Training data"): the configuration with the analytic Hamiltonian's energy, forces, magnetic
// forces and virial, in the magnetic MACE extended XYZ convention that `spinlat train` and
// outside trainers read (docs/training.md).
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "spinlat/io/checkpoint.hpp"
#include "spinlat/workflows/input.hpp"
#include "spinlat/io/extxyz.hpp"
#include "spinlat/terms/hamiltonian.hpp"

namespace spinlat {

/// One labelled frame: per-frame REF_energy (eV), REF_virial (9 numbers, eV, row-major
/// W = −Σ r_ij ⊗ ∂E/∂r_ij; only for cells periodic in 3D) and `temperature` (K); per-atom
/// REF_forces (eV/Å), REF_magforces (−∂E/∂m, eV/μB) and REF_magmom (μB, 3 columns), which the
/// reader takes as the moments (no separate `magmom` column is written). `h` must be bound to
/// a neighbour list that is valid for `s` (as it is between the steps of every driver).
Frame labelled_frame(const System& s, const Hamiltonian& h, double temperature);

/// The dataset files of a run's stages. A new run starts every file empty; a restart cuts each
/// back to the size recorded in the checkpoint, so that the continued file equals the file of
/// an uninterrupted run (frames written after the last checkpoint are dropped and written
/// again). Frames are flushed as they are written.
class DatasetWriter {
 public:
  /// `resume`: the checkpoint being continued, or null for a new run.
  DatasetWriter(const Config& c, const Checkpoint* resume);
  ~DatasetWriter();
  DatasetWriter(const DatasetWriter&) = delete;
  DatasetWriter& operator=(const DatasetWriter&) = delete;

  /// True when stage `st` writes a frame after its `step`-th sweep/step (counted from 1 within
  /// the stage).
  static bool due(const StageConfig& st, long long step) {
    return !st.dataset.empty() && st.dataset_every > 0 && step % st.dataset_every == 0;
  }
  /// Appends one labelled frame to stage `st`'s file; `stage` and `step` (the run's sweep/step
  /// count) are stored with it.
  void write(const StageConfig& st, std::size_t stage, long long step, const System& s, const Hamiltonian& h);
  /// Records every file's size (checkpoint entry `stages.dataset`).
  void save(Checkpoint& ck) const;

 private:
  struct File {
    std::string path;
    std::ofstream out;
    long long bytes = 0;
  };
  File& file_of(const std::string& name);
  std::map<std::string, std::unique_ptr<File>> files_;  // by normalised absolute path
};

}  // namespace spinlat
