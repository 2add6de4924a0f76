#include "spinlat/dynamics/sld.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <stdexcept>

#include "spinlat/core/error.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/dynamics/md.hpp"
#include "spinlat/dynamics/llg_noise.hpp"
#include "spinlat/dynamics/lattice_steps.hpp"
#include "spinlat/core/state_io.hpp"
#include "spinlat/dynamics/spin_rotation.hpp"
#include "spinlat/terms/radial_exchange.hpp"

namespace spinlat {
namespace {

double seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

SldSpinUpdate parse_sld_spin_update(const std::string& name) {
  if (name == "suzuki-trotter") return SldSpinUpdate::suzuki_trotter;
  if (name == "explicit-midpoint") return SldSpinUpdate::explicit_midpoint;
  if (name == "auto") return SldSpinUpdate::automatic;
  throw InputError("sld: unknown integrator '" + name + "' (suzuki-trotter, explicit-midpoint, auto)");
}

// ---- construction and term classes ----------------------------------------------------------

SpinLatticeIntegrator::SpinLatticeIntegrator(System& s, Hamiltonian& h, SldOptions settings,
                                             const StreamKey& seed)
    : s_(s), h_(h), settings_(std::move(settings)), seed_(seed) {
  if (!(settings_.dt > 0.0) || !std::isfinite(settings_.dt))
    throw InputError("sld: 'dt' must be a positive time step (ps)");
  if (!(settings_.temperature >= 0.0) || !std::isfinite(settings_.temperature))
    throw InputError("sld: 'temperature' must be >= 0 K");
  if (!(settings_.lattice_damping >= 0.0) || !std::isfinite(settings_.lattice_damping))
    throw InputError("sld: 'lattice_damping' must be >= 0 (1/ps)");
  if (settings_.spin_substeps < 1) throw InputError("sld: 'spin_substeps' must be >= 1");
  if (settings_.block == 0) throw InputError("sld: noise block size must be positive");
  const std::size_t nspecies = std::max<std::size_t>(1, s.species_name.size());
  if (settings_.damping.empty()) settings_.damping = {0.0};
  if (settings_.damping.size() != 1 && settings_.damping.size() != nspecies)
    throw InputError("sld: 'damping' needs 1 or " + std::to_string(nspecies) +
                     " values (one per species), got " + std::to_string(settings_.damping.size()));
  for (double a : settings_.damping)
    if (!(a >= 0.0) || !std::isfinite(a)) throw InputError("sld: Gilbert damping must be >= 0");
  if (h_.skin() <= 0.0) h_.set_skin(settings_.skin > 0.0 ? settings_.skin : 0.5);

  for (std::size_t i = 0; i < s_.size(); ++i)
    if (!(s_.mass(i) > 0.0))
      throw InputError("sld: atom " + std::to_string(i) + " (species '" + s_.species_name[s_.species[i]] +
                       "') has no mass");
  s_.check_consistent();

  blocks_ = Blocks{s_.size(), settings_.block};
  noise_ = StreamSet(seed_, StreamPurpose::spin_noise, blocks_.count());
  lattice_noise_ = StreamSet(seed_, StreamPurpose::lattice_noise, blocks_.count());
  // Always build the list here, so that its history is known (see save_state).
  h_.bind(s_);
  classify_terms();
  const bool chosen = settings_.spin_update == SldSpinUpdate::automatic;
  if (chosen)
    settings_.spin_update = generic_.empty() ? SldSpinUpdate::suzuki_trotter : SldSpinUpdate::explicit_midpoint;
  if (settings_.spin_substeps > 1 && settings_.spin_update == SldSpinUpdate::explicit_midpoint)
    throw InputError(std::string("sld: 'spin_substeps' applies to integrator = \"suzuki-trotter\" only (") +
                     (chosen ? "integrator = \"auto\" took \"explicit-midpoint\" for the term '" + generic_[0]->type() +
                                   "', which has no fast field path; name \"suzuki-trotter\" to sweep by colours"
                             : "\"explicit-midpoint\" moves every moment once per step") +
                     ")");
  bind_now();
  compute_forces();
}

void SpinLatticeIntegrator::bind_now() {
  built_positions_ = s_.position;
  built_cell_ = s_.cell.h;
  ++rebuilds_;
  rebuild_tables();
}

SpinLatticeIntegrator::~SpinLatticeIntegrator() = default;

int SpinLatticeIntegrator::thread_count() const {
  return settings_.threads > 0 ? settings_.threads : omp_get_max_threads();
}

void SpinLatticeIntegrator::set_temperature(double kelvin) {
  if (!(kelvin >= 0.0) || !std::isfinite(kelvin)) throw InputError("sld: temperature must be >= 0 K");
  settings_.temperature = kelvin;
}

bool SpinLatticeIntegrator::fast_field_term(const Term& t, const System& s, const NeighborList& list) {
  if (t.radial_coupling()) return true;
  SpinKernel probe;
  probe.reset(s.size());
  return t.add_to_spin_kernel(s, list, probe);
}

void SpinLatticeIntegrator::classify_terms() {
  radial_.clear();
  coupling_.clear();
  kernel_terms_.clear();
  generic_.clear();
  force_terms_.clear();
  kernel_dynamic_ = false;
  for (const auto& tp : h_.terms()) {
    const Term* t = tp.get();
    const RadialCoupling r = t->radial_coupling();
    if (!r) force_terms_.push_back(t);
    if (t->energy_kind() == TermKind::lattice) continue;
    if (r) {
      radial_.push_back(t);
      coupling_.push_back(r);
      continue;
    }
    if (fast_field_term(*t, s_, h_.neighbors())) {
      kernel_terms_.push_back(t);
      kernel_dynamic_ = kernel_dynamic_ || t->depends_on_positions();
    } else {
      generic_.push_back(t);
    }
  }
  if (radial_.size() > 32) throw InputError("sld: at most 32 radial exchange terms");
}

// ---- tables built once per neighbour list ---------------------------------------------------

void SpinLatticeIntegrator::rebuild_tables() {
  const NeighborList& list = h_.neighbors();
  const int n = static_cast<int>(s_.size());
  const double skin = h_.skin();

  // Which list entries each radial term acts on: pairs of sites its species selection
  // accepts, where J is not identically zero (a zero function does nothing).
  std::vector<char> nonzero(radial_.size(), 0);
  for (std::size_t t = 0; t < radial_.size(); ++t) {
    const RadialFunction& f = *coupling_[t].J;
    for (double frac : {0.5, 0.3, 0.7, 0.9, 0.1})
      if (f(f.inner() + frac * (f.cutoff() - f.inner())) != 0.0) nonzero[t] = 1;
  }
  auto active = [&](std::size_t t, int i, int k) -> bool {
    const SpeciesFilter& selected = *coupling_[t].species;
    return nonzero[t] && selected(s_, i) && selected(s_, list.index[k]);
  };

  // Candidate slots: pairs within the radial cutoff plus the skin at this build, so that the
  // table (and the colouring) stays complete until the next build.
  slot_offset_.assign(n + 1, 0);
  slot_neighbor_.clear();
  std::vector<Int3> slot_image;
  std::vector<std::uint32_t> slot_terms;
  for (int i = 0; i < n; ++i) {
    if (s_.magnetic(i) && !radial_.empty()) {
      for (int k = list.begin(i); k < list.end(i); ++k) {
        const int j = list.index[k];
        if (j == i || !s_.magnetic(j)) continue;  // a self-image only adds a constant
        std::uint32_t mask = 0;
        for (std::size_t t = 0; t < radial_.size(); ++t)
          if (list.distance[k] < radial_[t]->cutoff() + skin && active(t, i, k)) mask |= 1u << t;
        if (!mask) continue;
        slot_neighbor_.push_back(j);
        slot_image.push_back(list.image[k]);
        slot_terms.push_back(mask);
      }
    }
    slot_offset_[i + 1] = static_cast<int>(slot_neighbor_.size());
  }
  slot_J_.assign(slot_neighbor_.size(), 0.0);
  // Each unordered pair once (from its lower atom), with the slot of its mirror entry.
  pairs_.clear();
  for (int i = 0; i < n; ++i)
    for (int a = slot_offset_[i]; a < slot_offset_[i + 1]; ++a) {
      const int j = slot_neighbor_[a];
      if (j < i) continue;
      int mirror = -1;
      const Int3 back = -slot_image[a];
      for (int b = slot_offset_[j]; b < slot_offset_[j + 1]; ++b)
        if (slot_neighbor_[b] == i && slot_image[b] == back) { mirror = b; break; }
      if (mirror < 0) throw std::logic_error("sld: neighbour list without a mirror entry");
      RadialPair p;
      p.i = i;
      p.j = j;
      p.slot_ij = a;
      p.slot_ji = mirror;
      p.image = slot_image[a];
      p.shift = s_.cell.h.transpose() * p.image.cast<double>();
      p.terms = slot_terms[a];
      pairs_.push_back(p);
    }
  slot_pair_.assign(slot_neighbor_.size(), 0);
  for (std::size_t p = 0; p < pairs_.size(); ++p) {
    slot_pair_[pairs_[p].slot_ij] = static_cast<int>(p);
    slot_pair_[pairs_[p].slot_ji] = ~static_cast<int>(p);
  }
  pair_force_.assign(pairs_.size(), Vec3::Zero());
  pair_energy_.assign(pairs_.size(), 0.0);

  // A moment's coupling to its own periodic images (cells shorter than the cutoff) adds a
  // constant −J(|n·h|) ê_i·ê_i per image pair, which the pair table leaves out: take it, once
  // per build, as the difference between the terms' energy and the table's.
  self_energy_ = 0.0;
  bool self_images = false;
  for (int i = 0; i < n && !radial_.empty(); ++i)
    for (int k = list.begin(i); k < list.end(i); ++k)
      for (const Term* t : radial_)
        self_images = self_images || (list.index[k] == i && list.distance[k] < t->cutoff());
  if (self_images) {
    Derivatives none;
    double full = 0.0;
    for (const Term* t : radial_) full += t->compute(s_, list, none);
    force_.assign(s_.size(), Vec3::Zero());  // scratch here: compute_forces() refills it
    pair_couplings(slot_J_, &pair_dJ_);
    self_energy_ = full - radial_forces();
  }

  // Position-independent kernel terms are compiled once per list.
  have_kernel_ = !kernel_terms_.empty();
  if (have_kernel_) {
    kernel_.reset(s_.size());
    for (const Term* t : kernel_terms_) t->add_to_spin_kernel(s_, list, kernel_);
    kernel_.finalize();
    if (kernel_.axis_conflict)
      throw InputError("sld: two uniaxial anisotropies with different axes act on one site");
  }

  two_stage_ = !generic_.empty() ||
               (have_kernel_ && (!kernel_.K.empty() || !kernel_.Kc.empty() || kernel_.has_biquadratic));

  // Colouring of the coupling graph: radial slots, kernel pairs and, for generic terms with
  // a range, every list entry.
  bool generic_range = false;
  for (const Term* t : generic_) generic_range = generic_range || t->cutoff() > 0.0;
  std::vector<int> off(n + 1, 0), nbr;
  nbr.reserve(slot_neighbor_.size());
  for (int i = 0; i < n; ++i) {
    nbr.insert(nbr.end(), slot_neighbor_.begin() + slot_offset_[i], slot_neighbor_.begin() + slot_offset_[i + 1]);
    if (have_kernel_)
      nbr.insert(nbr.end(), kernel_.neighbor.begin() + kernel_.offset[i], kernel_.neighbor.begin() + kernel_.offset[i + 1]);
    if (generic_range)
      nbr.insert(nbr.end(), list.index.begin() + list.begin(i), list.index.begin() + list.end(i));
    off[i + 1] = static_cast<int>(nbr.size());
  }
  coloring_ = greedy_coloring(off, nbr, s_.magnetic_sites());
  bth_.assign(s_.size(), Vec3::Zero());
}

// ---- couplings at the current positions -----------------------------------------------------

void SpinLatticeIntegrator::pair_couplings(std::vector<double>& J, std::vector<double>* dJ) const {
  const long np = static_cast<long>(pairs_.size());
  J.resize(slot_neighbor_.size());
  if (dJ) dJ->resize(pairs_.size());
  bool bad = false;
#pragma omp parallel for schedule(static) num_threads(thread_count()) if (np >= long(settings_.parallel_min)) reduction(|| : bad)
  for (long p = 0; p < np; ++p) {
    const RadialPair& q = pairs_[p];
    const Vec3 d = s_.position[q.j] + q.shift - s_.position[q.i];
    const double r = d.norm();
    double Jp = 0.0, dJp = 0.0;
    for (std::size_t t = 0; t < radial_.size(); ++t) {
      if (!(q.terms >> t & 1u)) continue;
      double Jt, dJt;
      if (!coupling_[t].J->evaluate(r, Jt, dJt)) bad = true;
      Jp += Jt;
      dJp += dJt;
    }
    J[q.slot_ij] = Jp;
    J[q.slot_ji] = Jp;
    if (dJ) (*dJ)[p] = dJp;
  }
  if (bad) throw NumericalError("sld: a pair distance fell below an exchange table's first point");
}

void SpinLatticeIntegrator::fill_couplings(std::vector<double>& J, SpinKernel& kernel,
                                           std::vector<double>* dJ) const {
  pair_couplings(J, dJ);
  if (kernel_dynamic_) {
    kernel.reset(s_.size());
    for (const Term* t : kernel_terms_) t->add_to_spin_kernel(s_, h_.neighbors(), kernel);
    kernel.finalize();
  }
}

Vec3 SpinLatticeIntegrator::field_of(int i, const std::vector<double>& J, const SpinKernel& kernel) const {
  double x = 0.0, y = 0.0, z = 0.0;
  const int end = slot_offset_[i + 1];
  for (int k = slot_offset_[i]; k < end; ++k) {
    const double Jk = J[k];
    const Vec3& e = s_.spin[slot_neighbor_[k]];
    x += Jk * e[0];
    y += Jk * e[1];
    z += Jk * e[2];
  }
  Vec3 h(x, y, z);
  if (have_kernel_) h += kernel.field(s_.spin, s_.moment, i);
  return h;
}

void SpinLatticeIntegrator::generic_fields(std::vector<Vec3>& out) const {
  out.assign(s_.size(), Vec3::Zero());
  if (generic_.empty()) return;
  std::vector<Vec3> f(s_.size(), Vec3::Zero());
  Derivatives d;
  d.magnetic_force = &f;
  for (const Term* t : generic_) t->compute(s_, h_.neighbors(), d);
  transverse_fields(f, out);
}

void SpinLatticeIntegrator::transverse_fields(const std::vector<Vec3>& f, std::vector<Vec3>& out) const {
  out.assign(s_.size(), Vec3::Zero());
  for (std::size_t i = 0; i < s_.size(); ++i) {
    if (!s_.magnetic(i)) continue;
    // −|m|∂E/∂m, transverse part only: the longitudinal part does not turn ê.
    const Vec3 hi = s_.moment[i] * f[i];
    out[i] = hi - s_.spin[i].dot(hi) * s_.spin[i];
  }
}

// ---- lattice half-steps and forces (dynamics/md.hpp's formulas) --------------------------------

void SpinLatticeIntegrator::kick(double h) { lattice_steps::kick(s_, force_, h, lattice_threads()); }

void SpinLatticeIntegrator::drift(double h) { lattice_steps::drift(s_, h, lattice_threads()); }

void SpinLatticeIntegrator::bath(double h) {
  lattice_steps::bath(s_, blocks_, lattice_noise_, {settings_.lattice_damping, settings_.temperature, settings_.zero_momentum},
                      h, thread_count(), dv_, [](Engine& e) { return gaussian3(e); });
}

void SpinLatticeIntegrator::compute_forces() {
  const auto c0 = std::chrono::steady_clock::now();
  if (h_.update(s_)) bind_now();
  fill_couplings(slot_J_, kernel_, &pair_dJ_);
  timers_.couplings += std::chrono::duration<double>(std::chrono::steady_clock::now() - c0).count();
  forces_here();
}

void SpinLatticeIntegrator::forces_here() {
  using clock = std::chrono::steady_clock;
  const auto c0 = clock::now();
  force_.assign(s_.size(), Vec3::Zero());
  Derivatives d;
  d.force = &force_;
  // The whole-lattice update takes the next step's first field from this evaluation: a
  // generic (learned) term gives its forces and magnetic forces in one pass.
  const bool fields = whole_lattice() && !generic_.empty();
  Derivatives dg = d;
  if (fields) {
    generic_mf_.assign(s_.size(), Vec3::Zero());
    dg.magnetic_force = &generic_mf_;
  }
  double e = 0.0;
  for (const Term* t : force_terms_) {
    const bool g = fields && std::find(generic_.begin(), generic_.end(), t) != generic_.end();
    e += t->compute(s_, h_.neighbors(), g ? dg : d);
  }
  if (fields) transverse_fields(generic_mf_, generic_h_);
  const auto c1 = clock::now();
  e += radial_forces();
  const auto c2 = clock::now();
  timers_.forces += std::chrono::duration<double>(c1 - c0).count();
  timers_.radial += std::chrono::duration<double>(c2 - c1).count();
  epot_ = e;
  for (const auto& f : force_)
    if (!std::isfinite(f.squaredNorm()))
      throw NumericalError("sld: non-finite force at step " + std::to_string(steps_) +
                           " (atoms overlapping or time step too large)");
}

double SpinLatticeIntegrator::radial_forces() {
  if (pairs_.empty()) return self_energy_;
  const long np = static_cast<long>(pairs_.size());
  // Pair energy −J(r) ê_i·ê_j; the force on i is −J'(r) (ê_i·ê_j) r_ij/r, on j its negative.
  // J and J' are those of pair_couplings() at the current positions.
#pragma omp parallel for schedule(static) num_threads(thread_count()) if (parallel(np))
  for (long p = 0; p < np; ++p) {
    const RadialPair& q = pairs_[p];
    const Vec3 d = s_.position[q.j] + q.shift - s_.position[q.i];
    const double r = d.norm();
    const double eij = s_.spin[q.i].dot(s_.spin[q.j]);
    pair_energy_[p] = -slot_J_[q.slot_ij] * eij;
    pair_force_[p] = (-pair_dJ_[p] * eij / r) * d;
  }
  const long n = static_cast<long>(s_.size());
#pragma omp parallel for schedule(static) num_threads(thread_count()) if (parallel(n))
  for (long i = 0; i < n; ++i) {
    Vec3 f = Vec3::Zero();
    for (int k = slot_offset_[i]; k < slot_offset_[i + 1]; ++k) {
      const int p = slot_pair_[k];
      if (p >= 0) f += pair_force_[p];
      else f -= pair_force_[~p];
    }
    force_[i] += f;
  }
  double e = self_energy_;  // fixed order: thread-count independent
  for (long p = 0; p < np; ++p) e += pair_energy_[p];
  return e;
}

double SpinLatticeIntegrator::kinetic_energy() const { return spinlat::kinetic_energy(s_); }
double SpinLatticeIntegrator::lattice_temperature() const { return spinlat::lattice_temperature(s_); }

Mat3 SpinLatticeIntegrator::virial() const {
  std::vector<Vec3> f;
  Mat3 w = Mat3::Zero();
  Derivatives d;
  d.force = &f;
  d.virial = &w;
  h_.compute(s_, d);
  return w;
}

double SpinLatticeIntegrator::pressure_GPa() const { return pressure(s_, virial()) * units::eVA3_to_GPa; }

// ---- the spin sweep --------------------------------------------------------------------------

void SpinLatticeIntegrator::prepare_sites() {
  const double T = settings_.temperature;
  // The thermal field is held over one spin move: Δt/(2 n) in S(Δt/2) twice per step, Δt in
  // the whole-lattice update.
  const double tau = whole_lattice() ? settings_.dt : 0.5 * settings_.dt / settings_.spin_substeps;
  if (T == prepared_T_ && tau == prepared_tau_ && moment_cache_ == s_.moment) return;
  site_.assign(s_.size(), SiteConst{});
  spin_bath_ = false;
  for (std::size_t i = 0; i < s_.size(); ++i) {
    const double m = s_.moment[i];
    if (!(m > 0.0)) continue;
    const double alpha = settings_.damping.size() == 1 ? settings_.damping[0] : settings_.damping.at(s_.species[i]);
    SiteConst& c = site_[i];
    c.alpha = alpha;
    c.g = units::gamma_e / (1.0 + alpha * alpha);
    c.inv = 1.0 / (m * units::mu_B);
    // Evans et al., J. Phys.: Condens. Matter 26, 103202 (2014), Eq. 5, per spin sub-step.
    c.sigma = units::thermal_field_sigma(alpha, T, m, tau);
    spin_bath_ = spin_bath_ || c.sigma > 0.0;
  }
  moment_cache_ = s_.moment;
  prepared_T_ = T;
  prepared_tau_ = tau;
}

void SpinLatticeIntegrator::draw_noise() {
  const long nb = static_cast<long>(blocks_.count());
#pragma omp parallel for schedule(static) num_threads(thread_count()) if (nb > 1)
  for (long b = 0; b < nb; ++b) {
    Engine& e = noise_[b];
    for (std::size_t i = blocks_.begin(b); i < blocks_.end(b); ++i)
      bth_[i] = site_[i].sigma > 0.0 ? Vec3(site_[i].sigma * gaussian3(e)) : Vec3::Zero();
  }
}

void SpinLatticeIntegrator::move_color(int c, double tau, const Vec3& bext) {
  const std::vector<int>& sites = coloring_.sites[c];
  const long count = static_cast<long>(sites.size());
  const bool generic = !generic_.empty();
  const bool noise = spin_bath_;
  const int nt = thread_count();
  const bool par = count >= long(settings_.parallel_min);
  if (generic) generic_fields(generic_h_);
  if (!two_stage_) {
    // Fields linear in ê_i: the exact flow of the sub-Hamiltonian.
#pragma omp parallel for schedule(static) num_threads(nt) if (par)
    for (long k = 0; k < count; ++k) {
      const int i = sites[k];
      const SiteConst& sc = site_[i];
      Vec3 B = sc.inv * field_of(i, slot_J_, kernel_) + bext;
      if (noise) B += bth_[i];
      s_.spin[i] = advance_spin(s_.spin[i], B, sc.g, sc.alpha, tau);
    }
    return;
  }
  // Fields that depend on ê_i itself (anisotropy, biquadratic, generic terms): explicit
  // midpoint on the sphere. Predict ê(τ/2) with the field at ê(0), then move ê(0) over τ with
  // the field at the prediction (second order; the noise is the same in both stages, as in
  // stochastic Heun, which makes the scheme Stratonovich-consistent).
  if (start_.size() != s_.size()) start_.resize(s_.size());
#pragma omp parallel for schedule(static) num_threads(nt) if (par)
  for (long k = 0; k < count; ++k) {
    const int i = sites[k];
    const SiteConst& sc = site_[i];
    Vec3 B = sc.inv * (field_of(i, slot_J_, kernel_) + (generic ? generic_h_[i] : Vec3::Zero())) + bext;
    if (noise) B += bth_[i];
    start_[i] = s_.spin[i];
    s_.spin[i] = advance_spin(s_.spin[i], B, sc.g, sc.alpha, 0.5 * tau);
  }
  if (generic) generic_fields(generic_h_);
#pragma omp parallel for schedule(static) num_threads(nt) if (par)
  for (long k = 0; k < count; ++k) {
    const int i = sites[k];
    const SiteConst& sc = site_[i];
    Vec3 B = sc.inv * (field_of(i, slot_J_, kernel_) + (generic ? generic_h_[i] : Vec3::Zero())) + bext;
    if (noise) B += bth_[i];
    s_.spin[i] = advance_spin(start_[i], B, sc.g, sc.alpha, tau);
  }
}

void SpinLatticeIntegrator::sweep(double tau, double t_mid) {
  const int C = coloring_.colors;
  if (C == 0) return;
  const Vec3 bext = settings_.field.at(t_mid);
  for (int c = 0; c + 1 < C; ++c) move_color(c, 0.5 * tau, bext);
  move_color(C - 1, tau, bext);
  for (int c = C - 2; c >= 0; --c) move_color(c, 0.5 * tau, bext);
}

// ---- one step --------------------------------------------------------------------------------

void SpinLatticeIntegrator::spin_half(double t0) {
  const int ns = settings_.spin_substeps;
  const double tau = 0.5 * settings_.dt / ns;
  prepare_sites();
  for (int k = 0; k < ns; ++k) {
    if (spin_bath_) draw_noise();
    sweep(tau, t0 + (k + 0.5) * tau);
  }
}

void SpinLatticeIntegrator::step() {
  if (whole_lattice())
    step_midpoint();
  else
    step_colours();
}

void SpinLatticeIntegrator::site_fields(const Vec3& bext, std::vector<Vec3>& out) const {
  const long n = static_cast<long>(s_.size());
  out.resize(s_.size());
  const bool generic = !generic_.empty();
#pragma omp parallel for schedule(static) num_threads(thread_count()) if (parallel(n))
  for (long i = 0; i < n; ++i) {
    if (!s_.magnetic(i)) continue;
    Vec3 B = site_[i].inv * (field_of(static_cast<int>(i), slot_J_, kernel_) + (generic ? generic_h_[i] : Vec3::Zero())) + bext;
    if (spin_bath_) B += bth_[i];
    out[i] = B;
  }
}

void SpinLatticeIntegrator::move_all(const std::vector<Vec3>& from, const std::vector<Vec3>& B, double tau) {
  const long n = static_cast<long>(s_.size());
#pragma omp parallel for schedule(static) num_threads(thread_count()) if (parallel(n))
  for (long i = 0; i < n; ++i) {
    if (!s_.magnetic(i)) continue;
    const SiteConst& sc = site_[i];
    s_.spin[i] = advance_spin(from[i], B[i], sc.g, sc.alpha, tau);
  }
}

void SpinLatticeIntegrator::step_midpoint() {
  // B(Δt/2) · ê' = R(ê; B(r,ê), Δt/2) · A(Δt/2) · ê ← R(ê; B(r_½,ê'), Δt) · [O(Δt)] · A(Δt/2) · F ·
  // B(Δt/2) (header comment). Evaluations of a generic term: the midpoint fields and F.
  using clock = std::chrono::steady_clock;
  const double dt = settings_.dt;
  const double t0 = time();
  const auto c0 = clock::now();
  kick(0.5 * dt);
  const auto c1 = clock::now();
  prepare_sites();
  if (spin_bath_) draw_noise();
  start_ = s_.spin;
  site_fields(settings_.field.at(t0), site_field_);  // slot_J_, generic_h_: the last evaluation's
  move_all(start_, site_field_, 0.5 * dt);
  const auto c2 = clock::now();
  drift(0.5 * dt);
  const auto c3 = clock::now();
  if (h_.update(s_)) bind_now();
  fill_couplings(slot_J_, kernel_);
  if (!generic_.empty()) generic_fields(generic_h_);
  site_fields(settings_.field.at(t0 + 0.5 * dt), site_field_);
  move_all(start_, site_field_, dt);
  const auto c4 = clock::now();
  bath(dt);  // no-op without friction
  drift(0.5 * dt);
  const auto c5 = clock::now();
  if (h_.update(s_)) bind_now();
  fill_couplings(slot_J_, kernel_, &pair_dJ_);
  const auto c6 = clock::now();
  forces_here();  // times itself
  const auto c7 = clock::now();
  kick(0.5 * dt);
  ++steps_;
  const auto c8 = clock::now();
  timers_.lattice += seconds(c0, c1) + seconds(c2, c3) + seconds(c4, c5) + seconds(c7, c8);
  timers_.couplings += seconds(c5, c6);
  timers_.spins += seconds(c1, c2) + seconds(c3, c4);
}

void SpinLatticeIntegrator::step_colours() {
  // B(Δt/2) S(Δt/2) A(Δt/2) [O(Δt)] A(Δt/2) S(Δt/2) B(Δt/2): the spins move at the positions
  // where the kicks are taken (docs/spin-lattice.md, "Why this order").
  using clock = std::chrono::steady_clock;
  const double dt = settings_.dt;
  const double t0 = time();
  const auto c0 = clock::now();
  kick(0.5 * dt);
  const auto c1 = clock::now();
  spin_half(t0);  // couplings at these positions: from the last compute_forces()
  const auto c2 = clock::now();
  drift(0.5 * dt);
  bath(dt);  // no-op without friction
  drift(0.5 * dt);
  const auto c3 = clock::now();
  if (h_.update(s_)) bind_now();
  fill_couplings(slot_J_, kernel_, &pair_dJ_);
  const auto c4 = clock::now();
  spin_half(t0 + 0.5 * dt);
  const auto c5 = clock::now();
  forces_here();  // times itself
  const auto c6 = clock::now();
  kick(0.5 * dt);
  ++steps_;
  const auto c7 = clock::now();
  timers_.lattice += seconds(c0, c1) + seconds(c2, c3) + seconds(c6, c7);
  timers_.couplings += seconds(c3, c4);
  timers_.spins += seconds(c1, c2) + seconds(c4, c5);
}

void SpinLatticeIntegrator::run(long long steps) {
  for (long long k = 0; k < steps; ++k) step();
}

// ---- observables -----------------------------------------------------------------------------

std::vector<Vec3> SpinLatticeIntegrator::exchange_field() const {
  // Couplings at the current positions (slot_J_ normally holds them already; recomputed so
  // that the answer never depends on what ran before).
  std::vector<double> J;
  SpinKernel dyn;
  fill_couplings(J, dyn);
  const SpinKernel& kernel = kernel_dynamic_ ? dyn : kernel_;
  std::vector<Vec3> g;
  generic_fields(g);
  std::vector<Vec3> h(s_.size(), Vec3::Zero());
  for (std::size_t i = 0; i < s_.size(); ++i)
    if (s_.magnetic(i)) h[i] = field_of(static_cast<int>(i), J, kernel) + g[i];
  return h;
}

double SpinLatticeIntegrator::spin_temperature() const {
  const std::vector<Vec3> h = exchange_field();
  const Vec3 bext = settings_.field.at(time());
  double num = 0.0, den = 0.0;
  for (std::size_t i = 0; i < s_.size(); ++i) {
    if (!s_.magnetic(i)) continue;
    const Vec3 hi = h[i] + s_.moment[i] * units::mu_B * bext;
    num += s_.spin[i].cross(hi).squaredNorm();
    den += 2.0 * s_.spin[i].dot(hi);
  }
  return den > 0.0 ? num / den / units::k_B : std::numeric_limits<double>::quiet_NaN();
}

SldEnergies SpinLatticeIntegrator::energies() const {
  SldEnergies e;
  Derivatives none;
  for (const auto& tp : h_.terms()) {
    const double v = tp->compute(s_, h_.neighbors(), none);
    if (tp->energy_kind() == TermKind::lattice)
      e.lattice += v;
    else
      e.magnetic += v;
  }
  e.kinetic = kinetic_energy();
  return e;
}

// ---- checkpoints -----------------------------------------------------------------------------

std::string SpinLatticeIntegrator::save_state() const {
  state_io::Writer w("spinlat-sld", 2);
  w.integer("steps", static_cast<std::uint64_t>(steps_));
  w.integer("atoms", s_.size());
  w.integer("block", settings_.block);
  w.integer("rebuilds", static_cast<std::uint64_t>(rebuilds_));
  w.matrix("built_cell", built_cell_);
  w.vectors("built_positions", built_positions_);
  w.text("spin_noise", noise_.save());
  w.text("lattice_noise", lattice_noise_.save());
  return w.str();
}

void SpinLatticeIntegrator::load_state(const std::string& state) {
  state_io::Reader r(state, "spinlat-sld", 2);
  if (r.integer("atoms") != s_.size())
    throw InputError("sld checkpoint: it holds " + std::to_string(r.integer("atoms")) + " atoms, the system " +
                     std::to_string(s_.size()));
  if (r.integer("block") != settings_.block) throw InputError("sld checkpoint: noise block size differs");
  StreamSet noise, lnoise;
  noise.load(r.text("spin_noise"));
  lnoise.load(r.text("lattice_noise"));
  if (noise.size() != blocks_.count() || lnoise.size() != blocks_.count())
    throw InputError("sld checkpoint: random streams do not match the system");
  const Mat3 bc = r.matrix("built_cell");
  std::vector<Vec3> bp = r.vectors("built_positions", s_.size());

  noise_ = std::move(noise);
  lattice_noise_ = std::move(lnoise);
  steps_ = static_cast<long long>(r.integer("steps"));
  // Rebuild the list at the configuration it was last built at, so that later rebuilds (and
  // the order of every sum) happen exactly as in the uninterrupted run.
  built_positions_ = std::move(bp);
  built_cell_ = bc;
  std::swap(s_.position, built_positions_);
  std::swap(s_.cell.h, built_cell_);
  h_.bind(s_);
  rebuild_tables();
  std::swap(s_.position, built_positions_);
  std::swap(s_.cell.h, built_cell_);
  rebuilds_ = static_cast<long>(r.integer("rebuilds"));
  prepared_T_ = -1.0;
  compute_forces();
}

}  // namespace spinlat
