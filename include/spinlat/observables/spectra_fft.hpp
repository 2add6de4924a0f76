#pragma once
// Temporal Fourier analysis for dynamical structure factors: a radix-2 FFT, data windows and
// Welch-averaged power spectral densities (Welch, IEEE Trans. Audio Electroacoust. 15, 70
// (1967); Harris, Proc. IEEE 66, 51 (1978) for the Hann window).
//
// Conventions. A sampled signal x_t (t = 0..L−1, spacing dt in ps) has the spectrum
//   X(f) = Σ_t w_t x_t e^{+2πi f t dt},
// the sign for which a mode x ∝ e^{−iωt} (the time dependence of a magnon created at +q in
// m(q,t) = Σ_i ê_i e^{−iq·r_i}) lands at f = +ω/2π. The power spectral density
//   P(f) = dt |X(f)|² / Σ_t w_t²          (units: [x]²/THz, f in THz)
// is two-sided and obeys Parseval: Σ_k P(f_k) Δf_grid = Σ_t w_t²|x_t|² / Σ_t w_t², the window-
// weighted mean of |x|². Segments are zero-padded to a power of two (a finer grid, not a finer
// resolution): the resolution is Δf = 1/(L dt) for a segment of L samples, the Nyquist
// frequency 1/(2 dt).
#include <complex>
#include <cstddef>
#include <string>
#include <vector>

namespace spinlat {

using Complex = std::complex<double>;

/// Smallest power of two >= n (1 for n = 0).
std::size_t next_pow2(std::size_t n);

/// In-place iterative radix-2 FFT (Cooley & Tukey, Math. Comput. 19, 297 (1965)):
/// X_k = Σ_n x_n e^{∓2πi kn/N} (− for forward, + for inverse; the inverse is not scaled).
/// a.size() must be a power of two (std::invalid_argument otherwise).
void fft(std::vector<Complex>& a, bool inverse = false);

enum class Window { hann, rectangular };
/// Parses "hann" (also "hanning") or "rectangular" (also "none", "boxcar"); InputError otherwise.
Window parse_window(const std::string& name);
std::string to_string(Window w);
/// The periodic window of length L: Hann w_t = ½(1 − cos(2πt/L)), rectangular w_t = 1.
std::vector<double> window_weights(Window w, std::size_t L);

/// A two-sided power spectrum on the grid f_k = k Δf_grid, k = 0..nfft/2: `positive[k]` is
/// P(+f_k) and `negative[k]` is P(−f_k) (equal to positive[k] at k = 0 and at k = nfft/2).
struct PowerSpectrum {
  std::vector<double> frequency;  ///< THz (f_k, k = 0..nfft/2)
  std::vector<double> positive, negative;
  double dt = 0.0;                ///< ps between samples
  std::size_t segment_length = 0; ///< L samples per segment
  std::size_t segments = 0;       ///< segments averaged
  std::size_t nfft = 0;           ///< padded FFT length
  double resolution() const { return 1.0 / (static_cast<double>(segment_length) * dt); }
  double nyquist() const { return 0.5 / dt; }
  /// P(+f) + P(−f) for f > 0 (both senses of rotation), P(0) at f = 0, P at Nyquist once.
  std::vector<double> folded() const;
};

/// Segment length and count for Welch's method with 50% overlap: `segments` K >= 1 segments
/// of L = floor(2 n/(K+1)) samples (L = n for K = 1), the k-th starting at k·floor(L/2).
std::size_t welch_segment_length(std::size_t n, int segments);

/// Welch-averaged PSD of `n` samples x[0], x[stride], ... (complex), spacing dt (ps).
/// Throws std::invalid_argument if a segment would have fewer than 2 samples.
PowerSpectrum welch(const Complex* x, std::size_t n, std::size_t stride, double dt, Window w,
                    int segments);
inline PowerSpectrum welch(const std::vector<Complex>& x, double dt, Window w, int segments = 1) {
  return welch(x.data(), x.size(), 1, dt, w, segments);
}

/// Position (THz) of the highest maximum of y on the grid f, refined by a parabola through the
/// peak bin and its two neighbours (exact for a Gaussian on a log scale; error << Δf_grid for
/// the Hann main lobe). Bins with f < fmin are ignored.
double peak_frequency(const std::vector<double>& f, const std::vector<double>& y, double fmin = 0.0);

}  // namespace spinlat
