#include "spinlat/mc/parallel_tempering.hpp"

#include <cmath>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include "spinlat/core/error.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/core/state_io.hpp"
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
}

double ParallelTempering::energy_of(const System& s) const {
  if (const SpinKernel* k = h_->spin_kernel()) return k->energy(s.spin, s.moment);
  return h_->energy(s);
}

void ParallelTempering::sweep_all(bool adapt) {
  const long R = static_cast<long>(systems_.size());
  // Kernel energies and sweeps are read-only on the Hamiltonian: replicas may run together.
  // Tiny replicas stay serial: a barrier per round would cost more than the work (and the
  // result is the same either way).
  const double work = static_cast<double>(systems_[0].size()) * options_.sweeps_per_exchange;
  const bool parallel = h_->spin_kernel() != nullptr && !options_.metropolis.longitudinal &&
                        (!options_.surrogate || options_.surrogate->spin_kernel() != nullptr) &&
                        R > 1 && work >= 2048.0;
#pragma omp parallel for schedule(dynamic, 1) if (parallel)
  for (long k = 0; k < R; ++k) {
    if (!delayed_.empty()) {
      DelayedAcceptanceSampler& d = delayed_[k];
      d.set_adaptive(adapt);
      for (long long n = 0; n < options_.sweeps_per_exchange; ++n) d.sweep(systems_[k]);
      d.set_adaptive(false);
      energies_[k] = energy_of(systems_[k]);
      continue;
    }
    MetropolisSampler& m = metropolis_[k];
    m.set_adaptive(adapt);
    for (long long n = 0; n < options_.sweeps_per_exchange; ++n) {
      m.sweep(systems_[k]);
      if (!wolff_.empty()) wolff_[k].steps(systems_[k], options_.wolff_per_sweep);
    }
    m.set_adaptive(false);
    energies_[k] = energy_of(systems_[k]);
  }
}

void ParallelTempering::exchange() {
  const std::size_t R = systems_.size();
  for (std::size_t k = rounds_ % 2; k + 1 < R; k += 2) {
    // Hukushima & Nemoto 1996, Eq. (5): Δ = (β_k − β_{k+1})(E_k − E_{k+1}).
    const double delta = (beta_[k] - beta_[k + 1]) * (energies_[k] - energies_[k + 1]);
    ++attempts_[k];
    if (delta >= 0.0 || uniform01(engine_) < std::exp(delta)) {
      std::swap(systems_[k], systems_[k + 1]);
      std::swap(energies_[k], energies_[k + 1]);
      std::swap(replica_at_[k], replica_at_[k + 1]);
      ++accepted_[k];
    }
  }
  ++rounds_;
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
  state_io::Writer w("spinlat-parallel-tempering", 2);
  const std::size_t R = systems_.size();
  w.integer("replicas", R);
  w.integer("atoms", systems_[0].size());
  w.integer("rounds", rounds_);
  w.engine("engine", engine_);
  for (std::size_t k = 0; k < R; ++k) {
    const std::string K = std::to_string(k);
    const System& s = systems_[k];
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
  state_io::Reader r(state, "spinlat-parallel-tempering", 2);
  const std::size_t R = systems_.size();
  if (r.integer("replicas") != R || r.integer("atoms") != systems_[0].size())
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
    System& s = systems[k];
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
}

}  // namespace spinlat
