#pragma once
// The Morse pair function for many pairs at once (PairFunction::evaluate's inner step), for any
// lane type of core/exp_sse2.hpp: SSE2 here, AVX2 in lattice/pair_avx2.cpp. Every lane runs the
// IEEE operations of PairFunction::raw and operator() on one pair, so the bits are those of the
// one-pair formula whatever the width (PairFunction.ManyAtOnceEqualsOneByOne).
// Like exp_sse2.hpp, no Eigen here: the AVX2 file includes it.
#include "spinlat/core/exp_sse2.hpp"

namespace spinlat {

struct MorseConstants {
  double alpha, r0, D0, offset;  ///< 1/Å, Å, eV, φ(r_c) when shifted (eV)
};

/// φ − offset and q = φ'/r of the pairs [0, k) of r2 (Å²), V::width at a time; returns k, the
/// largest multiple of the width up to n (the rest is the caller's).
template <class V>
int morse_lanes(const MorseConstants& m, const double* r2, int n, double* phi, double* q) {
  using R = typename V::reg;
  const R a = V::set1(m.alpha), rr0 = V::set1(m.r0), d0 = V::set1(m.D0), two = V::set1(2.0);
  const R shift_by = V::set1(m.offset), two_alpha_d0 = V::set1(2.0 * m.alpha * m.D0), zero = V::set1(0.0);
  int k = 0;
  for (; k + V::width <= n; k += V::width) {
    const R r = V::sqrt(V::load(r2 + k));
    const R x = exp_lanes<V>(V::sub(zero, V::mul(a, V::sub(r, rr0))));  // morse_exponent
    const R xx = V::mul(x, x);
    const R dphi = V::mul(two_alpha_d0, V::sub(x, xx));
    V::store(phi + k, V::sub(V::mul(d0, V::sub(xx, V::mul(two, x))), shift_by));
    V::store(q + k, V::div(dphi, r));
  }
  return k;
}

/// True when the CPU runs AVX2 (checked once) and SPINLAT_PORTABLE_KERNELS is not set.
bool morse_avx2_supported();
/// morse_lanes with 4 AVX2 lanes (lattice/pair_avx2.cpp); only when morse_avx2_supported().
int morse_lanes_avx2(const MorseConstants& m, const double* r2, int n, double* phi, double* q);

}  // namespace spinlat
