#pragma once
// Critical temperatures from temperature sweeps.
//
//  * Binder-cumulant crossing (Binder, Z. Phys. B 43, 119 (1981)): U4(T, L) is scale invariant
//    at Tc, so curves of different sizes cross there (up to corrections to scaling). For each
//    pair of sizes the difference d(T) = U4(L_big) − U4(L_small) goes from positive (ordered
//    side) to negative; the crossing is the change point with the least evidence against it
//    (Σ of wrong-side d/σ), located by a weighted straight-line fit of d over the two points on
//    each side (linear interpolation when only two points exist). Pairs are combined with
//    inverse-variance weights. Errors: parametric bootstrap — every U4 point is redrawn from a
//    normal distribution with its error bar (fixed seed) and the whole estimate, the choice of
//    the change point included, is repeated; the error is the standard deviation of the
//    replicas within 6 robust σ of their median, widened by |s|/√(s² − Var s) for the noise of
//    the observed slope s (E s_obs² = s² + Var s). The same replicas carry the correlation
//    between pairs that share a size.
//  * Susceptibility peak of one size: vertex of the parabola through the maximum and its two
//    neighbours. The error combines the bootstrap spread (χ redrawn within its errors, the
//    maximum searched again) with a shape error: the largest distance to the vertex of the
//    parabola through log χ (exact for a Gaussian peak) or through −1/χ (exact for a
//    Lorentzian), which shrinks with the temperature spacing.
//    The peak of a finite system lies above Tc by ~ a L^(−1/ν): use it when one size is all
//    there is.
//  * Self-check (estimate_critical_temperature, critical_temperature_from_samples): a Binder
//    crossing counts only when d = U4(L_big) − U4(L_small) is significantly positive below it
//    and significantly negative above it (|d|/σ ≥ min_significance on both sides). Crossings of
//    different pairs must agree within min_significance σ plus scaling_tolerance × Tc (the
//    allowance for corrections to scaling between small sizes), and a pair without a crossing
//    must not contradict the combined Tc (significantly ordered above it or disordered below).
//    With ≥ 2 sizes and no crossing the answer is method "none" with the reason: ordered
//    throughout, disordered throughout, or no size dependence resolved (never the peak of one
//    size). With a crossing, the χ peaks are cross-checked by finite-size scaling:
//    T_peak(L) = Tc + a L^(−1/ν), 1/ν from the ratio of the U4 slopes at the crossing
//    (dU4/dT ∝ L^(1/ν)); the agreement (or not) is written in the notes.
//  * From stored samples (critical_temperature_from_samples): multiple-histogram reweighting
//    (reweighting.hpp) gives continuous U4(T) and χ(T) per size on a fine grid; the crossings
//    and peaks are located on those curves, and every number is repeated per jackknife block
//    (block b of every point left out) so its error includes τ_int and all correlations.
// Temperatures may be given in any order (they are sorted internally).
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "spinlat/observables/reweighting.hpp"
#include "spinlat/observables/statistics.hpp"

namespace spinlat {

struct CriticalTemperature {
  double Tc = std::numeric_limits<double>::quiet_NaN();       ///< K (the unit of the input)
  double Tc_err = std::numeric_limits<double>::quiet_NaN();
  std::string method;   ///< "binder-crossing", "susceptibility-peak" or "none"
  std::string notes;    ///< per-pair crossings, warnings (peak at the edge of the range, ...)
  bool found() const { return method != "none" && Tc == Tc; }
};

struct CriticalOptions {
  std::uint64_t seed = 20240601;  ///< bootstrap stream
  int bootstrap = 400;            ///< bootstrap replicas
  int fit_points = 2;             ///< points on each side of a sign change in the line fit
  double min_significance = 3.0;  ///< |d|/σ needed on each side of a crossing (and for a peak)
  double scaling_tolerance = 0.02;  ///< relative allowance for corrections to scaling
  int grid = 201;                 ///< reweighting grid points over the scanned range
};

/// Reweighted curves of every size on a common temperature grid (NaN where the histograms do
/// not overlap enough, see MultiHistogram::min_effective).
struct ReweightedCurves {
  std::vector<double> temperature;  ///< K
  std::vector<int> sizes;
  std::vector<std::vector<Value>> binder, susceptibility, order_parameter, energy, specific_heat;  ///< [l][t]
  std::vector<std::vector<double>> effective_samples;                                           ///< [l][t]
  int blocks = 0;  ///< jackknife blocks
};

/// Crossing of U4 curves. `binder[l][t]` is U4 of size `sizes[l]` at `temperatures[t]`
/// (NaN values are skipped). Needs ≥ 2 sizes; method "none" when no pair crosses.
CriticalTemperature binder_crossing(const std::vector<double>& temperatures, const std::vector<int>& sizes,
                                    const std::vector<std::vector<Value>>& binder,
                                    const CriticalOptions& options = {});

/// Peak of one susceptibility curve χ(T) (NaN values are skipped).
CriticalTemperature susceptibility_peak(const std::vector<double>& temperatures, const std::vector<Value>& chi,
                                        const CriticalOptions& options = {});

/// The self-checked estimate from per-point values (parametric bootstrap errors): with ≥ 2
/// sizes the Binder crossing or "none" (notes say why), with one size the susceptibility peak
/// when it is interior and significant, else "none".
CriticalTemperature estimate_critical_temperature(const std::vector<double>& temperatures,
                                                  const std::vector<int>& sizes,
                                                  const std::vector<std::vector<Value>>& binder,
                                                  const std::vector<std::vector<Value>>& susceptibility,
                                                  const CriticalOptions& options = {});

/// The self-checked estimate from stored samples, reweighted (jackknife errors). `curves`, when
/// given, receives the reweighted curves. Sizes with no samples are skipped.
CriticalTemperature critical_temperature_from_samples(const std::vector<SizeSamples>& data,
                                                      const CriticalOptions& options = {},
                                                      ReweightedCurves* curves = nullptr);

}  // namespace spinlat
