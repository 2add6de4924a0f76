#pragma once
// Stochastic Landau-Lifshitz-Gilbert dynamics of atomistic moments (VAMPIRE's formulation:
// Evans et al., J. Phys.: Condens. Matter 26, 103202 (2014), Eqs. 2-5):
//
//   dê_i/dt = −γ_e/(1+α_i²) [ ê_i × B_i + α_i ê_i × (ê_i × B_i) ],
//   B_i = −(1/μB) ∂E/∂m_i + B_ext(t) + b_i   (T),
//
// with E in eV and |m_i| in μB, so that B_i = h_i/(|m_i| μB) for h_i = −∂E/∂ê_i (eV). The
// thermal field b_i is Gaussian white noise with
//   ⟨b_i^a(t) b_j^b(t')⟩ = 2 α_i k_B T / (γ_e |m_i| μB) δ_ij δ_ab δ(t − t'),
// i.e. a per-step standard deviation sqrt(2 α_i k_B T / (γ_e |m_i| μB Δt)) per component:
// the site's own moment enters the variance (a common moment would put the sublattices of a
// ferrimagnet at different temperatures). The same b_i is used by every stage of a step
// (Stratonovich calculus, García-Palacios & Lázaro, PRB 58, 14937 (1998)).
//
// Noise is drawn from StreamSet(seed, spin_noise) engines, one per fixed block of sites, in
// site order within the block: a run depends on its seed alone, never on the thread count,
// and save_state()/load_state() continue it bit for bit.
#include <cstdint>
#include <string>
#include <vector>

#include "spinlat/core/rng.hpp"
#include "spinlat/core/system.hpp"
#include "spinlat/terms/hamiltonian.hpp"

namespace spinlat {

/// An external field B_ext(t) (T) added to every magnetic site's effective field (FMR-type
/// runs). t is the time since the integrator started (step × Δt), in ps.
struct ExternalField {
  enum class Schedule { constant, ramp, rotating };
  Schedule schedule = Schedule::constant;
  /// constant: the field; ramp: the field at t = 0; rotating: the field at t = 0.
  Vec3 field = Vec3::Zero();
  /// ramp: the field at t = ramp_time, held constant afterwards.
  Vec3 field_end = Vec3::Zero();
  double ramp_time = 0.0;  ///< ps (ramp); <= 0 jumps to field_end at once
  /// rotating: `field` turns about `axis` at frequency f (THz), counter-clockwise for f > 0
  /// (the sense in which a moment precesses about a bias field along +axis). The component
  /// of `field` along the axis stays (a static bias); the rest is a circularly polarised
  /// field of constant amplitude: B(t) = R(axis, 2π f t) · field.
  Vec3 axis = Vec3::UnitZ();
  double frequency = 0.0;  ///< THz

  /// B_ext(t) in tesla.
  Vec3 at(double t) const;
  bool is_zero() const;
};

/// Parses "constant", "ramp" or "rotating" (InputError otherwise).
ExternalField::Schedule parse_field_schedule(const std::string& name);

enum class LLGIntegrator {
  heun,      ///< stochastic Heun with renormalisation (García-Palacios & Lázaro 1998)
  depondt,   ///< rotation about the effective field, predictor-corrector (Depondt & Mertens 2009)
  midpoint,  ///< implicit midpoint rule (Mentink et al. 2010), fixed-point iteration
};
/// Parses "heun", "depondt" or "midpoint" (InputError otherwise, naming the choices).
LLGIntegrator parse_llg_integrator(const std::string& name);
std::string to_string(LLGIntegrator integrator);

/// How the effective field is evaluated.
enum class FieldPath {
  automatic,  ///< the compiled SpinKernel when the Hamiltonian has one, else generic
  kernel,     ///< SpinKernel::field (throws if the Hamiltonian has no kernel)
  generic,    ///< Hamiltonian::compute magnetic forces: B = (−∂E/∂m)/μB
};

struct LLGOptions {
  LLGIntegrator integrator = LLGIntegrator::heun;
  double dt = 1e-4;                    ///< ps
  double temperature = 0.0;            ///< K (thermal field; 0 = deterministic)
  /// Gilbert α: one value for every species, or one per species (System::species index).
  std::vector<double> damping{0.1};
  ExternalField field;                 ///< B_ext(t), T
  FieldPath path = FieldPath::automatic;
  /// midpoint: iterate until max_i |ê_i^(k+1) − ê_i^(k)| <= tolerance (or it stops shrinking
  /// at round-off), at most max_iterations times (NumericalError if it has not converged).
  double midpoint_tolerance = 1e-15;
  int midpoint_max_iterations = 100;
  /// Longitudinal moment fluctuations (Ma & Dudarev, PRB 86, 054416 (2012)): after each
  /// transverse step, |m_i| follows the radial part of an overdamped Langevin equation in R³,
  ///   d|m| = [Γ F_r + 2 Γ k_B T/|m|] dt + sqrt(2 Γ k_B T) dW,  F_r = −∂E/∂|m| (eV/μB),
  /// whose stationary law is P(|m|) ∝ |m|² exp(−E/k_B T) (the 2Γk_BT/|m| drift is the R³
  /// measure). Γ = longitudinal_damping · γ_e/μB (μB²/(eV·ps)). Uses the generic field path.
  bool longitudinal = false;
  double longitudinal_damping = 0.01;
  /// Sites per noise stream: part of the run's definition (changing it changes the noise),
  /// independent of the thread count.
  std::size_t block = 1024;
  int threads = 0;                     ///< OpenMP threads; 0 = the OpenMP default
};

/// Integrates the moments of a System under a bound Hamiltonian. Holds the noise engines,
/// the step counter and scratch buffers; the spins live in the System.
class LLG {
 public:
  /// `h` must outlive the integrator and be bound to `s` (Hamiltonian::bind). The noise of
  /// this integrator is keyed by `key`: every stage of a run has its own (core/rng.hpp).
  LLG(const Hamiltonian& h, const System& s, LLGOptions settings, const StreamKey& key);
  /// The key of this integrator's spin_noise and longitudinal streams.
  const StreamKey& key() const { return key_; }

  /// One step of settings().dt.
  void step(System& s);
  /// `steps` steps.
  void run(System& s, long long steps);

  long long steps_done() const { return steps_; }
  /// Time since the start (ps): steps_done() × dt.
  double time() const { return static_cast<double>(steps_) * settings_.dt; }
  const LLGOptions& settings() const { return settings_; }
  /// Changing the temperature or the field between steps keeps the noise streams.
  void set_temperature(double kelvin);
  void set_field(const ExternalField& field) { settings_.field = field; }

  /// True when the last step (or the next one, before any step) uses the SpinKernel.
  bool uses_kernel() const;
  /// Fixed-point iterations the last midpoint step needed.
  int last_iterations() const { return last_iterations_; }

  /// Deterministic effective field B_i (T) for the current spins, without thermal noise:
  /// −(1/μB)∂E/∂m_i + B_ext(time()). Zero for non-magnetic sites. (Spin temperature,
  /// diagnostics.) Only its part transverse to ê_i drives the transverse dynamics.
  std::vector<Vec3> effective_field(System& s) const;

  /// Step counter and every noise engine, as text; load_state() restores them so that the
  /// run continues bit for bit (the spins themselves are the System's). Throws InputError if
  /// the state is malformed or belongs to a different number of sites or block size.
  std::string save_state() const;
  void load_state(const std::string& state);

 private:
  struct SiteConst {
    double g = 0.0;      ///< γ_e/(1+α²), rad/(ps·T)
    double alpha = 0.0;  ///< Gilbert α
    double inv = 0.0;    ///< 1/(|m| μB), 1/(eV/T)
    double sigma = 0.0;  ///< thermal-field standard deviation per component (T)
  };

  void prepare(const System& s);
  bool kernel_path() const;
  /// Generic path: fills force_ with B (T, without B_ext and noise) for spins `spins`.
  void generic_field(System& s, std::vector<Vec3>& spins, std::vector<Vec3>& out) const;
  /// Thermal fields of block b into out[0 .. block length) (its own engine, in site order).
  void noise_block(long b, Vec3* out);
  void noise_block(long b) { noise_block(b, &bth_[blocks_.begin(b)]); }
  void draw_noise();
  void step_heun(System& s);
  template <int Mode>
  void heun_stages(System& s, const SpinKernel* k);
  template <int Mode>
  void heun_fused(System& s, const SpinKernel& k);
  void step_depondt(System& s);
  void step_midpoint(System& s);
  void step_longitudinal(System& s);
  int threads() const;

  const Hamiltonian* h_;
  LLGOptions settings_;
  StreamKey key_;
  std::size_t n_ = 0;
  Blocks blocks_;
  StreamSet noise_, longitudinal_noise_;
  long long steps_ = 0;
  int last_iterations_ = 0;

  // Per-site constants, recomputed when moments, temperature or dt change.
  std::vector<SiteConst> site_;
  // The distinct SiteConst values and each site's index into them (fused Heun: 4 bytes a
  // site instead of 32 to stream); rebuilt on demand after prepare() changed site_.
  std::vector<SiteConst> class_const_;
  std::vector<std::uint32_t> site_class_;
  bool classes_ready_ = false;
  void prepare_classes();
  std::vector<double> moment_cache_;
  double prepared_T_ = -1.0, prepared_dt_ = -1.0;

  // Scratch (per-step; not part of the state).
  std::vector<Vec3> bth_, pred_, d1_, mid_, field_;
  // Fused Heun (heun_fused): the corrector's output, swapped into the System at the end of
  // the step, and per-thread pipeline state: slots of (thermal field, corrector half) for
  // the blocks between their predictor and their corrector, recycled so that they stay in
  // cache, and lists of the blocks waiting for a given block's predictor.
  struct HeunScratch {
    Vec3 bth, d1;
  };
  struct HeunLane {
    std::vector<std::vector<HeunScratch>> slots;
    std::vector<int> free;      ///< unused slot indices
    std::vector<std::uint64_t> redo;  ///< gaussian3_batch's rejected draws
    std::vector<long> deferred; ///< blocks corrected after every thread's predictors
  };
  std::vector<Vec3> next_;
  std::vector<HeunLane> lanes_;
  std::vector<int> slot_of_;    ///< per block: its slot in its thread's lane
  std::vector<long> wait_head_, wait_next_;  ///< per block: linked lists of waiting blocks
};

}  // namespace spinlat
