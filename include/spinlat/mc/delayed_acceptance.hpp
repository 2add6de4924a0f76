#pragma once
// Exact Monte Carlo of an expensive Hamiltonian (a learned model) driven by a cheap surrogate
// (an analytic spin model, typically the one `spinlat map` fits): delayed acceptance
// (Christen & Fox, J. Comput. Graph. Stat. 14, 795 (2005); docs/mapping.md, "Exact sampling of
// a learned model with a surrogate").
//
// A move of site i is proposed by an inner chain of `inner_steps` single-site Metropolis steps
// on the surrogate (site i alone moves, its neighbours fixed). One inner step is a symmetric
// proposal accepted with min(1, exp(−β ΔE_sur)), so it is reversible with respect to
// π_sur(ê_i | rest) ∝ exp(−β E_sur); repeating the same reversible kernel K times is again
// reversible (π P^K is symmetric when π P is), so the composite proposal x → y satisfies
// π_sur(x) q(x, y) = π_sur(y) q(y, x). The Metropolis–Hastings ratio of the expensive model π
// with this proposal is then π(y) q(y, x) / (π(x) q(x, y)) = π(y) π_sur(x) / (π(x) π_sur(y)):
//     accept with min(1, exp(−β [ΔE_model − ΔE_sur])),
// ΔE_model and ΔE_sur the exact changes of the two energies from x to y. The chain samples
// exp(−β E_model) exactly whatever the surrogate; a poor surrogate only lowers the outer
// acceptance. An inner chain that ends where it started (y = x) is accepted without any
// evaluation of the model (both changes are 0).
//
// Sites are coloured so that two sites of one colour are farther apart than the model's trial
// range and the surrogate's (core/coloring.hpp): their inner chains and their outer decisions
// are independent, the inner chains of a colour run in parallel (surrogate with a spin kernel)
// and the model evaluates all of the colour's proposals in one batched call
// (Hamiltonian::local_energy_changes, which the learned term evaluates together). Colours are
// visited in a fixed order: each colour's update leaves exp(−β E_model) invariant, which is all
// a sweep needs (the block must be reversible, not the sweep). Random numbers: block b of
// consecutive sites draws its inner moves and then its outer acceptances from engine b of a
// StreamSet (purpose delayed_acceptance), sites in index order: fixed by the seed, independent
// of the thread count.
#include <cstdint>
#include <string>
#include <vector>

#include "spinlat/core/rng.hpp"
#include "spinlat/core/system.hpp"
#include "spinlat/core/coloring.hpp"
#include "spinlat/mc/metropolis.hpp"

namespace spinlat {

class Hamiltonian;

struct DelayedAcceptanceOptions {
  MoveType move = MoveType::gaussian;  ///< the inner chain's single-site move
  int inner_steps = 10;                ///< surrogate Metropolis steps per proposal (>= 1)
  double target_acceptance = 0.5;      ///< the inner σ adapts toward this acceptance
  double sigma = 0.5;                  ///< initial Gaussian width of the inner move
  StreamKey seed = 1;
  std::size_t block = 4096;            ///< sites per random-number block
};

struct DelayedAcceptanceCounters {
  std::uint64_t inner_trials = 0, inner_accepted = 0;
  /// Proposals that moved the site (y ≠ x): these are the ones the model evaluates.
  std::uint64_t outer_trials = 0, outer_accepted = 0;
  /// Proposals that ended where they started (no model evaluation, nothing to accept).
  std::uint64_t unchanged = 0;
  std::uint64_t sweeps = 0;
};

class DelayedAcceptanceSampler {
 public:
  /// `model` and `surrogate` must be bound to `s` and outlive the sampler.
  DelayedAcceptanceSampler(const Hamiltonian& model, const Hamiltonian& surrogate, const System& s,
                           const DelayedAcceptanceOptions& options = {});

  /// Temperature in K; must be > 0 (the correction exp(−βΔ) has no zero-temperature limit
  /// that keeps the surrogate's proposals exact).
  void set_temperature(double kelvin);
  double temperature() const { return temperature_; }

  /// One sweep: one proposal per magnetic site. Returns the outer acceptance of this sweep
  /// (accepted / proposals that moved; 1 when none moved).
  double sweep(System& s);
  void set_adaptive(bool on) { adaptive_ = on; }
  double sigma() const { return sigma_; }

  const DelayedAcceptanceCounters& counters() const { return counters_; }
  void reset_counters() { counters_ = DelayedAcceptanceCounters(); }
  /// Accepted fraction of the proposals that moved (0 before any).
  double outer_acceptance() const;
  /// Accepted fraction of the surrogate's inner steps.
  double inner_acceptance() const;
  const DelayedAcceptanceOptions& options() const { return options_; }
  const Coloring& coloring() const { return coloring_; }

  std::string save_state() const;
  void load_state(const std::string& state);

 private:
  const Hamiltonian* model_;
  const Hamiltonian* surrogate_;
  DelayedAcceptanceOptions options_;
  Coloring coloring_;
  Blocks blocks_;
  std::vector<std::vector<std::size_t>> block_start_;  // as MetropolisSampler
  StreamSet streams_;
  double temperature_ = 0.0, beta_ = 0.0;
  double sigma_ = 0.5;
  bool adaptive_ = false;
  std::uint64_t window_trials_ = 0, window_accepted_ = 0;
  DelayedAcceptanceCounters counters_;
};

}  // namespace spinlat
