#include "spinlat/observables/spectra_fft.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "spinlat/core/error.hpp"
#include "spinlat/core/units.hpp"

namespace spinlat {

std::size_t next_pow2(std::size_t n) {
  std::size_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

void fft(std::vector<Complex>& a, bool inverse) {
  const std::size_t n = a.size();
  if (n == 0 || (n & (n - 1)) != 0) throw std::invalid_argument("fft: length must be a power of two");
  // Bit-reversal permutation, then log2(n) butterfly passes (Cooley-Tukey, decimation in time).
  for (std::size_t i = 1, j = 0; i < n; ++i) {
    std::size_t bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) std::swap(a[i], a[j]);
  }
  const double sign = inverse ? 1.0 : -1.0;
  for (std::size_t len = 2; len <= n; len <<= 1) {
    const std::size_t half = len / 2;
    // Twiddles from cos/sin directly (not by repeated multiplication): error stays ~1e-16·log n.
    std::vector<Complex> w(half);
    for (std::size_t k = 0; k < half; ++k) {
      const double ang = sign * 2.0 * units::kPi * static_cast<double>(k) / static_cast<double>(len);
      w[k] = Complex(std::cos(ang), std::sin(ang));
    }
    for (std::size_t i = 0; i < n; i += len)
      for (std::size_t k = 0; k < half; ++k) {
        const Complex u = a[i + k], v = a[i + k + half] * w[k];
        a[i + k] = u + v;
        a[i + k + half] = u - v;
      }
  }
}

Window parse_window(const std::string& name) {
  if (name == "hann" || name == "hanning") return Window::hann;
  if (name == "rectangular" || name == "none" || name == "boxcar") return Window::rectangular;
  throw InputError("unknown window '" + name + "'; expected hann or rectangular");
}

std::string to_string(Window w) { return w == Window::hann ? "hann" : "rectangular"; }

std::vector<double> window_weights(Window w, std::size_t L) {
  std::vector<double> v(L, 1.0);
  if (w == Window::hann)
    for (std::size_t t = 0; t < L; ++t)
      v[t] = 0.5 * (1.0 - std::cos(2.0 * units::kPi * static_cast<double>(t) / static_cast<double>(L)));
  return v;
}

std::vector<double> PowerSpectrum::folded() const {
  std::vector<double> f(positive.size());
  for (std::size_t k = 0; k < f.size(); ++k)
    f[k] = (k == 0 || 2 * k == nfft) ? positive[k] : positive[k] + negative[k];
  return f;
}

std::size_t welch_segment_length(std::size_t n, int segments) {
  if (segments < 1) throw std::invalid_argument("welch: segments must be >= 1");
  if (segments == 1) return n;
  return (2 * n) / static_cast<std::size_t>(segments + 1);
}

PowerSpectrum welch(const Complex* x, std::size_t n, std::size_t stride, double dt, Window w,
                    int segments) {
  const std::size_t L = welch_segment_length(n, segments);
  if (L < 2) throw std::invalid_argument("welch: fewer than 2 samples per segment");
  const std::size_t hop = std::max<std::size_t>(1, L / 2);
  const std::size_t nfft = next_pow2(L);
  const std::vector<double> win = window_weights(w, L);
  double w2 = 0.0;
  for (double v : win) w2 += v * v;

  PowerSpectrum p;
  p.dt = dt;
  p.segment_length = L;
  p.segments = static_cast<std::size_t>(segments);
  p.nfft = nfft;
  p.positive.assign(nfft / 2 + 1, 0.0);
  p.negative.assign(nfft / 2 + 1, 0.0);
  p.frequency.resize(nfft / 2 + 1);
  for (std::size_t k = 0; k <= nfft / 2; ++k)
    p.frequency[k] = static_cast<double>(k) / (static_cast<double>(nfft) * dt);

  std::vector<Complex> buf(nfft);
  const double norm = dt / (w2 * static_cast<double>(segments));
  for (int seg = 0; seg < segments; ++seg) {
    const std::size_t start = static_cast<std::size_t>(seg) * hop;
    std::fill(buf.begin(), buf.end(), Complex(0.0, 0.0));
    for (std::size_t t = 0; t < L; ++t) buf[t] = win[t] * x[(start + t) * stride];
    fft(buf);  // e^{−2πi kt/N}: bin k holds X(−f_k) in our e^{+2πi f t} convention
    for (std::size_t k = 0; k <= nfft / 2; ++k) {
      p.negative[k] += norm * std::norm(buf[k]);
      p.positive[k] += norm * std::norm(buf[(nfft - k) % nfft]);
    }
  }
  return p;
}

double peak_frequency(const std::vector<double>& f, const std::vector<double>& y, double fmin) {
  std::size_t best = f.size();
  for (std::size_t k = 0; k < f.size(); ++k)
    if (f[k] >= fmin && (best == f.size() || y[k] > y[best])) best = k;
  if (best == f.size()) return std::nan("");
  if (best == 0 || best + 1 >= f.size()) return f[best];
  double a = y[best - 1], b = y[best], c = y[best + 1];
  if (a > 0 && b > 0 && c > 0) { a = std::log(a); b = std::log(b); c = std::log(c); }
  const double den = a - 2.0 * b + c;
  const double shift = den < 0 ? 0.5 * (a - c) / den : 0.0;  // vertex of the parabola, in bins
  return f[best] + std::clamp(shift, -0.5, 0.5) * (f[best + 1] - f[best]);
}

}  // namespace spinlat
