#pragma once
// Single-site Metropolis Monte Carlo for classical spins (Metropolis, Rosenbluth, Rosenbluth,
// Teller & Teller, J. Chem. Phys. 21, 1087 (1953)).
//
// One sweep = one trial per magnetic site, colour by colour (core/coloring.hpp). Within a colour
// the sites are split into fixed blocks of consecutive atom indices (rng.hpp Blocks); block b
// draws from engine b of a StreamSet keyed by (seed, metropolis, stream index, b) and visits
// its sites in index order. Blocks run in parallel (OpenMP); sites of one colour do not
// interact, so the result is the same as a serial pass and independent of the thread count.
//
// Trial moves (each a symmetric proposal, so the acceptance is min(1, exp(−ΔE/k_B T))):
//   uniform      new direction uniform on the sphere (Marsaglia, Ann. Math. Stat. 43, 645 (1972));
//   gaussian     ê' = (ê + σ g)/|ê + σ g|, g a standard normal 3-vector (Alzate-Cardona et al.,
//                J. Phys.: Condens. Matter 31, 095802 (2019)); the density of ê' depends only
//                on ê·ê', so the proposal is symmetric. σ adapts toward a target acceptance
//                while equilibrating and is frozen while measuring (an adapting chain is not
//                a Markov chain with a fixed stationary distribution);
//   flip         ê' = −ê (not ergodic alone: use it inside hinzke-nowak);
//   hinzke-nowak one of the three above with probability 1/3 each (Hinzke & Nowak,
//                Comput. Phys. Commun. 121, 334 (1999)); a state-independent mixture of
//                symmetric proposals is symmetric.
// T = 0 accepts only ΔE ≤ 0 (a quench).
//
// Longitudinal moves (Landau-type Hamiltonians, `longitudinal = true`): after the direction
// trial, |m| → |m + δ| with δ uniform in [−Δ, Δ] (reflecting at 0, which keeps the proposal
// symmetric in |m|). The moment is a vector in R³ whose equilibrium density is exp(−βH(m))
// d³m = exp(−βH) m² dm dΩ (the measure of Ma & Dudarev, PRB 86, 054416 (2012), whose Langevin
// dynamics samples exactly this distribution), so the size move is accepted with
// min(1, (m'/m)² exp(−βΔE)). Δ adapts like σ. These moves use Hamiltonian::local_energy_change
// and their own stream (purpose `longitudinal`).
//
// Energy changes come from the Hamiltonian's SpinKernel when it has one (fast path: with an
// inline loop when the kernel is isotropic exchange only), else from
// Hamiltonian::local_energy_change, which runs serially (terms need not be thread safe; the
// result is the same as in parallel). When a term batches trials (the learned potential), the
// colouring separates sites by the trial range instead and each colour's trials are
// evaluated in one call (metropolis.cpp, sweep_batched).
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "spinlat/core/rng.hpp"
#include "spinlat/core/system.hpp"
#include "spinlat/core/coloring.hpp"

namespace spinlat {

class Hamiltonian;
struct SpinKernel;

enum class MoveType { uniform = 0, gaussian = 1, flip = 2, hinzke_nowak = 3 };

/// "uniform", "gaussian", "flip", "hinzke-nowak" (also "hinzke_nowak"); InputError otherwise.
MoveType parse_move(const std::string& name);
std::string move_name(MoveType m);

struct MetropolisOptions {
  MoveType move = MoveType::gaussian;
  double target_acceptance = 0.5;  ///< σ and Δ adapt toward this acceptance (0 < a < 1)
  double sigma = 0.5;              ///< initial Gaussian move width
  bool longitudinal = false;       ///< also sample moment sizes
  double longitudinal_step = 0.1;  ///< initial Δ (μB) of the size move
  /// The stream key (core/rng.hpp): a bare seed converts; replicas set its `replica`.
  StreamKey seed = 1;
  std::size_t block = 4096;        ///< sites per random-number block (fixes the result)
};

/// Trial and acceptance counts by kind: 0 uniform, 1 gaussian, 2 flip, 3 longitudinal.
struct MetropolisCounters {
  std::array<std::uint64_t, 4> trials{}, accepted{};
  std::uint64_t sweeps = 0;
  std::uint64_t direction_trials() const { return trials[0] + trials[1] + trials[2]; }
  std::uint64_t direction_accepted() const { return accepted[0] + accepted[1] + accepted[2]; }
};

class MetropolisSampler {
 public:
  /// `h` must be bound to `s` (Hamiltonian::bind) and outlive the sampler.
  MetropolisSampler(const Hamiltonian& h, const System& s, const MetropolisOptions& options = {});

  /// Temperature in K (0 = quench).
  void set_temperature(double kelvin);
  /// An applied field B (T) besides the Hamiltonian's terms: trials also pay −μB Δm·B (field
  /// stages, hysteresis loops). Zero by default; a setting, not part of save_state().
  void set_field(const Vec3& field_T);
  const Vec3& field() const { return field_; }
  double temperature() const { return temperature_; }

  /// Re-reads the Hamiltonian (kernel, neighbour list) and recolours; call after the
  /// Hamiltonian rebuilt its list or kernel, or when sites gained or lost their moment.
  void refresh(const System& s);

  /// One sweep; returns the fraction of direction trials accepted in it. Adapts σ (and Δ)
  /// afterwards when adaptive() is on. `backwards` visits the colours in reverse order: that
  /// sweep is the adjoint of the forward one, so an even mixture of the two is reversible
  /// (mc/lattice_delayed_acceptance.hpp needs that; a fixed order is not).
  double sweep(System& s, bool backwards = false);
  /// `n` sweeps with adaptation on (equilibration); adaptation is off again afterwards.
  void equilibrate(System& s, long long n);
  /// `n` sweeps with σ and Δ frozen (measurement).
  void run(System& s, long long n);

  void set_adaptive(bool on) { adaptive_ = on; }
  bool adaptive() const { return adaptive_; }
  double sigma() const { return sigma_; }
  void set_sigma(double sigma);
  double longitudinal_step() const { return step_; }

  const MetropolisCounters& counters() const { return counters_; }
  void reset_counters() { counters_ = MetropolisCounters(); }
  /// Accepted fraction of all direction trials counted since the last reset.
  double acceptance() const;

  const Coloring& coloring() const { return coloring_; }
  const MetropolisOptions& options() const { return options_; }
  /// True when energy changes come from the spin kernel.
  bool uses_kernel() const;
  std::size_t block_count() const { return blocks_.count(); }

  /// Engines, σ, Δ, adaptation windows, counters and temperature as text; load_state()
  /// restores them exactly (the System is checkpointed by its owner).
  std::string save_state() const;
  void load_state(const std::string& state);

  struct alignas(64) Tally {  // one cache line per block: no false sharing
    std::array<std::uint64_t, 4> trials{}, accepted{};
  };

 private:
  Vec3 field_ = Vec3::Zero();   ///< T
  Vec3 zeeman_ = Vec3::Zero();  ///< μB B (eV/μB): ΔE = −Δm·zeeman_
  template <int Move, int Path>
  void sweep_block(System& s, const int* sites, std::size_t count, Engine& eng, Engine* leng,
                   Tally& t) const;
  /// The c-th colour of this sweep's order.
  int color_at(int c) const { return backwards_ ? coloring_.colors - 1 - c : c; }
  bool backwards_ = false;  // this sweep's order (set by sweep())
  template <int Move, int Path>
  void sweep_colors(System& s, std::vector<Tally>& tallies);
  template <int Move>
  void sweep_batched(System& s, std::vector<Tally>& tallies);
  template <int Path>
  void dispatch_move(System& s, std::vector<Tally>& tallies);
  void adapt();

  const Hamiltonian* h_;
  MetropolisOptions options_;
  Coloring coloring_;
  Blocks blocks_;
  /// For colour c, the sites of block b are coloring_.sites[c][block_start_[c][b] .. [b+1]).
  std::vector<std::vector<std::size_t>> block_start_;
  StreamSet streams_, longitudinal_streams_;
  double temperature_ = 0.0, beta_ = 0.0;  // beta in 1/eV; temperature 0 → quench
  double sigma_ = 0.5, step_ = 0.1;
  bool adaptive_ = false;
  // Adaptation windows: trials and acceptances since σ (resp. Δ) last changed.
  std::uint64_t window_trials_ = 0, window_accepted_ = 0;
  std::uint64_t lwindow_trials_ = 0, lwindow_accepted_ = 0;
  MetropolisCounters counters_;
};

}  // namespace spinlat
