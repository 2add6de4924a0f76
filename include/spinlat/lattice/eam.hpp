#pragma once
// Embedded-atom method (Daw & Baskes, PRB 29, 6443 (1984)) read from LAMMPS tabulated files:
//   E = Σ_i F_a(ρ_i) + ½ Σ_i Σ_{j≠i} φ_ab(r_ij),   ρ_i = Σ_{j≠i} ρ_{b→a}(r_ij)
// with a, b the elements of atoms i and j. `eam/alloy` (setfl) files give one density function
// per element (ρ_{b→a} = ρ_b); Finnis-Sinclair `eam/fs` files give one per ordered pair.
// Both store r·φ(r) rather than φ(r). Interpolation is LAMMPS's (pair_eam.cpp, interpolate()):
// a C¹ piecewise cubic through the table values whose knot slopes come from a five-point
// difference formula, so energies and forces agree with LAMMPS to rounding.
#include <array>
#include <string>
#include <vector>

#include "spinlat/neighbors/half_list.hpp"
#include "spinlat/terms/term.hpp"

namespace spinlat {

/// LAMMPS's 7-coefficient cubic spline on a uniform grid x_m = (m−1)·delta, m = 1..n.
/// Per interval m: value(p) = ((c3 p + c4) p + c5) p + c6 and
/// derivative(p) = (c0 p + c1) p + c2 (already divided by delta), p ∈ [0, 1].
struct EamSpline {
  int n = 0;
  double delta = 1.0, inv_delta = 1.0;
  std::vector<std::array<double, 7>> c;  ///< 1-based like LAMMPS: c[1..n]

  /// `f` holds the n table values f(0), f(delta), ...
  void build(const std::vector<double>& f, double delta);
  /// Interval index m and fraction p of x, LAMMPS's arithmetic (beyond the table: clamped to
  /// the last interval with p ≤ 1; `min_one` clamps m ≥ 1 for negative x, as for F(ρ)).
  void locate(double x, int& m, double& p) const {
    p = x * inv_delta + 1.0;
    m = static_cast<int>(p);
    if (m > n - 1) m = n - 1;
    if (m < 1) m = 1;
    p -= m;
    if (p > 1.0) p = 1.0;
  }
  double value(int m, double p) const {
    const auto& k = c[m];
    return ((k[3] * p + k[4]) * p + k[5]) * p + k[6];
  }
  double derivative(int m, double p) const {
    const auto& k = c[m];
    return (k[0] * p + k[1]) * p + k[2];
  }
};

/// The contents of a setfl (eam/alloy) or Finnis-Sinclair (eam/fs) file.
struct EamFile {
  std::string path;
  std::string format;  ///< "alloy" or "fs"
  std::vector<std::string> comments;  ///< the three header lines
  std::vector<std::string> elements;
  std::vector<int> atomic_number;
  std::vector<double> mass;            ///< amu
  std::vector<double> lattice_constant;///< Å (setfl header; 0 if absent)
  std::vector<std::string> lattice_type;
  int nrho = 0, nr = 0;
  double drho = 0.0, dr = 0.0, cutoff = 0.0;
  std::vector<std::vector<double>> F;                 ///< [element][nrho], eV
  /// Density functions: alloy [element][0][nr]; fs [element b][element a][nr], the density
  /// that an atom of element b contributes at an atom of element a (LAMMPS's order).
  std::vector<std::vector<std::vector<double>>> rho;
  std::vector<std::vector<std::vector<double>>> z2r;  ///< r·φ(r), [i][j ≤ i][nr], eV·Å

  int element_index(const std::string& name) const;  ///< −1 if absent
};

/// Reads a LAMMPS setfl / fs file. `format` is "alloy", "fs", or "" (from the extension:
/// .eam.fs / .fs → fs, anything else → alloy). Throws InputError naming the file and line.
EamFile read_eam_file(const std::string& path, const std::string& format = "");

/// Format implied by a file name ("fs" for *.fs, else "alloy").
std::string eam_format_from_name(const std::string& path);

class EamPotential : public Term {
 public:
  /// Maps System species to the file's elements by name, here and again at every bind()
  /// (throws InputError naming a species absent from the file).
  EamPotential(EamFile file, const System& reference);
  std::string type() const override { return "eam"; }
  bool conserves_total_spin() const override { return true; }  // no moments
  TermKind energy_kind() const override { return TermKind::lattice; }
  double cutoff() const override { return file_.cutoff; }
  bool depends_on_positions() const override { return true; }
  const EamFile& file() const { return file_; }
  /// Element index (in the file) of each species of the System last bound.
  const std::vector<int>& species_element() const { return species_element_; }

  bool reads_full_list() const override { return false; }
  bool reads_half_list() const override { return true; }
  void bind(const System& s, const NeighborList& list) override;
  /// Half list with Newton's third law (docs/lattice.md, "EAM kernel"): each pair's splines
  /// are evaluated once, from one merged coefficient table per species pair; densities and
  /// forces are added to the second atom of a pair at once (LAMMPS's serial scatter), or, across
  /// a thread's range, in the one-thread order after a barrier (half_list.hpp: bit-identical
  /// for any thread count). compute_reference() for a list without the half form.
  double compute(const System& s, const NeighborList& list, Derivatives& d) const override;
  /// The plain gather form: every list entry evaluates its pair's derivative itself (twice
  /// the spline work; the reference that tests compare compute() with).
  double compute_reference(const System& s, const NeighborList& list, Derivatives& d) const;
  void add_site_energies(const System& s, const NeighborList& list, std::vector<double>& e) const override;
  double local_energy_change(const System&, const NeighborList&, int, const Vec3&, double) const override {
    return 0.0;
  }

  /// Electron density ρ_i at every atom.
  std::vector<double> densities(const System& s, const NeighborList& list) const;
  /// Pair function φ_ab(r) (eV) and its derivative, for tests and tabulation.
  double pair(int species_a, int species_b, double r, double* dphi = nullptr) const;
  /// Embedding function F_a(ρ) (eV) with LAMMPS's linear extension beyond the table.
  double embedding(int species_a, double rho, double* dF = nullptr) const;

 private:
  void resolve_species(const System& s);
  EamFile file_;
  std::vector<int> species_element_;
  std::vector<EamSpline> F_, rho_, z2r_;
  // Spline index per (species of receiving atom a, species of sending atom b).
  std::vector<int> rho_index_, z2r_index_;
  int nspecies_ = 0;
  double rhomax_ = 0.0, cut2_ = 0.0;
  void build_tables();
  // Per ordered species pair (a, b): LAMMPS's coefficients of r·φ_ab, ρ_{b→a} and (when it
  // differs) ρ_{a→b} for grid interval m side by side, 8 doubles per spline (7 and a pad), so
  // that one locate() serves all three and two cache lines hold what a pair reads.
  struct PairTable {
    std::vector<double> c;  // [(m * splines + s) * 8 + coefficient], m = 1..nr-1
    int splines = 2;        // 2: ρ_{a→b} = ρ_{b→a}; 3: both stored
  };
  std::vector<PairTable> tables_;        // [a * nspecies_ + b]
  std::vector<int> tables_for_;          // species_element_ the tables were built for
  // Scratch for compute(): one object must not be evaluated from two threads at once (a
  // Hamiltonian evaluates its terms one after another; replicas have their own terms).
  // Per pair (structure of arrays, the smallest stream through memory): ρ'_{j→i}/r, ρ'_{i→j}/r
  // (the same array when every table is symmetric) and φ'/r, written by pass 1 and read by
  // pass 3; ρ_{i→j} and q r_ij of the pairs whose partner lies in an earlier thread's range
  // (cross shares). Per atom: density, F', site energy, virial.
  bool symmetric_ = true;
  mutable std::vector<double> drho_in_, drho_out_, dphi_;
  mutable std::vector<Vec3> shift_;
  mutable CrossShares<double> cross_rho_;
  mutable CrossShares<Vec3> cross_g_;
  mutable std::vector<double> density_, fp_, site_;
  mutable std::vector<Mat3> own_virial_;
};

}  // namespace spinlat
