#pragma once
// e^t for several doubles at once, for pair loops that call exp once per pair (Morse). glibc's
// exp is a function call per value: in the Morse pair loop it took ~6 ns a pair, more than the
// rest of the pair's work (docs/performance.md, "Sixth round").
//
// One algorithm, exp_lanes<V>, for any lane type V: SSE2 (2 lanes, the x86-64 baseline: here)
// and AVX2 (4 lanes: lattice/pair_avx2.cpp, compiled for AVX2 alone and chosen at run time).
// Every lane runs the same IEEE operations, never an FMA, so a value gets the same bits in
// either width and on every run, thread count and x86-64 machine.
//
// Cody-Waite reduction t = k ln2 + f, |f| ≤ ln2/2, with fdlibm's split of ln2 (ln2_hi has 21
// trailing zero bits, so k·ln2_hi is exact for |k| < 2^21), then e^f by its Taylor series to
// degree 13 (truncation below 4e-18 relative), scaled by 2^k built in the
// exponent bits. Accuracy: within 2 ulp of the exact value over [−708, 709]
// (ExpSse2.WithinTwoUlpOfLibm checks it against std::exp); not bit-identical to glibc's exp.
// t is clamped to [−708, 709] (e^−708 ≈ 3e−308 stands for underflow, e^709 is
// the largest power below overflow); a NaN stays NaN.
//
// This header includes no Eigen and no standard-library templates that the AVX2 file could
// instantiate differently from the rest of the program.
#include <cmath>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace spinlat {

/// e^t lane by lane. V: `reg`, set1, add, sub, mul, min, max (SSE semantics: the second operand
/// when either is NaN), and pow2(kr, magic) = 2^k for kr = k + magic as doubles.
template <class V>
inline typename V::reg exp_lanes(typename V::reg t) {
  using R = typename V::reg;
  const R log2e = V::set1(1.4426950408889634074);
  const R ln2_hi = V::set1(6.93147180369123816490e-01);
  const R ln2_lo = V::set1(1.90821492927058770002e-10);
  // 1.5·2^52: adding it rounds to the nearest integer, which then sits in the low mantissa bits.
  const R round_magic = V::set1(6755399441055744.0);
  // max/min with t second: a NaN t passes through.
  t = V::min(V::set1(709.0), V::max(V::set1(-708.0), t));
  const R kr = V::add(V::mul(t, log2e), round_magic);
  const R k = V::sub(kr, round_magic);
  const R f = V::sub(V::sub(t, V::mul(k, ln2_hi)), V::mul(k, ln2_lo));
  // e^f = 1 + (f + f² P(f)), P = Σ_{n=2}^{13} f^{n−2}/n! in Estrin's form: pairs
  // c_n + c_{n+1} f, combined with f², f⁴, f⁸. Its dependency chain is 4 multiply-adds deep
  // instead of Horner's 12, so a pair loop keeps several exponentials in flight (Horner: 8 ns
  // a pair, bound by that chain); 1 + f is added last, so its rounding costs half an ulp once.
  const auto c = [](double v) { return V::set1(v); };
  const auto madd = [](R a, R b, R x) { return V::add(a, V::mul(b, x)); };
  const R f2 = V::mul(f, f), f4 = V::mul(f2, f2), f8 = V::mul(f4, f4);
  const R a0 = madd(c(1.0 / 2.0), c(1.0 / 6.0), f), a1 = madd(c(1.0 / 24.0), c(1.0 / 120.0), f);
  const R a2 = madd(c(1.0 / 720.0), c(1.0 / 5040.0), f), a3 = madd(c(1.0 / 40320.0), c(1.0 / 362880.0), f);
  const R a4 = madd(c(1.0 / 3628800.0), c(1.0 / 39916800.0), f);
  const R a5 = madd(c(1.0 / 479001600.0), c(1.0 / 6227020800.0), f);
  const R b0 = madd(a0, a1, f2), b1 = madd(a2, a3, f2), b2 = madd(a4, a5, f2);
  const R P = madd(madd(b0, b1, f4), b2, f8);
  const R p = V::add(c(1.0), madd(f, f2, P));
  return V::mul(p, V::pow2(kr, round_magic));
}

#if defined(__SSE2__)
struct Sse2Lanes {
  using reg = __m128d;
  static constexpr int width = 2;
  static reg set1(double v) { return _mm_set1_pd(v); }
  static reg load(const double* p) { return _mm_loadu_pd(p); }
  static void store(double* p, reg a) { _mm_storeu_pd(p, a); }
  static reg add(reg a, reg b) { return _mm_add_pd(a, b); }
  static reg sub(reg a, reg b) { return _mm_sub_pd(a, b); }
  static reg mul(reg a, reg b) { return _mm_mul_pd(a, b); }
  static reg div(reg a, reg b) { return _mm_div_pd(a, b); }
  static reg sqrt(reg a) { return _mm_sqrt_pd(a); }
  static reg min(reg a, reg b) { return _mm_min_pd(a, b); }
  static reg max(reg a, reg b) { return _mm_max_pd(a, b); }
  // 2^k: (k + 1023) in the exponent field; k is the low 64-bit integer of kr − magic.
  static reg pow2(reg kr, reg magic) {
    const __m128i k = _mm_sub_epi64(_mm_castpd_si128(kr), _mm_castpd_si128(magic));
    return _mm_castsi128_pd(_mm_slli_epi64(_mm_add_epi64(k, _mm_set1_epi64x(1023)), 52));
  }
};

inline __m128d exp_sse2(__m128d t) { return exp_lanes<Sse2Lanes>(t); }
/// One value through the same lane sequence (the same bits as a lane of exp_sse2).
inline double exp_sse2(double t) { return _mm_cvtsd_f64(exp_sse2(_mm_set1_pd(t))); }
#else
inline double exp_sse2(double t) { return std::exp(t); }
#endif

}  // namespace spinlat
