#pragma once
// Hybrid Monte Carlo / molecular dynamics for equilibrium spin-lattice sampling: one
// Metropolis sweep of the moment directions at the current positions (mc/metropolis.hpp)
// alternating with `md_steps_per_sweep` Langevin (BAOAB) steps of the lattice at the current
// moments (dynamics/md.hpp). Both moves leave the joint canonical distribution
// exp(−E(r, ê)/k_B T) invariant (the Langevin one up to its O(Δt²) discretisation bias), so
// their alternation samples it; the distance-dependent exchange couples the two.
//
// Keeping the two in step: after the spins change, the lattice forces (which contain the
// magnetic forces −∂E/∂r) are re-evaluated before the next MD step; after the atoms move, a
// Hamiltonian whose SpinKernel depends on positions gets its kernel recompiled, and the
// sampler re-reads the kernel and its colouring whenever the neighbour list was rebuilt.
// With lattice potentials (eam, pair) in the Hamiltonian there is no kernel and Metropolis
// uses Hamiltonian::local_energy_change, which evaluates J(r) at the current positions.
//
// Randomness: one stream key for both moves, (key, metropolis) for the sampler and
// (key, lattice_noise) for the bath, so two hybrid drivers of a run (stages, sweep points) never
// share lattice noise; thread-count independent; save_state()/load_state() continue a run bit
// for bit.
#include <cstdint>
#include <memory>
#include <string>

#include "spinlat/dynamics/md.hpp"
#include "spinlat/mc/metropolis.hpp"
#include "spinlat/terms/hamiltonian.hpp"

namespace spinlat {

struct HybridOptions {
  double temperature = 0.0;        ///< K (Metropolis and Langevin bath)
  long long md_steps_per_sweep = 10;
  double dt = 1e-3;                ///< MD time step (ps)
  double lattice_damping = 10.0;   ///< Langevin friction γ (1/ps); must be > 0 at T > 0
  /// Metropolis move and adaptation; its `seed` is replaced by the constructor's key.
  MetropolisOptions mc;
  double skin = 0.5;               ///< neighbour-list skin (Å) when the Hamiltonian has none
};

class HybridMcMd {
 public:
  /// Binds `h` to `s` and evaluates the forces. `s` and `h` must outlive this object.
  HybridMcMd(System& s, Hamiltonian& h, HybridOptions options, const StreamKey& key);
  ~HybridMcMd();
  HybridMcMd(const HybridMcMd&) = delete;
  HybridMcMd& operator=(const HybridMcMd&) = delete;

  /// One Metropolis sweep followed by md_steps_per_sweep MD steps. With `adapt` the
  /// Metropolis move width adapts (equilibration only). Returns the sweep's acceptance.
  double sweep(bool adapt = false);
  void run(long long sweeps, bool adapt = false);
  void set_temperature(double kelvin);

  long long sweeps_done() const { return sweeps_; }
  const HybridOptions& options() const { return settings_; }
  MetropolisSampler& sampler() { return *mc_; }
  const MetropolisSampler& sampler() const { return *mc_; }
  LatticeIntegrator& lattice() { return *md_; }
  const LatticeIntegrator& lattice() const { return *md_; }

  /// Sweep count, Metropolis state and lattice-integrator state; the System is saved by its
  /// owner and restored before load_state().
  std::string save_state() const;
  void load_state(const std::string& state);

 private:
  void sync_spins_to_lattice();
  System& s_;
  Hamiltonian& h_;
  HybridOptions settings_;
  std::unique_ptr<LatticeIntegrator> md_;
  std::unique_ptr<MetropolisSampler> mc_;
  long long sweeps_ = 0;
  long seen_rebuilds_ = -1;
};

}  // namespace spinlat
