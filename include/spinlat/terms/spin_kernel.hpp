#pragma once
// Optimised spin Hamiltonian for a frozen lattice: the terms that are bilinear in the spin
// directions (exchange, DMI), biquadratic exchange and on-site terms (Zeeman, uniaxial and
// cubic anisotropy), compiled into flat arrays. This is the "optimised implementation" beside
// the per-term reference path (OpenMM's split); tests compare the two on random spins.
//
//   E = −½ Σ_i Σ_{j∈N(i)} [ J_ij ê_i·ê_j − D_ij·(ê_i×ê_j) + Q_ij (ê_i·ê_j)² ]
//       − Σ_i μB |m_i| B·ê_i − Σ_i K_i (ê_i·n_i)² + Σ_i Kc_i (e_x²e_y² + e_y²e_z² + e_z²e_x²)
// The full neighbour list stores each pair twice (hence ½), with D_ji = −D_ij.
#include <vector>

#include "spinlat/core/system.hpp"

namespace spinlat {

struct SpinKernel {
  std::size_t n = 0;
  // Pair couplings in CSR over all atoms (merged per neighbour j: several terms or images
  // acting on the same pair add up).
  std::vector<int> offset;          ///< size n+1
  std::vector<int> neighbor;
  std::vector<double> J;            ///< eV
  std::vector<Vec3> D;              ///< eV (only when has_dmi)
  std::vector<double> Q;            ///< eV (only when has_biquadratic)
  // On-site.
  std::vector<Vec3> zeeman;         ///< μB·B in eV/μB (multiplied by |m_i|), empty if none
  std::vector<double> K;            ///< uniaxial anisotropy (eV), empty if none
  std::vector<Vec3> axis;           ///< uniaxial axis (unit)
  std::vector<double> Kc;           ///< cubic anisotropy (eV), empty if none
  /// Constant site energies from a site's coupling to its own periodic images (tiny cells:
  /// ê_i·ê_i = 1 never changes), empty if none.
  std::vector<double> self_energy;
  /// Neighbour reach of each chunk of kReachChunk consecutive sites: the smallest and largest
  /// index among the chunk's sites and all their CSR neighbours. Built by finalize() (empty
  /// for a kernel assembled by hand); tells a blocked integrator which sites a block's field
  /// reads (LLG's fused Heun pipeline) without a pass over `neighbor`.
  static constexpr int kReachChunk = 64;
  std::vector<int> reach_lo, reach_hi;
  bool has_dmi = false, has_biquadratic = false;
  /// Every pair has the same J (set by finalize()): samplers and integrators then skip the
  /// per-pair J loads (J·Σ_j ê_j).
  bool uniform_J = false;
  /// Set when two uniaxial terms with different axes act on one site: the kernel cannot
  /// represent that and must not be used.
  bool axis_conflict = false;

  /// Starts an empty kernel for `n` atoms.
  void reset(std::size_t atoms);
  /// Adds a coupling for the directed pair (i, j); call for both directions. i == j (a
  /// periodic self-image) becomes a constant site energy.
  void add_pair(int i, int j, double Jij, const Vec3& Dij = Vec3::Zero(), double Qij = 0.0);
  void add_zeeman(int i, const Vec3& muB_times_B);
  void add_uniaxial(int i, double K, const Vec3& axis_unit);
  void add_cubic(int i, double Kc);
  /// Builds CSR from the pairs added; call once after all add_* calls.
  void finalize();
  /// Largest neighbour count (for colouring and benchmarks).
  int max_neighbors() const;

  /// Bilinear local field Σ_j [J_ij ê_j + D_ij × ê_j] (eV): ΔE of a bilinear change is −Δê·h.
  Vec3 bilinear_field(const std::vector<Vec3>& spin, int i) const {
    Vec3 h = Vec3::Zero();
    for (int k = offset[i]; k < offset[i + 1]; ++k) h += J[k] * spin[neighbor[k]];
    if (has_dmi)
      for (int k = offset[i]; k < offset[i + 1]; ++k) h += D[k].cross(spin[neighbor[k]]);
    return h;
  }
  /// Energy change when ê_i → e_new (|m_i| fixed).
  double delta_energy(const std::vector<Vec3>& spin, const std::vector<double>& moment, int i,
                      const Vec3& e_new) const;
  /// −∂E/∂ê_i of the natural polynomial extension of E (eV): bilinear + on-site + biquadratic.
  Vec3 field(const std::vector<Vec3>& spin, const std::vector<double>& moment, int i) const;
  /// Total energy (eV).
  double energy(const std::vector<Vec3>& spin, const std::vector<double>& moment) const;
  /// Energy of site i with pair energies split in half (sums to energy()).
  double site_energy(const std::vector<Vec3>& spin, const std::vector<double>& moment, int i) const;

 private:
  struct Entry { int i, j; double J; Vec3 D; double Q; };
  std::vector<Entry> pending_;
  std::vector<Vec3> zeeman_pending_;
};

}  // namespace spinlat
