#pragma once
// Critical temperatures from temperature sweeps.
//
//  * Binder-cumulant crossing (Binder, Z. Phys. B 43, 119 (1981)): U4(T, L) is scale invariant
//    at Tc, so curves of different sizes cross there (up to corrections to scaling). For each
//    pair of sizes the difference d(T) = U4(L_big) − U4(L_small) goes from positive (ordered
//    side) to negative; the crossing is the root of a weighted straight-line fit of d over the
//    two points on each side of the sign change (linear interpolation when only two points
//    exist). Pairs are combined with inverse-variance weights. Errors: parametric bootstrap —
//    every U4 point is redrawn from a normal distribution with its error bar (fixed seed), the
//    whole estimate is repeated, and the error is half the 15.9–84.1 % range of the replicas
//    (robust to the odd replica whose line is nearly flat). The same replicas carry the
//    correlation between pairs that share a size.
//  * Susceptibility peak of one size: vertex of the parabola through the maximum and its two
//    neighbours. The error combines the bootstrap spread (χ redrawn within its errors, the
//    maximum searched again) with a shape error: the largest distance to the vertex of the
//    parabola through log χ (exact for a Gaussian peak) or through −1/χ (exact for a
//    Lorentzian), which shrinks with the temperature spacing.
//    The peak of a finite system lies above Tc by ~ a L^(−1/ν): use it when one size is all
//    there is.
// Temperatures may be given in any order (they are sorted internally).
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

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
};

/// Crossing of U4 curves. `binder[l][t]` is U4 of size `sizes[l]` at `temperatures[t]`
/// (NaN values are skipped). Needs ≥ 2 sizes; method "none" when no pair crosses.
CriticalTemperature binder_crossing(const std::vector<double>& temperatures, const std::vector<int>& sizes,
                                    const std::vector<std::vector<Value>>& binder,
                                    const CriticalOptions& options = {});

/// Peak of one susceptibility curve χ(T) (NaN values are skipped).
CriticalTemperature susceptibility_peak(const std::vector<double>& temperatures, const std::vector<Value>& chi,
                                        const CriticalOptions& options = {});

/// The best available estimate: Binder crossing when ≥ 2 sizes give one, else the
/// susceptibility peak of the largest size (its notes say why).
CriticalTemperature estimate_critical_temperature(const std::vector<double>& temperatures,
                                                  const std::vector<int>& sizes,
                                                  const std::vector<std::vector<Value>>& binder,
                                                  const std::vector<std::vector<Value>>& susceptibility,
                                                  const CriticalOptions& options = {});

}  // namespace spinlat
