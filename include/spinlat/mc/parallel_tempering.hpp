#pragma once
// Parallel tempering / replica exchange (Swendsen & Wang, PRL 57, 2607 (1986); Hukushima &
// Nemoto, J. Phys. Soc. Jpn. 65, 1604 (1996)).
//
// R replicas of one System sit at a ladder of temperatures T_0 .. T_{R−1}. A round is: every
// replica does `sweeps_per_exchange` Metropolis sweeps (each followed by `wolff_per_sweep`
// Wolff clusters when asked), then neighbouring pairs (k, k+1) swap configurations with
// probability min(1, exp((β_k − β_{k+1})(E_k − E_{k+1}))), even pairs on even rounds and odd
// pairs on odd rounds. Samplers stay with their temperature (their adapted σ belongs to it);
// configurations move. Sampler k draws from streams keyed by temperature index k and the swaps
// from a replica_exchange stream, so replicas can run in parallel (OpenMP over replicas) and
// the result does not depend on the thread count.
//
// Over MPI ranks (spread_over_ranks, docs/parallel.md) the configurations stay where they are
// and the temperature labels move instead: rank r holds the configurations ("slots") of a
// contiguous block (parallel::block_of); slot_of(k) is the slot now at temperature k. After each
// sweep the ranks share the slots' energies (one all-gather), every rank draws the same
// exchange decisions from the same replica_exchange stream (the pair k, k+1 and the round
// decide, never the rank) and swaps the same labels. A temperature's samplers (their streams,
// σ and counters: a few hundred bytes, not the configuration) go with its label to the rank
// now holding its configuration, so temperature k's moves draw from stream k exactly as in
// one process, where every slot is here and the same code runs without messages. The result
// is the same bit for bit whatever the number of ranks.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "spinlat/mc/delayed_acceptance.hpp"
#include "spinlat/mc/metropolis.hpp"
#include "spinlat/mc/wolff.hpp"

namespace spinlat {

struct ParallelTemperingOptions {
  /// Move, seed, block size... for every replica (the key's `replica` is set to the temperature index).
  MetropolisOptions metropolis;
  long long sweeps_per_exchange = 1;
  /// Wolff clusters after each Metropolis sweep (needs isotropic exchange; 0 = none).
  long long wolff_per_sweep = 0;
  /// When set, every replica moves by surrogate-driven sweeps (mc/delayed_acceptance.hpp) with
  /// this cheap Hamiltonian (bound to the same structure) instead of Metropolis sweeps; the
  /// exchanges use the exact energies as before, so the ensemble stays exact.
  std::shared_ptr<const Hamiltonian> surrogate;
  DelayedAcceptanceOptions delayed;  ///< its move, inner steps... (seed: from `metropolis`)
};

class ParallelTempering {
 public:
  /// Every replica starts as a copy of `initial`. Temperatures (K) must be > 0, in any order
  /// (usually ascending); `h` must be bound to `initial` and outlive this object.
  ParallelTempering(const Hamiltonian& h, const System& initial, std::vector<double> temperatures,
                    const ParallelTemperingOptions& options = {});

  std::size_t size() const { return temperatures_.size(); }
  const std::vector<double>& temperatures() const { return temperatures_; }
  /// The configuration currently at temperature index k (held by this rank: holds(k)).
  System& system(std::size_t k);
  const System& system(std::size_t k) const;

  /// Spreads the replicas over the run's ranks (parallel/ranks.hpp) before the first round:
  /// this rank keeps the configurations of its block only. Every rank must build the same
  /// ladder, call this, and then make the same calls (round, equilibrate, run, measure,
  /// gather_samplers): they are collective. No checkpoints (save_state) once spread.
  void spread_over_ranks();
  bool over_ranks() const { return over_ranks_; }
  /// True when this rank holds the configuration at temperature k.
  bool holds(std::size_t k) const { return slot_of_[k] >= first_ && slot_of_[k] < last_; }
  /// The slot (configuration, 0..R−1) at temperature k; the same on every rank.
  std::size_t slot_of(std::size_t k) const { return slot_of_[k]; }

  /// `f` of the configuration at each temperature, by temperature index, on every rank: each
  /// rank evaluates its own configurations (f must give records of one length and depend on
  /// the configuration only).
  std::vector<std::vector<double>> measure(const std::function<std::vector<double>(const System&)>& f) const;
  /// Over ranks: every rank's samplers of every temperature become the current ones (after the
  /// last round, before reading sampler(k) or delayed(k) for a k this rank does not hold).
  void gather_samplers();
  MetropolisSampler& sampler(std::size_t k) { return metropolis_[k]; }
  WolffSampler* wolff(std::size_t k) { return wolff_.empty() ? nullptr : &wolff_[k]; }
  /// The surrogate-driven sampler at temperature index k (null without a surrogate).
  const DelayedAcceptanceSampler* delayed(std::size_t k) const { return delayed_.empty() ? nullptr : &delayed_[k]; }

  /// One round: sweeps on every replica, then one exchange pass.
  void round();
  /// `n` rounds with σ adaptation (equilibration); `run` keeps σ frozen.
  void equilibrate(long long n);
  void run(long long n);

  /// Energy (eV) of the configuration at each temperature, as of the last round.
  const std::vector<double>& energies() const { return energies_; }
  /// Accepted fraction of swap attempts between temperatures k and k+1 (size R−1).
  std::vector<double> exchange_acceptance() const;
  const std::vector<std::uint64_t>& exchange_attempts() const { return attempts_; }
  /// Which original replica (0..R−1) sits at temperature k: follows round trips.
  const std::vector<int>& replica_at() const { return replica_at_; }
  std::uint64_t rounds() const { return rounds_; }

  /// Everything needed to continue bit for bit: configurations (spins and moments of every
  /// replica, exact), samplers' states, exchange engine and counters.
  std::string save_state() const;
  void load_state(const std::string& state);

 private:
  void sweep_all(bool adapt);
  void exchange();
  double energy_of(const System& s) const;
  /// Temperature k's samplers (Metropolis, Wolff, surrogate-driven) as text, and back.
  std::string samplers_state(std::size_t k) const;
  void load_samplers(std::size_t k, const std::string& text);
  /// After the swap of temperatures k and k+1: their samplers to the ranks of their new slots.
  void hand_over(std::size_t k);

  const Hamiltonian* h_;
  ParallelTemperingOptions options_;
  std::vector<double> temperatures_, beta_;
  std::vector<System> systems_;  ///< slots first_..last_−1 (all of them in one process)
  std::size_t first_ = 0, last_ = 0;
  std::size_t atoms_ = 0;  ///< of every replica
  bool over_ranks_ = false;
  std::vector<std::size_t> slot_of_, temperature_of_;  ///< temperature → slot and back
  std::vector<int> rank_of_;  ///< the rank holding each slot
  std::vector<int> block_sizes_;  ///< slots held by each rank (over ranks)
  std::vector<MetropolisSampler> metropolis_;  ///< by temperature, as the other samplers
  std::vector<WolffSampler> wolff_;
  std::vector<DelayedAcceptanceSampler> delayed_;
  std::vector<double> energies_;
  std::vector<std::uint64_t> attempts_, accepted_;
  std::vector<int> replica_at_;
  Engine engine_;
  std::uint64_t rounds_ = 0;
};

}  // namespace spinlat
