#pragma once
// Distance-dependent isotropic exchange E = −Σ_{i<j} J(r_ij) ê_i·ê_j (J > 0 ferromagnetic), the
// exchange of spin-lattice dynamics: its forces −∂E/∂r couple the spins to the lattice.
//
// Radial forms (TOML `type`):
//   bethe-slater    J(r) = 4a (r/d)² (1 − b (r/d)²) exp(−(r/d)²), r < cutoff — LAMMPS
//                   `pair_style spin/exchange` (Tranchida et al., J. Comput. Phys. 372, 406
//                   (2018)); LAMMPS's energy equals −Σ_{i<j} J ŝ_i·ŝ_j with the same a, b, d.
//   ma-dudarev      J(r) = J0 (1 − r/rc)³, r < rc — Ma, Woo & Dudarev, PRB 78, 024434 (2008).
//   exchange-table  J(r) from a table [[r, J], ...], natural cubic spline or linear
//                   interpolation, zero beyond the last point.
// Pairs beyond the cutoff at the current positions do not count (the list carries a skin).
#include <string>
#include <vector>

#include "spinlat/terms/selection.hpp"
#include "spinlat/terms/term.hpp"

namespace spinlat {

/// J(r) (eV) and dJ/dr (eV/Å) of one radial form.
class RadialFunction {
 public:
  enum class Form { bethe_slater, ma_dudarev, table_linear, table_cubic };

  static RadialFunction bethe_slater(double a, double b, double d, double cutoff);
  static RadialFunction ma_dudarev(double J0, double cutoff);
  /// `r` strictly increasing and positive, at least 2 points (3 for cubic).
  static RadialFunction table(std::vector<double> r, std::vector<double> J, bool cubic);

  Form form() const { return form_; }
  double cutoff() const { return cutoff_; }
  /// Smallest distance the function is defined at (a table's first point; 0 otherwise).
  double inner() const { return r_.empty() ? 0.0 : r_.front(); }
  /// J(r) and dJ/dr; both zero for r >= cutoff. Returns false (and zeros) when r lies below a
  /// table's first point, where the function is undefined.
  bool evaluate(double r, double& J, double& dJ) const;
  double operator()(double r) const {
    double J, dJ;
    evaluate(r, J, dJ);
    return J;
  }

 private:
  Form form_ = Form::bethe_slater;
  double a_ = 0.0, b_ = 0.0, d_ = 1.0, cutoff_ = 0.0;
  std::vector<double> r_, y_, m_;  // table knots, values, spline second derivatives
};

class RadialExchange : public Term {
 public:
  /// `type` is the TOML name the term was made from (bethe-slater, ma-dudarev, exchange-table).
  RadialExchange(std::string type, RadialFunction J, SpeciesFilter species = {});
  std::string type() const override { return type_; }
  bool conserves_total_spin() const override { return true; }  // −J(r) ê_i·ê_j is rotation-invariant
  double cutoff() const override { return J_.cutoff(); }
  bool depends_on_positions() const override { return true; }
  const RadialFunction& function() const { return J_; }
  RadialCoupling radial_coupling() const override { return {&J_, &species_}; }

  void bind(const System& s, const NeighborList& list) override;
  double compute(const System& s, const NeighborList& list, Derivatives& d) const override;
  void add_site_energies(const System& s, const NeighborList& list, std::vector<double>& e) const override;
  double local_energy_change(const System& s, const NeighborList& list, int i, const Vec3& spin_new,
                             double moment_new) const override;
  /// Writes J(r) at the current positions (the Hamiltonian rebuilds the kernel after moves).
  bool add_to_spin_kernel(const System& s, const NeighborList& list, SpinKernel& k) const override;

 private:
  /// Σ_j J(r_ij) ê_j over i's pairs within the cutoff (self-images included unless skipped).
  Vec3 exchange_field(const System& s, const NeighborList& list, int i, bool skip_self) const;
  [[noreturn]] void below_table(double r) const;

  std::string type_;
  RadialFunction J_;
  SpeciesFilter species_;
  std::vector<char> active_;  // per list entry: both atoms selected and magnetic
};

}  // namespace spinlat
