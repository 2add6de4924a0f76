#pragma once
// Exact Monte Carlo of an expensive Hamiltonian with the whole lattice as the delayed-acceptance
// block (Christen & Fox, J. Comput. Graph. Stat. 14, 795 (2005)): the surrogate moves every
// moment for several sweeps, including Wolff clusters, and the model is evaluated once per
// outer step (`surrogate_block = "lattice"`; docs/mapping.md, "Exact sampling of a learned
// model with a surrogate"). The site-block sampler (mc/delayed_acceptance.hpp) proposes one
// moment at a time and asks the model for each; this one asks the model once per K surrogate
// sweeps, and its clusters beat critical slowing down where single-site moves cannot.
//
// One outer step from configuration x:
//   1. the inner chain: K steps of the kernel Q = ½ M + ½ W on the surrogate (M alone when
//      Wolff cannot run on it), where
//        M = one Metropolis sweep (mc/metropolis.hpp), its colours visited forwards or
//            backwards with probability ½ each;
//        W = a fixed number of Wolff clusters (mc/wolff.hpp);
//      ends at y;
//   2. accept y with min(1, exp(−β [ΔE_model − λ ΔE_sur])), ΔE the exact changes of the two total
//      energies from x to y; otherwise restore x.
// λ scales the surrogate (the inner chain runs at T/λ, i.e. samples exp(−β λ E_sur)): while
// equilibrating it is refitted as the least-squares slope of ΔE_model against ΔE_sur over the
// recent proposals, then frozen. A mapped spin model whose ordering temperature differs from
// the model's by a few per cent pushes the whole lattice towards the wrong order, and over N
// sites that systematic error is extensive: measured on the bundled iron model at 740 K,
// 2000 atoms, started ordered, an outer acceptance of 0.29 and τ_int of 139 steps with λ = 1.
// Any fixed λ > 0 keeps the chain exact (below: the proposal is reversible with respect to
// exp(−β λ E_sur)), and adaptation only while equilibrating keeps the measured chain Markov.
// Why this is exact. A forward sweep F = P_1 ⋯ P_C is a product of colour kernels, each
// reversible with respect to π_sur ∝ exp(−β E_sur) (its sites do not interact); the backward
// sweep is F's adjoint P_C ⋯ P_1, so the even mixture ½(F + F*) is self-adjoint, i.e. reversible.
// A Wolff cluster satisfies detailed balance (Wolff, PRL 62, 361 (1989)), so a fixed number of
// them is reversible; an even mixture of reversible kernels is reversible, and so is its K-th
// power. With a proposal reversible with respect to π_sur, the Metropolis–Hastings ratio of the
// model's π reduces to π(y) π_sur(x) / (π(x) π_sur(y)) — step 2 — and the chain samples
// exp(−β E_model) exactly whatever the surrogate. A fixed forward sweep order would not be
// reversible, and the move widths and cluster counts adapt only while equilibrating.
//
// Cost: one model energy per outer step (energy only; a learned term at fixed positions
// recomputes only its moment-dependent records), plus K surrogate sweeps. The outer
// acceptance falls as the surrogate's error, summed over the lattice, grows against k_B T
// (roughly exp(−β σ √N), σ the per-site error of energy differences); the run reports it.
//
// Random numbers: the inner Metropolis sweeps draw from their own block streams (purpose
// metropolis), the clusters from the cluster stream, and the choices of Q and the outer
// acceptances from one delayed-acceptance stream, all keyed by the driver's StreamKey: fixed by
// the seed, independent of the thread count.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "spinlat/core/rng.hpp"
#include "spinlat/core/system.hpp"
#include "spinlat/mc/metropolis.hpp"
#include "spinlat/mc/wolff.hpp"

namespace spinlat {

class Hamiltonian;

struct LatticeDelayedAcceptanceOptions {
  MoveType move = MoveType::gaussian;  ///< the inner Metropolis sweeps' single-site move
  int inner_steps = 4;                 ///< K: steps of Q per outer step (>= 1)
  double target_acceptance = 0.5;      ///< the inner Metropolis σ adapts toward this
  bool clusters = true;                ///< use Wolff clusters when the surrogate allows them
  StreamKey seed = 1;
};

struct LatticeDelayedAcceptanceCounters {
  std::uint64_t outer_trials = 0, outer_accepted = 0;
  std::uint64_t metropolis_sweeps = 0, cluster_sweeps = 0;
  std::uint64_t inner_trials = 0, inner_accepted = 0;  ///< the Metropolis sweeps' site trials
};

class LatticeDelayedAcceptanceSampler {
 public:
  /// `model` and `surrogate` must be bound to `s` and outlive the sampler.
  LatticeDelayedAcceptanceSampler(const Hamiltonian& model, const Hamiltonian& surrogate, const System& s,
                                  const LatticeDelayedAcceptanceOptions& options = {});

  /// Temperature in K; must be > 0.
  void set_temperature(double kelvin);
  double temperature() const { return temperature_; }

  /// One outer step (the driver's sweep); returns 1 if the proposal was accepted, else 0.
  double sweep(System& s);
  /// Move widths and clusters per sweep adapt while on (equilibration only).
  void set_adaptive(bool on);

  bool uses_clusters() const { return wolff_ != nullptr; }
  /// λ, the surrogate's energy scale (1 until equilibration fits it).
  double surrogate_scale() const { return scale_; }
  const LatticeDelayedAcceptanceCounters& counters() const { return counters_; }
  double outer_acceptance() const;
  double inner_acceptance() const;
  /// Mean Wolff cluster size (sites), 0 without clusters.
  double mean_cluster_size() const { return wolff_ ? wolff_->mean_cluster_size() : 0.0; }
  const LatticeDelayedAcceptanceOptions& options() const { return options_; }

  std::string save_state() const;
  void load_state(const std::string& state);

 private:
  const Hamiltonian* model_;
  const Hamiltonian* surrogate_;
  LatticeDelayedAcceptanceOptions options_;
  MetropolisSampler metropolis_;
  std::unique_ptr<WolffSampler> wolff_;
  Engine engine_;
  double temperature_ = 0.0, beta_ = 0.0;
  double scale_ = 1.0;                 // λ: the inner chain samples exp(−β λ E_sur)
  double fit_xy_ = 0.0, fit_xx_ = 0.0; // the running least-squares sums behind λ
  std::uint64_t fit_steps_ = 0;
  bool adaptive_ = false;
  void set_scale(double lambda);
  LatticeDelayedAcceptanceCounters counters_;
  // x and its two energies, kept from one step to the next (the state is not: a restart
  // evaluates them again, with the same functions, so it continues bit for bit).
  bool cached_ = false;
  std::vector<Vec3> saved_;
  std::vector<double> saved_moment_;
  std::vector<Vec3> saved_position_;
  double model_x_ = 0.0, sur_x_ = 0.0;
};

}  // namespace spinlat
