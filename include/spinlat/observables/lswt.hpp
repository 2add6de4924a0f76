#pragma once
// Linear spin-wave theory (LSWT) of a collinear ferromagnet, for any number of magnetic
// sublattices with equal or unequal moments, from the Hamiltonian's compiled SpinKernel.
//
// Classical small-angle theory of the LLG equation used by spinlat (dynamics/llg.hpp):
// with every moment along the ordering axis n, write ê_i = n √(1 − u_i²) + u_i with u_i ⊥ n
// in a fixed frame (e1, e2, n = e1 × e2). To second order E = E0 + ½ Σ_ij u_i·B_ij u_j, and the
// undamped LLG equation dê_i/dt = (γ_e/(|m_i| μB)) ê_i × ∂E/∂ê_i becomes
//   du_i/dt = c_i Ω Σ_j B_ij u_j,   c_i = γ_e/((1+α²) |m_i| μB),   Ω = [[0,−1],[1,0]].
// Bloch waves u_i = Re[a_s e^{i(q·r_i − ωt)}] (s the sublattice of i, r_i the actual
// position: the "atomic" gauge) give −iω a = C Ω B(q) a with
//   B_st(q) = δ_st Σ(on-site and pair diagonal blocks) + Σ_{j∈t} B_ij e^{iq·(r_j − r_i)}.
// 2×2 blocks per kernel term (pair energies per pair, kernel conventions of spin_kernel.hpp):
//   exchange J:          diagonal +J,  coupling −J
//   biquadratic Q:       diagonal +2Q, coupling −2Q           (acts as exchange 2Q)
//   DMI D:               coupling −(n·D) Ω                    (only D ∥ n enters)
//   Zeeman μB B:         diagonal |m| μB (B·n)
//   uniaxial K, axis a:  diagonal 2K[(n·a)² I − a⊥ a⊥ᵀ]
//   cubic Kc:            diagonal Pᵀ∇²f P − (n·∇f) I of f = Kc(ex²ey² + ey²ez² + ez²ex²)
// When every block commutes with Ω (isotropic in the transverse plane: exchange, Q, D·n, field
// and uniaxial axis along n, cubic with n along a cube axis) the circular amplitudes
// ψ_s = a_s·(1, −i)/√2 decouple and the problem is the Hermitian generalised eigenproblem
//   A(q) ψ = ω M ψ,   A_st = α_st − iβ_st (block = αI + βΩ),   M = diag((1+α²)|m_s| μB/γ_e),
// the "moment metric" that makes unequal moments a generalised (not a plain) eigenproblem;
// for one sublattice ω(q) = γ_e [Σ_j J_0j (1 − cos q·r_0j) + 2K + |m| μB B]/((1+α²)|m| μB)
// (docs/magnons.md). Otherwise (elliptical precession) the eigenvalues of the
// non-Hermitian 2N×2N matrix C Ω B(q) come in pairs ±ω and the N largest are returned; for
// B(q) >= 0 they are found as the eigenvalues of the Hermitian i K G K† with B = K†K and
// G = C^{1/2}(I⊗Ω)C^{1/2} (Colpa, Physica A 93, 327 (1978)), exact also at zero modes.
//
// Scope: ferromagnets only (every moment along +n); antiferro- and ferrimagnets need the
// Bogoliubov treatment with local frames and are not covered. Every atom of one sublattice
// (System::sublattice) must have the same moment and the same couplings (a crystal).
// A negative eigenvalue (circular case) means the collinear state is unstable; a complex one
// (elliptical case) is returned as NaN.
#include <string>
#include <vector>

#include "spinlat/core/system.hpp"
#include "spinlat/terms/hamiltonian.hpp"

namespace spinlat {

struct LswtOptions {
  /// Ordering axis. Zero: chosen automatically, the first that applies: the direction of a
  /// uniform Zeeman field; ± the uniaxial axis nearer the net magnetization; the ⟨100⟩ or
  /// ⟨111⟩ direction nearest the net magnetization (cubic anisotropy); the net magnetization
  /// itself; +z.
  Vec3 axis = Vec3::Zero();
  /// Gilbert α of the LLG run being compared with (its precession runs at γ_e/(1+α²)).
  double damping = 0.0;
  /// Largest allowed transverse torque on the collinear state, relative to the largest
  /// diagonal coupling (InputError if the state is not stationary).
  double tolerance = 1e-8;
};

/// Spin-wave branches at one wave vector.
struct LswtModes {
  std::vector<double> omega;   ///< rad/ps, ascending (NaN: unstable, complex)
  /// Transverse structure-factor weight of each branch, |Σ_s a_s|²/(N_s Σ_s |a_s|²) in the
  /// atomic gauge: 1 for the branch a uniform-phase probe (neutrons, m(q) of the recorder)
  /// sees fully, 0 for one it does not see (e.g. the folded branch of a conventional cell).
  std::vector<double> weight;
};

class LinearSpinWaves {
 public:
  /// Reads couplings from h.spin_kernel() and pair vectors from h.neighbors(); `h` must be
  /// bound to `s`. InputError when the Hamiltonian has no kernel, a pair couples through
  /// several periodic images at different distances (the supercell must exceed twice the
  /// interaction range), sublattices are inhomogeneous, or the collinear state along the
  /// axis is not stationary.
  LinearSpinWaves(const System& s, const Hamiltonian& h, LswtOptions settings = {});

  /// Number of branches (magnetic sublattices).
  int branches() const { return static_cast<int>(sites_.size()); }
  const Vec3& axis() const { return n_; }
  /// True when the Hermitian (circular) formulation applies.
  bool circular() const { return circular_; }
  /// Branches at q (1/Å, Cartesian).
  LswtModes modes(const Vec3& q) const;
  /// Frequencies only (rad/ps, ascending).
  std::vector<double> frequencies(const Vec3& q) const { return modes(q).omega; }

 private:
  struct Coupling {
    int t = 0;           ///< target sublattice
    Vec3 r = Vec3::Zero();  ///< r_j − r_i (Å)
    Eigen::Matrix2d X = Eigen::Matrix2d::Zero();  ///< 2×2 coupling block
  };
  struct Site {
    int atom = 0;        ///< representative atom
    double moment = 0.0; ///< μB
    double c = 0.0;      ///< γ_e/((1+α²)|m| μB), rad/(ps·eV)
    Eigen::Matrix2d diag = Eigen::Matrix2d::Zero();
    std::vector<Coupling> couplings;
  };
  std::vector<Site> sites_;
  Vec3 n_, e1_, e2_;
  bool circular_ = true;
};

/// The automatic ordering axis of LswtOptions::axis for this system and Hamiltonian.
Vec3 lswt_default_axis(const System& s, const Hamiltonian& h);

}  // namespace spinlat
