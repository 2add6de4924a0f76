// The Morse pair loop's 4-lane AVX2 instance (lattice/morse_lanes.hpp). CMake compiles this
// file alone with -mavx2 (no -mfma: the lanes must round as the SSE2 and scalar paths do), and
// the program calls it only when the CPU has AVX2, so the default build still runs on any
// x86-64. Keep the includes free of Eigen and of standard-library templates: an inline
// function instantiated here with AVX2 instructions could be the copy the linker keeps for
// the whole program.
#include <cstdlib>

#include "spinlat/lattice/morse_lanes.hpp"

#if (defined(__GNUC__) || defined(__clang__)) && defined(__x86_64__) && defined(__AVX2__)
#include <immintrin.h>
#define SPINLAT_MORSE_AVX2 1
#else
#define SPINLAT_MORSE_AVX2 0
#endif

namespace spinlat {

#if SPINLAT_MORSE_AVX2
namespace {
struct Avx2Lanes {
  using reg = __m256d;
  static constexpr int width = 4;
  static reg set1(double v) { return _mm256_set1_pd(v); }
  static reg load(const double* p) { return _mm256_loadu_pd(p); }
  static void store(double* p, reg a) { _mm256_storeu_pd(p, a); }
  static reg add(reg a, reg b) { return _mm256_add_pd(a, b); }
  static reg sub(reg a, reg b) { return _mm256_sub_pd(a, b); }
  static reg mul(reg a, reg b) { return _mm256_mul_pd(a, b); }
  static reg div(reg a, reg b) { return _mm256_div_pd(a, b); }
  static reg sqrt(reg a) { return _mm256_sqrt_pd(a); }
  static reg min(reg a, reg b) { return _mm256_min_pd(a, b); }
  static reg max(reg a, reg b) { return _mm256_max_pd(a, b); }
  static reg pow2(reg kr, reg magic) {
    const __m256i k = _mm256_sub_epi64(_mm256_castpd_si256(kr), _mm256_castpd_si256(magic));
    return _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(k, _mm256_set1_epi64x(1023)), 52));
  }
};
}  // namespace

bool morse_avx2_supported() {
  static const bool yes = [] {
    __builtin_cpu_init();
    const char* portable = std::getenv("SPINLAT_PORTABLE_KERNELS");
    return __builtin_cpu_supports("avx2") && !(portable && *portable && *portable != '0');
  }();
  return yes;
}

int morse_lanes_avx2(const MorseConstants& m, const double* r2, int n, double* phi, double* q) {
  return morse_lanes<Avx2Lanes>(m, r2, n, phi, q);
}
#else
bool morse_avx2_supported() { return false; }
int morse_lanes_avx2(const MorseConstants&, const double*, int, double*, double*) { return 0; }
#endif

}  // namespace spinlat
