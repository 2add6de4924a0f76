#pragma once
// Thermodynamics at one temperature from a time series of samples (energy per atom e and an
// order parameter φ ∈ [0, 1], plus the ferromagnetic magnetization m), with error bars.
//
//   ⟨e⟩ (eV/atom), ⟨m⟩, ⟨φ⟩                          binning error (Flyvbjerg & Petersen 1989)
//   χ   = N (⟨φ²⟩ − ⟨φ⟩²) / (k_B T)                   1/eV (per atom: φ is intensive)
//   χ'  = N ⟨φ²⟩ / (k_B T)                            1/eV; the finite-size form used above Tc
//   C   = N (⟨e²⟩ − ⟨e⟩²) / (k_B T)²                  k_B per atom
//   U4  = 1 − ⟨φ⁴⟩ / (3 ⟨φ²⟩²)                        Binder, Z. Phys. B 43, 119 (1981)
// N is the number of atoms the energy is "per" (the caller's choice, normally all atoms).
// χ, χ', C and U4 are nonlinear in the averages: their errors come from a delete-one
// jackknife over blocks of ≥ 20 τ_int samples (16 to 64 blocks). Variances are computed from
// data shifted by the first sample (e − e₀, φ − φ₀) so that ⟨x²⟩ − ⟨x⟩² does not lose digits
// when fluctuations are small compared with the mean (large N, low T).
#include <string>
#include <vector>

#include "spinlat/observables/reweighting.hpp"
#include "spinlat/observables/statistics.hpp"

namespace spinlat {

struct ThermoEstimate {
  double temperature = 0.0;       ///< K
  Value energy;                   ///< eV/atom
  Value magnetization;            ///< ⟨|Σ m_i| / Σ |m_i|⟩
  Value order_parameter;          ///< ⟨φ⟩ (equals magnetization for a ferromagnet)
  Value susceptibility;           ///< χ (1/eV), from the order parameter
  Value susceptibility_prime;     ///< χ' = N⟨φ²⟩/(k_B T) (1/eV)
  Value specific_heat;            ///< C (k_B per atom)
  Value binder;                   ///< U4
  Value order_squared;            ///< ⟨φ²⟩
  Value order_fourth;             ///< ⟨φ⁴⟩
  double tau_int = 0.0;           ///< max(τ_energy, τ_order), samples
  double tau_energy = 0.0, tau_order = 0.0;
  long long samples = 0;
  int blocks = 0;                 ///< jackknife blocks used
  /// False when the binning analysis did not converge or blocks are shorter than 20 τ_int:
  /// error bars are then likely too small (the run is too short).
  bool converged = false;
  std::string warning;            ///< why not converged ("" when converged)
  /// Samples a run of this τ_int needs for its error bars to hold (16 blocks of 20 τ_int);
  /// with `samples` it tells a user how much longer to measure.
  long long samples_needed = 0;
};

/// Plain state of a ThermoAccumulator (checkpoints).
struct ThermoAccumulatorState {
  double temperature = 0.0;
  long long atoms = 1;
  bool has_reference = false;
  double energy_reference = 0.0, order_reference = 0.0;
  std::vector<TimeSeriesState> series;  ///< e−e₀, (e−e₀)², m, φ−φ₀, (φ−φ₀)², φ⁴
  SampleRecordState samples;            ///< raw (e, φ) pairs kept for reweighting
};

/// Collects samples at one temperature; estimate() can be called at any time.
class ThermoAccumulator {
 public:
  /// `temperature` in K, `atoms` the N of the formulas above. `max_stored` as in TimeSeries.
  /// `max_samples` (even, or 0 for none) raw (e, φ) pairs are kept for histogram reweighting
  /// (SampleRecord: thinned, never averaged).
  explicit ThermoAccumulator(double temperature = 0.0, long long atoms = 1,
                             std::size_t max_stored = std::size_t(1) << 16, std::size_t max_samples = 0);

  /// One measurement: energy per atom (eV), magnetization m and order parameter φ (0..1).
  void add(double energy_per_atom, double magnetization, double order_parameter);
  long long samples() const { return energy_.count(); }
  double temperature() const { return temperature_; }
  long long atoms() const { return atoms_; }
  const SampleRecord& sample_record() const { return samples_; }

  ThermoEstimate estimate() const;

  ThermoAccumulatorState state() const;
  void set_state(const ThermoAccumulatorState& s);
  std::string save_state() const;
  void load_state(const std::string& text);

 private:
  double temperature_;
  long long atoms_;
  bool has_ref_ = false;
  double e_ref_ = 0.0, op_ref_ = 0.0;
  TimeSeries energy_, energy2_, mag_, order_, order2_, order4_;
  SampleRecord samples_;
};

/// The same from whole series (equal lengths; `order` empty means order = magnetization).
ThermoEstimate thermo_estimate(double temperature, long long atoms, const std::vector<double>& energy,
                               const std::vector<double>& magnetization,
                               const std::vector<double>& order = {});

}  // namespace spinlat
