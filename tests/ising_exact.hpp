#pragma once
// The 2D Ising model on L×L periodic lattices, exactly: joint density of states g(E, |M|) by
// enumeration (L ≤ 4: 2^16 states), exact Boltzmann averages, and exact independent samples.
// Units: J = 0.01 eV, E = −J Σ_<ij> s_i s_j, k_B T = t J; order parameter φ = |M|/N.
// Used by tests/test_reweighting.cpp and tests/physics/test_reweighting_coverage.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "spinlat/core/rng.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/observables/reweighting.hpp"

namespace ising_exact {

using namespace spinlat;

constexpr double kJ = 0.01;  // eV

inline double kelvin(double t) { return t * kJ / units::k_B; }

// g(bond sum, |M|) of the L×L periodic Ising model.
struct Dos {
  int L = 0, N = 0;
  std::vector<int> bonds, absm;  // one entry per (bond sum, |M|) class
  std::vector<double> count;
};

inline Dos enumerate(int L) {
  Dos d;
  d.L = L;
  d.N = L * L;
  std::map<std::pair<int, int>, double> g;
  for (unsigned long c = 0; c < (1ul << d.N); ++c) {
    const auto s = [&](int x, int y) { return ((c >> (((y + L) % L) * L + (x + L) % L)) & 1ul) ? 1 : -1; };
    int b = 0, m = 0;
    for (int y = 0; y < L; ++y)
      for (int x = 0; x < L; ++x) {
        b += s(x, y) * (s(x + 1, y) + s(x, y + 1));
        m += s(x, y);
      }
    g[{b, std::abs(m)}] += 1.0;
  }
  for (const auto& [k, n] : g) {
    d.bonds.push_back(k.first);
    d.absm.push_back(k.second);
    d.count.push_back(n);
  }
  return d;
}

// Boltzmann probabilities of the classes at k_B T = t J.
inline std::vector<double> probabilities(const Dos& d, double t) {
  std::vector<double> p(d.count.size());
  double z = 0.0, bmax = -1e300;
  for (int b : d.bonds) bmax = std::max(bmax, double(b));
  for (std::size_t i = 0; i < p.size(); ++i) z += (p[i] = d.count[i] * std::exp((d.bonds[i] - bmax) / t));
  for (double& x : p) x /= z;
  return p;
}

struct Exact { double e, m2, u4, chi; };

inline Exact exact(const Dos& d, double t) {
  const auto p = probabilities(d, t);
  double e = 0, m = 0, m2 = 0, m4 = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const double E = -kJ * d.bonds[i], phi = double(d.absm[i]) / d.N;
    e += p[i] * E; m += p[i] * phi; m2 += p[i] * phi * phi; m4 += p[i] * phi * phi * phi * phi;
  }
  return {e / d.N, m2, 1.0 - m4 / (3.0 * m2 * m2), d.N * (m2 - m * m) / (t * kJ)};
}

// n independent exact samples at k_B T = t J (inverse CDF over the classes).
inline PointSamples draw(const Dos& d, double t, int n, Engine& eng) {
  const auto p = probabilities(d, t);
  std::vector<double> cdf(p.size());
  double acc = 0.0;
  for (std::size_t i = 0; i < p.size(); ++i) cdf[i] = (acc += p[i]);
  PointSamples s;
  s.temperature = kelvin(t);
  for (int k = 0; k < n; ++k) {
    const double u = uniform01(eng) * acc;
    const std::size_t i = static_cast<std::size_t>(std::lower_bound(cdf.begin(), cdf.end(), u) - cdf.begin());
    const std::size_t j = std::min(i, p.size() - 1);
    s.energy.push_back(-kJ * d.bonds[j] / d.N);
    s.order.push_back(double(d.absm[j]) / d.N);
  }
  return s;
}

inline SizeSamples sweep(const Dos& d, const std::vector<double>& ts, int n, Engine& eng) {
  SizeSamples s;
  s.size = d.L;
  s.atoms = d.N;
  for (double t : ts) s.points.push_back(draw(d, t, n, eng));
  return s;
}

// Exact crossing of U4(L=3) and U4(L=4) by bisection (d = U4(4) − U4(3) goes + → −).
inline double exact_crossing(const Dos& small, const Dos& big, double lo, double hi) {
  const auto d = [&](double t) { return exact(big, t).u4 - exact(small, t).u4; };
  EXPECT_GT(d(lo), 0.0);
  EXPECT_LT(d(hi), 0.0);
  for (int i = 0; i < 100; ++i) {
    const double m = 0.5 * (lo + hi);
    (d(m) > 0.0 ? lo : hi) = m;
  }
  return 0.5 * (lo + hi);
}

inline const Dos& dos(int L) {
  static const Dos d3 = enumerate(3), d4 = enumerate(4);
  return L == 3 ? d3 : d4;
}

}  // namespace ising_exact
