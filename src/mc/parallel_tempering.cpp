#include "spinlat/mc/parallel_tempering.hpp"

#include <cmath>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <string>
#include <tuple>

#include "spinlat/core/error.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/core/state_io.hpp"
#include "spinlat/parallel/assign.hpp"
#include "spinlat/parallel/ranks.hpp"
#include "spinlat/terms/hamiltonian.hpp"
#include "spinlat/terms/spin_kernel.hpp"

namespace spinlat {

ParallelTempering::ParallelTempering(const Hamiltonian& h, const System& initial,
                                     std::vector<double> temperatures,
                                     const ParallelTemperingOptions& options)
    : h_(&h), options_(options), temperatures_(std::move(temperatures)),
      engine_(stream_engine(options.metropolis.seed, StreamPurpose::replica_exchange)) {
  if (temperatures_.empty()) throw InputError("parallel tempering needs at least one temperature");
  if (options_.sweeps_per_exchange < 1) throw InputError("parallel tempering: sweeps_per_exchange must be >= 1");
  if (options_.wolff_per_sweep < 0) throw InputError("parallel tempering: wolff_per_sweep must be >= 0");
  const std::size_t R = temperatures_.size();
  for (double T : temperatures_)
    if (!(T > 0.0) || !std::isfinite(T))
      throw InputError("parallel tempering temperatures must be finite and > 0 K");
  for (double T : temperatures_) beta_.push_back(1.0 / units::thermal_energy(T));
  systems_.assign(R, initial);
  atoms_ = initial.size();
  for (std::size_t k = 0; k < R; ++k) {
    MetropolisOptions mo = options_.metropolis;
    mo.seed = options_.metropolis.seed.with_replica(k);
    metropolis_.emplace_back(h, initial, mo);
    metropolis_.back().set_temperature(temperatures_[k]);
    if (options_.surrogate) {
      DelayedAcceptanceOptions d = options_.delayed;
      d.seed = mo.seed;
      delayed_.emplace_back(h, *options_.surrogate, initial, d);
      delayed_.back().set_temperature(temperatures_[k]);
    }
    if (options_.wolff_per_sweep > 0) {
      wolff_.emplace_back(h, initial, options_.metropolis.seed.with_replica(k));
      wolff_.back().set_temperature(temperatures_[k]);
    }
  }
  energies_.resize(R);
  for (std::size_t k = 0; k < R; ++k) energies_[k] = energy_of(systems_[k]);
  attempts_.assign(R > 1 ? R - 1 : 0, 0);
  accepted_.assign(attempts_.size(), 0);
  replica_at_.resize(R);
  for (std::size_t k = 0; k < R; ++k) replica_at_[k] = static_cast<int>(k);
  first_ = 0;
  last_ = R;
  slot_of_.resize(R);
  temperature_of_.resize(R);
  for (std::size_t k = 0; k < R; ++k) slot_of_[k] = temperature_of_[k] = k;
  rank_of_.assign(R, parallel::rank());
}

System& ParallelTempering::system(std::size_t k) {
  if (!holds(k)) throw std::logic_error("ParallelTempering::system: temperature " + std::to_string(k) + " is on another rank");
  return systems_[slot_of_[k] - first_];
}

const System& ParallelTempering::system(std::size_t k) const {
  if (!holds(k)) throw std::logic_error("ParallelTempering::system: temperature " + std::to_string(k) + " is on another rank");
  return systems_[slot_of_[k] - first_];
}

void ParallelTempering::spread_over_ranks() {
  if (rounds_ != 0) throw std::logic_error("ParallelTempering::spread_over_ranks after the first round");
  const std::size_t R = size();
  const int ranks = parallel::size();
  block_sizes_.clear();
  for (int r = 0; r < ranks; ++r) {
    const auto [a, b] = parallel::block_of(R, ranks, r);
    for (std::size_t j = a; j < b; ++j) rank_of_[j] = r;
    block_sizes_.push_back(static_cast<int>(b - a));
  }
  std::tie(first_, last_) = parallel::block_of(R, ranks, parallel::rank());
  // Every slot still holds a copy of the initial configuration: keep this rank's block.
  systems_.erase(systems_.begin() + static_cast<long>(last_), systems_.end());
  systems_.erase(systems_.begin(), systems_.begin() + static_cast<long>(first_));
  over_ranks_ = true;
}

double ParallelTempering::energy_of(const System& s) const {
  if (const SpinKernel* k = h_->spin_kernel()) return k->energy(s.spin, s.moment);
  return h_->energy(s);
}

void ParallelTempering::sweep_all(bool adapt) {
  const long n = static_cast<long>(systems_.size());  // the slots held here
  std::vector<double> energy(systems_.size());
  // Kernel energies and sweeps are read-only on the Hamiltonian: replicas may run together.
  // Tiny replicas stay serial: a barrier per round would cost more than the work (and the
  // result is the same either way).
  const double work = static_cast<double>(atoms_) * options_.sweeps_per_exchange;
  const bool parallel = h_->spin_kernel() != nullptr && !options_.metropolis.longitudinal &&
                        (!options_.surrogate || options_.surrogate->spin_kernel() != nullptr) &&
                        n > 1 && work >= 2048.0;
#pragma omp parallel for schedule(dynamic, 1) if (parallel)
  for (long j = 0; j < n; ++j) {
    // The samplers of the temperature this configuration is at (they follow the label).
    const std::size_t k = temperature_of_[first_ + static_cast<std::size_t>(j)];
    System& sys = systems_[static_cast<std::size_t>(j)];
    if (!delayed_.empty()) {
      DelayedAcceptanceSampler& d = delayed_[k];
      d.set_adaptive(adapt);
      for (long long r = 0; r < options_.sweeps_per_exchange; ++r) d.sweep(sys);
      d.set_adaptive(false);
      energy[static_cast<std::size_t>(j)] = energy_of(sys);
      continue;
    }
    MetropolisSampler& m = metropolis_[k];
    m.set_adaptive(adapt);
    for (long long r = 0; r < options_.sweeps_per_exchange; ++r) {
      m.sweep(sys);
      if (!wolff_.empty()) wolff_[k].steps(sys, options_.wolff_per_sweep);
    }
    m.set_adaptive(false);
    energy[static_cast<std::size_t>(j)] = energy_of(sys);
  }
  // Every slot's energy on every rank, in slot order (the blocks are in rank order).
  const std::vector<double> by_slot = over_ranks_ ? parallel::all_gather(energy, block_sizes_) : energy;
  for (std::size_t k = 0; k < size(); ++k) energies_[k] = by_slot[slot_of_[k]];
}

void ParallelTempering::exchange() {
  const std::size_t R = size();
  for (std::size_t k = rounds_ % 2; k + 1 < R; k += 2) {
    // Hukushima & Nemoto 1996, Eq. (5): Δ = (β_k − β_{k+1})(E_k − E_{k+1}).
    const double delta = (beta_[k] - beta_[k + 1]) * (energies_[k] - energies_[k + 1]);
    ++attempts_[k];
    if (delta >= 0.0 || uniform01(engine_) < std::exp(delta)) {
      // The configurations stay; temperatures k and k+1 trade slots.
      std::swap(slot_of_[k], slot_of_[k + 1]);
      temperature_of_[slot_of_[k]] = k;
      temperature_of_[slot_of_[k + 1]] = k + 1;
      std::swap(energies_[k], energies_[k + 1]);
      std::swap(replica_at_[k], replica_at_[k + 1]);
      ++accepted_[k];
      // The pairs of one pass are disjoint: ascending k, the same on every rank.
      if (over_ranks_) hand_over(k);
    }
  }
  ++rounds_;
}

std::string ParallelTempering::samplers_state(std::size_t k) const {
  state_io::Writer w("spinlat-pt-samplers", 1);
  w.text("metropolis", metropolis_[k].save_state());
  if (!wolff_.empty()) w.text("wolff", wolff_[k].save_state());
  if (!delayed_.empty()) w.text("delayed", delayed_[k].save_state());
  return w.str();
}

void ParallelTempering::load_samplers(std::size_t k, const std::string& text) {
  const state_io::Reader r(text, "spinlat-pt-samplers", 1);
  metropolis_[k].load_state(r.text("metropolis"));
  if (!wolff_.empty()) wolff_[k].load_state(r.text("wolff"));
  if (!delayed_.empty()) delayed_[k].load_state(r.text("delayed"));
}

void ParallelTempering::hand_over(std::size_t k) {
  // Slot a held temperature k and now holds k+1; slot b the reverse.
  const int a = rank_of_[slot_of_[k + 1]], b = rank_of_[slot_of_[k]];
  if (a == b) return;  // both here, or both elsewhere: nothing moves
  const int me = parallel::rank();
  if (me == a) load_samplers(k + 1, parallel::swap_with(b, samplers_state(k)));
  else if (me == b) load_samplers(k, parallel::swap_with(a, samplers_state(k + 1)));
}

std::vector<std::vector<double>> ParallelTempering::measure(
    const std::function<std::vector<double>(const System&)>& f) const {
  const std::size_t R = size();
  std::vector<std::vector<double>> by_temperature(R);
  if (!over_ranks_) {
    for (std::size_t k = 0; k < R; ++k) by_temperature[k] = f(system(k));
    return by_temperature;
  }
  std::vector<double> mine;
  for (const System& sys : systems_) {
    const std::vector<double> v = f(sys);
    mine.insert(mine.end(), v.begin(), v.end());
  }
  const std::vector<double> by_slot = parallel::all_gather(mine);
  const std::size_t width = by_slot.size() / R;
  if (width * R != by_slot.size()) throw std::logic_error("ParallelTempering::measure: records of different lengths");
  for (std::size_t k = 0; k < R; ++k) {
    const auto at = by_slot.begin() + static_cast<long>(slot_of_[k] * width);
    by_temperature[k].assign(at, at + static_cast<long>(width));
  }
  return by_temperature;
}

void ParallelTempering::gather_samplers() {
  if (!over_ranks_) return;
  state_io::Writer w("spinlat-pt-held-samplers", 1);
  for (std::size_t k = 0; k < size(); ++k)
    if (holds(k)) w.text(std::to_string(k), samplers_state(k));
  const std::vector<std::string> by_rank = parallel::all_gather(w.str());
  for (std::size_t k = 0; k < size(); ++k) {
    if (holds(k)) continue;
    const state_io::Reader r(by_rank[static_cast<std::size_t>(rank_of_[slot_of_[k]])], "spinlat-pt-held-samplers", 1);
    load_samplers(k, r.text(std::to_string(k)));
  }
}

void ParallelTempering::round() {
  sweep_all(false);
  exchange();
}

void ParallelTempering::equilibrate(long long n) {
  for (long long r = 0; r < n; ++r) {
    sweep_all(true);
    exchange();
  }
}

void ParallelTempering::run(long long n) {
  for (long long r = 0; r < n; ++r) round();
}

std::vector<double> ParallelTempering::exchange_acceptance() const {
  std::vector<double> a(attempts_.size(), 0.0);
  for (std::size_t k = 0; k < a.size(); ++k)
    if (attempts_[k]) a[k] = static_cast<double>(accepted_[k]) / static_cast<double>(attempts_[k]);
  return a;
}

std::string ParallelTempering::save_state() const {
  if (over_ranks_) throw std::logic_error("ParallelTempering::save_state: a ladder over ranks is not checkpointed");
  state_io::Writer w("spinlat-parallel-tempering", 2);
  const std::size_t R = size();
  w.integer("replicas", R);
  w.integer("atoms", atoms_);
  w.integer("rounds", rounds_);
  w.engine("engine", engine_);
  for (std::size_t k = 0; k < R; ++k) {
    const std::string K = std::to_string(k);
    const System& s = system(k);
    w.vectors("spin" + K, s.spin);
    w.reals("moment" + K, s.moment);
    w.real("energy" + K, energies_[k]);
    w.integer("replica_at" + K, static_cast<std::uint64_t>(replica_at_[k]));
    w.text("metropolis" + K, metropolis_[k].save_state());
    if (!wolff_.empty()) w.text("wolff" + K, wolff_[k].save_state());
    if (!delayed_.empty()) w.text("delayed" + K, delayed_[k].save_state());
    if (k + 1 < R) {
      w.integer("attempts" + K, attempts_[k]);
      w.integer("accepted" + K, accepted_[k]);
    }
  }
  return w.str();
}

void ParallelTempering::load_state(const std::string& state) {
  if (over_ranks_) throw std::logic_error("ParallelTempering::load_state: a ladder over ranks is not checkpointed");
  state_io::Reader r(state, "spinlat-parallel-tempering", 2);
  const std::size_t R = size();
  if (r.integer("replicas") != R || r.integer("atoms") != atoms_)
    throw InputError("parallel-tempering checkpoint: replica or atom count differs from this run");
  // Parse into copies first so that a bad checkpoint leaves this object unchanged.
  std::vector<System> systems = systems_;
  std::vector<MetropolisSampler> metropolis = metropolis_;
  std::vector<WolffSampler> wolff = wolff_;
  std::vector<DelayedAcceptanceSampler> delayed = delayed_;
  std::vector<double> energies(R);
  std::vector<int> at(R);
  std::vector<std::uint64_t> attempts(attempts_.size()), accepted(accepted_.size());
  for (std::size_t k = 0; k < R; ++k) {
    const std::string K = std::to_string(k);
    System& s = systems[k];  // slot k at temperature k from here on
    s.spin = r.vectors("spin" + K, s.size());
    s.moment = r.reals("moment" + K, s.size());
    energies[k] = r.real("energy" + K);
    at[k] = static_cast<int>(r.integer("replica_at" + K));
    metropolis[k].load_state(r.text("metropolis" + K));
    if (!wolff.empty()) wolff[k].load_state(r.text("wolff" + K));
    if (!delayed.empty()) delayed[k].load_state(r.text("delayed" + K));
    if (k + 1 < R) {
      attempts[k] = r.integer("attempts" + K);
      accepted[k] = r.integer("accepted" + K);
    }
  }
  const Engine e = r.engine("engine");
  systems_ = std::move(systems);
  metropolis_ = std::move(metropolis);
  wolff_ = std::move(wolff);
  delayed_ = std::move(delayed);
  energies_ = std::move(energies);
  replica_at_ = std::move(at);
  attempts_ = std::move(attempts);
  accepted_ = std::move(accepted);
  engine_ = e;
  rounds_ = r.integer("rounds");
  for (std::size_t k = 0; k < R; ++k) slot_of_[k] = temperature_of_[k] = k;
}

}  // namespace spinlat
