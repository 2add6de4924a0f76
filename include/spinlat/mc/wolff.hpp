#pragma once
// Wolff single-cluster updates for classical Heisenberg spins (Wolff, PRL 62, 361 (1989)).
//
// Embedded Ising model: pick a random unit vector r and a random seed site; reflect spins in
// the plane normal to r, ê → ê − 2(r·ê) r. A bond from a cluster site i to a neighbour j
// joins j with probability 1 − exp(min(0, −2β J_ij (r·ê_i)(r·ê_j))) (projections before the
// reflection), which satisfies detailed balance for any sign and size of J_ij: ferro- and
// antiferromagnets alike (frustrated couplings stay correct but make clusters inefficient).
// Valid only when the energy is isotropic pair exchange (a field or anisotropy would change
// the energy of a reflected cluster): the constructor rejects any other kernel entry.
//
// Serial by nature; draws from its own engine keyed by (seed, cluster, stream index), so it is
// independent of the thread count.
#include <cstdint>
#include <string>
#include <vector>

#include "spinlat/core/rng.hpp"
#include "spinlat/core/system.hpp"

namespace spinlat {

class Hamiltonian;

class WolffSampler {
 public:
  /// `h` must be bound to `s` and outlive the sampler. Throws InputError unless its spin
  /// kernel holds isotropic exchange only (no DMI, biquadratic, Zeeman or anisotropy).
  /// Draws from the stream (key, cluster).
  WolffSampler(const Hamiltonian& h, const System& s, const StreamKey& key);
  const StreamKey& key() const { return key_; }

  /// Temperature in K (0: clusters of every satisfied bond; a deterministic-energy move).
  void set_temperature(double kelvin);
  double temperature() const { return temperature_; }

  /// Grows and reflects one cluster; returns its size (sites).
  std::size_t step(System& s);
  /// `n` clusters; returns the number of sites flipped.
  std::uint64_t steps(System& s, long long n);
  /// clusters_per_sweep() clusters; returns the number of sites flipped. When adaptive()
  /// (equilibration), the count is then updated to max(1, round(N_magnetic / ⟨size⟩)) with
  /// ⟨size⟩ a running average of the recent sweeps' mean cluster size, so that a sweep flips
  /// about N sites.
  ///
  /// The count must be fixed while measuring: stopping "once N sites have flipped" makes the
  /// sampling instants depend on the cluster sizes and biases averages (measured: +7% in
  /// ⟨ê1·ê2⟩ of a three-spin chain).
  std::uint64_t sweep(System& s);
  /// `n` adaptive sweeps; adaptation is off again afterwards.
  void equilibrate(System& s, long long n);
  /// `n` sweeps with clusters_per_sweep fixed.
  void run(System& s, long long n);
  void set_adaptive(bool on) { adaptive_ = on; }
  bool adaptive() const { return adaptive_; }
  long long clusters_per_sweep() const { return clusters_per_sweep_; }
  void set_clusters_per_sweep(long long n);

  std::uint64_t clusters() const { return clusters_; }
  std::uint64_t flipped() const { return flipped_; }
  /// Mean cluster size (sites) since the last reset.
  double mean_cluster_size() const {
    return clusters_ ? static_cast<double>(flipped_) / static_cast<double>(clusters_) : 0.0;
  }
  void reset_counters() { clusters_ = flipped_ = 0; }

  /// Engine, counters, clusters per sweep (and its running estimate), the adaptive flag and
  /// the temperature as text; load_state() restores them exactly.
  std::string save_state() const;
  void load_state(const std::string& state);

 private:
  const Hamiltonian* h_;
  StreamKey key_;
  std::vector<int> sites_;  // magnetic sites (seed candidates)
  Engine engine_;
  double temperature_ = 0.0, beta_ = 0.0;
  std::uint64_t clusters_ = 0, flipped_ = 0;
  long long clusters_per_sweep_ = 1;
  double mean_size_ = 0.0;  // running estimate of the cluster size (adaptive sweeps)
  bool adaptive_ = false;
  // Cluster membership by generation stamp (no clearing between clusters).
  std::vector<std::uint32_t> mark_;
  std::uint32_t generation_ = 0;
  std::vector<int> stack_;
  std::vector<double> projection_;  // r·ê_i before the reflection, for cluster members
};

/// True when `h` has a spin kernel of isotropic pair exchange only (Wolff can run on it).
bool wolff_applicable(const Hamiltonian& h);

}  // namespace spinlat
