#pragma once
// Training data for learned potentials: labelled frames turned into graphs, once, ready for
// batching (spinlat/learned/tools/train.hpp). Plain data, no LibTorch types.
//
// Sources are extended XYZ files (magnetic MACE's convention: per-atom REF_magmom,
// REF_forces, REF_magforces; per-frame REF_energy) and deepmd/npy directories (spin.npy,
// force_mag.npy; read by read_deepmd when this build has spinlat/io/deepmd.hpp). A path that
// is a directory is read as deepmd data, anything else as extended XYZ.
#include <cstdint>
#include <string>
#include <vector>

#include "spinlat/io/extxyz.hpp"
#include "spinlat/learned/graph.hpp"

namespace spinlat {

/// Names of the label fields (per-frame info / per-atom vectors of a Frame).
struct LabelKeys {
  std::string energy = "REF_energy";
  std::string forces = "REF_forces";
  std::string magforces = "REF_magforces";
  bool need_forces = true;     ///< false: frames without forces are accepted (weight 0)
  bool need_magforces = true;  ///< false: frames without magnetic forces are accepted
};

/// One labelled structure as the trainer uses it.
struct Sample {
  std::string source;  ///< file or directory it came from
  int frame = 0;       ///< index of the frame in that source
  std::size_t atoms = 0;
  std::vector<Vec3> position;  ///< Å
  std::vector<Vec3> magmom;    ///< μB (moment vectors)
  std::vector<int> column;     ///< per atom: column of the model's atomic_numbers
  Graph graph;                 ///< edges with r < r_max
  double energy = 0.0;         ///< eV
  std::vector<Vec3> forces;    ///< eV/Å (empty: none)
  std::vector<Vec3> magforces; ///< eV/μB (empty: none)

  std::string where() const { return source + ": frame " + std::to_string(frame); }
};

/// Frames of one source: a directory is deepmd/npy data, a file extended XYZ. InputError when
/// the path does not exist or cannot be read.
std::vector<Frame> load_frames(const std::string& path);

/// Atomic number of a species name ("Fe", "Fe1" is not one: 0).
int species_atomic_number(const std::string& name);

/// Builds samples (graph with cutoff r_max, species columns, labels) from frames of `source`.
/// InputError naming the source and frame when a species is not in `atomic_numbers` or a
/// required label is missing or has the wrong length.
std::vector<Sample> make_samples(const std::vector<Frame>& frames, const std::string& source,
                                 const std::vector<int>& atomic_numbers, double r_max,
                                 const LabelKeys& keys);

/// A seeded random permutation of 0..n−1 (Fisher-Yates on the `training` stream `index`).
std::vector<std::size_t> shuffled_indices(std::size_t n, std::uint64_t seed, std::uint64_t index);

/// Holds out round(fraction · n) samples (at least 1 when n ≥ 2 and fraction > 0) at random:
/// returns {train, valid} index lists, each in increasing order.
std::pair<std::vector<std::size_t>, std::vector<std::size_t>> split_indices(std::size_t n, double fraction,
                                                                            std::uint64_t seed);

/// Least-squares per-element reference energies: E_frame ≈ Σ_s n_s e0_s over the samples
/// (minimum-norm solution when the compositions do not determine every e0_s).
std::vector<double> fit_e0(const std::vector<Sample>& samples, std::size_t elements);

}  // namespace spinlat
