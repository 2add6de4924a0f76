#include "spinlat/dynamics/hybrid.hpp"

#include <cmath>

#include "spinlat/core/error.hpp"
#include "spinlat/core/state_io.hpp"

namespace spinlat {

HybridMcMd::HybridMcMd(System& s, Hamiltonian& h, HybridOptions options, const StreamKey& key)
    : s_(s), h_(h), settings_(std::move(options)) {
  if (!(settings_.temperature >= 0.0) || !std::isfinite(settings_.temperature))
    throw InputError("hybrid: temperature must be >= 0 K");
  if (settings_.md_steps_per_sweep < 0) throw InputError("hybrid: md_steps_per_sweep must be >= 0");
  if (settings_.md_steps_per_sweep > 0 && settings_.temperature > 0.0 && !(settings_.lattice_damping > 0.0))
    throw InputError("hybrid: lattice_damping must be > 0 (a Langevin bath) at temperature > 0");
  if (h_.skin() <= 0.0) h_.set_skin(settings_.skin > 0.0 ? settings_.skin : 0.5);
  MdOptions mo;
  mo.dt = settings_.dt;
  mo.temperature = settings_.temperature;
  mo.lattice_damping = settings_.lattice_damping;
  mo.seed = key;
  md_ = std::make_unique<LatticeIntegrator>(s_, h_, mo);  // binds h
  seen_rebuilds_ = md_->rebuilds();
  MetropolisOptions o = settings_.mc;
  o.seed = key;
  mc_ = std::make_unique<MetropolisSampler>(h_, s_, o);
  mc_->set_temperature(settings_.temperature);
}

HybridMcMd::~HybridMcMd() = default;

void HybridMcMd::set_temperature(double kelvin) {
  if (!(kelvin >= 0.0) || !std::isfinite(kelvin)) throw InputError("hybrid: temperature must be >= 0 K");
  settings_.temperature = kelvin;
  mc_->set_temperature(kelvin);
  MdOptions o = md_->options();
  o.temperature = kelvin;
  md_->set_options(o);
}

void HybridMcMd::sync_spins_to_lattice() {
  // Positions changed: a position-dependent kernel (radial exchange without lattice terms)
  // holds J at the old positions; the sampler must also see a rebuilt list's colouring.
  bool refresh = md_->rebuilds() != seen_rebuilds_;
  if (h_.spin_kernel() && h_.depends_on_positions()) {
    h_.rebuild_spin_kernel(s_);
    refresh = true;
  }
  if (refresh) mc_->refresh(s_);
  seen_rebuilds_ = md_->rebuilds();
}

double HybridMcMd::sweep(bool adapt) {
  mc_->set_adaptive(adapt);
  const double acc = mc_->sweep(s_);
  if (settings_.md_steps_per_sweep > 0) {
    md_->compute_forces();  // the magnetic part of the forces changed with the spins
    md_->run(settings_.md_steps_per_sweep);
    sync_spins_to_lattice();
  }
  ++sweeps_;
  return acc;
}

void HybridMcMd::run(long long sweeps, bool adapt) {
  for (long long k = 0; k < sweeps; ++k) sweep(adapt);
  mc_->set_adaptive(false);
}

std::string HybridMcMd::save_state() const {
  state_io::Writer w("spinlat-hybrid", 1);
  w.integer("sweeps", static_cast<std::uint64_t>(sweeps_));
  w.text("metropolis", mc_->save_state());
  w.text("lattice", md_->save_state());
  return w.str();
}

void HybridMcMd::load_state(const std::string& state) {
  state_io::Reader r(state, "spinlat-hybrid", 1);
  md_->load_state(r.text("lattice"));  // rebinds the list where it was last built
  if (h_.spin_kernel() && h_.depends_on_positions()) h_.rebuild_spin_kernel(s_);
  mc_->refresh(s_);
  mc_->load_state(r.text("metropolis"));
  seen_rebuilds_ = md_->rebuilds();
  sweeps_ = static_cast<long long>(r.integer("sweeps"));
}

}  // namespace spinlat
