#include "spinlat/observables/statistics.hpp"

#include <algorithm>
#include <complex>
#include <cstdio>
#include <sstream>
#include <stdexcept>

#include "spinlat/core/error.hpp"
#include "spinlat/core/state_io.hpp"

namespace spinlat {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Levels with fewer blocks than this give errors too noisy (>18 %) to call converged.
constexpr long long kMinBlocks = 16;

// In-place iterative radix-2 FFT (Cooley-Tukey); `a.size()` must be a power of two.
void fft(std::vector<std::complex<double>>& a, bool inverse) {
  const std::size_t n = a.size();
  for (std::size_t i = 1, j = 0; i < n; ++i) {
    std::size_t bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) std::swap(a[i], a[j]);
  }
  const double pi = 3.14159265358979323846;
  for (std::size_t len = 2; len <= n; len <<= 1) {
    const double ang = 2.0 * pi / static_cast<double>(len) * (inverse ? 1.0 : -1.0);
    const std::complex<double> wl(std::cos(ang), std::sin(ang));
    for (std::size_t i = 0; i < n; i += len) {
      std::complex<double> w(1.0, 0.0);
      for (std::size_t k = 0; k < len / 2; ++k) {
        const std::complex<double> u = a[i + k], v = a[i + k + len / 2] * w;
        a[i + k] = u + v;
        a[i + k + len / 2] = u - v;
        w *= wl;
      }
    }
  }
  if (inverse)
    for (auto& x : a) x /= static_cast<double>(n);
}

// Autocovariance C(t) = (1/n) Σ_{i<n−t} (x_i − x̄)(x_{i+t} − x̄), t = 0..max_lag.
std::vector<double> autocovariance(const std::vector<double>& x, std::size_t max_lag) {
  const std::size_t n = x.size();
  max_lag = std::min(max_lag, n == 0 ? 0 : n - 1);
  std::vector<double> c(max_lag + 1, 0.0);
  if (n == 0) return c;
  double mean = 0.0;
  for (double v : x) mean += v;
  mean /= static_cast<double>(n);
  std::size_t m = 1;
  while (m < 2 * n) m <<= 1;  // zero padding to 2n avoids circular wrap-around
  std::vector<std::complex<double>> a(m, 0.0);
  for (std::size_t i = 0; i < n; ++i) a[i] = x[i] - mean;
  fft(a, false);
  for (auto& z : a) z = std::norm(z);
  fft(a, true);
  for (std::size_t t = 0; t <= max_lag; ++t) c[t] = a[t].real() / static_cast<double>(n);
  return c;
}

// The binning table of `bins` (each a mean over `width` samples). `eps1` is the naive error
// of the single samples, `n_samples` the number of samples the bins hold.
BinningAnalysis binning_of(std::vector<double> v, long long width, double eps1, long long n_samples) {
  BinningAnalysis out;
  long long b = width;
  while (v.size() >= 2) {
    const std::size_t n = v.size();
    double mean = 0.0;
    for (double x : v) mean += x;
    mean /= static_cast<double>(n);
    double ss = 0.0;
    for (double x : v) ss += (x - mean) * (x - mean);
    // Population variance of the block means over (n − 1): the error of the mean.
    const double err = std::sqrt(ss / static_cast<double>(n) / static_cast<double>(n - 1));
    out.block_size.push_back(b);
    out.blocks.push_back(static_cast<long long>(n));
    out.error.push_back(err);
    out.error_of_error.push_back(err / std::sqrt(2.0 * static_cast<double>(n - 1)));
    // Next level: average adjacent pairs (Flyvbjerg & Petersen); an odd last block is dropped.
    for (std::size_t k = 0; k < n / 2; ++k) v[k] = 0.5 * (v[2 * k] + v[2 * k + 1]);
    v.resize(n / 2);
    b *= 2;
  }
  if (out.error.empty()) return out;
  // Lee et al. criterion: smallest B with B³ > 2 N (ε_B/ε_1)⁴.
  const double N = static_cast<double>(n_samples);
  int first = -1;
  for (std::size_t k = 0; k < out.error.size(); ++k) {
    const double B = static_cast<double>(out.block_size[k]);
    const double r = eps1 > 0.0 ? out.error[k] / eps1 : 0.0;
    if (B * B * B > 2.0 * N * r * r * r * r) { first = static_cast<int>(k); break; }
  }
  if (first >= 0 && out.blocks[first] >= kMinBlocks) {
    out.chosen = first;
    out.converged = true;
    return out;
  }
  // Too short for its correlation time: report the largest error among levels that still have
  // enough blocks (a lower bound), flagged as not converged.
  int best = -1;
  for (std::size_t k = 0; k < out.error.size(); ++k)
    if (out.blocks[k] >= kMinBlocks && (best < 0 || out.error[k] > out.error[best])) best = static_cast<int>(k);
  out.chosen = best >= 0 ? best : static_cast<int>(out.error.size()) - 1;
  out.converged = false;
  return out;
}

// Sokal's automatic window on a series of (possibly binned) values.
TauEstimate sokal_of(const std::vector<double>& x, double c) {
  TauEstimate t;
  const std::size_t n = x.size();
  if (n < 2) return t;
  const std::vector<double> cov = autocovariance(x, n / 2);
  if (!(cov[0] > 0.0)) {  // a constant series carries no correlation
    t.tau = 0.5; t.error = 0.0; t.window = 0; t.converged = true;
    return t;
  }
  double tau = 0.5;
  std::size_t M = 1;
  bool found = false;
  for (; M < cov.size(); ++M) {
    tau += cov[M] / cov[0];
    if (static_cast<double>(M) >= c * tau) { found = true; break; }
  }
  if (!found) M = cov.size() - 1;
  t.tau = std::max(tau, 0.5 / static_cast<double>(n));
  // Sokal's variance estimate: var(τ) ≈ 2(2M+1)/N τ² (Madras & Sokal 1988).
  t.error = t.tau * std::sqrt(2.0 * (2.0 * static_cast<double>(M) + 1.0) / static_cast<double>(n));
  t.window = static_cast<long long>(M);
  t.converged = found;
  return t;
}

std::string fmt(double x) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

}  // namespace

// ---- TimeSeries -----------------------------------------------------------------------------

TimeSeries::TimeSeries(std::size_t max_stored) : max_stored_(static_cast<long long>(max_stored)) {
  if (max_stored_ != 0 && (max_stored_ < 64 || max_stored_ % 2 != 0))
    throw std::invalid_argument("TimeSeries: max_stored must be 0 or an even number >= 64");
}

void TimeSeries::add(double x) {
  if (!std::isfinite(x)) throw NumericalError("TimeSeries: non-finite sample (" + fmt(x) + ")");
  ++count_;
  const double delta = x - mean_;
  mean_ += delta / static_cast<double>(count_);
  m2_ += delta * (x - mean_);
  pending_sum_ += x;
  if (++pending_count_ == bin_width_) {
    bins_.push_back(pending_sum_ / static_cast<double>(bin_width_));
    pending_sum_ = 0.0;
    pending_count_ = 0;
    if (max_stored_ > 0 && static_cast<long long>(bins_.size()) >= max_stored_) {
      const std::size_t h = bins_.size() / 2;
      for (std::size_t k = 0; k < h; ++k) bins_[k] = 0.5 * (bins_[2 * k] + bins_[2 * k + 1]);
      bins_.resize(h);
      bin_width_ *= 2;
    }
  }
}

void TimeSeries::clear() {
  const long long keep = max_stored_;
  *this = TimeSeries(0);
  max_stored_ = keep;
}

double TimeSeries::mean() const { return count_ > 0 ? mean_ : kNaN; }

double TimeSeries::variance() const {
  return count_ > 1 ? m2_ / static_cast<double>(count_ - 1) : kNaN;
}

double TimeSeries::naive_error() const {
  return count_ > 1 ? std::sqrt(variance() / static_cast<double>(count_)) : kNaN;
}

BinningAnalysis TimeSeries::binning() const {
  if (bins_.size() < 2) return BinningAnalysis{};
  return binning_of(bins_, bin_width_, naive_error(),
                    static_cast<long long>(bins_.size()) * bin_width_);
}

Value TimeSeries::estimate() const { return {mean(), binning().mean_error()}; }

TauEstimate TimeSeries::tau_int() const {
  TauEstimate t = sokal_of(bins_, 6.0);
  if (bin_width_ == 1 || !std::isfinite(t.tau)) return t;
  double mb = 0.0, sb = 0.0;
  for (double x : bins_) mb += x;
  mb /= static_cast<double>(bins_.size());
  for (double x : bins_) sb += (x - mb) * (x - mb);
  sb /= static_cast<double>(bins_.size());
  const double s = m2_ / static_cast<double>(count_);
  const double f = s > 0.0 ? static_cast<double>(bin_width_) * sb / s : 0.0;
  t.tau *= f;
  t.error *= f;
  return t;
}

double TimeSeries::tau_int_binning() const {
  const BinningAnalysis b = binning();
  const double e1 = naive_error();
  if (b.chosen < 0 || !(e1 > 0.0)) return b.chosen < 0 ? kNaN : 0.5;
  const double r = b.error[b.chosen] / e1;
  return 0.5 * r * r;
}

TimeSeriesState TimeSeries::state() const {
  TimeSeriesState s;
  s.bins = bins_;
  s.bin_width = bin_width_;
  s.max_stored = max_stored_;
  s.count = count_;
  s.mean = mean_;
  s.m2 = m2_;
  s.pending_sum = pending_sum_;
  s.pending_count = pending_count_;
  return s;
}

void TimeSeries::set_state(const TimeSeriesState& s) {
  if (s.bin_width < 1 || s.pending_count < 0 || s.pending_count >= s.bin_width || s.count < 0 ||
      s.max_stored < 0 ||
      s.count != static_cast<long long>(s.bins.size()) * s.bin_width + s.pending_count)
    throw InputError("time-series state is inconsistent (corrupt checkpoint?)");
  bins_ = s.bins;
  bin_width_ = s.bin_width;
  max_stored_ = s.max_stored;
  count_ = s.count;
  mean_ = s.mean;
  m2_ = s.m2;
  pending_sum_ = s.pending_sum;
  pending_count_ = s.pending_count;
}

std::string TimeSeries::save_state() const {
  state_io::Writer w("spinlat-timeseries", 2);
  w.signed_integer("count", count_);
  w.signed_integer("bin_width", bin_width_);
  w.signed_integer("max_stored", max_stored_);
  w.signed_integer("pending_count", pending_count_);
  w.real("mean", mean_);
  w.real("m2", m2_);
  w.real("pending_sum", pending_sum_);
  w.reals("bins", bins_);
  return w.str();
}

void TimeSeries::load_state(const std::string& text) {
  state_io::Reader r(text, "spinlat-timeseries", 2);
  TimeSeriesState s;
  s.count = r.signed_integer("count");
  s.bin_width = r.signed_integer("bin_width");
  s.max_stored = r.signed_integer("max_stored");
  s.pending_count = r.signed_integer("pending_count");
  s.mean = r.real("mean");
  s.m2 = r.real("m2");
  s.pending_sum = r.real("pending_sum");
  s.bins = r.reals("bins");
  set_state(s);
}

// ---- free functions ------------------------------------------------------------------------

BinningAnalysis binning_analysis(const std::vector<double>& series) {
  const std::size_t n = series.size();
  if (n < 2) return BinningAnalysis{};
  double mean = 0.0, ss = 0.0;
  for (double x : series) mean += x;
  mean /= static_cast<double>(n);
  for (double x : series) ss += (x - mean) * (x - mean);
  const double eps1 = std::sqrt(ss / static_cast<double>(n - 1) / static_cast<double>(n));
  return binning_of(series, 1, eps1, static_cast<long long>(n));
}

TauEstimate sokal_tau(const std::vector<double>& series, double c) { return sokal_of(series, c); }

std::vector<double> autocorrelation(const std::vector<double>& series, std::size_t max_lag) {
  std::vector<double> c = autocovariance(series, max_lag);
  if (c.empty() || !(c[0] > 0.0)) return std::vector<double>(c.size(), kNaN);
  const double c0 = c[0];
  for (auto& x : c) x /= c0;
  return c;
}

std::vector<double> block_means(const std::vector<double>& series, std::size_t n_blocks) {
  if (n_blocks == 0 || series.size() < n_blocks)
    throw std::invalid_argument("block_means: need at least one sample per block (" +
                                std::to_string(series.size()) + " samples, " +
                                std::to_string(n_blocks) + " blocks)");
  const std::size_t len = series.size() / n_blocks;
  std::vector<double> out(n_blocks, 0.0);
  for (std::size_t b = 0; b < n_blocks; ++b) {
    double s = 0.0;
    for (std::size_t i = b * len; i < (b + 1) * len; ++i) s += series[i];
    out[b] = s / static_cast<double>(len);
  }
  return out;
}

Value jackknife(const std::vector<std::vector<double>>& blocks,
                const std::function<double(const std::vector<double>&)>& f) {
  if (blocks.empty()) throw std::invalid_argument("jackknife: no observables");
  const std::size_t n = blocks[0].size();
  for (const auto& b : blocks)
    if (b.size() != n) throw std::invalid_argument("jackknife: observables have different block counts");
  if (n < 2) throw std::invalid_argument("jackknife: need at least 2 blocks");
  const std::size_t k = blocks.size();
  std::vector<double> total(k, 0.0);
  for (std::size_t o = 0; o < k; ++o)
    for (double x : blocks[o]) total[o] += x;
  std::vector<double> m(k);
  for (std::size_t o = 0; o < k; ++o) m[o] = total[o] / static_cast<double>(n);
  const double f_all = f(m);
  // Leave-one-out means (n x̄ − x_b)/(n − 1).
  std::vector<double> fb(n);
  double fbar = 0.0;
  for (std::size_t b = 0; b < n; ++b) {
    for (std::size_t o = 0; o < k; ++o) m[o] = (total[o] - blocks[o][b]) / static_cast<double>(n - 1);
    fb[b] = f(m);
    fbar += fb[b];
  }
  fbar /= static_cast<double>(n);
  double ss = 0.0;
  for (double x : fb) ss += (x - fbar) * (x - fbar);
  const double dn = static_cast<double>(n);
  return {dn * f_all - (dn - 1.0) * fbar, std::sqrt((dn - 1.0) / dn * ss)};
}

}  // namespace spinlat
