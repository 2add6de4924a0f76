#pragma once
// A plain C++ evaluator of upstream magnetic MACE models (ACEsuit/mace pull request 1244,
// `MagneticScaleShiftMACE` with the spin-orbit-coupled interaction blocks), converted from the
// TorchScript file a user already has by `spinlat convert MODEL.pt -o MODEL.spl` (convert.cpp,
// the only part that needs LibTorch). The structure it evaluates, block by block, is written
// down in docs/learned-potential.md ("Converted magnetic MACE models").
//
// The converted file is text: a magic line, then named float64 arrays (every parameter and
// buffer of the TorchScript module under its module path, plus the e3nn metadata the
// generated code hard-wires: irreps, instructions with path weights, activation constants)
// and a few strings (block classes). Nothing here needs LibTorch.
//
// Evaluation follows the TorchScript forward exactly (same blocks, same weights, float64);
// the summation order differs, so results agree to rounding (≲ 1e-13 relative), not bit for
// bit; they are bit for bit the same for any number of threads (set_threads). The Monte
// Carlo trial (trial/commit) recomputes only what the moved moment reaches: layer-1 records
// of the site and the receivers of its edges, layer-2 records of the receivers of their
// edges, and their node energies.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "spinlat/core/system.hpp"
#include "spinlat/learned/graph.hpp"

namespace spinlat {

/// The content of a converted file: named float64 arrays with their shapes, and strings.
struct MaceArchive {
  struct Array {
    std::vector<long> shape;
    std::vector<double> value;
  };
  std::map<std::string, Array> array;
  std::map<std::string, std::string> text;
  std::string source;  ///< file it was read from (for messages)

  const Array& at(const std::string& name) const;  ///< InputError naming the file and the entry
  bool has(const std::string& name) const { return array.count(name) > 0; }
  double scalar(const std::string& name) const;
  const std::string& str(const std::string& name) const;
};

/// Whether this CPU runs the converted evaluator's AVX2 + FMA kernels (x86-64 with both).
bool mace_simd_available();
/// Whether SPINLAT_PORTABLE_KERNELS (set, not "0") forces the portable kernels.
bool mace_portable_kernels_forced();

/// First line of a converted file.
extern const char* const kMaceNativeMagic;

/// True when `path` starts with kMaceNativeMagic.
bool is_mace_native_file(const std::string& path);
/// Reads a converted file; InputError (naming the file and line) when it is malformed.
MaceArchive read_mace_archive(const std::string& path);
/// Writes an archive (the converter's output).
void write_mace_archive(const MaceArchive& a, const std::string& path);

struct MaceNativeResult {
  std::vector<double> node_energy;           ///< eV
  std::vector<Vec3> force, magnetic_force;   ///< eV/Å, eV/μB (empty without derivatives)
  Mat3 virial = Mat3::Zero();                ///< eV
};

struct MaceModel;  // the evaluator's view of the weights (mace_native.cpp)

/// Node energies, forces, magnetic forces and virial of a converted model, in plain C++.
class MaceNativeEvaluator {
 public:
  /// Builds the model from an archive; InputError naming the file and the unsupported piece
  /// for anything outside the supported family (docs/learned-potential.md).
  explicit MaceNativeEvaluator(const MaceArchive& archive);
  explicit MaceNativeEvaluator(const std::string& path);
  ~MaceNativeEvaluator();
  MaceNativeEvaluator(const MaceNativeEvaluator&) = delete;
  MaceNativeEvaluator& operator=(const MaceNativeEvaluator&) = delete;

  const std::vector<int>& atomic_numbers() const;
  double r_max() const;
  int interactions() const;

  /// Threads of full evaluations (and of the Monte Carlo cache's rebuilds): n > 0 exactly n;
  /// 0 (default) OpenMP's current count (what `threads` set), reduced at each evaluation to
  /// the cores not busy with other tasks. The work is split in blocks fixed by the graph, so
  /// every result is bit for bit the same for any count; Monte Carlo trials run on the
  /// calling thread. Graphs under 512 edges run on one thread.
  void set_threads(int n);
  int threads() const;
  /// Memory (bytes) that each per-edge cache of a full evaluation may take: the radial
  /// networks' outputs, and what the forward pass keeps for the reverse pass (default 64 MB
  /// each). Beyond it they are recomputed block by block; the results are the same.
  void set_cache_bytes(double bytes);
  /// Kernels of the hot loops (tensor products, e3nn Linear blocks, radial-network GEMMs): by
  /// default the AVX2 + FMA ones when the CPU has them, chosen once at construction (unless
  /// SPINLAT_PORTABLE_KERNELS is set to anything but 0), else the portable ones (what the
  /// build's flags give: SSE2 on generic x86-64). Every thread uses the same kernels, so results
  /// stay the same bits for any thread count; the two paths agree to rounding (≲ 1e-14
  /// relative). true forces the portable path (false: back to AVX2 + FMA where available); a
  /// change drops the Monte Carlo cache (rebuild() before the next trial).
  void set_portable_kernels(bool portable);
  /// "avx2+fma" or "portable": the kernels in use.
  const char* kernels() const;

  /// Full evaluation with the hand-written reverse pass (derivatives): forces −∂E/∂r (eV/Å),
  /// magnetic forces −∂E/∂m (eV/μB) at fixed positions, and the virial
  /// W = −Σ_e r_e ⊗ ∂E/∂r_e (eV; moments held fixed, not symmetrised), the learned term's
  /// convention (learned_term.hpp, docs/units.md).
  MaceNativeResult evaluate(const Graph& g, const std::vector<Vec3>& position, const std::vector<Vec3>& moment,
                            const std::vector<int>& column, bool derivatives) const;

  /// Full evaluation of node energies (eV, E0 included) on `g` (graph.hpp convention) with
  /// node positions (Å), moment vectors (μB) and node_attrs columns.
  std::vector<double> node_energies(const Graph& g, const std::vector<Vec3>& position,
                                    const std::vector<Vec3>& moment, const std::vector<int>& column) const;

  // ---- Monte Carlo at fixed positions (the interface of NativeFastEvaluator) ----------------
  void set_geometry(const Graph& g, const std::vector<Vec3>& position, const std::vector<int>& column);
  bool has_geometry() const;
  void rebuild(const System& s);
  /// Rebuilds the cache for these moments. The records of the configuration built before are
  /// kept (a spare slot, while the cache is at most 256 MB): a rebuild that returns to them
  /// (a rejected whole-lattice Monte Carlo step) swaps them back instead of recomputing, with
  /// the same bits as a rebuild.
  void rebuild(const std::vector<Vec3>& moment);
  /// Rebuilds that were computed (not swapped back from the spare slot) since construction.
  std::size_t full_rebuilds() const;
  bool built() const;
  const std::vector<double>& node_energy() const;
  Vec3 moment(int v) const;
  /// True when every moment a trial at i reads (nodes within 2L hops) equals the cached one.
  bool fresh_around(const System& s, int i);
  /// One trial's new records, kept until commit(): patches of the evaluator's cache
  /// (offset, length, values) and the node energies after the move.
  struct Trial {
    int site = -1;
    Vec3 moment = Vec3::Zero();
    std::vector<std::size_t> offset, length;  ///< patches of the cache
    std::vector<double> value;                ///< their values, concatenated
    std::vector<int> energy_node;             ///< nodes whose energies change
    std::vector<double> energy;               ///< their energies after the move
  };
  /// Exact ΔE (eV) of moving moment i to m_new (μB); the cache is left unchanged.
  double trial(int i, const Vec3& m_new, Trial& t);
  /// Makes an accepted trial's state the cached one.
  void commit(const Trial& t);

  struct Impl;

 private:
  int full_threads(const Graph& g) const;
  std::unique_ptr<MaceModel> model_;
  int threads_ = 0;
  double cache_bytes_ = 64e6;
  std::unique_ptr<Impl> impl_;          // the Monte Carlo cache
  mutable std::unique_ptr<Impl> work_;  // full evaluations (not thread safe, as the learned term)
};

/// The TorchScript file itself, evaluated through LibTorch (the reference platform the tests
/// compare with; convert.cpp): upstream's forward with compute_force and compute_magforces,
/// and (derivatives) compute_stress, whose `virials` output is upstream's symmetrised virial.
struct MaceTorchResult {
  double energy = 0.0;
  std::vector<double> node_energy;
  std::vector<Vec3> force, magnetic_force;
  Mat3 virial = Mat3::Zero();
};
MaceTorchResult mace_torch_reference(const std::string& path, const Graph& g, const std::vector<Vec3>& position,
                                     const Mat3& cell, const std::vector<Vec3>& moment, const std::vector<int>& column,
                                     int species, bool derivatives);

/// The converter: reads every parameter, buffer and e3nn attribute of an upstream TorchScript
/// file (convert.cpp, LibTorch). InputError when it is not a TorchScript file or lacks a piece.
MaceArchive convert_mace_torchscript(const std::string& path);

}  // namespace spinlat
