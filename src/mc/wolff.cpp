#include "spinlat/mc/wolff.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "spinlat/core/error.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/mc/moves.hpp"
#include "spinlat/core/state_io.hpp"
#include "spinlat/terms/hamiltonian.hpp"
#include "spinlat/terms/spin_kernel.hpp"

namespace spinlat {

namespace {
bool all_zero(const std::vector<Vec3>& v) {
  for (const Vec3& x : v)
    if (x.squaredNorm() != 0.0) return false;
  return true;
}
bool all_zero(const std::vector<double>& v) {
  for (double x : v)
    if (x != 0.0) return false;
  return true;
}
}  // namespace

bool wolff_applicable(const Hamiltonian& h) {
  const SpinKernel* k = h.spin_kernel();
  if (!k) return false;
  // A term with all-zero coefficients (a zero field, say) does not break the symmetry.
  if (k->has_dmi && !all_zero(k->D)) return false;
  if (k->has_biquadratic && !all_zero(k->Q)) return false;
  return all_zero(k->zeeman) && all_zero(k->K) && all_zero(k->Kc);
}

WolffSampler::WolffSampler(const Hamiltonian& h, const System& s, const StreamKey& key)
    : h_(&h), key_(key), engine_(stream_engine(key, StreamPurpose::cluster)) {
  if (!wolff_applicable(h))
    throw InputError("Wolff cluster updates need a Hamiltonian of isotropic pair exchange only "
                     "(no field, anisotropy, DMI, biquadratic or non-kernel terms)");
  if (h.spin_kernel()->n != s.size())
    throw std::logic_error("WolffSampler: kernel and system sizes differ");
  sites_ = s.magnetic_sites();
  mark_.assign(s.size(), 0);
  projection_.assign(s.size(), 0.0);
}

void WolffSampler::set_temperature(double kelvin) {
  if (!(kelvin >= 0.0) || !std::isfinite(kelvin))
    throw InputError("Wolff temperature must be finite and >= 0 K");
  temperature_ = kelvin;
  beta_ = kelvin > 0.0 ? 1.0 / units::thermal_energy(kelvin) : 0.0;
}

std::size_t WolffSampler::step(System& s) {
  if (sites_.empty()) return 0;
  const SpinKernel* k = h_->spin_kernel();
  if (!k || k->n != s.size()) throw std::logic_error("WolffSampler::step: kernel changed");
  if (++generation_ == 0) {  // stamp wrapped: clear once every 2^32 clusters
    std::fill(mark_.begin(), mark_.end(), 0u);
    generation_ = 1;
  }
  const bool quench = temperature_ == 0.0;
  const double two_beta = 2.0 * beta_;
  std::vector<Vec3>& spin = s.spin;

  const std::size_t pick = std::min(sites_.size() - 1,
                                    static_cast<std::size_t>(uniform01(engine_) * sites_.size()));
  const int seed_site = sites_[pick];
  const Vec3 r = mc::random_direction(engine_);

  auto add = [&](int i) {
    mark_[i] = generation_;
    const double p = r.dot(spin[i]);
    projection_[i] = p;
    spin[i] -= (2.0 * p) * r;
    stack_.push_back(i);
  };
  stack_.clear();
  add(seed_site);
  std::size_t size = 1;
  while (!stack_.empty()) {
    const int i = stack_.back();
    stack_.pop_back();
    const double pi = projection_[i];
    for (int q = k->offset[i]; q < k->offset[i + 1]; ++q) {
      const int j = k->neighbor[q];
      if (mark_[j] == generation_) continue;
      // Embedded Ising coupling: bond probability 1 − exp(−2β J (r·ê_i)(r·ê_j)) when positive.
      const double x = k->J[q] * pi * r.dot(spin[j]);
      if (!(x > 0.0)) continue;
      const bool bond = quench ? true : uniform01(engine_) < -std::expm1(-two_beta * x);
      if (bond) {
        add(j);
        ++size;
      }
    }
  }
  ++clusters_;
  flipped_ += size;
  return size;
}

std::uint64_t WolffSampler::steps(System& s, long long n) {
  std::uint64_t total = 0;
  for (long long c = 0; c < n; ++c) total += step(s);
  return total;
}

std::uint64_t WolffSampler::sweep(System& s) {
  const std::uint64_t flipped = steps(s, clusters_per_sweep_);
  if (adaptive_) {
    // Mean cluster size of this sweep, smoothed over sweeps (weight 0.2: about the last five
    // sweeps). Averaging over clusters since the start instead would be dominated by the many
    // tiny clusters of a disordered or anti-aligned start.
    const double mean = static_cast<double>(flipped) / static_cast<double>(clusters_per_sweep_);
    mean_size_ = mean_size_ > 0.0 ? 0.8 * mean_size_ + 0.2 * mean : mean;
    if (mean_size_ > 0.0)
      clusters_per_sweep_ =
          std::max(1LL, std::llround(static_cast<double>(sites_.size()) / mean_size_));
  }
  return flipped;
}

void WolffSampler::set_clusters_per_sweep(long long n) {
  if (n < 1) throw InputError("Wolff clusters per sweep must be >= 1");
  clusters_per_sweep_ = n;
}

void WolffSampler::equilibrate(System& s, long long n) {
  adaptive_ = true;
  for (long long k = 0; k < n; ++k) sweep(s);
  adaptive_ = false;  // measurement follows: the count is fixed
}

void WolffSampler::run(System& s, long long n) {
  const bool was = adaptive_;
  adaptive_ = false;
  for (long long k = 0; k < n; ++k) sweep(s);
  adaptive_ = was;
}

std::string WolffSampler::save_state() const {
  state_io::Writer w("spinlat-wolff", 1);
  w.real("temperature", temperature_);
  w.integer("clusters", clusters_);
  w.integer("flipped", flipped_);
  w.integer("clusters_per_sweep", static_cast<std::uint64_t>(clusters_per_sweep_));
  w.real("mean_size", mean_size_);
  w.integer("adaptive", adaptive_ ? 1 : 0);
  w.engine("engine", engine_);
  return w.str();
}

void WolffSampler::load_state(const std::string& state) {
  state_io::Reader r(state, "spinlat-wolff", 1);
  const double T = r.real("temperature");
  const auto c = r.integer("clusters"), f = r.integer("flipped");
  const auto cps = static_cast<long long>(r.integer("clusters_per_sweep"));
  if (cps < 1) throw InputError("Wolff checkpoint: bad clusters_per_sweep");
  const double mean_size = r.real("mean_size");
  const bool adaptive = r.integer("adaptive") != 0;
  const Engine e = r.engine("engine");
  set_temperature(T);
  clusters_ = c;
  flipped_ = f;
  clusters_per_sweep_ = cps;
  mean_size_ = mean_size;
  adaptive_ = adaptive;
  engine_ = e;
}

}  // namespace spinlat
