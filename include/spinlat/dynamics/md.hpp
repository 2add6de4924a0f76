#pragma once
// Lattice molecular dynamics: velocity Verlet (NVE), Langevin BAOAB (NVT) and optional
// stochastic cell rescaling (NPT), written as reusable half-steps so that a spin-lattice
// Suzuki-Trotter splitting can interleave moment updates between them.
//
// Letters follow Leimkuhler & Matthews, Appl. Math. Res. Express 2013, 34:
//   B (kick):  v ← v + (h/m) F            A (drift): r ← r + h v
//   O (bath):  v ← c v + √((1−c²) k_B T/m) ξ,  c = e^{−γh}   (exact Ornstein-Uhlenbeck step)
// Velocity Verlet is B(h/2) A(h) B(h/2); BAOAB is B(h/2) A(h/2) O(h) A(h/2) B(h/2).
// Units: Å, ps, amu, eV; F/m in eV/Å/amu becomes Å/ps² through units::ftm2v.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "spinlat/core/rng.hpp"
#include "spinlat/core/system.hpp"
#include "spinlat/terms/hamiltonian.hpp"

namespace spinlat {

enum class BarostatKind { isotropic, anisotropic };
/// "isotropic" / "anisotropic" (InputError otherwise) and back.
BarostatKind parse_barostat(const std::string& name);
const char* barostat_name(BarostatKind k);

struct MdOptions {
  double dt = 1e-3;           ///< time step (ps)
  double temperature = 0.0;   ///< bath temperature (K) for Langevin and the barostat
  double lattice_damping = 0.0;  ///< Langevin friction γ (1/ps), the input's lattice_damping; 0 = no bath (NVE)
  StreamKey seed = 0;         ///< keys the lattice_noise streams (a bare seed converts)
  /// Remove the net momentum of each O-step's noise, so the total momentum stays zero and the
  /// bath acts on the 3N−3 internal degrees of freedom that lattice_temperature() counts.
  bool zero_momentum = true;
  std::size_t block = 1024;   ///< atoms per random stream (fixed: thread-count independent)
  /// Stochastic cell rescaling (Bernetti & Bussi, J. Chem. Phys. 153, 114107 (2020));
  /// off when barostat_tau <= 0. Isotropic: one volume variable driven by the scalar
  /// pressure. Anisotropic: the three Cartesian stretches ln L_x, ln L_y, ln L_z, each driven
  /// by its own diagonal component P_aa of the pressure tensor (the diagonal restriction of
  /// Del Tatto, Raiteri, Bernetti & Bussi, Appl. Sci. 12, 1139 (2022)); see barostat().
  BarostatKind barostat = BarostatKind::isotropic;
  double pressure = 0.0;          ///< target pressure (GPa)
  /// Anisotropic targets P_xx, P_yy, P_zz (GPa); a NaN component takes `pressure`.
  Vec3 pressure_axes = Vec3::Constant(std::numeric_limits<double>::quiet_NaN());
  double barostat_tau = 0.0;      ///< relaxation time τ_p (ps)
  double compressibility = 6e-3;  ///< β_T (1/GPa) used by the barostat's coupling (Fe ≈ 1/170)
  int barostat_every = 10;        ///< apply the cell move every this many steps

  /// The diagonal pressure targets (GPa) the barostat drives towards.
  Vec3 pressure_targets() const;
};

/// Throws InputError for impossible barostat settings (checked only when barostat_tau > 0).
void check_barostat(const MdOptions& o);

// ---- observables (free functions on the System) -------------------------------------------

/// Σ ½ m v² (eV).
double kinetic_energy(const System& s);
/// Σ m v ⊗ v (eV), twice the kinetic energy tensor.
Mat3 kinetic_tensor(const System& s);
/// Lattice temperature 2K / ((3N − 3) k_B) (K): the centre-of-mass motion is not counted.
double lattice_temperature(const System& s);
/// Pressure tensor (Σ m v⊗v + W) / V (eV/Å³; × units::eVA3_to_GPa for GPa). The stress in the
/// ASE sign convention (tension positive) is minus its transpose: the static part is
/// σ = (1/V) ∂E/∂ε = −Wᵀ/V, which differs from −W/V when W is not symmetric (non-central
/// terms: spin-orbit-coupled learned models, distance-dependent DMI; docs/units.md).
Mat3 pressure_tensor(const System& s, const Mat3& virial);
/// Scalar pressure P = (2K + tr W) / (3V) (eV/Å³).
double pressure(const System& s, const Mat3& virial);
/// Subtracts the centre-of-mass velocity.
void remove_momentum(System& s);

/// One sample of the configurational-temperature estimator k_B T = ⟨|∇U|²⟩ / ⟨∇²U⟩
/// (Rugh, PRL 78, 772 (1997); Butler et al., J. Chem. Phys. 109, 6519 (1998)). The
/// Laplacian is Hutchinson's unbiased estimate z·[F(r−εz) − F(r+εz)]/(2ε) with a Rademacher
/// vector z from `e`; averages of both numbers over a trajectory give T_conf = ⟨|F|²⟩ /
/// (k_B ⟨∇²U⟩). Uses the current neighbour list (no rebuild): ε must be far below the skin.
struct ConfigTemperatureSample {
  double force2 = 0.0;    ///< |F|² (eV²/Å²)
  double laplacian = 0.0; ///< ∇²U estimate (eV/Å²)
};
ConfigTemperatureSample configurational_temperature_sample(System& s, const Hamiltonian& h,
                                                           const std::vector<Vec3>& force, Engine& e,
                                                           double eps = 1e-4);

// ---- the integrator ------------------------------------------------------------------------

class LatticeIntegrator {
 public:
  /// Binds `h` to `s` (building the neighbour list; a Hamiltonian with zero skin gets 0.5 Å)
  /// and evaluates the forces. Both objects must outlive the integrator.
  LatticeIntegrator(System& s, Hamiltonian& h, MdOptions options);

  const MdOptions& options() const { return opt_; }
  /// Changes dt, temperature, lattice_damping or barostat settings between steps (same seed).
  void set_options(const MdOptions& o);

  // Split steps (h in ps). kick/drift/bath act on the System only; compute_forces() refreshes
  // the cached forces, energy and virial (updating the neighbour list first).
  void kick(double h);
  void drift(double h);
  void bath(double h);
  void compute_forces();
  /// Stochastic cell rescaling over an interval h, using the virial of the last force
  /// evaluation and the current kinetic energy; scales cell, positions and velocities
  /// (isotropically, or along x, y, z separately: h ← h·M, r ← M r, v ← M⁻¹ v with
  /// M = diag(μ_x, μ_y, μ_z), an affine map that keeps any triclinic cell consistent).
  void barostat(double h);

  /// One full step: Verlet (lattice_damping 0) or BAOAB, plus the barostat when enabled.
  void step();
  void run(long steps);

  long step_count() const { return step_; }
  double time() const { return step_ * opt_.dt; }
  double potential_energy() const { return epot_; }
  double kinetic_energy() const { return spinlat::kinetic_energy(s_); }
  double total_energy() const { return epot_ + kinetic_energy(); }
  double temperature() const { return lattice_temperature(s_); }
  /// Virial of the last force evaluation. Without a barostat compute_forces() leaves it out
  /// (LAMMPS too computes it only on thermo steps: ~10% of an EAM evaluation) and the first
  /// call after a step evaluates it at the current positions, i.e. call it between steps.
  const Mat3& virial() const;
  double pressure() const { return spinlat::pressure(s_, virial()); }   ///< eV/Å³
  double pressure_GPa() const;
  const std::vector<Vec3>& forces() const { return force_; }
  /// Number of neighbour-list rebuilds seen by compute_forces().
  long rebuilds() const { return rebuilds_; }

  /// Integrator state (step count, random streams, cached forces, the configuration at the
  /// last neighbour-list build), exact to the bit; the System itself is saved separately and
  /// must be restored before load_state() so that the run continues bit for bit.
  std::string save_state() const;
  void load_state(const std::string& state);

 private:
  void build_streams();
  int threads() const;
  System& s_;
  Hamiltonian& h_;
  MdOptions opt_;
  Blocks blocks_;
  StreamSet noise_;
  std::vector<Vec3> dv_;  // bath scratch
  Engine cell_noise_;
  std::vector<Vec3> force_;
  mutable Mat3 virial_ = Mat3::Zero();
  mutable bool virial_current_ = false;
  double epot_ = 0.0;
  long step_ = 0, rebuilds_ = 0;
  // Configuration of the last neighbour-list build (restores the list's history on load).
  std::vector<Vec3> built_positions_;
  Mat3 built_cell_ = Mat3::Identity();
};

}  // namespace spinlat
