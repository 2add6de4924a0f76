#pragma once
// Order parameters of a magnetic configuration (docs/output.md: `magnetization`,
// `magnetization_vector`, `order_parameter`).
//
// With m_i = |m_i| ê_i the moment vectors (μB) and ε_i = ±1 a sign pattern:
//   magnetization            m     = |Σ_i m_i| / Σ_i |m_i|                (0..1)
//   magnetization vector     M     = Σ_i m_i / N                          (μB per atom, N = all atoms)
//   staggered magnetization  m_st  = |Σ_i ε_i m_i| / Σ_i |m_i|            (0..1)
//   sublattice order         m_sub = (1/S) Σ_s |Σ_{i∈s} m_i| / Σ_{i∈s} |m_i|  (0..1)
// The staggered form is the order parameter of collinear antiferro- and ferrimagnets (a
// ferrimagnet's ground state has m_st = 1 whatever the moment sizes); the sublattice form works
// for any sublattice order, collinear or not (120° triangular, canted), the mean running over
// the S sublattices that hold magnetic atoms. All are normalised by the current moment sizes,
// so they stay in [0, 1] under longitudinal fluctuations. Each is O(1/√N) when disordered.
#include <string>
#include <vector>

#include "spinlat/core/system.hpp"

namespace spinlat {

/// |Σ m_i| / Σ |m_i|; 0 when no atom carries a moment.
double magnetization(const System& s);
/// Σ m_i / N over all N atoms (μB per atom).
Vec3 magnetization_vector(const System& s);
/// |Σ ε_i m_i| / Σ |m_i| for a sign pattern ε (one entry per atom; 0 for non-magnetic atoms).
double staggered_magnetization(const System& s, const std::vector<int>& pattern);
/// Σ ε_i m_i / N (μB per atom).
Vec3 staggered_magnetization_vector(const System& s, const std::vector<int>& pattern);
/// Mean over sublattices of |Σ_{i∈s} m_i| / Σ_{i∈s} |m_i|. `sublattice[i]` labels atom i
/// (≥ 0); atoms labelled −1 and non-magnetic atoms are left out, as are sublattices without
/// magnetic atoms. System::sublattice (the basis index) is one valid labelling.
double sublattice_order(const System& s, const std::vector<int>& sublattice);
/// |Σ_{i∈s} m_i| / Σ_{i∈s} |m_i| of each sublattice s = 0 .. max label (labels as for
/// sublattice_order); NaN for a sublattice without moments.
std::vector<double> sublattice_magnetizations(const System& s, const std::vector<int>& sublattice);

/// The axis n̂ along which the moments of `s` line up best: the principal eigenvector of
/// Σ_i ê_i ê_iᵀ (the nematic tensor), oriented so that the first magnetic atom has ê·n̂ ≥ 0.
Vec3 principal_axis(const System& s);
/// Signs ε_i = sign(ê_i·n̂) of a (quenched or ideal) ground state relative to `reference`
/// (principal_axis(quenched) when zero); 0 for non-magnetic atoms; +1 for ê_i ⟂ n̂.
std::vector<int> pattern_from_ground_state(const System& quenched, const Vec3& reference = Vec3::Zero());
/// True when every moment is within `angle_tol` (rad) of ±principal_axis.
bool is_collinear(const System& s, double angle_tol = 0.1);
/// Magnetic sublattices of a ground state: atoms whose directions agree within `angle_tol`
/// (rad) share a label (greedy clustering in atom order, labels 0, 1, ...); −1 for
/// non-magnetic atoms.
std::vector<int> sublattices_from_ground_state(const System& quenched, double angle_tol = 0.1);

enum class OrderKind { ferro, staggered, sublattice };

/// A chosen order parameter, evaluated on configurations of the same structure.
struct OrderParameter {
  OrderKind kind = OrderKind::ferro;
  std::vector<int> pattern;     ///< ε_i (staggered)
  std::vector<int> sublattice;  ///< labels (sublattice)
  double operator()(const System& s) const;
  /// "ferro", "staggered" or "sublattice".
  std::string name() const;
};

/// Chooses the order parameter for `order` ∈ {ferro, antiferro, auto} (also the explicit
/// staggered, sublattice) from a ground state (a quenched configuration or the ideal
/// `spins = "antiferro"` one):
///  * ferro: the magnetization;
///  * antiferro: the staggered magnetization with ε from pattern_from_ground_state when the
///    ground state is collinear, else the sublattice order over sublattices_from_ground_state;
///  * auto: ferro when the sign pattern is uniform over the magnetic atoms, antiferro otherwise.
/// Throws InputError for an unknown name, or when a non-collinear ground state has no
/// sublattice structure (fewer than 2 atoms per direction cluster on average).
OrderParameter make_order_parameter(const std::string& order, const System& ground_state);

/// The magnetic sublattices an order parameter tells apart, labelled 0 .. S−1 in order of
/// first appearance (−1: non-magnetic atoms): the two sign classes of a staggered pattern, the
/// direction clusters of the sublattice kind, or for the ferro kind the basis sites
/// (System::sublattice) of `s` that carry moments. Empty when there are fewer than two.
std::vector<int> magnetic_sublattice_labels(const OrderParameter& op, const System& s);

}  // namespace spinlat
