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
};

/// One process's atoms, as LAMMPS's arrays (read only): positions x (Å), spins sp (unit
/// direction and |m| in μB), types (1-based).
struct Atoms {
  int n = 0;
  double** x = nullptr;
  double** sp = nullptr;
  const int* type = nullptr;
};

/// What evaluate() writes; null pointers are skipped. Arrays are added to (LAMMPS zeroes them).
struct Outputs {
  double** f = nullptr;      ///< −∂E/∂r (eV/Å)
  double** fm = nullptr;     ///< ω (rad/ps), see the conventions above
  double* virial = nullptr;  ///< xx, yy, zz, xy, xz, yz (eV) of W = −Σ r_ij ⊗ ∂E/∂r_ij (W_ab = Σ r_a f_b)
  double* eatom = nullptr;   ///< site energies (eV), summing to the energy
  double* emag = nullptr;    ///< site energies of the magnetic terms only (PairSpin::emag)
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
  /// Copies the atoms and box into spinlat's System (the neighbour list is rebuilt when atoms
  /// moved more than half the skin, were reordered, or the box changed).
  void load(const Atoms& atoms, const Box& box);
  /// Energy (eV) of the loaded configuration and the requested outputs.
  double evaluate(const Outputs& out);
  /// Adds ω of atom i (rad/ps) at LAMMPS's current positions and spins to w: what fix nve/spin
  /// asks between two force evaluations (PairSpin::compute_single_pair), equal to what
  /// evaluate() writes for the same configuration. O(neighbours) when every magnetic term is
  /// a radial exchange, one full evaluation (when anything changed since the last) otherwise.
  void single_field(const Atoms& atoms, int i, double w[3]);
  /// True when single_field() has the O(neighbours) path.
  bool local_single_field() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> p_;
};

}  // namespace spinlat_lammps
