#pragma once
// spinlat's side of the LAMMPS plugin (docs/lammps.md): a spinlat Hamiltonian read from a spinlat
// input's [[potential]] tables, evaluated on the atoms of one LAMMPS process. This file sees no
// LAMMPS header and pair_spin_spinlat.cpp no spinlat header beyond this one, so that neither
// code base's macros and names meet the other's.
//
// Conventions (LAMMPS SPIN, Tranchida et al., J. Comput. Phys. 372, 406 (2018)): atom->sp[i] =
// (ŝ_x, ŝ_y, ŝ_z, |m| in μB); atom->fm[i] = ω_i = −(1/ħ) ∂H/∂ŝ_i, a precession frequency in
// rad/ps (pair_spin_exchange.cpp divides J by ħ = hplanck/2π, metal units), with
// dŝ_i/dt = ω_i × ŝ_i. fix nve/spin turns one spin at a time about a fixed ω_i; that sub-step
// conserves the energy exactly only when ω_i is the gradient of H written as a polynomial in
// ŝ_i (for exchange: the full Σ_j J ŝ_j, not its part across ŝ_i). So:
//  - a Hamiltonian whose magnetic terms are all radial exchange (bethe-slater, ma-dudarev,
//    exchange-table), with lattice terms: ω_i = (1/ħ) Σ_j J(r_ij) ŝ_j, as pair spin/exchange;
//  - any other (learned, anisotropy, DMI, ...): ω_i = |m_i| F_i / ħ with spinlat's exact
//    F_i = −∂E/∂m_i (eV/μB) (precession_frequency below): the same precession ω×ŝ.
// atom->fm_long (long-range dipolar styles only) is not used.
#include <memory>
#include <string>
#include <vector>

namespace spinlat_lammps {

/// ω = |m| F / ħ (rad/ps) from F = −∂E/∂m (eV/μB), |m| in μB, ħ in eV·ps.
inline void precession_frequency(const double F[3], double moment, double hbar, double w[3]) {
  for (int a = 0; a < 3; ++a) w[a] = moment * F[a] / hbar;
}

/// A LAMMPS box: edge vectors a = (xprd, 0, 0), b = (xy, yprd, 0), c = (xz, yz, zprd) from
/// lower corner `lo` (domain->h, boxlo), and which directions are periodic.
struct Box {
  double lo[3] = {0, 0, 0};
  double a[3] = {0, 0, 0}, b[3] = {0, 0, 0}, c[3] = {0, 0, 0};
  bool periodic[3] = {true, true, true};
  /// This rank's subdomain spans the whole box along the direction (LAMMPS's procgrid is 1
  /// there): with ghosts, spinlat is periodic along it instead of seeing ghost images.
  bool whole[3] = {true, true, true};
};

/// One process's atoms, as LAMMPS's arrays (read only): positions x (Å), spins sp (unit
/// direction and |m| in μB), types (1-based). `n` owned atoms; with `ghosts`, the LAMMPS
/// ghost atoms n..n+ghosts-1 follow (copies of atoms of other ranks and periodic images, out
/// to ghost_reach() beyond the rank's subdomain).
struct Atoms {
  int n = 0;
  int ghosts = 0;
  double** x = nullptr;
  double** sp = nullptr;
  const int* type = nullptr;
  /// Atom ids (LAMMPS's atom->tag), owned and ghosts: with them, ghosts that are only periodic
  /// images along `whole` directions are left out (Engine::load). May be null.
  const long long* tag = nullptr;
};

/// What evaluate() writes; null pointers are skipped. Arrays are added to (LAMMPS zeroes them).
struct Outputs {
  double** f = nullptr;      ///< −∂E/∂r (eV/Å)
  double** fm = nullptr;     ///< ω (rad/ps), see the conventions above
  double* virial = nullptr;  ///< xx, yy, zz, xy, xz, yz (eV) of W = −Σ r_ij ⊗ ∂E/∂r_ij (W_ab = Σ r_a f_b)
  double* eatom = nullptr;   ///< site energies (eV), summing to the energy
  double* emag = nullptr;    ///< site energies of the magnetic terms only (PairSpin::emag)
  bool energy = true;        ///< the energy is wanted (with ghosts it costs a site-energy pass)
};

class Engine {
 public:
  /// Reads a spinlat input (InputError with file, key and line when it is wrong) and builds its
  /// Hamiltonian; `hbar` is LAMMPS's ħ (eV·ps) so that ω matches LAMMPS's own spin styles.
  Engine(const std::string& input, double hbar);
  ~Engine();
  /// The input's species names, in its order.
  const std::vector<std::string>& species() const;
  /// Sets the species of each LAMMPS type from `pair_coeff * * NAME...` (one name per type);
  /// throws std::runtime_error naming the bad name.
  void map_types(const std::vector<std::string>& names);
  /// Largest interaction range of the Hamiltonian (Å).
  double cutoff() const;
  /// Domain decomposition (more than one rank): each rank evaluates the open cluster of its
  /// owned and ghost atoms. The energy of an owned site depends on atoms within R of it (R =
  /// a term's cutoff; L·r_max for a message-passing model of L layers), so the force and field
  /// on an owned atom, which involve the site energies within R of it, are exact when the
  /// ghosts reach 2R: ghost_reach() = max over terms of max(2·cutoff, trial_range).
  double ghost_reach() const;
  /// Distance beyond which turning one spin leaves another's ω unchanged (fix nve/spin's
  /// sectors): the magnetic terms' largest trial range (Å).
  double spin_reach() const;
  /// Why the Hamiltonian cannot run over several ranks ("" when it can).
  std::string decomposition_refusal() const;
  /// Copies the atoms and box into spinlat's System (the neighbour list is rebuilt when atoms
  /// moved more than half the skin, were reordered, or the box changed). With ghosts, the
  /// System is the cluster of owned and ghost atoms: open along the directions LAMMPS divides
  /// among ranks, periodic along those it does not (`Box::whole`; given the tags, a ghost that
  /// is only an image along those is left out, so the cluster grows only along the divided
  /// directions).
  void load(const Atoms& atoms, const Box& box);
  /// Energy (eV) of the owned atoms (with ghosts: the sum of their site energies) and the
  /// requested outputs for the owned atoms. With ghosts, `virial` must be null (the virial of
  /// the owned site energies is not known from the cluster: whole_box_virial).
  double evaluate(const Outputs& out);
  /// The virial (xx, yy, zz, xy, xz, yz; eV) of the whole periodic box given all its atoms
  /// (gathered from every rank), with `box` periodic: an evaluation of the whole box.
  void whole_box_virial(const Atoms& all, const Box& box, double virial[6]);
  /// Adds ω of atom i (rad/ps) at LAMMPS's current positions and spins to w: what fix nve/spin
  /// asks between two force evaluations (PairSpin::compute_single_pair), equal to what
  /// evaluate() writes for the same configuration. O(neighbours) when every magnetic term is
  /// a radial exchange, one full evaluation (when anything changed since the last) otherwise.
  void single_field(const Atoms& atoms, int i, double w[3]);
  /// True when single_field() has the O(neighbours) path.
  bool local_single_field() const;
  /// True when some magnetic term has no fast field path in SpinLatticeIntegrator (a learned
  /// model, landau, ...): its colour sweep then costs evaluations per colour.
  bool generic_spin_field() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> p_;
};

/// Pieces of spinlat's whole-lattice spin-lattice step (dynamics/sld.hpp, integrator
/// "explicit-midpoint") for fix spinlat/sld to run on LAMMPS's own arrays, over any number of
/// ranks: the formulas and constants are spinlat's, so on one rank the fix follows
/// SpinLatticeIntegrator to rounding.
namespace whole_lattice {
/// Velocity change (Å/ps) per unit force (eV/Å) over a time h (ps) for a mass m (amu).
double kick_factor(double h, double mass);
/// ê ← R(ê0; B, τ), the exact fixed-field move of a Gilbert-damped moment (α), with
/// B = ħω/(|m| μB) + b (T) from LAMMPS's ω (fm, rad/ps) and the thermal field b (T, may be
/// null). With `along` (the spin ω was evaluated at), ω's part along it is dropped first:
/// spinlat's generic field path, for a field whose longitudinal part turns nothing.
void move_spin(const double e0[3], const double w[3], const double b[3], double moment, double hbar, double alpha,
               double tau, const double* along, double out[3]);
/// Standard deviation (T) of each component of the thermal field held over τ (ps): Evans et
/// al., J. Phys.: Condens. Matter 26, 103202 (2014), Eq. 5.
double spin_noise_sigma(double alpha, double temperature, double moment, double tau);
/// The lattice bath's exact Ornstein-Uhlenbeck step over h: v ← c v + a ξ, c = e^{−γh},
/// a = √((1−c²) k_B T/m) (Å/ps).
void lattice_bath(double gamma, double h, double temperature, double mass, double& c, double& a);
/// Three standard normals for atom `tag` at step `step` of stream `purpose` of a run's `seed`:
/// counter-based (SplitMix64 of the key, then Box-Muller), so that an atom's noise does not
/// depend on which rank owns it or in which order atoms are stored.
void tagged_normals(unsigned long long seed, unsigned long long purpose, long long tag, long long step,
                    double out[3]);
}  // namespace whole_lattice

/// spinlat's own spin-lattice dynamics with the colour sweep (dynamics/sld.hpp: symmetric
/// Suzuki-Trotter splitting, all spins of one colour at once, one force evaluation per step for
/// analytic Hamiltonians, optional stochastic LLG spin bath and Langevin lattice bath) on one
/// rank's atoms, for `fix spinlat/sld ... integrator suzuki-trotter` (docs/lammps.md; the
/// explicit-midpoint update runs on LAMMPS's arrays instead: whole_lattice above). It keeps its
/// own System and Hamiltonian (built from the same input as the pair style's), so the pair
/// style's evaluations never disturb its tables.
/// Conventions are spinlat's: spins precess with γ_e B/(1+α²), B = −∂E/∂m / μB (docs/units.md).
class Dynamics {
 public:
  struct Options {
    double dt = 1e-4;            ///< ps
    double temperature = 0.0;    ///< K (spin and lattice baths)
    double damping = 0.0;        ///< Gilbert α (0: no spin bath)
    double lattice_damping = 0.0;  ///< 1/ps (0: no lattice bath)
    unsigned long long seed = 1;
  };
  /// `type_species`: the species name of each LAMMPS type (pair_coeff), `type_mass` its mass
  /// (amu); index 0 unused.
  Dynamics(const std::string& input, const std::vector<std::string>& type_species,
           const std::vector<double>& type_mass, const Options& options);
  ~Dynamics();
  /// Advances positions, velocities (Å/ps) and spin directions of the atoms by one step;
  /// `tag` identifies atoms (LAMMPS's atom->tag) so that a re-sorted or changed set of atoms
  /// starts a fresh integrator.
  void step(const Atoms& atoms, double** v, const long long* tag, const Box& box);
  /// Forgets the integrator (its cached forces): the next step starts afresh.
  void reset();

 private:
  struct Impl;
  std::unique_ptr<Impl> p_;
};

}  // namespace spinlat_lammps
