#pragma once
// Random directions and trial moves shared by the Monte Carlo samplers (header-only so that
// the inner loops inline them).
#include <cmath>
#include <cstdint>
#include <cstring>

#include <boost/random/normal_distribution.hpp>

#include "spinlat/core/rng.hpp"
#include "spinlat/core/types.hpp"

namespace spinlat::mc {

/// Uniform direction on the unit sphere (Marsaglia, Ann. Math. Stat. 43, 645 (1972)):
/// rejection from the unit disc, no trigonometric functions.
inline Vec3 random_direction(Engine& eng) {
  for (;;) {
    const double x = 2.0 * uniform01(eng) - 1.0;
    const double y = 2.0 * uniform01(eng) - 1.0;
    const double q = x * x + y * y;
    if (q < 1.0) {
      const double f = 2.0 * std::sqrt(1.0 - q);
      return Vec3(x * f, y * f, 1.0 - 2.0 * q);
    }
  }
}

/// Standard normal deviate by the ziggurat method (Marsaglia & Tsang, J. Stat. Softw. 5(8)
/// (2000)) on Boost.Random's 128-layer tables. The common case (~99%) costs one 64-bit draw:
/// its low 8 bits pick the layer and sign, its top 53 bits the abscissa (Boost's generic
/// int/float split costs several times more). Rare cases use the exact density test and
/// Boost's tail sampler. Stateless: the engine alone carries the state (checkpoints).
[[gnu::noinline]] inline double normal_slow(Engine& eng, std::uint64_t u) {
  using Table = boost::random::detail::normal_table<double>;
  const double* tx = Table::table_x;
  const double* ty = Table::table_y;
  for (;;) {
    const int layer = static_cast<int>((u >> 1) & 127);
    const double sign = (u & 1) ? 1.0 : -1.0;
    const double x = static_cast<double>(u >> 11) * 0x1.0p-53 * tx[layer];
    if (x < tx[layer + 1]) return sign * x;
    if (layer == 0)
      return sign * boost::random::detail::unit_normal_distribution<double>().generate_tail(eng);
    const double y = ty[layer] + uniform01(eng) * (ty[layer + 1] - ty[layer]);
    if (y < std::exp(-0.5 * x * x)) return sign * x;
    u = eng();
  }
}

inline double normal(Engine& eng) {
  const double* tx = boost::random::detail::normal_table<double>::table_x;
  const std::uint64_t u = eng();
  const int layer = static_cast<int>((u >> 1) & 127);
  const double x =
      static_cast<double>(static_cast<std::int64_t>(u >> 11)) * 0x1.0p-53 * tx[layer];
  if (__builtin_expect(x < tx[layer + 1], 1)) {
    // The sign from bit 0, applied without a branch (a coin flip mispredicts half the time).
    std::uint64_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    bits ^= (~u & 1) << 63;
    double y;
    std::memcpy(&y, &bits, sizeof y);
    return y;
  }
  return normal_slow(eng, u);  // wedge or tail: the same layer and bits, exact test
}

/// The Gaussian move ê' = (ê + σ g)/|ê + σ g| (Alzate-Cardona et al. 2019), the three normals
/// drawn in a fixed order.
inline Vec3 gaussian_step(const Vec3& e, double sigma, Engine& eng) {
  const double gx = normal(eng);
  const double gy = normal(eng);
  const double gz = normal(eng);
  const Vec3 v(e.x() + sigma * gx, e.y() + sigma * gy, e.z() + sigma * gz);
  const double n2 = v.squaredNorm();
  if (!(n2 > 0.0)) return e;  // probability zero; a null move keeps the chain valid
  return v / std::sqrt(n2);
}

/// Multiplicative update of a move width toward the target acceptance a: f = (1 − a)/(1 − R)
/// for a measured acceptance R over `trials` (for a = 0.5 the factor 0.5/(1 − R) of the
/// adaptive move of Alzate-Cardona et al. 2019), limited to [1/2, 2] per update so that one
/// noisy window cannot run away.
inline double adapt_factor(double a, std::uint64_t trials, std::uint64_t accepted) {
  const double R = static_cast<double>(accepted) / static_cast<double>(trials);
  return R >= 1.0 ? 2.0 : std::fmin(2.0, std::fmax(0.5, (1.0 - a) / (1.0 - R)));
}

}  // namespace spinlat::mc
