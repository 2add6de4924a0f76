#pragma once
// Magnetic dipole-dipole interaction of point moments (docs/dipolar.md):
//   E = (μ0/4π) Σ_{i<j} [m_i·m_j − 3(m_i·r̂_ij)(m_j·r̂_ij)] / r_ij³,   m_i = |m_i| ê_i in μB,
// written as E = −½ Σ_ij m_i·W_ij m_j with symmetric 3×3 interaction tensors W_ij (1/Å³), so the
// dipolar field (a magnetic force, eV/μB) is h_i = −∂E/∂m_i = C Σ_j W_ij m_j, C = units::dipolar_eV.
//
// Periodic cells use the Ewald sum for point dipoles (Wang & Holm, J. Chem. Phys. 115, 6351
// (2001), eqs. 2-6): W_ii holds the moment's coupling to its own periodic images, and a surface
// term (2π/V) M·N·M (M = Σ m_i, N the demagnetising tensor) sets the boundary condition:
// N = 0 "tinfoil", N = 1/3 a sphere in vacuum. Open boxes (no periodic direction) use the direct
// pair sum. The tensors are precomputed for a frozen lattice: stored per pair for small systems,
// or, for a lattice repeated from a smaller cell, per (basis site, basis site, cell offset) and
// applied as a convolution by FFT, O(N log N) per field evaluation.
#include <complex>
#include <string>
#include <vector>

#include "spinlat/terms/term.hpp"

namespace spinlat {

struct DipolarOptions {
  enum class Method { ewald, direct } method = Method::ewald;
  enum class Storage { automatic, pairs, fft } storage = Storage::automatic;
  /// Demagnetising tensor of the surface term (diagonal; zero = tinfoil).
  Vec3 demagnetizing = Vec3::Zero();
  /// Relative accuracy that sets the Ewald cutoffs.
  double accuracy = 1e-10;
  /// Ewald splitting parameter (1/Å); 0 = automatic, √π / V^{1/3}.
  double alpha = 0.0;
  /// Largest number of magnetic sites whose tensors are stored per pair (automatic storage).
  int pair_limit = 2000;
  /// Build stored pairs from the N·n_basis tensors of a repeated lattice (false: one Ewald sum
  /// per pair, the reference the tests compare against; not an input key).
  bool use_translations = true;
};

class Dipolar : public Term {
 public:
  explicit Dipolar(DipolarOptions o) : opt_(o) {}
  std::string type() const override { return "dipolar"; }
  bool depends_on_moment_size() const override { return true; }
  /// Every moment's trial changes every other moment's energy change.
  double trial_range() const override;

  /// Builds the tensors when the geometry differs from the one they were built for.
  void bind(const System& s, const NeighborList& list) override;
  double compute(const System& s, const NeighborList& list, Derivatives& d) const override;
  void add_site_energies(const System& s, const NeighborList& list, std::vector<double>& e) const override;
  /// Exact: ΔE = −C [Δm·h_i + ½ Δm·W_ii Δm], with h_i summed on demand, O(N).
  double local_energy_change(const System& s, const NeighborList& list, int i, const Vec3& spin_new,
                             double moment_new) const override;

  /// The dipolar fields h_i = −∂E/∂m_i (eV/μB) of every atom (zero for non-magnetic ones).
  std::vector<Vec3> fields(const System& s) const;
  /// True when the tensors are applied by FFT (false: stored per pair).
  bool uses_fft() const { return fft_; }
  /// The Ewald parameters in use (after bind): α (1/Å), real-space and reciprocal cutoffs.
  double alpha() const { return alpha_; }
  double real_cutoff() const { return rc_; }
  double reciprocal_cutoff() const { return kc_; }
  /// Repetitions of the cell found for the FFT path (1,1,1 for the pair path).
  Int3 repetitions() const { return reps_; }

 private:
  struct Sym { double xx, yy, zz, xy, xz, yz; };  // a symmetric 3×3 block
  static Vec3 apply(const Sym& w, const Vec3& m) {
    return {w.xx * m.x() + w.xy * m.y() + w.xz * m.z(), w.xy * m.x() + w.yy * m.y() + w.yz * m.z(),
            w.xz * m.x() + w.yz * m.y() + w.zz * m.z()};
  }
  void check_frozen(const System& s) const;
  Vec3 field_at(const System& s, int i) const;  // Σ_j W_ij m_j, 1/Å³·μB
  std::vector<Vec3> raw_fields(const System& s) const;
  const Sym& self_block(int i) const;
  bool detect_repetition(const System& s);
  void build_table(const System& s);
  void build_pairs(const System& s);
  void build_fft();
  std::size_t table_index(std::size_t i, std::size_t j) const;

  DipolarOptions opt_;
  double alpha_ = 0.0, rc_ = 0.0, kc_ = 0.0;
  // Geometry the tensors were built for.
  std::vector<Vec3> built_positions_;
  Mat3 built_cell_ = Mat3::Zero();
  std::vector<int> site_;     // magnetic site index of each atom, −1 if none
  std::vector<int> atom_;     // atom of each magnetic site
  // Pair storage: packed upper triangle (i <= j) over magnetic sites.
  std::vector<Sym> pair_;
  // FFT storage: site → (basis b, cell c); table_[(b * nb + b2) * ncell + c] = W for an atom of
  // basis b in cell c and one of basis b2 in cell 0; what_ = its transform per cell, as a
  // (3nb)×(3nb) complex matrix.
  bool fft_ = false;
  Int3 reps_ = Int3(1, 1, 1);
  int nb_ = 0, ncell_ = 0;
  std::vector<int> basis_, cellidx_;
  std::vector<std::vector<int>> atom_of_;  // [b][c] → magnetic site
  std::vector<Sym> table_;
  std::vector<std::complex<double>> what_;
};

}  // namespace spinlat
