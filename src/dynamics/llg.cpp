#include "spinlat/dynamics/llg.hpp"

#include <omp.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <map>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <sstream>
#include <stdexcept>

#include "spinlat/core/error.hpp"
#include "spinlat/core/state_io.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/dynamics/llg_noise.hpp"

namespace spinlat {
namespace {

// The per-site helpers of the hot loops are forced inline: with several instantiations of
// the fused Heun loop GCC's size heuristics stopped inlining llg_rhs and the 64³ benchmark
// lost 25% (perf, 2026-11-25).
#define SPINLAT_HOT [[gnu::always_inline]] inline

/// Right-hand side of the LLG equation: −g [ê×B + α ê×(ê×B)], g = γ_e/(1+α²).
SPINLAT_HOT Vec3 llg_rhs(const Vec3& e, const Vec3& B, double g, double alpha) {
  const Vec3 exB = e.cross(B);
  return -g * (exB + alpha * e.cross(exB));
}

/// The same equation written as a rotation, dê/dt = Ω × ê with Ω = g (B + α ê×B): used by
/// the Depondt and midpoint schemes.
/// Only the part of B transverse to ê enters: projecting it out first makes a finite
/// rotation independent of how a term writes its field (natural extension, transverse
/// projection, or a Landau term's large longitudinal −∂E/∂m, which would otherwise turn the
/// rotation axis towards ê and stall the step). `e` need not be a unit vector.
inline Vec3 llg_omega(const Vec3& e, const Vec3& B, double g, double alpha) {
  const Vec3 Bt = B - (e.dot(B) / e.squaredNorm()) * e;
  return g * (Bt + alpha * e.cross(Bt));
}

/// Rotates v about the axis of w by the angle |w| (Rodrigues' formula).
inline Vec3 rotate(const Vec3& v, const Vec3& w) {
  const double theta = w.norm();
  if (theta == 0.0) return v;
  const Vec3 n = w / theta;
  const double c = std::cos(theta), s = std::sin(theta);
  return c * v + s * n.cross(v) + (1.0 - c) * n.dot(v) * n;
}

/// Solves x = a + w × (a + x) exactly: the Cayley transform (I − [w]×)⁻¹(I + [w]×) a, a
/// rotation of a about w by 2 atan|w|, so |x| = |a| for any w. With w = Δt Ω(ē)/2 this is
/// the implicit midpoint update x − a = Δt Ω × (a + x)/2 for a given Ω.
inline Vec3 cayley(const Vec3& a, const Vec3& w) {
  const double w2 = w.squaredNorm();
  return ((1.0 - w2) * a + 2.0 * w.dot(a) * w + 2.0 * w.cross(a)) / (1.0 + w2);
}

/// −∂E/∂ê_i from the kernel. Kernels holding only exchange and Zeeman terms (the common case)
/// are evaluated inline here; anything else goes through SpinKernel::field.
inline Vec3 kernel_field(const SpinKernel& k, bool simple, const std::vector<Vec3>& spin,
                         const std::vector<double>& moment, std::size_t i) {
  if (!simple) return k.field(spin, moment, static_cast<int>(i));
  double x = 0.0, y = 0.0, z = 0.0;
  const int end = k.offset[i + 1];
  for (int m = k.offset[i]; m < end; ++m) {
    const double j = k.J[m];
    const Vec3& e = spin[k.neighbor[m]];
    x += j * e[0];
    y += j * e[1];
    z += j * e[2];
  }
  Vec3 h(x, y, z);
  if (!k.zeeman.empty()) h += moment[i] * k.zeeman[i];
  return h;
}

inline bool simple_kernel(const SpinKernel* k) {
  return k && !k->has_dmi && !k->has_biquadratic && k->K.empty() && k->Kc.empty();
}

/// e/|e| with one square root and one division.
inline Vec3 unit(const Vec3& e) { return e * (1.0 / std::sqrt(e.squaredNorm())); }

/// Normalises v[0..n) in place, two vectors per SSE2 square root and division (both are
/// correctly rounded, so the result is bit for bit that of unit()). Zero vectors (non-magnetic
/// sites) stay zero. Returns the number of vectors whose norm was NaN or infinite.
SPINLAT_HOT int normalize_all(Vec3* v, std::size_t n) {
  int bad = 0;
  std::size_t i = 0;
#if defined(__SSE2__)
  const __m128d one = _mm_set1_pd(1.0), tiny = _mm_set1_pd(DBL_MIN);
  for (; i + 1 < n; i += 2) {
    const double a = v[i].squaredNorm(), b = v[i + 1].squaredNorm();
    bad += !(a <= DBL_MAX) + !(b <= DBL_MAX);
    alignas(16) double inv[2];
    _mm_store_pd(inv, _mm_div_pd(one, _mm_sqrt_pd(_mm_max_pd(_mm_set_pd(b, a), tiny))));
    v[i] *= inv[0];
    v[i + 1] *= inv[1];
  }
#endif
  for (; i < n; ++i) {
    const double a = v[i].squaredNorm();
    bad += !(a <= DBL_MAX);
    v[i] *= 1.0 / std::sqrt(std::max(a, DBL_MIN));
  }
  return bad;
}

}  // namespace

// ---- external field ------------------------------------------------------------------------

Vec3 ExternalField::at(double t) const {
  switch (schedule) {
    case Schedule::constant:
      return field;
    case Schedule::ramp: {
      if (ramp_time <= 0.0 || t >= ramp_time) return field_end;
      const double u = std::max(0.0, t / ramp_time);
      return (1.0 - u) * field + u * field_end;
    }
    case Schedule::rotating: {
      const double n = axis.norm();
      if (n == 0.0) return field;
      return rotate(field, (2.0 * units::kPi * frequency * t / n) * axis);
    }
  }
  return field;
}

bool ExternalField::is_zero() const {
  switch (schedule) {
    case Schedule::constant:
    case Schedule::rotating:
      return field.squaredNorm() == 0.0;
    case Schedule::ramp:
      return field.squaredNorm() == 0.0 && field_end.squaredNorm() == 0.0;
  }
  return false;
}

ExternalField::Schedule parse_field_schedule(const std::string& name) {
  if (name == "constant") return ExternalField::Schedule::constant;
  if (name == "ramp") return ExternalField::Schedule::ramp;
  if (name == "rotating") return ExternalField::Schedule::rotating;
  throw InputError("unknown field schedule '" + name + "'; expected constant, ramp or rotating");
}

LLGIntegrator parse_llg_integrator(const std::string& name) {
  if (name == "heun") return LLGIntegrator::heun;
  if (name == "depondt") return LLGIntegrator::depondt;
  if (name == "midpoint") return LLGIntegrator::midpoint;
  throw InputError("unknown LLG integrator '" + name + "'; expected heun, depondt or midpoint");
}

std::string to_string(LLGIntegrator integrator) {
  switch (integrator) {
    case LLGIntegrator::heun: return "heun";
    case LLGIntegrator::depondt: return "depondt";
    case LLGIntegrator::midpoint: return "midpoint";
  }
  return "?";
}

// ---- integrator ----------------------------------------------------------------------------

LLG::LLG(const Hamiltonian& h, const System& s, LLGOptions settings, const StreamKey& key)
    : h_(&h), settings_(std::move(settings)), n_(s.size()) {
  if (!(settings_.dt > 0.0) || !std::isfinite(settings_.dt))
    throw InputError("llg: 'dt' must be a positive time step (ps)");
  if (!(settings_.temperature >= 0.0) || !std::isfinite(settings_.temperature))
    throw InputError("llg: 'temperature' must be >= 0 K");
  // gaussian3_batch packs a draw's slot 3k + j into 22 bits.
  if (settings_.block == 0 || settings_.block > (std::size_t(1) << 20))
    throw InputError("llg: noise block size must be between 1 and 2^20 sites");
  const std::size_t nspecies = std::max<std::size_t>(1, s.species_name.size());
  if (settings_.damping.size() != 1 && settings_.damping.size() != nspecies)
    throw InputError("llg: 'damping' needs 1 or " + std::to_string(nspecies) +
                     " values (one per species), got " + std::to_string(settings_.damping.size()));
  for (double a : settings_.damping)
    if (!(a >= 0.0) || !std::isfinite(a)) throw InputError("llg: Gilbert damping must be >= 0");
  if (settings_.longitudinal && !(settings_.longitudinal_damping > 0.0))
    throw InputError("llg: 'longitudinal_damping' must be positive");
  if (settings_.midpoint_max_iterations < 1) throw InputError("llg: midpoint iterations must be >= 1");
  if (settings_.path == FieldPath::kernel && !h.spin_kernel())
    throw InputError("llg: the kernel field path was requested but the Hamiltonian has no spin kernel");
  blocks_ = Blocks{n_, settings_.block};
  key_ = key;
  noise_ = StreamSet(key, StreamPurpose::spin_noise, blocks_.count());
  longitudinal_noise_ = StreamSet(key, StreamPurpose::longitudinal, blocks_.count());
}

int LLG::threads() const {
  // No more threads than noise blocks: a one-block system runs without a parallel region.
  const int want = settings_.threads > 0 ? settings_.threads : omp_get_max_threads();
  return std::max(1, std::min(want, static_cast<int>(blocks_.count())));
}

void LLG::set_temperature(double kelvin) {
  if (!(kelvin >= 0.0) || !std::isfinite(kelvin)) throw InputError("llg: temperature must be >= 0 K");
  settings_.temperature = kelvin;
}

bool LLG::kernel_path() const {
  if (settings_.longitudinal) return false;  // needs −∂E/∂|m|, which only the terms give
  switch (settings_.path) {
    case FieldPath::kernel: return true;
    case FieldPath::generic: return false;
    case FieldPath::automatic: return h_->spin_kernel() != nullptr;
  }
  return false;
}

bool LLG::uses_kernel() const { return kernel_path(); }

void LLG::prepare(const System& s) {
  if (s.size() != n_) throw std::logic_error("LLG: the system changed size");
  const double T = settings_.temperature, dt = settings_.dt;
  if (T == prepared_T_ && dt == prepared_dt_ && moment_cache_ == s.moment) return;
  site_.assign(n_, SiteConst{});
  for (std::size_t i = 0; i < n_; ++i) {
    const double m = s.moment[i];
    if (!(m > 0.0)) continue;  // non-magnetic: g = 0 keeps the (zero) spin fixed
    const double alpha = settings_.damping.size() == 1 ? settings_.damping[0]
                                                       : settings_.damping.at(s.species[i]);
    SiteConst& c = site_[i];
    c.alpha = alpha;
    c.g = units::gamma_e / (1.0 + alpha * alpha);
    c.inv = 1.0 / (m * units::mu_B);
    // Evans et al. 2014, Eq. 5: the site's own moment in the variance.
    c.sigma = units::thermal_field_sigma(alpha, T, m, dt);
  }
  moment_cache_ = s.moment;
  classes_ready_ = false;
  prepared_T_ = T;
  prepared_dt_ = dt;
}

void LLG::prepare_classes() {
  // Keyed by bit pattern, so that a class's constants are exactly each member's.
  std::map<std::array<std::uint64_t, 4>, std::uint32_t> index;
  class_const_.clear();
  site_class_.resize(n_);
  for (std::size_t i = 0; i < n_; ++i) {
    const SiteConst& c = site_[i];
    std::array<std::uint64_t, 4> key;
    static_assert(sizeof(SiteConst) == sizeof(key), "SiteConst is four doubles");
    std::memcpy(key.data(), &c, sizeof key);
    const auto [it, fresh] = index.try_emplace(key, static_cast<std::uint32_t>(class_const_.size()));
    if (fresh) class_const_.push_back(c);
    site_class_[i] = it->second;
  }
  classes_ready_ = true;
}

void LLG::generic_field(System& s, std::vector<Vec3>& spins, std::vector<Vec3>& out) const {
  // The terms read the System: put the stage's spins in it for the call (O(1) swaps).
  const bool swap = &spins != &s.spin;
  if (swap) std::swap(s.spin, spins);
  Derivatives d;
  d.magnetic_force = &out;
  try {
    h_->compute(s, d);
  } catch (...) {
    if (swap) std::swap(s.spin, spins);
    throw;
  }
  if (swap) std::swap(s.spin, spins);
  const double to_tesla = 1.0 / units::mu_B;  // B = (−∂E/∂m)/μB
  for (auto& b : out) b *= to_tesla;
}

std::vector<Vec3> LLG::effective_field(System& s) const {
  std::vector<Vec3> B(n_, Vec3::Zero());
  const Vec3 bext = settings_.field.at(time());
  const SpinKernel* k = h_->spin_kernel();
  if (kernel_path() && k) {
    for (std::size_t i = 0; i < n_; ++i)
      if (s.moment[i] > 0.0)
        B[i] = k->field(s.spin, s.moment, static_cast<int>(i)) / (s.moment[i] * units::mu_B) + bext;
  } else {
    generic_field(s, s.spin, B);
    for (std::size_t i = 0; i < n_; ++i) B[i] = s.moment[i] > 0.0 ? Vec3(B[i] + bext) : Vec3::Zero();
  }
  return B;
}

void LLG::noise_block(long b, Vec3* out) {
  Engine& eng = noise_[b];
  const bool thermal = settings_.temperature > 0.0;
  const std::size_t i0 = blocks_.begin(b), i1 = blocks_.end(b);
  if (!thermal) {
    std::fill(out, out + (i1 - i0), Vec3::Zero());
    return;
  }
  thread_local std::vector<std::uint64_t> redo;
  gaussian3_batch(eng, i1 - i0, [out](std::size_t k) -> Vec3& { return out[k]; }, redo);
  for (std::size_t i = i0; i < i1; ++i) out[i - i0] *= site_[i].sigma;
}

void LLG::draw_noise() {
  bth_.resize(n_);
  const long nb = static_cast<long>(blocks_.count());
  const int nt = threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
  for (long b = 0; b < nb; ++b) noise_block(b);
}

void LLG::step(System& s) {
  prepare(s);
  switch (settings_.integrator) {
    case LLGIntegrator::heun: step_heun(s); break;
    case LLGIntegrator::depondt: step_depondt(s); break;
    case LLGIntegrator::midpoint: step_midpoint(s); break;
  }
  ++steps_;
  if (settings_.longitudinal) step_longitudinal(s);
}

void LLG::run(System& s, long long steps) {
  for (long long k = 0; k < steps; ++k) step(s);
}

namespace {

/// Local field h_i·inv (T) for one of three compile-time field sources, so that the Heun
/// loops carry no per-site branch on it: 0 = precomputed generic field, 1 = inline
/// exchange(+Zeeman) kernel, 2 = SpinKernel::field.
template <int Mode>
inline Vec3 local_field(const SpinKernel* k, const std::vector<Vec3>& spin, const std::vector<double>& moment,
                        const std::vector<Vec3>& generic, std::size_t i, double inv) {
  if constexpr (Mode == 0) return generic[i];
  else return kernel_field(*k, Mode == 1, spin, moment, i) * inv;
}

/// −∂E/∂ê_i (eV) for the fused Heun loops, through raw pointers: Mode 1 is kernel_field's
/// inline exchange(+Zeeman) sum with the same operation order (so the same bits), Mode 2
/// SpinKernel::field, Mode 3 Mode 1 for one exchange constant and no Zeeman term (J held in a
/// register instead of loaded per pair: the same products, so again the same bits).
template <int Mode>
struct FusedField {
  const SpinKernel& k;
  const std::vector<double>& moment;
  const int* offset = k.offset.data();
  const int* neighbor = k.neighbor.data();
  const double* J = k.J.data();
  const Vec3* zeeman = k.zeeman.empty() ? nullptr : k.zeeman.data();
  const double* mom = moment.data();

  [[gnu::always_inline]] Vec3 operator()(const std::vector<Vec3>& spinv, const Vec3* spin, std::size_t i) const {
    if constexpr (Mode == 2) {
      return k.field(spinv, moment, static_cast<int>(i));
    } else if constexpr (Mode == 3) {
      double x = 0.0, y = 0.0, z = 0.0;
      const double j = J[0];
      const int end = offset[i + 1];
      for (int m = offset[i]; m < end; ++m) {
        const Vec3& e = spin[neighbor[m]];
        x += j * e[0];
        y += j * e[1];
        z += j * e[2];
      }
      return Vec3(x, y, z);
    } else {
      double x = 0.0, y = 0.0, z = 0.0;
      const int end = offset[i + 1];
      for (int m = offset[i]; m < end; ++m) {
        const double j = J[m];
        const Vec3& e = spin[neighbor[m]];
        x += j * e[0];
        y += j * e[1];
        z += j * e[2];
      }
      Vec3 h(x, y, z);
      if (zeeman) h += mom[i] * zeeman[i];
      return h;
    }
  }
};

}  // namespace

// Stochastic Heun (García-Palacios & Lázaro 1998, Eqs. 3.5-3.6; VAMPIRE's scheme):
//   ê' = norm(ê + Δt f(ê, B(ê) + b)),  ê_new = norm(ê + ½Δt [f(ê, B(ê) + b) + f(ê', B(ê') + b)]),
// with the same thermal field b in both stages. Second order for the deterministic part.
//
// Each block runs in short passes (noise, update, normalisation) rather than one long loop
// body: the out-of-order core then overlaps the long-latency square roots and divisions of
// neighbouring sites, which one ~200-instruction body per site did not allow (~25% faster).
template <int Mode>
void LLG::heun_stages(System& s, const SpinKernel* k) {
  const double dt = settings_.dt;
  const Vec3 b0 = settings_.field.at(time()), b1 = settings_.field.at(time() + dt);
  if (Mode == 0) generic_field(s, s.spin, field_);
  const long nb = static_cast<long>(blocks_.count());
  const int nt = threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
  for (long b = 0; b < nb; ++b) {
    const std::size_t i0 = blocks_.begin(b), i1 = blocks_.end(b);
    noise_block(b);
    for (std::size_t i = i0; i < i1; ++i) {
      const SiteConst& c = site_[i];
      const Vec3& e = s.spin[i];
      if (c.g == 0.0) { pred_[i] = e; continue; }
      const Vec3 h = local_field<Mode>(k, s.spin, s.moment, field_, i, c.inv);
      const Vec3 f = llg_rhs(e, h + b0 + bth_[i], c.g, c.alpha);
      d1_[i] = e + (0.5 * dt) * f;  // the corrector's known half
      pred_[i] = e + dt * f;
    }
    normalize_all(&pred_[i0], i1 - i0);  // NaN is caught after the corrector
  }
  if (Mode == 0) generic_field(s, pred_, field_);
  int bad = 0;
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1) reduction(+ : bad)
  for (long b = 0; b < nb; ++b) {
    const std::size_t i0 = blocks_.begin(b), i1 = blocks_.end(b);
    for (std::size_t i = i0; i < i1; ++i) {
      const SiteConst& c = site_[i];
      if (c.g == 0.0) continue;
      const Vec3 h = local_field<Mode>(k, pred_, s.moment, field_, i, c.inv);
      const Vec3 f = llg_rhs(pred_[i], h + b1 + bth_[i], c.g, c.alpha);
      s.spin[i] = d1_[i] + (0.5 * dt) * f;  // normalised below
    }
    bad += normalize_all(&s.spin[i0], i1 - i0);
  }
  if (bad) throw NumericalError("llg: a moment direction became NaN or zero (time step too large?)");
}

// The same scheme with the kernel field, fused into one pass over the blocks so that each
// block's corrector runs while its predictor's output is still in cache (at 64³ the two-pass
// form streams the spins, couplings and three scratch arrays through memory twice per step).
// The corrector of block b needs the predicted spins of every block that holds a neighbour
// of b's sites: the blocks lo..hi of b's CSR neighbours. Each thread owns a contiguous run
// [B, E) of blocks; after its predictor for block p it corrects the blocks waiting for p.
// Blocks whose neighbours lie outside [B, E) (the periodic wrap, other threads' blocks) are
// corrected after a barrier. Every site's arithmetic and every block's noise stream are those
// of heun_stages, and the corrector writes a separate array (next_, swapped in at the end),
// so the order of corrections cannot change a bit: results stay independent of the thread
// count and identical to the two-pass form.
template <int Mode>
void LLG::heun_fused(System& s, const SpinKernel& k) {
  const double dt = settings_.dt;
  const Vec3 b0 = settings_.field.at(time()), b1 = settings_.field.at(time() + dt);
  const long nb = static_cast<long>(blocks_.count());
  const int nt = threads();
  const std::size_t bsize = blocks_.block;
  pred_.resize(n_);
  next_.resize(n_);
  slot_of_.resize(nb);
  wait_head_.assign(nb, -1);
  wait_next_.resize(nb);
  if (lanes_.size() != static_cast<std::size_t>(nt)) lanes_.assign(nt, HeunLane{});
  if (!classes_ready_) prepare_classes();
  const SiteConst* cls = class_const_.data();
  // Raw pointers: the loops below write doubles, which would otherwise make the compiler
  // reload every vector's data pointer per site.
  const std::uint32_t* site_class = site_class_.data();
  const Vec3* e_old = s.spin.data();
  Vec3* pred = pred_.data();
  Vec3* next = next_.data();
  const FusedField<Mode> field{k, s.moment};
  const bool reach = k.reach_lo.size() == (n_ + SpinKernel::kReachChunk - 1) / SpinKernel::kReachChunk &&
                     k.reach_hi.size() == k.reach_lo.size();
  int bad = 0;
#pragma omp parallel num_threads(nt) if (nt > 1) reduction(+ : bad)
  {
    // The team may be smaller than asked for: partition by the threads actually running.
    const int t = omp_get_thread_num(), team = omp_get_num_threads();
    const long B = nb * t / team, E = nb * (t + 1) / team;  // this thread's blocks
    HeunLane& lane = lanes_[t];
    lane.deferred.clear();

    auto correct = [&](long b) {
      const std::size_t i0 = blocks_.begin(b), i1 = blocks_.end(b);
      const int slot = slot_of_[b];
      const HeunScratch* sc = lane.slots[slot].data();
      for (std::size_t i = i0; i < i1; ++i) {
        const SiteConst& c = cls[site_class[i]];
        if (c.g == 0.0) { next[i] = e_old[i]; continue; }
        const Vec3 h = field(pred_, pred, i) * c.inv;
        const Vec3 f = llg_rhs(pred[i], h + b1 + sc[i - i0].bth, c.g, c.alpha);
        next[i] = sc[i - i0].d1 + (0.5 * dt) * f;  // normalised below
      }
      lane.free.push_back(slot);
      return normalize_all(next + i0, i1 - i0);
    };

    for (long p = B; p < E; ++p) {
      const std::size_t i0 = blocks_.begin(p), i1 = blocks_.end(p);
      if (lane.free.empty()) {
        lane.free.push_back(static_cast<int>(lane.slots.size()));
        lane.slots.emplace_back(bsize);
      }
      const int slot = lane.free.back();
      lane.free.pop_back();
      slot_of_[p] = slot;
      HeunScratch* sc = lane.slots[slot].data();
      // Noise first, from the block's own engine (the same numbers as noise_block).
      if (settings_.temperature > 0.0) {
        gaussian3_batch(noise_[p], i1 - i0, [sc](std::size_t k) -> Vec3& { return sc[k].bth; }, lane.redo);
        for (std::size_t i = i0; i < i1; ++i) sc[i - i0].bth *= cls[site_class[i]].sigma;
      } else {
        for (std::size_t i = i0; i < i1; ++i) sc[i - i0].bth = Vec3::Zero();
      }
      for (std::size_t i = i0; i < i1; ++i) {
        const SiteConst& c = cls[site_class[i]];
        const Vec3& e = e_old[i];
        if (c.g == 0.0) { pred[i] = e; continue; }
        const Vec3 h = field(s.spin, e_old, i) * c.inv;
        const Vec3 f = llg_rhs(e, h + b0 + sc[i - i0].bth, c.g, c.alpha);
        sc[i - i0].d1 = e + (0.5 * dt) * f;  // the corrector's known half
        pred[i] = e + dt * f;
      }
      normalize_all(pred + i0, i1 - i0);  // NaN is caught after the corrector
      // The blocks holding the neighbours of this block's sites: from the kernel's per-chunk
      // reach when it has one (a chunk straddling two blocks only widens the range), else
      // from the CSR itself.
      int jlo = static_cast<int>(i0), jhi = static_cast<int>(i1) - 1;
      if (reach) {
        for (std::size_t c = i0 / SpinKernel::kReachChunk; c <= (i1 - 1) / SpinKernel::kReachChunk; ++c) {
          jlo = std::min(jlo, k.reach_lo[c]);
          jhi = std::max(jhi, k.reach_hi[c]);
        }
      } else {
        for (int m = k.offset[i0], end = k.offset[i1]; m < end; ++m) {
          jlo = std::min(jlo, k.neighbor[m]);
          jhi = std::max(jhi, k.neighbor[m]);
        }
      }
      const long lo = static_cast<long>(jlo / bsize), hi = static_cast<long>(jhi / bsize);
      if (lo < B || hi >= E) lane.deferred.push_back(p);
      else if (hi == p) bad += correct(p);
      else { wait_next_[p] = wait_head_[hi]; wait_head_[hi] = p; }
      for (long b = wait_head_[p]; b >= 0; b = wait_next_[b]) bad += correct(b);
    }
#pragma omp barrier
    for (long b : lane.deferred) bad += correct(b);
  }
  if (bad) throw NumericalError("llg: a moment direction became NaN or zero (time step too large?)");
  std::swap(s.spin, next_);
}

void LLG::step_heun(System& s) {
  const SpinKernel* k = kernel_path() ? h_->spin_kernel() : nullptr;
  if (k) {
    if (simple_kernel(k) && k->uniform_J && k->zeeman.empty()) heun_fused<3>(s, *k);
    else if (simple_kernel(k)) heun_fused<1>(s, *k);
    else heun_fused<2>(s, *k);
    return;
  }
  bth_.resize(n_);
  pred_.resize(n_);
  d1_.resize(n_);
  heun_stages<0>(s, k);
}

// Depondt & Mertens, J. Phys.: Condens. Matter 21, 336005 (2009): the LLG equation as a
// rotation dê/dt = Ω(ê) × ê. Predictor: rotate ê by Ω(ê)Δt; corrector: rotate the original ê
// by ½[Ω(ê) + Ω(ê')]Δt (Rodrigues). Norms are kept by construction; second order.
void LLG::step_depondt(System& s) {
  const SpinKernel* k = kernel_path() ? h_->spin_kernel() : nullptr;
  const bool simple = simple_kernel(k);
  const double dt = settings_.dt;
  const Vec3 b0 = settings_.field.at(time()), b1 = settings_.field.at(time() + dt);
  bth_.resize(n_);
  pred_.resize(n_);
  d1_.resize(n_);
  if (!k) generic_field(s, s.spin, field_);
  const long nb = static_cast<long>(blocks_.count());
  const int nt = threads();
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
  for (long b = 0; b < nb; ++b) {
    noise_block(b);
    for (std::size_t i = blocks_.begin(b); i < blocks_.end(b); ++i) {
      const SiteConst& c = site_[i];
      if (c.g == 0.0) { pred_[i] = s.spin[i]; continue; }
      const Vec3 h = k ? Vec3(kernel_field(*k, simple, s.spin, s.moment, i) * c.inv) : field_[i];
      const Vec3 w = llg_omega(s.spin[i], h + b0 + bth_[i], c.g, c.alpha);
      d1_[i] = w;
      pred_[i] = rotate(s.spin[i], dt * w);
    }
  }
  if (!k) generic_field(s, pred_, field_);
  int bad = 0;
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1) reduction(+ : bad)
  for (long b = 0; b < nb; ++b) {
    for (std::size_t i = blocks_.begin(b); i < blocks_.end(b); ++i) {
      const SiteConst& c = site_[i];
      if (c.g == 0.0) continue;
      const Vec3 h = k ? Vec3(kernel_field(*k, simple, pred_, s.moment, i) * c.inv) : field_[i];
      const Vec3 w = llg_omega(pred_[i], h + b1 + bth_[i], c.g, c.alpha);
      // The rotation keeps |ê| = 1 up to round-off; renormalising stops the round-off from
      // accumulating over very long runs (~1e-17 per step) and changes nothing else.
      const Vec3 e = unit(rotate(s.spin[i], (0.5 * dt) * (d1_[i] + w)));
      if (!std::isfinite(e.squaredNorm())) ++bad;
      s.spin[i] = e;
    }
  }
  if (bad) throw NumericalError("llg: a moment direction became NaN (time step too large?)");
}

// Implicit midpoint rule (Mentink, Tretyakov, Fasolino, Katsnelson & Rasing, J. Phys.:
// Condens. Matter 22, 176001 (2010)):  ê_new − ê = Δt Ω(ē) × ē,  ē = ½(ê + ê_new).
// Solved by fixed-point iteration on Ω: for a given Ω the update is linear in ê_new and
// solved exactly by a Cayley transform (a rotation), so every iterate keeps |ê_new| = |ê|;
// the first iterate is Mentink's semi-implicit predictor (Ω at ê). At convergence, a
// Hamiltonian quadratic in the ê's (exchange, DMI, Zeeman, uniaxial anisotropy) conserves
// energy exactly for α = 0, T = 0, because E(ê_new) − E(ê) = −Σ_i h_i(ē)·Δê_i and Δê_i ⊥ h_i(ē).
// Both field paths evaluate h at the (non-unit, |ē| = cos of half the step's rotation angle)
// ē itself: the kernel by its polynomial extension, the terms with moment vectors |m_i| ē_i,
// an O(Δt²) change of length that keeps the scheme second order.
void LLG::step_midpoint(System& s) {
  const SpinKernel* k = kernel_path() ? h_->spin_kernel() : nullptr;
  const bool simple = simple_kernel(k);
  const double dt = settings_.dt;
  const Vec3 bm = settings_.field.at(time() + 0.5 * dt);
  draw_noise();
  pred_ = s.spin;  // current iterate of ê_new
  mid_.resize(n_);
  const long nb = static_cast<long>(blocks_.count());
  const int nt = threads();
  std::vector<double> block_change(nb, 0.0);
  double previous = HUGE_VAL;
  int it = 0;
  for (;;) {
    ++it;
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (long b = 0; b < nb; ++b)
      for (std::size_t i = blocks_.begin(b); i < blocks_.end(b); ++i) {
        mid_[i] = 0.5 * (s.spin[i] + pred_[i]);
      }
    if (!k) generic_field(s, mid_, field_);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (long b = 0; b < nb; ++b) {
      double change = 0.0;
      for (std::size_t i = blocks_.begin(b); i < blocks_.end(b); ++i) {
        const SiteConst& c = site_[i];
        if (c.g == 0.0) continue;
        const Vec3 h = k ? Vec3(kernel_field(*k, simple, mid_, s.moment, i) * c.inv) : field_[i];
        const Vec3 w = (0.5 * dt) * llg_omega(mid_[i], h + bm + bth_[i], c.g, c.alpha);
        const Vec3 x = cayley(s.spin[i], w);
        change = std::max(change, (x - pred_[i]).cwiseAbs().maxCoeff());
        pred_[i] = x;
      }
      block_change[b] = change;
    }
    // max is exact and order independent: the iteration count does not depend on threads.
    double change = 0.0;
    for (double c : block_change) change = std::max(change, c);
    if (!std::isfinite(change))
      throw NumericalError("llg: midpoint iteration produced NaN (time step too large?)");
    if (change <= settings_.midpoint_tolerance) break;
    // Round-off floor: once the update stops shrinking below 1e-12 it has converged.
    if (change < 1e-12 && change >= previous) break;
    if (it >= settings_.midpoint_max_iterations)
      throw NumericalError("llg: midpoint iteration did not converge in " + std::to_string(it) +
                           " iterations (last change " + std::to_string(change) +
                           "); reduce dt");
    previous = change;
  }
  last_iterations_ = it;
  std::swap(s.spin, pred_);
  // Round-off only (the Cayley update is a rotation): see step_depondt.
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
  for (long b = 0; b < nb; ++b)
    for (std::size_t i = blocks_.begin(b); i < blocks_.end(b); ++i)
      if (site_[i].g != 0.0) s.spin[i] = unit(s.spin[i]);
}

// Longitudinal Langevin step (Ma & Dudarev, PRB 86, 054416 (2012)) for |m_i|, Heun with
// additive noise on the radial SDE of an isotropic overdamped Langevin equation in R³:
//   d|m| = a(|m|) dt + sqrt(2Γk_BT) dW,  a = Γ F_r + 2Γk_BT/|m|.
// A step that would cross |m| = 0 reflects (m → −m is the same point of R³ seen through
// the origin: the direction flips).
void LLG::step_longitudinal(System& s) {
  const double dt = settings_.dt, kT = units::k_B * settings_.temperature;
  const double Gamma = settings_.longitudinal_damping * units::gamma_e / units::mu_B;
  const double amp = std::sqrt(2.0 * Gamma * kT * dt);
  const long nb = static_cast<long>(blocks_.count());
  const int nt = threads();
  std::vector<Vec3>& F = field_;
  std::vector<double> m0(s.moment), xi(n_, 0.0);
  generic_field(s, s.spin, F);  // B = F/μB; the radial part gives −∂E/∂|m|
  auto drift = [&](std::size_t i, double m) {
    return Gamma * units::mu_B * F[i].dot(s.spin[i]) + 2.0 * Gamma * kT / m;
  };
  std::vector<double> a0(n_, 0.0);
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
  for (long b = 0; b < nb; ++b) {
    Engine& eng = longitudinal_noise_[b];
    for (std::size_t i = blocks_.begin(b); i < blocks_.end(b); ++i) {
      if (!(m0[i] > 0.0)) continue;
      xi[i] = kT > 0.0 ? gaussian(eng) : 0.0;
      a0[i] = drift(i, m0[i]);
      s.moment[i] = std::abs(m0[i] + dt * a0[i] + amp * xi[i]);
    }
  }
  generic_field(s, s.spin, F);
  int bad = 0;
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1) reduction(+ : bad)
  for (long b = 0; b < nb; ++b)
    for (std::size_t i = blocks_.begin(b); i < blocks_.end(b); ++i) {
      if (!(m0[i] > 0.0)) continue;
      double m = m0[i] + 0.5 * dt * (a0[i] + drift(i, s.moment[i])) + amp * xi[i];
      if (m < 0.0) { m = -m; s.spin[i] = -s.spin[i]; }
      if (!(m > 0.0) || !std::isfinite(m)) ++bad;
      s.moment[i] = m;
    }
  if (bad) throw NumericalError("llg: a moment size became zero or NaN (longitudinal step too large?)");
}

// ---- checkpoints ---------------------------------------------------------------------------

std::string LLG::save_state() const {
  state_io::Writer w("spinlat-llg", 2);
  w.integer("sites", n_);
  w.integer("block", settings_.block);
  w.signed_integer("steps", steps_);
  w.text("noise", noise_.save());
  w.text("longitudinal", longitudinal_noise_.save());
  return w.str();
}

void LLG::load_state(const std::string& state) {
  auto fail = [](const std::string& what) -> void {
    throw InputError("llg checkpoint: " + what);
  };
  state_io::Reader r(state, "spinlat-llg", 2);
  const std::uint64_t sites = r.integer("sites"), block = r.integer("block");
  const long long steps = r.signed_integer("steps");
  if (steps < 0) fail("negative 'steps'");
  if (sites != n_) fail("saved for " + std::to_string(sites) + " sites, this run has " + std::to_string(n_));
  if (block != settings_.block) fail("saved with noise block size " + std::to_string(block));
  StreamSet noise, lnoise;
  try {
    noise.load(r.text("noise"));
    lnoise.load(r.text("longitudinal"));
  } catch (const std::runtime_error& e) {
    if (dynamic_cast<const InputError*>(&e)) throw;
    fail(e.what());
  }
  if (noise.size() != blocks_.count() || lnoise.size() != blocks_.count()) fail("wrong number of noise streams");
  noise_ = std::move(noise);
  longitudinal_noise_ = std::move(lnoise);
  steps_ = steps;
}

}  // namespace spinlat
