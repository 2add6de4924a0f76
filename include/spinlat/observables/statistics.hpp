#pragma once
// Statistics of correlated time series: means with honest error bars, integrated
// autocorrelation times and the jackknife for derived quantities.
//
//  * Binning (blocking) analysis: Flyvbjerg & Petersen, J. Chem. Phys. 91, 461 (1989). The
//    error of the mean is read at the block size chosen by the criterion of Wolff / Lee et al.
//    (Lee, Kent, Morales & Needs, PRE 83, 066706 (2011); as in the pyblock package): the
//    smallest block size B (in samples) with B³ > 2 N (ε_B/ε_1)⁴, which balances the O(τ/B) bias of short blocks
//    against the O(√(B/N)) noise of few blocks.
//  * Integrated autocorrelation time with Sokal's automatic window (Madras & Sokal,
//    J. Stat. Phys. 50, 109 (1988); Sokal, "Monte Carlo methods in statistical mechanics",
//    1996): τ_int(M) = ½ + Σ_{t=1}^{M} ρ(t), M the smallest window with M ≥ c τ_int(M), c = 6.
//    Convention: Var(mean) = 2 τ_int σ² / N, so uncorrelated data have τ_int = ½.
//  * Delete-one jackknife over blocks (Quenouille 1956, Tukey 1958; Efron & Stein 1981).
//
// TimeSeries keeps the samples themselves up to `max_stored` values; beyond that it halves the
// resolution (adjacent pairs are averaged and the bin width doubles), so memory stays bounded
// for any run length. Bins never straddle: the mean, the naive variance and all analyses that
// need only averages over blocks of ≥ the bin width stay exact. The first-level mean and
// variance are kept exactly in running sums (Welford), so the naive error and the ε_1 of the
// binning criterion always refer to single samples.
#include <cmath>
#include <cstddef>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace spinlat {

/// A number with its one-standard-deviation error bar.
struct Value {
  double value = std::numeric_limits<double>::quiet_NaN();
  double error = std::numeric_limits<double>::quiet_NaN();
};

/// Result of a binning analysis: one row per level k (blocks of block_size[k] samples).
struct BinningAnalysis {
  std::vector<long long> block_size;   ///< samples per block
  std::vector<long long> blocks;       ///< number of blocks at this level
  std::vector<double> error;           ///< estimate of the error of the mean at this level
  std::vector<double> error_of_error;  ///< its own statistical error, error / √(2(blocks−1))
  int chosen = -1;                     ///< the level whose error is reported (-1: none)
  /// True when a level met the criterion with at least 16 blocks; false means the series is
  /// too short for its autocorrelation time and the error is a lower bound.
  bool converged = false;
  double mean_error() const { return chosen >= 0 ? error[chosen] : std::numeric_limits<double>::quiet_NaN(); }
};

/// Integrated autocorrelation time (in samples) with its statistical error.
struct TauEstimate {
  double tau = std::numeric_limits<double>::quiet_NaN();
  double error = std::numeric_limits<double>::quiet_NaN();
  long long window = 0;       ///< Sokal window M (in stored bins)
  bool converged = false;     ///< false when no window M ≥ c τ(M) was found below N/2
};

/// Plain state of a TimeSeries (checkpoints: vectors and scalars only).
struct TimeSeriesState {
  std::vector<double> bins;       ///< stored bin means
  long long bin_width = 1;        ///< samples per stored bin
  long long max_stored = 0;
  long long count = 0;            ///< samples added
  double mean = 0.0, m2 = 0.0;    ///< Welford running mean and Σ (x − mean)²
  double pending_sum = 0.0;       ///< sum of the samples of the unfinished bin
  long long pending_count = 0;
};

/// A streaming accumulator of a scalar time series (one value per measurement).
class TimeSeries {
 public:
  /// `max_stored` (even, ≥ 64) bounds the memory; 0 keeps every sample.
  explicit TimeSeries(std::size_t max_stored = std::size_t(1) << 16);

  void add(double x);
  void clear();

  long long count() const { return count_; }
  /// Exact mean of all samples added (NaN when empty).
  double mean() const;
  /// Unbiased variance of the single samples (N − 1 in the denominator).
  double variance() const;
  /// Error of the mean as if samples were independent, √(variance/N).
  double naive_error() const;

  /// Stored bin means, each over bin_width() consecutive samples (the unfinished bin is not
  /// included).
  const std::vector<double>& bins() const { return bins_; }
  long long bin_width() const { return bin_width_; }

  BinningAnalysis binning() const;
  /// Mean and its binning error.
  Value estimate() const;
  /// τ_int with Sokal's automatic window, in samples. From stored bins of width b > 1 it is
  /// converted with the exact identity 2τ σ²/N = 2τ_b σ_b²/(N/b): τ = τ_b b σ_b² / σ².
  TauEstimate tau_int() const;
  /// τ_int from the binning analysis: ½ (ε_B / ε_1)² at the chosen level.
  double tau_int_binning() const;

  TimeSeriesState state() const;
  void set_state(const TimeSeriesState& st);
  /// Text form of the state (every double printed with 17 digits: exact round trip).
  std::string save_state() const;
  void load_state(const std::string& text);

 private:
  std::vector<double> bins_;
  long long bin_width_ = 1;
  long long max_stored_ = 0;
  long long count_ = 0;
  double mean_ = 0.0, m2_ = 0.0;
  double pending_sum_ = 0.0;
  long long pending_count_ = 0;
};

/// Binning analysis of a plain series (every value a single sample).
BinningAnalysis binning_analysis(const std::vector<double>& series);
/// Sokal τ_int of a plain series, window constant c (default 6).
TauEstimate sokal_tau(const std::vector<double>& series, double c = 6.0);
/// Normalised autocorrelation ρ(t), t = 0..max_lag, with the biased (1/N) estimator
/// (computed by FFT in O(N log N)).
std::vector<double> autocorrelation(const std::vector<double>& series, std::size_t max_lag);

/// Means of `series` over `n_blocks` equal consecutive blocks; the tail that does not fill a
/// block is dropped (at most n_blocks − 1 values).
std::vector<double> block_means(const std::vector<double>& series, std::size_t n_blocks);
inline std::vector<double> block_means(const TimeSeries& series, std::size_t n_blocks) {
  return block_means(series.bins(), n_blocks);
}

/// Delete-one jackknife over blocks. `blocks[k][b]` is the mean of observable k over block b
/// (all observables have the same number of blocks n ≥ 2). `f` maps the vector of observable
/// means to the derived quantity. Returns the bias-corrected estimate
/// n f(x̄) − (n−1) mean_b f(x̄_(b)) and the error √((n−1)/n Σ_b (f(x̄_(b)) − mean f)²).
Value jackknife(const std::vector<std::vector<double>>& blocks,
                const std::function<double(const std::vector<double>&)>& f);

namespace detail {
template <class F, std::size_t... I>
double apply_means(F& f, const std::vector<double>& m, std::index_sequence<I...>) {
  return f(m[I]...);
}
}  // namespace detail

/// Jackknife of f(⟨a⟩, ⟨b⟩, ...) from parallel series (std::vector<double> or TimeSeries
/// recorded in lock step), split into n_blocks blocks. Example:
///   jackknife(32, [](double m2, double m4) { return 1 - m4 / (3 * m2 * m2); }, m2s, m4s);
template <class F, class... S>
Value jackknife(std::size_t n_blocks, F f, const S&... series) {
  const std::vector<std::vector<double>> b{block_means(series, n_blocks)...};
  return jackknife(b, [&f](const std::vector<double>& m) {
    return detail::apply_means(f, m, std::index_sequence_for<S...>{});
  });
}

}  // namespace spinlat
