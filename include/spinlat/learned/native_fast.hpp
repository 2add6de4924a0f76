#pragma once
// A plain C++ evaluator of the native model's node energies for Monte Carlo at fixed positions,
// and, by a hand-written reverse pass through the same forward (gradient()), of its forces,
// magnetic forces and virial for full evaluations
// (the "optimised platform" beside the LibTorch "reference platform", in OpenMM's sense):
// doubles and loops, no autograd, no ATen in the hot path. It reproduces
// NativeModelImpl::node_energy (native_model.cpp; equations in docs/learned-potential.md,
// "The native model") for every configuration the model accepts, reading the layer structure
// through NativeModelImpl::structure() and the weights once, at construction.
//
// Caches, valid while positions stay fixed (set_geometry):
//  - per edge: Y_l(r̂) and every layer's radial-network outputs (they depend on positions only);
//  - per node: the moment features (m/m_max, solid harmonics, layer-0 features), the features
//    of every inner layer, and the node energy; and the same node records of the configuration
//    built before (a rebuild that returns to it swaps them back instead of recomputing).
// A trial (new moment vector at site i) recomputes the records that depend on m_i: layer-t
// features of the nodes within t hops, energies within L hops, for L layers. Every record is
// computed by one function, in one summation order, from the records of its node and its
// senders, whether in rebuild() or in trial(); so after any sequence of committed trials the
// cache equals a fresh rebuild bit for bit, and a Monte Carlo run restarted from a checkpoint
// (which stores only moments) continues bit for bit.
//
// Not thread safe (scratch buffers and the overlay of a trial's records are members): the
// learned term runs its trials one after the other, so results do not depend on threads.
// No LibTorch types here.
#include <memory>
#include <vector>

#include "spinlat/core/system.hpp"
#include "spinlat/learned/graph.hpp"

namespace spinlat {

class NativeModelImpl;

class NativeFastEvaluator {
 public:
  /// Copies the model's weights (float64) and structure. The model must hold float64
  /// parameters (call before converting it). std::logic_error if the model has a parameter
  /// this evaluator does not read (the two have drifted apart).
  explicit NativeFastEvaluator(NativeModelImpl& model);
  ~NativeFastEvaluator();
  NativeFastEvaluator(const NativeFastEvaluator&) = delete;
  NativeFastEvaluator& operator=(const NativeFastEvaluator&) = delete;

  int interactions() const;
  /// Bytes held by the per-edge caches (for reports: E · ((l_max+1)² + L·P·C) doubles).
  std::size_t edge_cache_bytes() const;

  /// Fixes the geometry: the graph (symmetric, as build_graph makes it), node positions
  /// (Å) and each node's species column. Drops the node caches.
  void set_geometry(const Graph& g, const std::vector<Vec3>& position, const std::vector<int>& column);
  bool has_geometry() const;

  /// Recomputes every node record and energy from the moments of `s` (s.moment_vector).
  void rebuild(const System& s);
  /// Same, from explicit moment vectors (μB), one per graph node.
  void rebuild(const std::vector<Vec3>& moment);
  bool built() const;

  /// Cached node energies (eV) and the moment vectors they were computed with.
  const std::vector<double>& node_energy() const;
  Vec3 moment(int v) const;

  /// True when every moment a trial at i reads (the nodes within 2L hops) equals the cached
  /// one, i.e. the cache is the exact evaluation of `s` around i.
  bool fresh_around(const System& s, int i);

  /// One trial's new records, kept until commit(). Reuse objects to keep their buffers.
  struct Trial {
    int site = -1;
    Vec3 moment = Vec3::Zero();
    std::vector<double> record0;                ///< the site's new moment record
    std::vector<int> inner_node;                ///< nodes of new inner-layer records (L = 2)
    std::vector<double> inner;                  ///< their records
    std::vector<int> energy_node;               ///< nodes within L hops
    std::vector<double> energy;                 ///< their energies after the move
  };
  /// ΔE (eV) of moving moment i to m_new (μB): the sum over the nodes within L hops of the new
  /// minus the cached energies. Leaves the cache unchanged; `t` receives the new records.
  double trial(int i, const Vec3& m_new, Trial& t);
  /// Makes a trial's state the cached one (the sampler accepted it). Trials of one batch
  /// (sites more than 2L hops apart) may be committed in any order.
  void commit(const Trial& t);

  /// The derivatives of the total energy Σ_v node_energy()[v] at the cached geometry and
  /// moments (after rebuild), by a hand-written reverse pass through the same forward
  /// (layer_at recomputes each node's intermediates; docs/learned-potential.md, "The native
  /// model", "Plain C++ forces").
  struct Gradient {
    std::vector<Vec3> dE_dposition;  ///< ∂E/∂r_v (eV/Å), empty unless geometry was asked
    std::vector<Vec3> dE_dmoment;    ///< ∂E/∂m_v (eV/μB)
    Mat3 virial = Mat3::Zero();      ///< −Σ_e vec_e ⊗ ∂E/∂vec_e (eV), zero unless geometry was asked
  };
  /// geometry = false: moment derivatives only (no radial or angular backward). Nodes run in
  /// parallel (OpenMP) with per-edge partial results reduced in a fixed order: the same bits
  /// on any number of threads.
  void gradient(bool geometry, Gradient& out);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace spinlat
