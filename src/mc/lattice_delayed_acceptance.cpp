#include "spinlat/mc/lattice_delayed_acceptance.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "spinlat/core/error.hpp"
#include "spinlat/core/state_io.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/terms/hamiltonian.hpp"

namespace spinlat {

namespace {

// The surrogate's scale λ is refitted every kFitEvery outer steps while equilibrating, from
// sums in which each step's weight decays by kFitMemory per step.
constexpr std::uint64_t kFitEvery = 20;
constexpr double kFitMemory = 0.98;

MetropolisOptions inner_options(const LatticeDelayedAcceptanceOptions& o) {
  if (o.inner_steps < 1) throw InputError("surrogate-driven Monte Carlo: surrogate_steps must be >= 1");
  MetropolisOptions m;
  m.move = o.move;
  m.target_acceptance = o.target_acceptance;
  m.seed = o.seed;
  return m;
}

}  // namespace

LatticeDelayedAcceptanceSampler::LatticeDelayedAcceptanceSampler(const Hamiltonian& model, const Hamiltonian& surrogate,
                                                                 const System& s,
                                                                 const LatticeDelayedAcceptanceOptions& options)
    : model_(&model), surrogate_(&surrogate), options_(options),
      metropolis_(surrogate, s, inner_options(options)),
      engine_(stream_engine(options.seed, StreamPurpose::delayed_acceptance)) {
  if (options_.clusters && wolff_applicable(surrogate))
    wolff_ = std::make_unique<WolffSampler>(surrogate, s, options_.seed);
}

void LatticeDelayedAcceptanceSampler::set_temperature(double kelvin) {
  if (!(kelvin > 0.0) || !std::isfinite(kelvin))
    throw InputError("surrogate-driven Monte Carlo needs a finite temperature > 0 K (use a minimize stage to quench)");
  temperature_ = kelvin;
  beta_ = 1.0 / units::thermal_energy(kelvin);
  set_scale(scale_);
}

void LatticeDelayedAcceptanceSampler::set_scale(double lambda) {
  scale_ = lambda;
  // exp(−β λ E_sur) is the surrogate's Boltzmann weight at T/λ.
  metropolis_.set_temperature(temperature_ / lambda);
  if (wolff_) wolff_->set_temperature(temperature_ / lambda);
}

void LatticeDelayedAcceptanceSampler::set_adaptive(bool on) {
  adaptive_ = on;
  metropolis_.set_adaptive(on);
  if (wolff_) wolff_->set_adaptive(on);
}

double LatticeDelayedAcceptanceSampler::outer_acceptance() const {
  return counters_.outer_trials
             ? static_cast<double>(counters_.outer_accepted) / static_cast<double>(counters_.outer_trials)
             : 0.0;
}

double LatticeDelayedAcceptanceSampler::inner_acceptance() const {
  return counters_.inner_trials
             ? static_cast<double>(counters_.inner_accepted) / static_cast<double>(counters_.inner_trials)
             : 0.0;
}

double LatticeDelayedAcceptanceSampler::sweep(System& s) {
  if (!(beta_ > 0.0)) throw std::logic_error("LatticeDelayedAcceptanceSampler::sweep: no temperature set");
  // The energies of x: those of the last step's outcome when the caller has not changed the
  // configuration since (parallel tempering and annealing may), else evaluated now. Both
  // come from the same functions as those of y, so that surrogate = model gives a difference
  // of exactly 0 (every proposal accepted).
  if (!(cached_ && s.spin == saved_ && s.moment == saved_moment_ && s.position == saved_position_)) {
    model_x_ = model_->energy(s);
    sur_x_ = surrogate_->energy(s);
    saved_ = s.spin;
    saved_moment_ = s.moment;
    saved_position_ = s.position;
    cached_ = true;
  }
  const MetropolisCounters before = metropolis_.counters();
  for (int k = 0; k < options_.inner_steps; ++k) {
    // Q = ½ M + ½ W: one draw picks the kernel, a second M's direction.
    const bool cluster = wolff_ && uniform01(engine_) < 0.5;
    if (cluster) {
      wolff_->sweep(s);
      ++counters_.cluster_sweeps;
    } else {
      metropolis_.sweep(s, uniform01(engine_) < 0.5);
      ++counters_.metropolis_sweeps;
    }
  }
  const MetropolisCounters& after = metropolis_.counters();
  counters_.inner_trials += after.direction_trials() - before.direction_trials();
  counters_.inner_accepted += after.direction_accepted() - before.direction_accepted();
  const double model_y = model_->energy(s), sur_y = surrogate_->energy(s);
  const double d_model = model_y - model_x_, d_sur = sur_y - sur_x_;
  const double w = d_model - scale_ * d_sur;
  if (adaptive_ && std::isfinite(w)) {
    // λ = Σ ΔE_model ΔE_sur / Σ ΔE_sur², the least-squares slope of the proposals' energy
    // changes: it minimises the spread of the outer exponent. Older steps fade (the chain
    // starts far from equilibrium).
    fit_xy_ = kFitMemory * fit_xy_ + d_model * d_sur;
    fit_xx_ = kFitMemory * fit_xx_ + d_sur * d_sur;
    if (++fit_steps_ % kFitEvery == 0 && fit_xx_ > 0.0) set_scale(std::clamp(fit_xy_ / fit_xx_, 0.5, 2.0));
  }
  const bool ok = uniform01(engine_) < std::exp(-beta_ * std::max(w, 0.0));  // NaN: rejected
  ++counters_.outer_trials;
  if (ok) {
    ++counters_.outer_accepted;
    model_x_ = model_y;
    sur_x_ = sur_y;
    saved_ = s.spin;
  } else {
    s.spin = saved_;
  }
  return ok ? 1.0 : 0.0;
}

std::string LatticeDelayedAcceptanceSampler::save_state() const {
  state_io::Writer w("spinlat-lattice-delayed-acceptance", 1);
  w.real("temperature", temperature_);
  w.integer("outer_trials", counters_.outer_trials);
  w.integer("outer_accepted", counters_.outer_accepted);
  w.integer("metropolis_sweeps", counters_.metropolis_sweeps);
  w.integer("cluster_sweeps", counters_.cluster_sweeps);
  w.integer("inner_trials", counters_.inner_trials);
  w.integer("inner_accepted", counters_.inner_accepted);
  w.real("scale", scale_);
  w.real("fit_xy", fit_xy_);
  w.real("fit_xx", fit_xx_);
  w.integer("fit_steps", fit_steps_);
  w.integer("adaptive", adaptive_ ? 1 : 0);
  w.engine("engine", engine_);
  w.text("metropolis", metropolis_.save_state());
  w.text("wolff", wolff_ ? wolff_->save_state() : "");
  return w.str();
}

void LatticeDelayedAcceptanceSampler::load_state(const std::string& state) {
  state_io::Reader r(state, "spinlat-lattice-delayed-acceptance", 1);
  const double T = r.real("temperature");
  LatticeDelayedAcceptanceCounters c;
  c.outer_trials = r.integer("outer_trials");
  c.outer_accepted = r.integer("outer_accepted");
  c.metropolis_sweeps = r.integer("metropolis_sweeps");
  c.cluster_sweeps = r.integer("cluster_sweeps");
  c.inner_trials = r.integer("inner_trials");
  c.inner_accepted = r.integer("inner_accepted");
  const double scale = r.real("scale"), fit_xy = r.real("fit_xy"), fit_xx = r.real("fit_xx");
  const std::uint64_t fit_steps = r.integer("fit_steps");
  const bool adaptive = r.integer("adaptive") != 0;
  if (!(scale > 0.0) || !std::isfinite(scale)) throw InputError("surrogate Monte Carlo checkpoint: bad surrogate scale");
  const Engine e = r.engine("engine");
  const std::string wolff = r.text("wolff");
  if (wolff.empty() != (wolff_ == nullptr))
    throw InputError("surrogate Monte Carlo checkpoint: Wolff clusters were " +
                     std::string(wolff.empty() ? "off" : "on") + " when it was written and are not now");
  metropolis_.load_state(r.text("metropolis"));
  if (wolff_) wolff_->load_state(wolff);
  scale_ = scale;
  if (T > 0.0) set_temperature(T);
  fit_xy_ = fit_xy;
  fit_xx_ = fit_xx;
  fit_steps_ = fit_steps;
  adaptive_ = adaptive;
  counters_ = c;
  engine_ = e;
}

}  // namespace spinlat
