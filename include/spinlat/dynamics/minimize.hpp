#pragma once
// Energy minimisation of moments (directions and, optionally, sizes) and positions, stopping at
// a stated residual: the largest torque max_i |ê_i × F_i| (eV/μB, F_i = −∂E/∂m_i, i.e. μB
// times the effective field), the largest longitudinal force max_i |ê_i · F_i| (eV/μB) and the
// largest atomic force max_i |f_i| (eV/Å).
//
// Two damped-dynamics schemes, both on the product of unit spheres (directions), the half line
// (sizes) and R^3N (positions), each group of coordinates with its own velocities and step:
// - FIRE (Bitzek, Koskinen, Gähler, Moseler & Gumbsch, PRL 97, 170201 (2006)): semi-implicit
//   Euler steps of unit-mass dynamics; while the power P = F·v > 0 the velocity is mixed
//   towards the force, v ← (1−α) v + α |v| F̂, and after N_min downhill steps the step grows
//   (×1.1, up to dt_max) and α shrinks (×0.99); an uphill step (P ≤ 0) stops the motion,
//   halves the step and resets α.
// - Velocity projection (VP; Bessarab, Uzdin & Jónsson, Comput. Phys. Commun. 196, 335
//   (2015), Eq. 30, as in Spirit): fixed step, v ← (v·F̂) F̂ when v·F > 0, else 0.
// Directions move by rotations: the generalised force on ê_i is the tangential part of the
// torque, G_i = |m_i| (F_i − (F_i·ê_i) ê_i) (eV/rad), the velocity lives in the tangent plane
// and is projected onto the new tangent plane after each rotation. The initial steps are
// scale-free: for directions dt_0 = 0.1/sqrt(max_i |m_i||F_i|) (the largest curvature of a
// spin's energy is ~ 2 |m_i||F_i|), for positions and sizes ASE's FIRE values (dt_0 = 0.1,
// dt_max = 1 in eV–Å units); every step's move is capped (max_rotation, max_displacement,
// max_moment_change), scaled as a whole so that its direction is kept.
//
// Cell relaxation (as ASE's UnitCellFilter and LAMMPS's fix box/relax): a fourth FIRE group,
// the deformation gradient F of the cell from its shape at the start (lattice vectors
// a = F a_0, h = h_0 Fᵀ, every position follows affinely). F is kept symmetric: a pure strain,
// no rotation of the crystal. The coordinate is x = N F (ASE's cell_factor = N, so that its
// step is comparable to an atom's) and the generalised force is the symmetric part of
// −(V/N) (σ_s + P0 I) F⁻ᵀ (eV), minus the derivative of the enthalpy E + P0 V along symmetric
// changes of F (a change dF is the strain dε = dF F⁻¹). σ_s is the symmetric part of the stress
// σ = −Wᵀ/V (docs/units.md: ASE's sign, tension positive): a spin-orbit-coupled model at
// fixed moments has a non-symmetric σ whose antisymmetric part is a torque on the lattice,
// i.e. it would rotate the crystal, which changes no length; the cell follows only the
// symmetric (pure-strain) part. The fixed point is σ_s = −P0 I: the cell's stress is the
// target hydrostatic pressure.
#include <string>
#include <vector>

#include "spinlat/core/system.hpp"
#include "spinlat/terms/hamiltonian.hpp"

namespace spinlat {

enum class MinimizeMethod { fire, vp };
/// Parses "fire" or "vp" (InputError otherwise).
MinimizeMethod parse_minimize_method(const std::string& name);

struct MinimizeOptions {
  MinimizeMethod method = MinimizeMethod::fire;
  double torque_tolerance = 1e-6;   ///< eV/μB: max |ê × F| (and max |ê · F| with longitudinal)
  double force_tolerance = 1e-3;    ///< eV/Å: max |f| (with positions)
  bool directions = true;           ///< relax the moment directions
  bool longitudinal = false;        ///< relax the moment sizes |m_i| too
  bool positions = false;           ///< relax the atomic positions (fixed cell)
  bool cell = false;                ///< relax the cell (homogeneous strain, positions follow)
  double pressure = 0.0;            ///< GPa: target hydrostatic pressure of the cell
  double stress_tolerance = 0.01;   ///< GPa: max_ab |σ_s,ab + P0 δ_ab| (with cell)
  double max_strain = 0.01;         ///< largest change of F in one step (Frobenius norm; with cell)
  double max_rotation = 0.2;        ///< rad per step, largest rotation of any moment
  double max_displacement = 0.1;    ///< Å per step, largest move of any atom
  double max_moment_change = 0.05;  ///< μB per step, largest change of any |m_i|
  /// An applied field (T) besides the Hamiltonian's own terms: the minimised energy is
  /// E − μB Σ_i m_i·B (hysteresis loops, field stages).
  Vec3 field = Vec3::Zero();
};

/// Residuals of one state (0 for degrees of freedom that are not relaxed).
struct MinimizeResiduals {
  double torque = 0.0;        ///< eV/μB, max_i |ê_i × F_i|
  double longitudinal = 0.0;  ///< eV/μB, max_i |ê_i · F_i|
  double force = 0.0;         ///< eV/Å, max_i |f_i|
  double stress = 0.0;        ///< GPa, max_ab |σ_s,ab + P0 δ_ab| (σ_s: symmetric part)
};

/// Minimises the energy of a System under a Hamiltonian bound to it. Holds velocities and
/// step sizes; the coordinates live in the System. The residuals and the energy always refer
/// to the System's current state (evaluated at construction and after every step).
class Minimizer {
 public:
  Minimizer(Hamiltonian& h, System& s, MinimizeOptions options);

  /// One iteration (one energy and gradient evaluation).
  void step();
  /// Every relaxed residual at or below its tolerance.
  bool converged() const;
  const MinimizeResiduals& residuals() const { return res_; }
  /// Energy of the current state (eV): the Hamiltonian's plus the applied field's.
  double energy() const { return energy_; }
  long long steps() const { return steps_; }
  const MinimizeOptions& options() const { return opt_; }
  /// Changes the applied field (T) and re-evaluates; velocities and steps are kept.
  void set_field(const Vec3& field);
  /// The stress σ = −Wᵀ/V of the current state (GPa, not symmetrised; with cell only).
  const Mat3& stress() const { return stress_; }
  /// "max torque 3.1e-9 eV/μB, max force 2e-4 eV/Å": the relaxed residuals.
  std::string residual_text() const;

  /// Velocities, steps and counters; load_state continues bit for bit (the System is saved by
  /// its owner and must be restored before the Minimizer is built).
  std::string save_state() const;
  void load_state(const std::string& state);

  /// One group of coordinates (directions, sizes, positions or cell strain) with its own FIRE
  /// state.
  struct Group {
    std::vector<double> v;  ///< velocities (3 per site for vectors, 1 for sizes)
    double dt = 0.0, dt_max = 0.0, alpha = 0.1;
    long long downhill = 0;  ///< consecutive steps with P > 0
  };

 private:
  void evaluate();
  /// Updates the group's velocities from its forces `f` (FIRE or VP) and returns the move
  /// dt·v, scaled down so that no site moves further than `cap` (per-site norm of `width`
  /// components).
  std::vector<double> advance(Group& g, const std::vector<double>& f, int width, double cap) const;

  Hamiltonian& h_;
  System& s_;
  MinimizeOptions opt_;
  Group dir_, size_, pos_, cell_;
  std::vector<Vec3> force_, magforce_;
  std::vector<double> gdir_, gsize_, gpos_, gcell_;  ///< generalised forces of the current state
  Mat3 virial_ = Mat3::Zero(), stress_ = Mat3::Zero();
  /// The cell at the start (h_0) and its deformation gradient F (h = h_0 Fᵀ; with cell).
  Mat3 cell0_ = Mat3::Identity(), deformation_ = Mat3::Identity();
  MinimizeResiduals res_;
  /// Where the neighbour list was last built (positions or cell relaxed): a continuation rebuilds it
  /// there so that every later rebuild, and the order of every sum, is the uninterrupted run's.
  std::vector<Vec3> built_positions_;
  Mat3 built_cell_ = Mat3::Zero();
  double energy_ = 0.0;
  long long steps_ = 0;
};

}  // namespace spinlat
