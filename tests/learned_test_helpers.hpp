#pragma once
// Shared set-up of the learned-potential tests (TorchScript and native): a jiggled bcc Fe/Co
// cell with random moments, and the displaced copies that finite differences need.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/rng.hpp"
#include "spinlat/core/system.hpp"

namespace spinlat::test {

/// A path `name` in the folder `folder` below gtest's temporary directory (created).
inline std::string temp_file(const std::string& folder, const std::string& name) {
  const auto dir = std::filesystem::path(testing::TempDir()) / folder;
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

/// Positions jiggled by up to `amount` Å and moment sizes scaled by ±10 %, from `rng`, so that
/// no symmetry hides an error.
inline void jiggle_positions_and_moments(System& s, Engine& rng, double amount) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    for (int c = 0; c < 3; ++c) s.position[i][c] += amount * (2 * uniform01(rng) - 1);
    s.moment[i] *= 1.0 + 0.2 * (uniform01(rng) - 0.5);
  }
}

/// bcc cells of Fe and Co (2.2 and 1.7 μB), random directions, jiggled (above).
inline System feco(const Int3& cells, std::uint64_t seed, double a = 2.8665, double jiggle = 0.08) {
  System s = build_supercell(standard_lattice("bcc", a, 0.0, {"Fe", "Co"}, {2.2, 1.7}), cells);
  set_spins_random(s, seed);
  Engine rng(seed + 17);
  jiggle_positions_and_moments(s, rng, jiggle);
  return s;
}

/// Largest |component| of a list of vectors, and of the difference of two lists.
inline double max_abs(const std::vector<Vec3>& v) {
  double m = 0.0;
  for (const Vec3& x : v) m = std::max(m, x.cwiseAbs().maxCoeff());
  return m;
}
inline double max_diff(const std::vector<Vec3>& a, const std::vector<Vec3>& b) {
  double m = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, (a[i] - b[i]).cwiseAbs().maxCoeff());
  return m;
}

/// A copy with component `axis` of moment vector i moved by h (μB): direction and size change.
inline System moment_shifted(const System& s, int i, int axis, double h) {
  System x = s;
  Vec3 mv = s.moment_vector(i);
  mv[axis] += h;
  x.moment[i] = mv.norm();
  x.spin[i] = mv / mv.norm();
  return x;
}

/// A copy under the homogeneous strain r → (1 + ε e_a e_bᵀ) r of positions and lattice vectors
/// (the virial is W = −(∂E/∂ε)ᵀ).
inline System strained(const System& s, int a, int b, double eps) {
  Mat3 F = Mat3::Identity();
  F(a, b) += eps;
  System x = s;
  for (auto& r : x.position) r = F * r;
  x.cell.h = s.cell.h * F.transpose();
  return x;
}

}  // namespace spinlat::test
