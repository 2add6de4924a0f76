#pragma once
// Binned means and jackknifed Binder cumulants of Monte Carlo time series, for the tests that
// compare two samplers of one distribution (bins ≫ τ_int, so bin means are independent).
#include <cmath>
#include <numeric>
#include <vector>

namespace sampling_test {

struct Estimate {
  double mean = 0, err = 0;
};

inline std::vector<double> bin_means(const std::vector<double>& x, int bins) {
  const std::size_t len = x.size() / bins;
  std::vector<double> b(bins, 0.0);
  for (int k = 0; k < bins; ++k) {
    for (std::size_t t = 0; t < len; ++t) b[k] += x[k * len + t];
    b[k] /= static_cast<double>(len);
  }
  return b;
}

/// Mean and standard error from `bins` bin means.
inline Estimate binned(const std::vector<double>& x, int bins = 50) {
  const std::vector<double> b = bin_means(x, bins);
  Estimate e;
  e.mean = std::accumulate(b.begin(), b.end(), 0.0) / bins;
  double v = 0;
  for (double y : b) v += (y - e.mean) * (y - e.mean);
  e.err = std::sqrt(v / (bins - 1) / bins);
  return e;
}

/// U4 = 1 − ⟨m⁴⟩/(3⟨m²⟩²), jackknife over `bins` bins.
inline Estimate binder(const std::vector<double>& m, int bins = 50) {
  std::vector<double> m2(m.size()), m4(m.size());
  for (std::size_t k = 0; k < m.size(); ++k) {
    m2[k] = m[k] * m[k];
    m4[k] = m2[k] * m2[k];
  }
  const std::vector<double> b2 = bin_means(m2, bins), b4 = bin_means(m4, bins);
  const double s2 = std::accumulate(b2.begin(), b2.end(), 0.0), s4 = std::accumulate(b4.begin(), b4.end(), 0.0);
  auto u4 = [](double a2, double a4) { return 1.0 - a4 / (3.0 * a2 * a2); };
  Estimate e;
  e.mean = u4(s2 / bins, s4 / bins);
  std::vector<double> jk(bins);
  double mean_jk = 0;
  for (int k = 0; k < bins; ++k) {
    jk[k] = u4((s2 - b2[k]) / (bins - 1), (s4 - b4[k]) / (bins - 1));
    mean_jk += jk[k] / bins;
  }
  double v = 0;
  for (double y : jk) v += (y - mean_jk) * (y - mean_jk);
  e.err = std::sqrt(v * (bins - 1) / bins);
  return e;
}

}  // namespace sampling_test
