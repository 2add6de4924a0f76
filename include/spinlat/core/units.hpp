#pragma once
// The one place where physical constants and unit conversions live.
//
// spinlat works in LAMMPS `metal` units plus magnetism (see docs/units.md):
//   length Å, energy eV, time ps, mass amu, temperature K, moment μB, field T,
//   force eV/Å, magnetic force −∂E/∂m in eV/μB, velocity Å/ps.
// Constants are CODATA 2018. Every conversion below is tested in tests/test_core.cpp (Units.*).
#include <cmath>

namespace spinlat::units {

inline constexpr double kPi = 3.14159265358979323846;

/// Bohr magneton, eV/T.
inline constexpr double mu_B = 5.7883818060e-5;
/// Boltzmann constant, eV/K.
inline constexpr double k_B = 8.617333262e-5;
/// Reduced Planck constant, eV·ps.
inline constexpr double hbar = 6.582119569e-4;
/// Planck constant, eV·ps (THz ↔ meV: E = h f).
inline constexpr double h_planck = 2.0 * kPi * hbar;
/// Electron g-factor magnitude.
inline constexpr double g_e = 2.00231930436256;
/// Electron gyromagnetic ratio γ_e = g μB/ħ, rad/(ps·T).
inline constexpr double gamma_e = 0.1760859630;
/// 1 amu·Å²/ps² expressed in eV (kinetic energy ½ m v² → eV): 1.66053906660e-23 J / e.
inline constexpr double mvv2e = 1.0364269652680505e-4;
/// Converts force/mass (eV/Å/amu) to acceleration (Å/ps²).
inline constexpr double ftm2v = 1.0 / mvv2e;
/// 1 eV/Å³ in GPa (pressure / stress output).
inline constexpr double eVA3_to_GPa = 160.21766340;
/// 1 eV in joules (exact, SI 2019): VAMPIRE's exchange and anisotropy files are in J.
inline constexpr double joule_per_eV = 1.602176634e-19;
/// 1 Ry in eV (CODATA 2018): UppASD's exchange files are in mRy.
inline constexpr double rydberg_eV = 13.605693122994;

/// Vacuum permeability μ0, N/A² (CODATA 2018; no longer exactly 4π·1e-7 since the SI of 2019).
inline constexpr double mu0 = 1.25663706212e-6;
/// μ0/4π in T·m/A.
inline constexpr double mu0_over_4pi = mu0 / (4.0 * kPi);
/// Dipolar energy scale μ0 μB²/(4π Å³) in eV: two 1 μB moments 1 Å apart, side by side and
/// parallel, cost this much (E = (μ0/4π)[m_i·m_j − 3(m_i·r̂)(m_j·r̂)]/r³; docs/dipolar.md).
/// The field of a 1 μB dipole 1 Å away is of order dipolar_eV/μB = 0.927 T.
inline constexpr double dipolar_eV = 5.368151123479065e-05;

/// Field in tesla that a magnetic force −∂E/∂m (eV/μB) corresponds to: B = F/μB.
inline constexpr double magforce_to_tesla(double f_eV_per_muB) { return f_eV_per_muB / mu_B; }
/// Zeeman energy scale of a moment |m| (μB) in a field B (T), eV.
inline constexpr double zeeman_energy(double m_muB, double B_tesla) { return m_muB * mu_B * B_tesla; }
/// Thermal energy k_B T, eV.
inline constexpr double thermal_energy(double T_kelvin) { return k_B * T_kelvin; }
/// Temperature (K) of a thermal energy (eV).
inline constexpr double temperature_of(double energy_eV) { return energy_eV / k_B; }
/// Angular frequency (rad/ps) to frequency in THz.
inline constexpr double radps_to_THz(double omega) { return omega / (2.0 * kPi); }
/// Angular frequency (rad/ps) to energy ħω in meV.
inline constexpr double radps_to_meV(double omega) { return omega * hbar * 1e3; }
/// Velocity change (Å/ps) per unit force (eV/Å) over h (ps) for a mass m (amu): h·ftm2v/m.
inline constexpr double kick_per_force(double h_ps, double mass_amu) { return h_ps * ftm2v / mass_amu; }
/// Thermal speed √(k_B T/m) (Å/ps, one Cartesian component) from k_B T (eV) and m (amu).
inline double thermal_speed(double kT_eV, double mass_amu) { return std::sqrt(kT_eV / (mass_amu * mvv2e)); }
/// Standard deviation (T) of each component of the stochastic-LLG thermal field held over τ
/// (ps), for a moment of m μB with Gilbert α at T (K): √(2αk_BT/(γ_e m μB τ)) (Brown, Phys. Rev.
/// 130, 1677 (1963); Evans et al., J. Phys.: Condens. Matter 26, 103202 (2014), Eq. 5).
inline double thermal_field_sigma(double alpha, double T_kelvin, double m_muB, double tau_ps) {
  return std::sqrt(2.0 * alpha * k_B * T_kelvin / (gamma_e * m_muB * mu_B * tau_ps));
}

}  // namespace spinlat::units
