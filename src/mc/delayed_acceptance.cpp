#include "spinlat/mc/delayed_acceptance.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "spinlat/core/error.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/mc/moves.hpp"
#include "spinlat/core/state_io.hpp"
#include "spinlat/neighbors/neighbor_list.hpp"
#include "spinlat/terms/hamiltonian.hpp"
#include "spinlat/terms/spin_kernel.hpp"

namespace spinlat {

namespace {

// σ adapts once this many inner trials were seen since its last change (as MetropolisSampler).
constexpr std::uint64_t kAdaptWindow = 100;

// Sites of one colour lie farther apart than both Hamiltonians' trial ranges (plus twice the
// larger skin, as color_interactions), so that neither the surrogate's inner chains nor the
// model's batched trials of one colour see each other.
Coloring color_for_both(const Hamiltonian& model, const Hamiltonian& surrogate, const System& s) {
  const double range = std::max(model.trial_range(), surrogate.trial_range());
  if (!std::isfinite(range))
    throw InputError("surrogate-driven Monte Carlo needs Hamiltonians whose trials have a finite range "
                     "(a learned model needs num_interactions; long-range terms cannot be coloured)");
  const std::vector<int> mag = s.magnetic_sites();
  if (range <= 0.0) {  // on-site terms only: nothing couples
    std::vector<int> offset(s.size() + 1, 0), none;
    return greedy_coloring(offset, none, mag);
  }
  const NeighborList wide = build_neighbor_list(s, range + 2.0 * std::max(model.skin(), surrogate.skin()));
  return greedy_coloring(wide.offset, wide.index, mag);
}

}  // namespace

DelayedAcceptanceSampler::DelayedAcceptanceSampler(const Hamiltonian& model, const Hamiltonian& surrogate,
                                                   const System& s, const DelayedAcceptanceOptions& options)
    : model_(&model), surrogate_(&surrogate), options_(options) {
  if (options_.inner_steps < 1) throw InputError("surrogate-driven Monte Carlo: inner steps must be >= 1");
  if (!(options_.target_acceptance > 0.0 && options_.target_acceptance < 1.0))
    throw InputError("Monte Carlo target acceptance must lie strictly between 0 and 1");
  if (!(options_.sigma > 0.0)) throw InputError("Gaussian move width sigma must be positive");
  if (options_.block == 0) throw std::logic_error("DelayedAcceptanceSampler: block size 0");
  if (const SpinKernel* k = surrogate.spin_kernel())
    if (k->n != s.size()) throw std::logic_error("DelayedAcceptanceSampler: surrogate kernel and system sizes differ");
  sigma_ = options_.sigma;
  coloring_ = color_for_both(model, surrogate, s);
  blocks_.n = s.size();
  blocks_.block = options_.block;
  block_start_ = block_starts(coloring_, blocks_);
  streams_ = StreamSet(options_.seed, StreamPurpose::delayed_acceptance, blocks_.count());
}

void DelayedAcceptanceSampler::set_temperature(double kelvin) {
  if (!(kelvin > 0.0) || !std::isfinite(kelvin))
    throw InputError("surrogate-driven Monte Carlo needs a finite temperature > 0 K (use a minimize stage to quench)");
  temperature_ = kelvin;
  beta_ = 1.0 / units::thermal_energy(kelvin);
}

double DelayedAcceptanceSampler::outer_acceptance() const {
  return counters_.outer_trials ? static_cast<double>(counters_.outer_accepted) / static_cast<double>(counters_.outer_trials)
                                : 0.0;
}

double DelayedAcceptanceSampler::inner_acceptance() const {
  return counters_.inner_trials ? static_cast<double>(counters_.inner_accepted) / static_cast<double>(counters_.inner_trials)
                                : 0.0;
}

double DelayedAcceptanceSampler::sweep(System& s) {
  if (s.size() != blocks_.n) throw std::logic_error("DelayedAcceptanceSampler::sweep: system size differs from construction");
  if (!(beta_ > 0.0)) throw std::logic_error("DelayedAcceptanceSampler::sweep: no temperature set");
  const double beta = beta_, sigma = sigma_;
  const int K = options_.inner_steps;
  const MoveType move = options_.move;
  const SpinKernel* kernel = surrogate_->spin_kernel();
  const Hamiltonian& sur = *surrogate_;
  const long nb = static_cast<long>(blocks_.count());
  struct alignas(64) Tally { std::uint64_t trials = 0, accepted = 0; };
  std::vector<Tally> inner(blocks_.count());
  std::uint64_t outer_trials = 0, outer_accepted = 0, unchanged = 0;
  std::vector<Vec3> proposal;
  std::vector<int> sites;
  std::vector<Vec3> spins;
  std::vector<double> moments, de_model, de_sur;
  std::vector<std::size_t> owner;  // block of each evaluated proposal
  std::vector<char> accepted;
  for (int c = 0; c < coloring_.colors; ++c) {
    const std::vector<int>& cs = coloring_.sites[c];
    const std::vector<std::size_t>& start = block_start_[c];
    proposal.resize(cs.size());
    // --- inner chains on the surrogate: site i alone moves, K Metropolis steps ----------------
    // The sites of a colour are independent for the surrogate, so the chains may run in
    // parallel (the kernel is read-only; each chain writes only its own site and restores it).
#pragma omp parallel for schedule(static) if (kernel != nullptr && nb > 1)
    for (long b = 0; b < nb; ++b) {
      Engine& eng = streams_[b];
      Tally t;
      for (std::size_t q = start[b]; q < start[b + 1]; ++q) {
        const int i = cs[q];
        const Vec3 e0 = s.spin[i];
        Vec3 cur = e0;
        for (int k = 0; k < K; ++k) {
          int kind = static_cast<int>(move);
          if (move == MoveType::hinzke_nowak) kind = std::min(2, static_cast<int>(3.0 * uniform01(eng)));
          Vec3 e_new;
          if (kind == static_cast<int>(MoveType::uniform)) e_new = mc::random_direction(eng);
          else if (kind == static_cast<int>(MoveType::gaussian)) e_new = mc::gaussian_step(cur, sigma, eng);
          else e_new = -cur;
          const double dE = kernel ? kernel->delta_energy(s.spin, s.moment, i, e_new)
                                   : sur.local_energy_change(s, i, e_new, s.moment[i]);
          const bool ok = uniform01(eng) < std::exp(-beta * std::max(dE, 0.0));  // NaN: rejected
          ++t.trials;
          if (ok) {
            cur = e_new;
            s.spin[i] = cur;
            ++t.accepted;
          }
          if (!kernel) sur.accept_trial(ok);
        }
        s.spin[i] = e0;  // the outer step decides
        proposal[q] = cur;
      }
      inner[b] = t;
    }
    // --- the outer correction: both exact energy changes of the proposals that moved ----------
    sites.clear();
    spins.clear();
    moments.clear();
    owner.clear();
    for (long b = 0; b < nb; ++b)
      for (std::size_t q = start[b]; q < start[b + 1]; ++q) {
        const int i = cs[q];
        if (proposal[q] == s.spin[i]) {
          ++unchanged;
          continue;
        }
        sites.push_back(i);
        spins.push_back(proposal[q]);
        moments.push_back(s.moment[i]);
        owner.push_back(static_cast<std::size_t>(b));
      }
    if (sites.empty()) continue;
    // The same function for both, so that surrogate = model gives a difference of exactly 0.
    model_->local_energy_changes(s, sites, spins, moments, de_model);
    sur.local_energy_changes(s, sites, spins, moments, de_sur);
    accepted.assign(sites.size(), 0);
    for (std::size_t k = 0; k < sites.size(); ++k) {
      const double w = de_model[k] - de_sur[k];
      const bool ok = uniform01(streams_[owner[k]]) < std::exp(-beta * std::max(w, 0.0));  // NaN: rejected
      ++outer_trials;
      if (ok) {
        s.spin[sites[k]] = spins[k];
        ++outer_accepted;
      }
      accepted[k] = ok;
    }
    model_->accept_trials(accepted);
    sur.accept_trials(accepted);
  }
  std::uint64_t it = 0, ia = 0;
  for (const Tally& t : inner) {
    it += t.trials;
    ia += t.accepted;
  }
  counters_.inner_trials += it;
  counters_.inner_accepted += ia;
  counters_.outer_trials += outer_trials;
  counters_.outer_accepted += outer_accepted;
  counters_.unchanged += unchanged;
  ++counters_.sweeps;
  if (adaptive_ && move != MoveType::uniform && move != MoveType::flip) {
    window_trials_ += it;
    window_accepted_ += ia;
    if (window_trials_ >= kAdaptWindow) {
      sigma_ = std::clamp(sigma_ * mc::adapt_factor(options_.target_acceptance, window_trials_, window_accepted_), 1e-5, 1e2);
      window_trials_ = window_accepted_ = 0;
    }
  }
  return outer_trials ? static_cast<double>(outer_accepted) / static_cast<double>(outer_trials) : 1.0;
}

std::string DelayedAcceptanceSampler::save_state() const {
  state_io::Writer w("spinlat-delayed-acceptance", 1);
  w.real("temperature", temperature_);
  w.real("sigma", sigma_);
  w.integer("adaptive", adaptive_ ? 1 : 0);
  w.integer("window_trials", window_trials_);
  w.integer("window_accepted", window_accepted_);
  w.integer("inner_trials", counters_.inner_trials);
  w.integer("inner_accepted", counters_.inner_accepted);
  w.integer("outer_trials", counters_.outer_trials);
  w.integer("outer_accepted", counters_.outer_accepted);
  w.integer("unchanged", counters_.unchanged);
  w.integer("sweeps", counters_.sweeps);
  w.integer("blocks", blocks_.count());
  w.text("streams", streams_.save());
  return w.str();
}

void DelayedAcceptanceSampler::load_state(const std::string& state) {
  state_io::Reader r(state, "spinlat-delayed-acceptance", 1);
  const double T = r.real("temperature"), sigma = r.real("sigma");
  const bool adaptive = r.integer("adaptive") != 0;
  const auto wt = r.integer("window_trials"), wa = r.integer("window_accepted");
  DelayedAcceptanceCounters c;
  c.inner_trials = r.integer("inner_trials");
  c.inner_accepted = r.integer("inner_accepted");
  c.outer_trials = r.integer("outer_trials");
  c.outer_accepted = r.integer("outer_accepted");
  c.unchanged = r.integer("unchanged");
  c.sweeps = r.integer("sweeps");
  if (r.integer("blocks") != blocks_.count())
    throw InputError("surrogate Monte Carlo checkpoint: block count differs from this run's system");
  StreamSet streams;
  streams.load(r.text("streams"));
  // Everything parsed: commit.
  if (T > 0.0) set_temperature(T);
  sigma_ = sigma;
  adaptive_ = adaptive;
  window_trials_ = wt;
  window_accepted_ = wa;
  counters_ = c;
  streams_ = std::move(streams);
}

}  // namespace spinlat
