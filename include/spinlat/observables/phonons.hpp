#pragma once
// Phonon density of states from the velocity autocorrelation, accumulated while a lattice
// stage (md, sld, hybrid) runs (docs/spin-lattice.md "Phonon DOS").
//
// By the Wiener-Khinchin theorem the Fourier transform of the mass-weighted velocity
// autocorrelation Σ_i m_i ⟨v_i(0)·v_i(t)⟩ is the mass-weighted power spectrum of the velocities
//   Z(f) = Σ_i m_i Σ_a P_ia(f),   P: the folded (f >= 0) PSD of spectra_fft.hpp,
// and for a harmonic crystal in equilibrium every normal mode carries k_B T of it at its own
// frequency, so g(f) = 3N Z(f)/∫Z df is the phonon density of states normalised to 3N modes
// (Dickey & Paskin, Phys. Rev. 188, 1407 (1969); Lee, Tuckerman & Martyna, Phys. Rev. E 53,
// 1957 (1996)). Anharmonic crystals give the temperature-renormalised, broadened spectrum.
//
// Streaming Welch estimate (Welch, IEEE Trans. Audio Electroacoust. 15, 70 (1967)): the
// recorder keeps only the last `segment_length` L velocity samples (a ring buffer, 3N × L
// doubles) and every L/2 samples once it is full transforms the last L (window, zero padding
// to a power of two), adding m_i |V_ia(f)|² to the average: 50% overlapping segments, as the
// magnon recorder, but with memory independent of the run length. Resolution Δf = 1/(L dt_s),
// Nyquist 1/(2 dt_s) with dt_s = sample_every × dt.
//
// HDF5 (group /spectra/phonon): frequency_THz [Nf], dos [Nf] (1/THz, Σ_k dos_k Δf_grid = 3N),
// power [Nf] (Z(f) in eV/THz: Σ_k power_k Δf_grid = window-weighted mean of Σ m_i v_i², twice
// the kinetic energy), attributes atoms, frequency_resolution_THz, nyquist_THz, dt_sample_ps,
// window, segment_length, segments, samples, sample_every, temperature_K (equipartition:
// ∫Z df/((3N − 3) k_B), the mean kinetic temperature of the segments, same convention as
// /observables/lattice_temperature), mean_frequency_THz (∫ f g df / 3N).
#include <string>
#include <vector>

#include "spinlat/core/system.hpp"
#include "spinlat/observables/spectra_fft.hpp"

namespace spinlat {

namespace h5 {
class File;
}
class Params;

/// Options of a phonon-DOS recording. Input keys (TOML table [phonons]) → fields:
///   stage = -1            → stage (index of the md/sld/hybrid [[stage]]; −1 = the last one)
///   sample_every = 10     → sample_every (steps, or sweeps for hybrid, between samples)
///   segment_length = 512  → segment_length (samples per Welch segment; resolution 1/(L dt_s))
///   window = "hann"       → window ("hann" or "rectangular")
///   max_frequency = 0.0   → max_frequency (THz written; 0 = up to Nyquist)
struct PhononOptions {
  int stage = -1;
  long long sample_every = 10;
  long long segment_length = 512;
  std::string window = "hann";
  double max_frequency = 0.0;
};

/// Reads a [phonons] table strictly (the keys above; unknown keys are InputErrors).
PhononOptions read_phonon_options(Params& p);

struct PhononDos {
  std::vector<double> frequency;  ///< THz, f >= 0 (grid 1/(nfft dt_s))
  std::vector<double> dos;        ///< 1/THz, normalised to 3N over the full grid (up to Nyquist)
  std::vector<double> power;      ///< eV/THz, mass-weighted velocity PSD
  double resolution = 0.0, nyquist = 0.0, dt_sample = 0.0, grid_step = 0.0;
  double temperature = 0.0;       ///< K, ∫Z df / ((3N − 3) k_B)
  double mean_frequency = 0.0;    ///< THz
  std::size_t segments = 0, segment_length = 0, atoms = 0;
};

class PhononDosRecorder {
 public:
  /// InputError for bad options (sample_every < 1, segment_length < 8, unknown window) or a
  /// system without atoms.
  PhononDosRecorder(const System& s, PhononOptions options);

  const PhononOptions& options() const { return opt_; }
  bool due(long long step) const { return step % opt_.sample_every == 0; }
  /// Stores the velocities at time `time` (ps); samples must be equally spaced. Transforms a
  /// segment whenever one completes.
  void record(const System& s, double time);
  std::size_t samples() const { return static_cast<std::size_t>(samples_); }
  std::size_t segments() const { return static_cast<std::size_t>(segments_); }

  /// The average over the completed segments. InputError if none has completed.
  PhononDos dos() const;
  void write(h5::File& file, const std::string& group = "/spectra/phonon") const;

  /// Everything (buffer, sums, times) as bytes; load_state() continues bit for bit.
  std::string save_state() const;
  void load_state(const std::string& state);

 private:
  void transform_segment();

  PhononOptions opt_;
  Window window_ = Window::hann;
  std::size_t atoms_ = 0, L_ = 0, nfft_ = 0;
  std::vector<double> mass_;     // amu per atom
  std::vector<double> win_;      // window weights, length L
  double w2_ = 0.0;              // Σ w²
  long long samples_ = 0, segments_ = 0;
  double t_first_ = 0.0, t_last_ = 0.0, dt_ = 0.0;
  std::vector<double> ring_;     // [L][3N] velocities, sample k at row k % L
  std::vector<double> acc_;      // [nfft/2 + 1] Σ_segments Σ_i m_i folded |V|² (unnormalised)
};

}  // namespace spinlat
