#pragma once
// Coupled spin-lattice dynamics (SLD): atoms move under −∂E/∂r while their moment directions
// precess under the effective field at the current positions, with the exchange's radial
// dependence J(r_ij) coupling the two (Ma, Woo & Dudarev, PRB 78, 024434 (2008); Tranchida,
// Plimpton, Thibaudeau & Thompson, J. Comput. Phys. 372, 406 (2018)).
//
// Equations (docs/spin-lattice.md; units per docs/units.md):
//   dr_i/dt = v_i,   m_i dv_i/dt = −∂E/∂r_i                              (Å, ps, amu, eV)
//   dê_i/dt = −γ_e/(1+α_i²) [ ê_i × B_i + α_i ê_i × (ê_i × B_i) ],
//   B_i = h_i/(|m_i| μB) + B_ext(t) + b_i,   h_i = −∂E/∂ê_i at the current positions,
// with the Gilbert α_i and the thermal field b_i of the stochastic LLG (dynamics/llg.hpp:
// ⟨b b⟩ = 2 α_i k_B T/(γ_e |m_i| μB Δt) per component and step), and optionally a Langevin
// lattice bath (friction γ, BAOAB's exact Ornstein-Uhlenbeck O-step, dynamics/md.hpp).
//
// One step is the symmetric Suzuki-Trotter splitting (Omelyan, Mryglod & Folk, PRL 86, 898
// (2001); Tranchida et al. 2018, Sec. 3), in the order of LAMMPS's fix nve/spin:
//   B(Δt/2) S(Δt/2) A(Δt/2) [O(Δt)] A(Δt/2) S(Δt/2) F B(Δt/2)
// B: velocity half-kick, A: position half-drift, O: lattice bath, F: forces (EAM and
// magnetic, with the new spins and positions). Each S(Δt/2) advances the spins at frozen
// positions, those of the adjacent kick (with S at the midpoint positions instead, the NVE
// energy drifted 15× more: docs/spin-lattice.md, "Why this order"), by a symmetric sweep over
// colours of the exchange graph (greedy colouring, core/coloring.hpp: sites of one colour share
// no coupling):
//   S(τ) = R_0(τ/2) … R_{C−2}(τ/2) R_{C−1}(τ) R_{C−2}(τ/2) … R_0(τ/2),
// where R_c(t) moves every site of colour c by the exact solution of its own LLG equation in
// the field of the (fixed) other colours: a rotation by γ_e|B|t/(1+α²) about B and, with
// damping, tan(θ/2) ← tan(θ/2) e^{−α γ_e |B| t/(1+α²)} towards B. For energies linear in each
// ê_i (exchange, DMI, Zeeman) R_c is the exact flow of a sub-Hamiltonian, so S is symplectic,
// time reversible (without external fields: ê → −ê, v → −v retraces the path) and conserves
// the spin energy exactly at fixed positions; the splitting error of the whole step is O(Δt³)
// per step, bounded energy fluctuations O(Δt²) (Omelyan et al.). Sites of one colour are updated in parallel; the result does not depend on the order
// or the thread count. `spin_substeps` = n replaces each S(Δt/2) by n sweeps S(Δt/2n).
//
// Effective field. Terms are sorted once per neighbour-list build:
//   - RadialExchange (bethe-slater, ma-dudarev, exchange-table): own pair table; J(r_ij) and
//     J'(r_ij) are evaluated once per step at the new positions (one radial evaluation per
//     pair), for the second S, the forces and the next step's first S;
//   - other terms with a SpinKernel form (heisenberg, dmi, zeeman, anisotropy, biquadratic):
//     a SpinKernel of those terms (rebuilt every step only if one depends on positions);
//   - lattice-only terms (eam, pair): no field;
//   - anything else (landau, learned): the generic path, −|m_i| ∂E/∂m_i of those terms from
//     Term::compute (transverse part), re-evaluated for every colour (slower).
// When some field depends on ê_i itself (anisotropy, biquadratic, generic terms, whose
// transverse field is all that is known) a fixed-field rotation is only first order; R_c then
// becomes the explicit midpoint rule on the sphere: predict ê(τ/2) with the field at ê(0),
// then move ê(0) over τ with the exact fixed-field solution in the field at the prediction
// (second order, |ê| = 1 exactly; no longer exactly energy conserving at fixed positions).
//
// Whole-lattice spin update (`integrator = "explicit-midpoint"`, SldSpinUpdate::explicit_midpoint):
// the colour sweep costs a generic (learned) term 2·(2C−1) evaluations per S(Δt/2) — a
// message-passing model's colours are many (sites of one colour must lie beyond its receptive
// field). This update moves every moment at once with two evaluations per step:
//   B(Δt/2) · ê' = R(ê; B(r,ê), Δt/2) · A(Δt/2) · B_½ = B(r_½, ê') · ê ← R(ê; B_½, Δt)
//           · [O(Δt)] · A(Δt/2) · F (forces and fields at the new r, ê) · B(Δt/2),
// R(ê; B, t) the exact fixed-field LLG solution above: the explicit midpoint rule on the
// sphere with the field at the midpoint in time, positions included (second order, |ê| = 1
// exactly; the thermal field is drawn once per step and used in both stages, stochastic
// Heun's Stratonovich-consistent choice; the noise variance is for a field held over Δt). The
// field at (r, ê) is the previous step's final evaluation, which gives forces and fields of a
// learned term in one pass; the midpoint needs one more. Not symplectic: the NVE energy has a
// small drift where the colour sweep has none (docs/spin-lattice.md, "Whole-lattice update").
//
// Forces: every term but the radial exchange through Term::compute (forces only: no virial
// in the hot loop); the radial exchange in one pass over the pair table (each pair once,
// gathered per atom in a fixed order), which avoids a second walk over the full (EAM-range)
// neighbour list. The lattice half-steps are those of dynamics/md.hpp (same formulas).
//
// Randomness: the thermal field of site i comes from StreamSet(seed, spin_noise) engine
// ⌊i/block⌋ in site order, the lattice bath from StreamSet(seed, lattice_noise) by the same
// blocks: results depend on the seed only, never on threads, and save_state()/load_state()
// continue a run bit for bit.
#include <cstdint>
#include <string>
#include <vector>

#include "spinlat/core/rng.hpp"
#include "spinlat/core/system.hpp"
#include "spinlat/dynamics/llg.hpp"
#include "spinlat/core/coloring.hpp"
#include "spinlat/terms/hamiltonian.hpp"

namespace spinlat {

class RadialExchange;

/// How the moments move within a step (see the header comment).
enum class SldSpinUpdate {
  suzuki_trotter,     ///< symmetric sweep over colours (symplectic for fields linear in ê)
  explicit_midpoint,  ///< every moment at once, two evaluations per step
  /// explicit_midpoint when some term has no fast field path (learned, landau, ...),
  /// suzuki_trotter otherwise; settings() holds the choice made.
  automatic,
};
/// Parses "suzuki-trotter", "explicit-midpoint" or "auto" (InputError naming the choices
/// otherwise).
SldSpinUpdate parse_sld_spin_update(const std::string& name);

struct SldOptions {
  double dt = 1e-4;                  ///< ps (0.1 fs)
  double temperature = 0.0;          ///< K, of both baths
  /// Gilbert α: one value, or one per species (System::species index); all 0 = no spin bath
  /// (precession only).
  std::vector<double> damping{0.0};
  double lattice_damping = 0.0;      ///< Langevin friction γ (1/ps); 0 = no lattice bath
  SldSpinUpdate spin_update = SldSpinUpdate::suzuki_trotter;
  int spin_substeps = 1;             ///< spin sweeps per lattice step (suzuki_trotter only)
  ExternalField field;               ///< B_ext(t) (T), at the midpoint time of each spin sweep
  /// Neighbour-list skin (Å) used when the Hamiltonian has none set.
  double skin = 0.5;
  /// Remove the net momentum of the lattice noise (see MdOptions::zero_momentum).
  bool zero_momentum = true;
  std::size_t block = 1024;          ///< sites per spin-noise stream (part of the run's definition)
  /// OpenMP threads of this integrator's own loops (the terms' loops use the OpenMP
  /// default); 0 = the OpenMP default.
  int threads = 0;
  /// Loops over fewer sites (pairs) than this run without a parallel region, whose overhead
  /// would exceed the work. Results do not depend on it.
  std::size_t parallel_min = 2048;
};

/// Wall-clock seconds spent in each part of step() since construction (profiling).
struct SldTimers {
  double lattice = 0.0;    ///< kicks, drifts, lattice bath
  double couplings = 0.0;  ///< J(r_ij), J'(r_ij) at the new positions
  double spins = 0.0;      ///< spin noise and sweeps
  double forces = 0.0;     ///< forces and energy of the non-radial terms (EAM), list rebuilds
  double radial = 0.0;     ///< radial-exchange energy and forces
  double total() const { return lattice + couplings + spins + forces + radial; }
};

/// Energies of the current configuration (eV, whole system).
struct SldEnergies {
  double magnetic = 0.0;   ///< terms that depend on the moments (exchange, Zeeman, ...)
  double lattice = 0.0;    ///< the rest of the potential energy (EAM, pair)
  double kinetic = 0.0;    ///< Σ ½ m v²
  double total() const { return magnetic + lattice + kinetic; }
};

class SpinLatticeIntegrator {
 public:
  /// Binds `h` to `s` (a Hamiltonian without skin gets settings.skin), evaluates the forces
  /// and prepares the spin tables. `s` and `h` must outlive the integrator. `seed` keys the
  /// spin and lattice noise: every stage of a run has its own (core/rng.hpp).
  SpinLatticeIntegrator(System& s, Hamiltonian& h, SldOptions settings, const StreamKey& key);
  /// The key of the spin_noise and lattice_noise streams.
  const StreamKey& key() const { return seed_; }
  ~SpinLatticeIntegrator();
  SpinLatticeIntegrator(const SpinLatticeIntegrator&) = delete;
  SpinLatticeIntegrator& operator=(const SpinLatticeIntegrator&) = delete;

  /// One step of settings().dt.
  void step();
  void run(long long steps);

  long long steps_done() const { return steps_; }
  double time() const { return static_cast<double>(steps_) * settings_.dt; }
  const SldOptions& settings() const { return settings_; }
  /// Changes the temperature of both baths between steps (streams kept).
  void set_temperature(double kelvin);

  /// Re-evaluates forces and energy (after the System was changed from outside; updates the
  /// neighbour list first).
  void compute_forces();
  /// Forces −∂E/∂r (eV/Å) at the last evaluation, all terms.
  const std::vector<Vec3>& forces() const { return force_; }
  /// Potential energy at the last force evaluation (eV, all terms).
  double potential_energy() const { return epot_; }
  double kinetic_energy() const;
  double total_energy() const { return epot_ + kinetic_energy(); }
  /// Magnetic / lattice / kinetic split of the current configuration (evaluates the terms).
  SldEnergies energies() const;
  /// Lattice temperature 2K/((3N−3) k_B) (K).
  double lattice_temperature() const;
  /// Virial of the current configuration (eV; evaluates every term) and the pressure (GPa).
  Mat3 virial() const;
  double pressure_GPa() const;
  /// Spin temperature Σ|ê×h|²/(2 k_B Σ ê·h) (Nurdin & Schotte, PRE 61, 3579 (2000)) from this
  /// integrator's field (exact for fields linear in ê; NaN when the denominator is <= 0).
  double spin_temperature() const;
  /// −∂E/∂ê_i (eV) of every site from this integrator's field path at the current positions
  /// (B_ext and noise excluded; generic terms contribute their transverse part).
  std::vector<Vec3> exchange_field() const;

  /// Number of colours of the current spin sweep.
  int colors() const { return coloring_.colors; }
  const Coloring& coloring() const { return coloring_; }
  /// True when every spin-dependent term is on the fast path (no generic evaluations).
  bool fast_field() const { return generic_.empty(); }
  /// True when a magnetic term has a fast field path here (a radial exchange, or a SpinKernel
  /// form on `s` with `list`); false sends it through the generic path (learned, landau, ...).
  static bool fast_field_term(const Term& t, const System& s, const NeighborList& list);
  /// Neighbour-list builds since construction (including the first).
  long rebuilds() const { return rebuilds_; }
  const SldTimers& timers() const { return timers_; }

  /// Step count, list history (the configuration of the last neighbour-list build) and every
  /// noise engine, exact to the bit. The System is saved by its owner and must be restored
  /// before load_state(), with the same Hamiltonian; the forces are then re-evaluated, which
  /// reproduces the uninterrupted run's bits.
  std::string save_state() const;
  void load_state(const std::string& state);

 private:
  struct SiteConst {
    double g = 0.0, alpha = 0.0, inv = 0.0, sigma = 0.0;
  };
  struct RadialPair {
    int i = 0, j = 0;         // atoms, i < j
    int slot_ij = 0, slot_ji = 0;
    Int3 image = Int3::Zero();  // r_ij = r_j + image·h − r_i
    Vec3 shift = Vec3::Zero();  // image·h (Å) for the cell of the last list build
    std::uint32_t terms = 0;    // bit t: radial term t acts on this pair
  };

  void classify_terms();
  void rebuild_tables();           // after every neighbour-list build
  void bind_now();                 // (re)builds the list here and records it
  /// J(r) of every slot (and, given dJ, J'(r) of every pair) at the current positions.
  void pair_couplings(std::vector<double>& J, std::vector<double>* dJ) const;
  /// pair_couplings(), and the kernel too when it depends on the positions.
  void fill_couplings(std::vector<double>& J, SpinKernel& kernel, std::vector<double>* dJ = nullptr) const;
  /// Forces and energy of every term at the current positions and spins; the radial part
  /// uses slot_J_ / pair_dJ_, which must be those of the current positions.
  void forces_here();
  /// Radial exchange energy and forces (added to force_) from slot_J_ and pair_dJ_; force_
  /// must be sized.
  double radial_forces();
  /// S(Δt/2): spin_substeps symmetric sweeps of Δt/(2 spin_substeps) from time t0 (ps).
  void spin_half(double t0);
  void step_colours();
  void step_midpoint();
  /// Fields B_i (T) of every magnetic site at the current positions and spins from slot_J_,
  /// the kernel and generic_h_, plus `bext` and the thermal field.
  void site_fields(const Vec3& bext, std::vector<Vec3>& out) const;
  /// Every magnetic site: ê_i ← R(from_i; B_i, tau).
  void move_all(const std::vector<Vec3>& from, const std::vector<Vec3>& B, double tau);
  /// Transverse part of −|m_i| ∂E/∂m_i, given the magnetic forces f = −∂E/∂m.
  void transverse_fields(const std::vector<Vec3>& f, std::vector<Vec3>& out) const;
  bool whole_lattice() const { return settings_.spin_update == SldSpinUpdate::explicit_midpoint; }
  void kick(double h);
  void drift(double h);
  void bath(double h);
  void prepare_sites();
  void draw_noise();
  void sweep(double tau, double t_mid);
  void move_color(int c, double tau, const Vec3& bext);
  /// Transverse −∂E/∂ê_i (eV) of the generic terms.
  void generic_fields(std::vector<Vec3>& out) const;
  Vec3 field_of(int i, const std::vector<double>& J, const SpinKernel& kernel) const;
  int thread_count() const;
  bool parallel(std::size_t count) const { return count >= settings_.parallel_min; }
  /// Threads of the lattice half-steps: one below parallel_min atoms.
  int lattice_threads() const { return parallel(s_.size()) ? thread_count() : 1; }

  System& s_;
  Hamiltonian& h_;
  SldOptions settings_;
  StreamKey seed_;
  long long steps_ = 0;
  SldTimers timers_;

  // Lattice: cached forces and energy; the configuration of the last list build.
  std::vector<Vec3> force_;
  double epot_ = 0.0;
  long rebuilds_ = 0;
  std::vector<Vec3> built_positions_;
  Mat3 built_cell_ = Mat3::Identity();
  StreamSet lattice_noise_;
  std::vector<Vec3> dv_;

  // Term classes.
  std::vector<const Term*> radial_;          // terms that are radial spin couplings
  std::vector<RadialCoupling> coupling_;     // and their J(r) and species selection
  std::vector<const Term*> kernel_terms_, generic_, force_terms_;
  bool kernel_dynamic_ = false;

  // Radial pair table: CSR slots per atom (neighbour, summed J at the current positions).
  std::vector<int> slot_offset_, slot_neighbor_;
  std::vector<double> slot_J_;
  std::vector<double> pair_dJ_;  // J'(r) per pair at the current positions
  std::vector<int> slot_pair_;   // pair of each slot, ~pair for the mirror (j) side
  std::vector<RadialPair> pairs_;
  std::vector<Vec3> pair_force_; // force on pair.i (pair.j gets its negative)
  std::vector<double> pair_energy_;
  double self_energy_ = 0.0;     // radial coupling of moments to their own images (constant)
  bool have_kernel_ = false;
  SpinKernel kernel_;

  Coloring coloring_;
  Blocks blocks_;
  StreamSet noise_;
  std::vector<SiteConst> site_;
  std::vector<double> moment_cache_;
  double prepared_T_ = -1.0, prepared_tau_ = -1.0;
  bool spin_bath_ = false;
  std::vector<Vec3> bth_;        // thermal field of the current sub-step (T)
  std::vector<Vec3> generic_h_;  // generic terms' field (eV), per colour
  bool two_stage_ = false;       // some field depends on ê_i itself: midpoint colour moves
  std::vector<Vec3> start_;      // spins at the start of a two-stage colour move (or a step)
  std::vector<Vec3> site_field_; // explicit_midpoint: B_i of the current stage (T)
  std::vector<Vec3> generic_mf_; // explicit_midpoint: generic terms' −∂E/∂m with the forces
};

}  // namespace spinlat
