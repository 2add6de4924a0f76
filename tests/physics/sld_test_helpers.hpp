#pragma once
// Shared helpers of the spin-lattice dynamics physics tests (test_sld_iron, test_sld_thermal).
#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <filesystem>
#include <vector>

#include "spinlat/core/units.hpp"
#include "spinlat/bench/md.hpp"

namespace spinlat::sld_test {

#define SKIP_WITHOUT_FE()                                                                          \
  if (!std::filesystem::exists(kMishinFeEamPath))                                                  \
  GTEST_SKIP() << "Mishin Fe EAM file " << kMishinFeEamPath << " not installed (Debian package lammps-examples)"

/// Single-threaded: these tests measure physics, and small systems gain nothing from threads.
struct OneThread {
  int saved = omp_get_max_threads();
  OneThread() { omp_set_num_threads(1); }
  ~OneThread() { omp_set_num_threads(saved); }
};

struct Stat {
  double mean = 0.0, err = 0.0;
};

/// Mean and standard error from `blocks` consecutive block means.
inline Stat block_stat(const std::vector<double>& x, int blocks = 20) {
  const std::size_t per = x.size() / blocks;
  std::vector<double> m(blocks, 0.0);
  for (int b = 0; b < blocks; ++b) {
    for (std::size_t k = 0; k < per; ++k) m[b] += x[b * per + k];
    m[b] /= per;
  }
  Stat s;
  for (double v : m) s.mean += v / blocks;
  double var = 0.0;
  for (double v : m) var += (v - s.mean) * (v - s.mean);
  s.err = std::sqrt(var / (blocks - 1) / blocks);
  return s;
}

/// Ratio estimator Σnum/Σden (a spin temperature) with the spread of block ratios as error.
inline Stat block_ratio(const std::vector<double>& num, const std::vector<double>& den, int blocks = 20) {
  const std::size_t per = num.size() / blocks;
  std::vector<double> r(blocks, 0.0);
  double N = 0.0, D = 0.0;
  for (int b = 0; b < blocks; ++b) {
    double n = 0.0, d = 0.0;
    for (std::size_t k = 0; k < per; ++k) {
      n += num[b * per + k];
      d += den[b * per + k];
    }
    r[b] = n / d / spinlat::units::k_B;
    N += n;
    D += d;
  }
  Stat s;
  s.mean = N / D / spinlat::units::k_B;
  double var = 0.0;
  for (double v : r) var += (v - s.mean) * (v - s.mean);
  s.err = std::sqrt(var / (blocks - 1) / blocks);
  return s;
}


}  // namespace spinlat::sld_test
