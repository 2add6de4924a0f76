#pragma once
// Physical sanity checks of an input before it runs (docs/input.md, "Warnings"): numbers a
// user can read at once, and warnings that name the number and its likely cause — meV typed
// where eV is expected, a time step too large for the fields. Nothing here changes a run.
#include <string>
#include <vector>

#include "spinlat/workflows/input.hpp"
#include "spinlat/terms/hamiltonian.hpp"

namespace spinlat {

/// One neighbour shell of the first magnetic atom and its effective isotropic exchange.
struct ExchangeShell {
  double distance = 0.0;  ///< Å
  int count = 0;          ///< magnetic neighbours at that distance
  /// J (eV, E = −J ê_i·ê_j per pair) between atom i and one neighbour j of the shell, by the
  /// four-state method (Xiang et al., Dalton Trans. 42, 823 (2013)): with the other moments
  /// along z and ê_i, ê_j = ±x, J = −(E↑↑ + E↓↓ − E↑↓ − E↓↑)/4. It holds for any Hamiltonian
  /// (learned ones too) and sums the periodic images of j that the cell contains.
  double J = 0.0;
};

struct PhysicsChecks {
  /// ⟨E⟩ over random directions minus the energy of the ordered state (the lower of the
  /// ferromagnet and the input's initial configuration), eV per magnetic atom.
  double ordering_energy = 0.0;
  /// Mean-field estimate k_B T_MF = (2/3)·ordering_energy, exact for the mean-field theory of
  /// a classical Heisenberg model with a collinear ground state (K); NaN without moments.
  double tc_mean_field = 0.0;
  /// Largest |B_i| = |−∂E/∂m_i| over the initial, ferromagnetic and random configurations (T).
  double max_field_tesla = 0.0;
  std::vector<ExchangeShell> shells;  ///< only when asked for (validate)
  std::vector<std::string> warnings;  ///< each one line, with the number and the likely cause
};

/// Runs the checks on the input's system and Hamiltonian. `shells`: also the four-state
/// exchange per shell (4 energy evaluations per shell, up to six shells).
PhysicsChecks check_physics(const Config& c, const System& s, const Hamiltonian& h, bool shells);

/// "" when a spin temperature (K) measured under a bath of `bath` K is within a factor 2 of
/// it; else the warning's text, with both numbers and the likely cause. NaN stands for a spin
/// temperature that was mostly undefined (Σ ê·B ≤ 0).
std::string bath_mismatch(double spin_temperature, double bath);

/// "" when the total spin of a stage that should conserve it (spin-lattice dynamics without
/// damping, field or terms that break it: Hamiltonian::conserves_total_spin) changed by at most
/// kMaxTotalSpinChange of the saturation moment Σ_i |m_i| (μB) between `start` and `end` (μB);
/// else the warning's text, with the numbers and the likely cause.
std::string spin_conservation_breach(const Vec3& start, const Vec3& end, double saturation);

/// Thresholds of the warnings (docs/input.md).
inline constexpr double kMaxOrderingEnergy = 1.0;   ///< eV per magnetic atom (T_MF ≈ 7700 K)
inline constexpr double kMaxPrecessionPerStep = 0.2;  ///< rad: γ|B|dt of spin dynamics
inline constexpr double kAdvisedPrecessionPerStep = 0.05;  ///< rad, the dt advised instead
/// |ΔΣm| / Σ|m_i| over a stage that conserves total spin (docs/input.md, "Warnings").
inline constexpr double kMaxTotalSpinChange = 1e-3;

}  // namespace spinlat
