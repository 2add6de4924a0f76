#pragma once
// Instantaneous temperature estimators: spin (from the configuration of the moment
// directions) and lattice (from the kinetic energy).
//
// Spin temperature, generalised from Nurdin & Schotte, PRE 61, 3579 (2000). For a canonical
// distribution of the directions ê_i ∈ S², integration by parts on the sphere gives, site by
// site, ⟨|∇_S E|²⟩ = k_B T ⟨Δ_S E⟩, with ∇_S the tangential gradient (|∇_S E| = |ê_i × h_i|,
// h_i = −∂E/∂ê_i) and Δ_S the Laplace-Beltrami operator of the sphere of ê_i. Hence
//     k_B T_s = Σ_i |ê_i × h_i|² / Σ_i Δ_S E_i.
// For energies linear in ê_i (exchange, DMI, Zeeman) Δ_S E_i = 2 ê_i·h_i: the classic formula
// Σ|ê×h|² / (2 Σ ê·h). Non-linear on-site terms need their own Laplacian (from
// Δ_S p = Δp − n(n+1)p for a homogeneous polynomial p of degree n restricted to |ê| = 1):
//     uniaxial  −K (ê·n)²                   → Δ_S = K (6 (ê·n)² − 2)
//     cubic     Kc (x²y² + y²z² + z²x²)     → Δ_S = Kc (4 − 20 (x²y² + y²z² + z²x²))
//     biquadratic −Q (ê_i·ê_j)² (per pair)  → Δ_S at i = Q (6 (ê_i·ê_j)² − 2)
// The general path needs no formula: Δ_S E_i by central second differences of
// Hamiltonian::local_energy_change along two orthogonal great circles through ê_i (angle δ),
// and h_i = |m_i| (−∂E/∂m_i) from the magnetic forces (only its component ⟂ ê_i counts).
// This measures the temperature of the directions only (longitudinal moment fluctuations are
// not included). The estimator is a ratio: average numerator and denominator separately over
// samples (SpinTemperatureSums) and divide at the end; the mean of per-sample ratios is
// biased for small systems.
#include <limits>

#include "spinlat/core/system.hpp"
#include "spinlat/core/units.hpp"

namespace spinlat {

class Hamiltonian;
struct SpinKernel;

struct SpinTemperatureSums {
  double numerator = 0.0;    ///< Σ_i |ê_i × h_i|² (eV²)
  double denominator = 0.0;  ///< Σ_i Δ_S E_i (eV)
  long long sites = 0;       ///< magnetic sites summed
  /// k_B T_s = numerator / denominator, in K (NaN when the denominator is not positive).
  double temperature() const {
    return denominator > 0.0 ? numerator / denominator / units::k_B : std::numeric_limits<double>::quiet_NaN();
  }
  SpinTemperatureSums& operator+=(const SpinTemperatureSums& o) {
    numerator += o.numerator; denominator += o.denominator; sites += o.sites;
    return *this;
  }
};

enum class SpinTemperatureMethod {
  automatic,  ///< kernel when the Hamiltonian has one and no term depends on positions
  kernel,     ///< analytic, through SpinKernel::field and the Laplacians above
  numeric,    ///< any Hamiltonian: magnetic forces + second differences of local energies
};

/// Sums for the analytic path.
SpinTemperatureSums spin_temperature_sums(const System& s, const SpinKernel& kernel);
/// Sums through a Hamiltonian (bound to `s`). `delta` is the finite-difference angle (rad).
/// Throws std::invalid_argument if `kernel` is asked for and the Hamiltonian has none.
SpinTemperatureSums spin_temperature_sums(const System& s, const Hamiltonian& h,
                                          SpinTemperatureMethod method = SpinTemperatureMethod::automatic,
                                          double delta = 1e-3);
/// Instantaneous spin temperature (K).
double spin_temperature(const System& s, const Hamiltonian& h,
                        SpinTemperatureMethod method = SpinTemperatureMethod::automatic);
/// The classic Nurdin-Schotte form Σ|ê×h|² / (2 k_B Σ ê·h) (K), exact only for energies
/// linear in each ê_i; for comparison.
double classic_spin_temperature(const System& s, const SpinKernel& kernel);

/// Kinetic energy Σ ½ m_i v_i² (eV).
double lattice_kinetic_energy(const System& s);
/// Lattice temperature 2 K / (k_B f) (K) with f = 3N − `constraints` degrees of freedom
/// (3 when the total momentum is conserved, 0 for a Langevin bath without that constraint).
double kinetic_temperature(const System& s, int constraints = 3);

}  // namespace spinlat
