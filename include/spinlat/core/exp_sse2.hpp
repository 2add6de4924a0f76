#pragma once
// e^t for two doubles at once in SSE2 (the x86-64 baseline), for pair loops that call exp once
// per pair (Morse). glibc's exp is a function call per value: in the Morse pair loop it took
// ~6 ns a pair, more than the rest of the pair's work (docs/performance.md, "Sixth round").
//
// Cody-Waite reduction t = k ln2 + f, |f| ≤ ln2/2, with fdlibm's split of ln2 (ln2_hi has 21
// trailing zero bits, so k·ln2_hi is exact for |k| < 2^21), then e^f by its Taylor series to
// degree 13 (truncation below 4e-18 relative), scaled by 2^k built in the
// exponent bits. Accuracy: within 2 ulp of the exact value over [−708, 709]
// (ExpSse2.WithinTwoUlpOfLibm checks it against std::exp); not bit-identical to glibc's exp, but
// one fixed sequence of IEEE operations, so the same bits on every run, thread count and
// x86-64 machine. t is clamped to [−708, 709] (e^−708 ≈ 3e−308 stands for underflow, e^709 is
// the largest power below overflow); a NaN stays NaN.
#include <cmath>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace spinlat {

#if defined(__SSE2__)
inline __m128d exp_sse2(__m128d t) {
  const __m128d log2e = _mm_set1_pd(1.4426950408889634074);
  const __m128d ln2_hi = _mm_set1_pd(6.93147180369123816490e-01);
  const __m128d ln2_lo = _mm_set1_pd(1.90821492927058770002e-10);
  // 1.5·2^52: adding it rounds to the nearest integer, which then sits in the low mantissa bits.
  const __m128d round_magic = _mm_set1_pd(6755399441055744.0);
  // max/min with t second: a NaN t passes through (SSE returns the second operand then).
  t = _mm_min_pd(_mm_set1_pd(709.0), _mm_max_pd(_mm_set1_pd(-708.0), t));
  const __m128d kr = _mm_add_pd(_mm_mul_pd(t, log2e), round_magic);
  const __m128d k = _mm_sub_pd(kr, round_magic);
  const __m128d f = _mm_sub_pd(_mm_sub_pd(t, _mm_mul_pd(k, ln2_hi)), _mm_mul_pd(k, ln2_lo));
  // e^f = 1 + (f + f² P(f)), P = Σ_{n=2}^{13} f^{n−2}/n! in Estrin's form: pairs
  // c_n + c_{n+1} f, combined with f², f⁴, f⁸. Its dependency chain is 4 multiply-adds deep
  // instead of Horner's 12, so a pair loop keeps several exponentials in flight (Horner: 8 ns
  // a pair, bound by that chain); 1 + f is added last, so its rounding costs half an ulp once.
  const auto c = [](double v) { return _mm_set1_pd(v); };
  const auto madd = [](__m128d a, __m128d b, __m128d x) { return _mm_add_pd(a, _mm_mul_pd(b, x)); };
  const __m128d f2 = _mm_mul_pd(f, f), f4 = _mm_mul_pd(f2, f2), f8 = _mm_mul_pd(f4, f4);
  const __m128d a0 = madd(c(1.0 / 2.0), c(1.0 / 6.0), f), a1 = madd(c(1.0 / 24.0), c(1.0 / 120.0), f);
  const __m128d a2 = madd(c(1.0 / 720.0), c(1.0 / 5040.0), f), a3 = madd(c(1.0 / 40320.0), c(1.0 / 362880.0), f);
  const __m128d a4 = madd(c(1.0 / 3628800.0), c(1.0 / 39916800.0), f);
  const __m128d a5 = madd(c(1.0 / 479001600.0), c(1.0 / 6227020800.0), f);
  const __m128d b0 = madd(a0, a1, f2), b1 = madd(a2, a3, f2), b2 = madd(a4, a5, f2);
  const __m128d P = madd(madd(b0, b1, f4), b2, f8);
  const __m128d p = _mm_add_pd(c(1.0), madd(f, f2, P));
  // 2^k: (k + 1023) in the exponent field; k is the low 64-bit integer of kr − magic.
  const __m128i ki = _mm_sub_epi64(_mm_castpd_si128(kr), _mm_castpd_si128(round_magic));
  const __m128i bits = _mm_slli_epi64(_mm_add_epi64(ki, _mm_set1_epi64x(1023)), 52);
  return _mm_mul_pd(p, _mm_castsi128_pd(bits));
}

/// One value through the same two-lane sequence (the same bits as a lane of exp_sse2).
inline double exp_sse2(double t) { return _mm_cvtsd_f64(exp_sse2(_mm_set1_pd(t))); }
#else
inline double exp_sse2(double t) { return std::exp(t); }
#endif

}  // namespace spinlat
