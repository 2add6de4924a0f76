#include "spinlat/mc/metropolis.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "spinlat/core/error.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/mc/moves.hpp"
#include "spinlat/core/state_io.hpp"
#include "spinlat/terms/coloring.hpp"
#include "spinlat/terms/hamiltonian.hpp"
#include "spinlat/terms/spin_kernel.hpp"

namespace spinlat {

namespace {

enum Path { kIsotropic = 0, kKernel = 1, kGeneral = 2, kUniformJ = 3, kBatched = 4 };
enum Move { kUniform = 0, kGaussian = 1, kFlip = 2, kHinzkeNowak = 3 };

// Adapt σ and Δ only once this many trials have been seen since the last change, so that a
// tiny system (one spin: one trial per sweep) adapts on a meaningful acceptance estimate.
constexpr std::uint64_t kAdaptWindow = 100;

using mc::gaussian_step;
using mc::random_direction;

}  // namespace

MoveType parse_move(const std::string& name) {
  if (name == "uniform") return MoveType::uniform;
  if (name == "gaussian") return MoveType::gaussian;
  if (name == "flip") return MoveType::flip;
  if (name == "hinzke-nowak" || name == "hinzke_nowak") return MoveType::hinzke_nowak;
  throw InputError("unknown Monte Carlo move '" + name +
                   "' (expected uniform, gaussian, flip or hinzke-nowak)");
}

std::string move_name(MoveType m) {
  switch (m) {
    case MoveType::uniform: return "uniform";
    case MoveType::gaussian: return "gaussian";
    case MoveType::flip: return "flip";
    case MoveType::hinzke_nowak: return "hinzke-nowak";
  }
  return "?";
}

MetropolisSampler::MetropolisSampler(const Hamiltonian& h, const System& s,
                                     const MetropolisOptions& options)
    : h_(&h), options_(options) {
  if (!(options_.target_acceptance > 0.0 && options_.target_acceptance < 1.0))
    throw InputError("Monte Carlo target acceptance must lie strictly between 0 and 1");
  if (!(options_.sigma > 0.0)) throw InputError("Gaussian move width sigma must be positive");
  if (options_.longitudinal && !(options_.longitudinal_step > 0.0))
    throw InputError("longitudinal move step must be positive");
  // Without a term that binds the moment size, P(m) ∝ m² is not normalisable: the sizes
  // would random-walk away.
  if (options_.longitudinal && !h.depends_on_moment_size())
    throw InputError("longitudinal Monte Carlo moves need a term that depends on the moment "
                     "size (such as landau)");
  if (options_.block == 0) throw std::logic_error("MetropolisSampler: block size 0");
  sigma_ = options_.sigma;
  step_ = options_.longitudinal_step;
  refresh(s);
  // Streams keyed by (key, purpose, block).
  streams_ = StreamSet(options_.seed, StreamPurpose::metropolis, blocks_.count());
  if (options_.longitudinal) longitudinal_streams_ = StreamSet(options_.seed, StreamPurpose::longitudinal, blocks_.count());
}

void MetropolisSampler::refresh(const System& s) {
  const std::size_t old_blocks = blocks_.count();
  coloring_ = color_interactions(*h_, s);
  blocks_.n = s.size();
  blocks_.block = options_.block;
  if (old_blocks != 0 && old_blocks != blocks_.count())
    throw std::logic_error("MetropolisSampler::refresh: the number of atoms changed");
  block_start_ = block_starts(coloring_, blocks_);
  if (const SpinKernel* k = h_->spin_kernel())
    if (k->n != s.size()) throw std::logic_error("MetropolisSampler: kernel and system sizes differ");
}

void MetropolisSampler::set_temperature(double kelvin) {
  if (!(kelvin >= 0.0) || !std::isfinite(kelvin))
    throw InputError("Monte Carlo temperature must be finite and >= 0 K");
  temperature_ = kelvin;
  beta_ = kelvin > 0.0 ? 1.0 / units::thermal_energy(kelvin) : 0.0;
}

void MetropolisSampler::set_field(const Vec3& field_T) {
  if (!std::isfinite(field_T.squaredNorm())) throw InputError("Monte Carlo field must be finite (T)");
  field_ = field_T;
  zeeman_ = units::mu_B * field_T;
}

void MetropolisSampler::set_sigma(double sigma) {
  if (!(sigma > 0.0)) throw InputError("Gaussian move width sigma must be positive");
  sigma_ = sigma;
}

bool MetropolisSampler::uses_kernel() const { return h_->spin_kernel() != nullptr; }

double MetropolisSampler::acceptance() const {
  const auto t = counters_.direction_trials();
  return t ? static_cast<double>(counters_.direction_accepted()) / static_cast<double>(t) : 0.0;
}

template <int Move, int Path>
void MetropolisSampler::sweep_block(System& s, const int* sites, std::size_t count, Engine& eng,
                                    Engine* leng, Tally& tally) const {
  const bool quench = temperature_ == 0.0;
  const double beta = beta_, sigma = sigma_;
  const SpinKernel* k = h_->spin_kernel();
  Vec3* spin = s.spin.data();
  const int* offset = k ? k->offset.data() : nullptr;
  const int* nb = k ? k->neighbor.data() : nullptr;
  const double* J = k ? k->J.data() : nullptr;
  const double J0 = (k && !k->J.empty()) ? k->J[0] : 0.0;
  const bool field = !zeeman_.isZero(0.0);
  Tally t;  // local counters: kept in registers, written back once
  for (std::size_t q = 0; q < count; ++q) {
    const int i = sites[q];
    const Vec3 e_old = spin[i];
    // --- the direction trial --------------------------------------------------------------
    int kind = Move;
    if constexpr (Move == kHinzkeNowak) kind = std::min(2, static_cast<int>(3.0 * uniform01(eng)));
    Vec3 e_new;
    if (kind == kUniform) e_new = random_direction(eng);
    else if (kind == kGaussian) e_new = gaussian_step(e_old, sigma, eng);
    else e_new = -e_old;
    double dE;
    if constexpr (Path == kIsotropic || Path == kUniformJ) {
      // Local exchange field Σ_j J_ij ê_j in scalars; with one J for every pair, J·Σ_j ê_j.
      double hx = 0.0, hy = 0.0, hz = 0.0;
      for (int p = offset[i], end = offset[i + 1]; p < end; ++p) {
        const Vec3& ej = spin[nb[p]];
        if constexpr (Path == kUniformJ) {
          hx += ej.x();
          hy += ej.y();
          hz += ej.z();
        } else {
          hx += J[p] * ej.x();
          hy += J[p] * ej.y();
          hz += J[p] * ej.z();
        }
      }
      dE = -((e_new.x() - e_old.x()) * hx + (e_new.y() - e_old.y()) * hy +
             (e_new.z() - e_old.z()) * hz);
      if constexpr (Path == kUniformJ) dE *= J0;
    } else if constexpr (Path == kKernel) {
      dE = k->delta_energy(s.spin, s.moment, i, e_new);
    } else {
      dE = h_->local_energy_change(s, i, e_new, s.moment[i]);
    }
    if (field) dE -= s.moment[i] * (e_new - e_old).dot(zeeman_);
    ++t.trials[kind];
    {
      // Metropolis acceptance min(1, exp(−βΔE)), branch free: a uniform is drawn and exp
      // evaluated on every trial (exp(0) = 1 accepts every downhill move), which costs less
      // than the branch mispredicted on about half of the trials. A NaN ΔE is rejected.
      const double u = uniform01(eng);
      const double p = quench ? (dE <= 0.0 ? 1.0 : 0.0) : std::exp(-beta * std::max(dE, 0.0));
      const bool ok = u < p;
      const Vec3 chosen = ok ? e_new : e_old;
      spin[i] = chosen;
      t.accepted[kind] += ok;
      if constexpr (Path == kGeneral) h_->accept_trial(ok);
    }
    // --- the longitudinal trial (moment size) ---------------------------------------------
    if (leng) {
      const double m = s.moment[i];
      const double m_new = std::abs(m + step_ * (2.0 * uniform01(*leng) - 1.0));
      ++t.trials[3];
      if (m_new > 0.0) {
        const double dEl = h_->local_energy_change(s, i, spin[i], m_new) - (m_new - m) * spin[i].dot(zeeman_);
        bool ok;
        if (quench) {
          ok = dEl <= 0.0;
        } else {
          // log of the acceptance ratio (m'/m)² exp(−βΔE): the R³ measure m² dm dΩ.
          const double w = 2.0 * std::log(m_new / m) - beta * dEl;
          ok = w >= 0.0 || uniform01(*leng) < std::exp(w);
        }
        if (ok) {
          s.moment[i] = m_new;
          ++t.accepted[3];
        }
        h_->accept_trial(ok);
      }
    }
  }
  for (int m = 0; m < 4; ++m) {
    tally.trials[m] += t.trials[m];
    tally.accepted[m] += t.accepted[m];
  }
}

template <int Move, int Path>
void MetropolisSampler::sweep_colors(System& s, std::vector<Tally>& tallies) {
  const long nb = static_cast<long>(blocks_.count());
  // Kernel paths are thread safe (read-only kernel, disjoint writes); the general path and
  // longitudinal moves call terms, which run serially. Either way the result is the same.
  const bool parallel = Path != kGeneral && !options_.longitudinal && nb > 1;
  // One thread team per sweep; the barrier at the end of each `omp for` separates colours.
#pragma omp parallel if (parallel)
  for (int ci = 0; ci < coloring_.colors; ++ci) {
    const int c = color_at(ci);
    const int* sites = coloring_.sites[c].data();
    const std::vector<std::size_t>& start = block_start_[c];
#pragma omp for schedule(static)
    for (long b = 0; b < nb; ++b) {
      const std::size_t lo = start[b], hi = start[b + 1];
      if (lo == hi) continue;
      Engine* leng = options_.longitudinal ? &longitudinal_streams_[b] : nullptr;
      sweep_block<Move, Path>(s, sites + lo, hi - lo, streams_[b], leng, tallies[b]);
    }
  }
}

// Batched trials (a Hamiltonian whose terms evaluate many trials at once, the learned
// term): the sites of one colour are independent (coloring.hpp: farther apart than the trial
// range), so every block first draws its proposals in site order, one call evaluates all
// of the colour's energy changes, and then every block draws its acceptances in site order.
// The same Markov chain as the sequential pass, with the random numbers drawn in another
// order; fixed by the seed, and independent of the thread count (nothing runs in parallel).
template <int Move>
void MetropolisSampler::sweep_batched(System& s, std::vector<Tally>& tallies) {
  const bool quench = temperature_ == 0.0;
  const double beta = beta_, sigma = sigma_;
  const std::size_t nb = blocks_.count();
  std::vector<int> sites, kinds;
  std::vector<Vec3> spins;
  std::vector<double> moments, de;
  std::vector<char> accepted;
  for (int ci = 0; ci < coloring_.colors; ++ci) {
    const int c = color_at(ci);
    const std::vector<int>& cs = coloring_.sites[c];
    const std::vector<std::size_t>& start = block_start_[c];
    // --- direction trials ---
    sites.clear();
    kinds.clear();
    spins.clear();
    moments.clear();
    for (std::size_t b = 0; b < nb; ++b)
      for (std::size_t q = start[b]; q < start[b + 1]; ++q) {
        Engine& eng = streams_[b];
        const int i = cs[q];
        int kind = Move;
        if constexpr (Move == kHinzkeNowak) kind = std::min(2, static_cast<int>(3.0 * uniform01(eng)));
        Vec3 e_new;
        if (kind == kUniform) e_new = random_direction(eng);
        else if (kind == kGaussian) e_new = gaussian_step(s.spin[i], sigma, eng);
        else e_new = -s.spin[i];
        sites.push_back(i);
        kinds.push_back(kind);
        spins.push_back(e_new);
        moments.push_back(s.moment[i]);
      }
    if (sites.empty()) continue;
    h_->local_energy_changes(s, sites, spins, moments, de);
    std::size_t k = 0;
    accepted.assign(sites.size(), 0);
    for (std::size_t b = 0; b < nb; ++b)
      for (std::size_t q = start[b]; q < start[b + 1]; ++q, ++k) {
        const double u = uniform01(streams_[b]);
        de[k] -= moments[k] * (spins[k] - s.spin[sites[k]]).dot(zeeman_);  // the applied field
        const double p = quench ? (de[k] <= 0.0 ? 1.0 : 0.0) : std::exp(-beta * std::max(de[k], 0.0));
        const bool ok = u < p;  // a NaN ΔE is rejected
        if (ok) s.spin[sites[k]] = spins[k];
        accepted[k] = ok;
        ++tallies[b].trials[kinds[k]];
        tallies[b].accepted[kinds[k]] += ok;
      }
    h_->accept_trials(accepted);
    if (!options_.longitudinal) continue;
    // --- longitudinal trials (moment sizes), batched the same way ---
    std::vector<int> lsites;
    std::vector<Vec3> lspins;
    std::vector<double> lmoments;
    std::vector<std::size_t> lblock;
    for (std::size_t b = 0; b < nb; ++b)
      for (std::size_t q = start[b]; q < start[b + 1]; ++q) {
        const int i = cs[q];
        const double m_new = std::abs(s.moment[i] + step_ * (2.0 * uniform01(longitudinal_streams_[b]) - 1.0));
        ++tallies[b].trials[3];
        if (!(m_new > 0.0)) continue;
        lsites.push_back(i);
        lspins.push_back(s.spin[i]);
        lmoments.push_back(m_new);
        lblock.push_back(b);
      }
    if (lsites.empty()) continue;
    h_->local_energy_changes(s, lsites, lspins, lmoments, de);
    accepted.assign(lsites.size(), 0);
    for (std::size_t q = 0; q < lsites.size(); ++q) {
      const int i = lsites[q];
      de[q] -= (lmoments[q] - s.moment[i]) * lspins[q].dot(zeeman_);  // the applied field
      bool ok;
      if (quench) {
        ok = de[q] <= 0.0;
      } else {
        // log of the acceptance ratio (m'/m)² exp(−βΔE): the R³ measure m² dm dΩ.
        const double w = 2.0 * std::log(lmoments[q] / s.moment[i]) - beta * de[q];
        ok = w >= 0.0 || uniform01(longitudinal_streams_[lblock[q]]) < std::exp(w);
      }
      if (ok) {
        s.moment[i] = lmoments[q];
        ++tallies[lblock[q]].accepted[3];
      }
      accepted[q] = ok;
    }
    h_->accept_trials(accepted);
  }
}

template <int Path>
void MetropolisSampler::dispatch_move(System& s, std::vector<Tally>& tallies) {
  if constexpr (Path == kBatched) {
    switch (options_.move) {
      case MoveType::uniform: sweep_batched<kUniform>(s, tallies); break;
      case MoveType::gaussian: sweep_batched<kGaussian>(s, tallies); break;
      case MoveType::flip: sweep_batched<kFlip>(s, tallies); break;
      case MoveType::hinzke_nowak: sweep_batched<kHinzkeNowak>(s, tallies); break;
    }
    return;
  }
  switch (options_.move) {
    case MoveType::uniform: sweep_colors<kUniform, Path>(s, tallies); break;
    case MoveType::gaussian: sweep_colors<kGaussian, Path>(s, tallies); break;
    case MoveType::flip: sweep_colors<kFlip, Path>(s, tallies); break;
    case MoveType::hinzke_nowak: sweep_colors<kHinzkeNowak, Path>(s, tallies); break;
  }
}

double MetropolisSampler::sweep(System& s, bool backwards) {
  if (s.size() != blocks_.n)
    throw std::logic_error("MetropolisSampler::sweep: system size differs from construction");
  backwards_ = backwards;
  std::vector<Tally> tallies(blocks_.count());
  const SpinKernel* k = h_->spin_kernel();
  if (!k) {
    if (h_->batches_trials()) dispatch_move<kBatched>(s, tallies);
    else dispatch_move<kGeneral>(s, tallies);
  } else {
    if (k->n != s.size()) throw std::logic_error("MetropolisSampler: kernel and system sizes differ");
    const bool isotropic = !k->has_dmi && !k->has_biquadratic && k->zeeman.empty() &&
                           k->K.empty() && k->Kc.empty();
    // One coupling for every pair (the usual nearest-neighbour model): skip the J loads.
    const bool uniform = isotropic && k->uniform_J;
    if (uniform) dispatch_move<kUniformJ>(s, tallies);
    else if (isotropic) dispatch_move<kIsotropic>(s, tallies);
    else dispatch_move<kKernel>(s, tallies);
  }
  Tally sum;
  for (const Tally& t : tallies)
    for (int m = 0; m < 4; ++m) {
      sum.trials[m] += t.trials[m];
      sum.accepted[m] += t.accepted[m];
    }
  for (int m = 0; m < 4; ++m) {
    counters_.trials[m] += sum.trials[m];
    counters_.accepted[m] += sum.accepted[m];
  }
  ++counters_.sweeps;
  if (adaptive_) {
    window_trials_ += sum.trials[1];
    window_accepted_ += sum.accepted[1];
    lwindow_trials_ += sum.trials[3];
    lwindow_accepted_ += sum.accepted[3];
    adapt();
  }
  const std::uint64_t trials = sum.trials[0] + sum.trials[1] + sum.trials[2];
  const std::uint64_t acc = sum.accepted[0] + sum.accepted[1] + sum.accepted[2];
  return trials ? static_cast<double>(acc) / static_cast<double>(trials) : 0.0;
}

void MetropolisSampler::adapt() {
  const double a = options_.target_acceptance;
  auto factor = [a](std::uint64_t trials, std::uint64_t acc) { return mc::adapt_factor(a, trials, acc); };
  if (window_trials_ >= kAdaptWindow) {
    sigma_ = std::clamp(sigma_ * factor(window_trials_, window_accepted_), 1e-5, 1e2);
    window_trials_ = window_accepted_ = 0;
  }
  if (lwindow_trials_ >= kAdaptWindow) {
    step_ = std::clamp(step_ * factor(lwindow_trials_, lwindow_accepted_), 1e-6, 10.0);
    lwindow_trials_ = lwindow_accepted_ = 0;
  }
}

void MetropolisSampler::equilibrate(System& s, long long n) {
  adaptive_ = true;
  for (long long k = 0; k < n; ++k) sweep(s);
  adaptive_ = false;  // measurement follows equilibration: frozen
}

void MetropolisSampler::run(System& s, long long n) {
  const bool was = adaptive_;
  adaptive_ = false;
  for (long long k = 0; k < n; ++k) sweep(s);
  adaptive_ = was;
}

std::string MetropolisSampler::save_state() const {
  state_io::Writer w("spinlat-metropolis", 1);
  w.real("temperature", temperature_);
  w.real("sigma", sigma_);
  w.real("step", step_);
  w.integer("adaptive", adaptive_ ? 1 : 0);
  w.integer("window_trials", window_trials_);
  w.integer("window_accepted", window_accepted_);
  w.integer("lwindow_trials", lwindow_trials_);
  w.integer("lwindow_accepted", lwindow_accepted_);
  w.integer("sweeps", counters_.sweeps);
  for (int m = 0; m < 4; ++m) {
    w.integer("trials" + std::to_string(m), counters_.trials[m]);
    w.integer("accepted" + std::to_string(m), counters_.accepted[m]);
  }
  w.integer("blocks", blocks_.count());
  w.text("streams", streams_.save());
  w.text("longitudinal_streams", options_.longitudinal ? longitudinal_streams_.save() : "");
  return w.str();
}

void MetropolisSampler::load_state(const std::string& state) {
  state_io::Reader r(state, "spinlat-metropolis", 1);
  const double T = r.real("temperature");
  const double sigma = r.real("sigma"), step = r.real("step");
  const bool adaptive = r.integer("adaptive") != 0;
  const auto wt = r.integer("window_trials"), wa = r.integer("window_accepted");
  const auto lt = r.integer("lwindow_trials"), la = r.integer("lwindow_accepted");
  MetropolisCounters c;
  c.sweeps = r.integer("sweeps");
  for (int m = 0; m < 4; ++m) {
    c.trials[m] = r.integer("trials" + std::to_string(m));
    c.accepted[m] = r.integer("accepted" + std::to_string(m));
  }
  if (r.integer("blocks") != blocks_.count())
    throw InputError("Metropolis checkpoint: block count differs from this run's system");
  StreamSet streams, lstreams;
  streams.load(r.text("streams"));
  const std::string ltext = r.text("longitudinal_streams");
  if (options_.longitudinal) {
    if (ltext.empty()) throw InputError("Metropolis checkpoint: no longitudinal streams saved");
    lstreams.load(ltext);
  }
  // Everything parsed: commit.
  set_temperature(T);
  sigma_ = sigma;
  step_ = step;
  adaptive_ = adaptive;
  window_trials_ = wt; window_accepted_ = wa;
  lwindow_trials_ = lt; lwindow_accepted_ = la;
  counters_ = c;
  streams_ = std::move(streams);
  if (options_.longitudinal) longitudinal_streams_ = std::move(lstreams);
}

}  // namespace spinlat
