#pragma once
// Gaussian deviates for the LLG thermal field: three per spin and step, a third of the cost
// of a Heun step with boost::random::normal_distribution, so they get their own generator.
//
// Ziggurat method (Marsaglia & Tsang, J. Stat. Softw. 5(8), 2000) on Boost.Random's
// 128-layer tables for exp(−x²/2). Three deviates take two 64-bit engine words on the fast
// path (~99% of draws): 42 bits each, 7 for the layer, 1 for the sign and 34 for the
// abscissa (resolution 2⁻³⁴ of a layer's width). A rejected draw is replaced by a fresh
// full-precision deviate (boost::random::normal_distribution), which leaves the output
// exactly normal: a rejection sampler's accepted values already follow the target law.
// Stateless: the engine alone carries the state, so checkpoints hold only engines.
#include <boost/random/normal_distribution.hpp>
#include <cmath>
#include <cstdint>
#include <vector>

#include "spinlat/core/rng.hpp"
#include "spinlat/core/types.hpp"

namespace spinlat {
namespace noise_detail {

/// The rare part of a draw from layer i whose abscissa x fell outside the layer's
/// rectangle: the tail beyond r (i = 0) or the wedge test. Returns |deviate|.
inline double ziggurat_slow(int i, double x, Engine& eng) {
  const double* X = boost::random::detail::normal_table<double>::table_x;
  const double* Y = boost::random::detail::normal_table<double>::table_y;
  if (i == 0) {
    // Tail x > r: Marsaglia's exponential rejection in log form.
    const double r = X[1];
    for (;;) {
      const double a = -std::log1p(-uniform01(eng)) / r;
      const double b = -std::log1p(-uniform01(eng));
      if (2.0 * b > a * a) return r + a;
    }
  }
  const double y = Y[i] + uniform01(eng) * (Y[i + 1] - Y[i]);
  if (y < std::exp(-0.5 * x * x)) return x;
  return std::abs(boost::random::normal_distribution<double>()(eng));
}

/// One 42-bit draw (layer: bits 0-6, sign: bit 7, abscissa: bits 8-41): layer i, sign ±1
/// (branch-free) and the abscissa x in layer i's strip; accepted as sign·x when inside().
struct ZigguratDraw {
  int i;
  double sign, x;
  bool inside() const { return x < boost::random::detail::normal_table<double>::table_x[i + 1]; }
};

inline ZigguratDraw ziggurat_draw(std::uint64_t bits) {
  const double* X = boost::random::detail::normal_table<double>::table_x;
  const int i = static_cast<int>(bits & 127u);
  return {i, static_cast<double>(static_cast<int>((bits >> 6) & 2u) - 1),
          static_cast<double>(static_cast<std::int64_t>((bits >> 8) & 0x3FFFFFFFFull)) * 0x1.0p-34 * X[i]};
}

/// One deviate from 42 random bits.
inline double normal_from_bits(std::uint64_t bits, Engine& eng) {
  const ZigguratDraw d = ziggurat_draw(bits);
  if (d.inside()) return d.sign * d.x;
  return d.sign * ziggurat_slow(d.i, d.x, eng);
}

constexpr std::uint64_t kMask42 = (std::uint64_t(1) << 42) - 1;

/// The three 42-bit fields of two engine words.
struct Bits3 {
  std::uint64_t b[3];
};
inline Bits3 split_words(std::uint64_t w1, std::uint64_t w2) {
  return {{w1 & kMask42, (w1 >> 42) | ((w2 & ((std::uint64_t(1) << 20) - 1)) << 22), w2 >> 22}};
}

}  // namespace noise_detail

/// Three independent standard normal deviates.
inline Vec3 gaussian3(Engine& eng) {
  const std::uint64_t w1 = eng(), w2 = eng();
  const noise_detail::Bits3 f = noise_detail::split_words(w1, w2);
  const double x = noise_detail::normal_from_bits(f.b[0], eng);
  const double y = noise_detail::normal_from_bits(f.b[1], eng);
  const double z = noise_detail::normal_from_bits(f.b[2], eng);
  return Vec3(x, y, z);
}

/// Standard normal triples for the n sites of a noise block: at(k) (a Vec3&) receives site
/// k's. The same 42-bit ziggurat draws as gaussian3, but a draw that leaves its layer's
/// rectangle (~1.2% of draws) is only recorded in `redo` and replaced after the whole block
/// from the same engine; the fast path then has no data-dependent branch (8.2 -> 7.1 ns per
/// site measured here). Still exactly normal: each replacement is a fresh full draw from the
/// slow path, independent of the rest. The order of engine words is fixed by the block alone.
template <class At>
inline void gaussian3_batch(Engine& eng, std::size_t n, At&& at, std::vector<std::uint64_t>& redo) {
  using noise_detail::kMask42;
  redo.resize(3 * n + 1);
  std::size_t nr = 0;
  for (std::size_t k = 0; k < n; ++k) {
    const std::uint64_t w1 = eng(), w2 = eng();
    const noise_detail::Bits3 f = noise_detail::split_words(w1, w2);
    Vec3& out = at(k);
    for (int j = 0; j < 3; ++j) {
      const noise_detail::ZigguratDraw d = noise_detail::ziggurat_draw(f.b[j]);
      out[j] = d.sign * d.x;
      // Branch-free record: (bits, 3k + j) packed; the slot is kept only when rejected.
      redo[nr] = f.b[j] | (static_cast<std::uint64_t>(3 * k + j) << 42);
      nr += !d.inside();
    }
  }
  for (std::size_t r = 0; r < nr; ++r) {
    const std::uint64_t slot = redo[r] >> 42;
    const noise_detail::ZigguratDraw d = noise_detail::ziggurat_draw(redo[r] & kMask42);
    at(slot / 3)[static_cast<int>(slot % 3)] = d.sign * noise_detail::ziggurat_slow(d.i, d.x, eng);
  }
}

/// One standard normal deviate (the longitudinal noise).
inline double gaussian(Engine& eng) { return boost::random::normal_distribution<double>()(eng); }

}  // namespace spinlat
