#pragma once
// Dynamical structure factor S(q, ω) of the spins from a spin-dynamics run (magnon spectra).
//
// Every `sample_every` steps the recorder stores, for each q of a Brillouin-zone path,
//   m_a(q, t) = (1/√N) Σ_i (ê_i·e_a) e^{−iq·r_i},   a = 1, 2 (transverse), 3 (along n),
// over the N magnetic atoms, in a frame (e1, e2, n) that follows the net magnetization n(t)
// by parallel transport (the minimal rotation between consecutive samples; frame = "lab" keeps
// x, y, z). Only these Nq × 3 complex numbers per sample are kept, never the spins. At the end
// each series is Fourier transformed in time (spectra_fft.hpp: window, Welch segments, zero
// padding to a power of two), giving
//   intensity    = S⊥(q, f) = S^11 + S^22,   intensity_zz = S^33(q, f),
// with S^aa(q, f) = P_a(q, +f) + P_a(q, −f) folded onto f >= 0 (both senses of precession; the
// PSD normalisation makes Σ_f S Δf the mean of |m_a(q)|²; units 1/THz). Peaks lie at the magnon
// frequencies ω(q)/2π, with resolution Δf = 1/T_segment and Nyquist 1/(2 dt_sample); the
// peak positions at low temperature follow linear spin-wave theory (lswt.hpp).
//
// HDF5 layout written by write() (default group /spectra/spin):
//   q_path [Nq,3] (1/Å), q_distance [Nq] (1/Å), q_labels (strings), q_label_positions (1/Å),
//   frequency_THz [Nω], energy_meV [Nω], intensity [Nq,Nω], intensity_zz [Nq,Nω],
//   lswt_frequency_THz [Nq,branches], lswt_weight [Nq,branches], lswt_q_distance [M],
//   lswt_dense_frequency_THz [M,branches], lswt_dense_weight [M,branches] (when LSWT applies);
//   group attributes frequency_resolution_THz, nyquist_THz, dt_sample_ps, window, segments,
//   segment_length, samples, frame, lswt (a status line).
#include <string>
#include <vector>

#include "spinlat/core/system.hpp"
#include "spinlat/observables/lswt.hpp"
#include "spinlat/observables/spectra_fft.hpp"
#include "spinlat/observables/spectra_path.hpp"
#include "spinlat/terms/hamiltonian.hpp"

namespace spinlat {

namespace h5 {
class File;
}
class Params;

/// Options of a spectrum recording. Input keys (TOML table [spectrum]) → fields:
///   sample_every = 10             → sample_every (steps between samples)
///   path = "auto" | "Γ-H-N|P-H" | [[h,k,l], ...]
///                                  → path (string forms) or points (list: reciprocal
///                                    lattice units of the conventional cell, q = Σ F_k b_k)
///   labels = ["Γ", "H", ...]      → labels (with a list path; optional)
///   window = "hann"               → window ("hann" or "rectangular")
///   segments = 1                  → segments (Welch averaging, 50% overlap)
///   stage = 0                     → stage (index into [[stage]] of the llg stage to record;
///                                    −1: the last llg stage; used by the stage runner)
///   frame = "magnetization"       → frame ("magnetization" or "lab")
///   lswt = true                   → lswt (compute and write the LSWT dispersion)
///   max_frequency = 0.0           → max_frequency (THz; 0 writes up to Nyquist)
/// From [structure] (not [spectrum]): lattice → lattice, cells → cells.
/// From the recorded stage: damping → lswt_damping (LSWT uses the LLG precession rate).
struct SpectrumOptions {
  long long sample_every = 10;
  std::string path = "auto";
  std::vector<Vec3> points;
  std::vector<std::string> labels;
  std::string window = "hann";
  int segments = 1;
  int stage = -1;
  std::string frame = "magnetization";
  bool lswt = true;
  double max_frequency = 0.0;
  std::string lattice;      ///< sc, bcc, fcc, hcp, rocksalt, or anything else (no "auto")
  Int3 cells{1, 1, 1};      ///< conventional cells of the supercell
  double lswt_damping = 0.0;
  int lswt_dense_points = 40;  ///< LSWT points per path segment for the dense curves
};

/// Reads a [spectrum] table strictly (the keys above; Params::finish() rejects any other).
/// `lattice`, `cells` and `lswt_damping` are left for the caller to fill.
SpectrumOptions read_spectrum_options(Params& p);

/// The spectrum computed from the recorded series.
struct SpinSpectrum {
  std::vector<double> frequency;     ///< THz, f >= 0
  std::vector<double> intensity;     ///< S⊥, [Nq × Nω] row-major (1/THz)
  std::vector<double> intensity_zz;  ///< S^zz, [Nq × Nω]
  double resolution = 0.0;           ///< THz (1/T_segment)
  double nyquist = 0.0;              ///< THz
  double dt_sample = 0.0;            ///< ps
  std::size_t segment_length = 0, segments = 0;
  std::size_t nq() const { return frequency.empty() ? 0 : intensity.size() / frequency.size(); }
  double at(std::size_t iq, std::size_t k) const { return intensity[iq * frequency.size() + k]; }
};

class SpinSpectrumRecorder {
 public:
  /// Builds the q path for `s` (its cell and the options' lattice and cells) and, when `h` is
  /// given (bound to `s`) and options.lswt is set, the LSWT dispersion; an LSWT failure
  /// (InputError) is kept as a status line, not thrown. InputError for bad options (unknown
  /// window or frame, sample_every < 1, segments < 1, "auto" path for an unknown lattice, a
  /// path with no commensurate point).
  SpinSpectrumRecorder(const System& s, SpectrumOptions options, const Hamiltonian* h = nullptr);

  const SpectrumOptions& options() const { return opt_; }
  const QPath& path() const { return path_; }
  /// True when `step` (counted from the stage's start) is a sampling step: step % sample_every == 0.
  bool due(long long step) const { return step % opt_.sample_every == 0; }
  /// Stores one sample at time `time` (ps). Samples must be equally spaced in time
  /// (InputError otherwise). Positions may change (phases are recomputed when they do).
  void record(const System& s, double time);
  std::size_t samples() const { return times_.size(); }

  /// Fourier transforms the stored series. InputError if fewer than 4 samples per segment.
  SpinSpectrum spectrum() const;
  /// Writes spectrum(), the path and the LSWT curves under `group`.
  void write(h5::File& file, const std::string& group = "/spectra/spin") const;

  /// LSWT frequencies (rad/ps) and weights on the path's points [Nq][branches]; empty if LSWT
  /// did not apply (see lswt_status()).
  const std::vector<LswtModes>& lswt() const { return lswt_; }
  const std::string& lswt_status() const { return lswt_status_; }

  /// Everything recorded (times, frame, series) as bytes; load_state() on a recorder built
  /// with the same options for the same system continues bit for bit.
  std::string save_state() const;
  void load_state(const std::string& state);

 private:
  void update_phases(const System& s);
  void update_frame(const System& s);

  SpectrumOptions opt_;
  Window window_ = Window::hann;
  bool lab_frame_ = false;
  QPath path_, dense_;
  std::vector<LswtModes> lswt_, lswt_dense_;
  std::string lswt_status_;
  std::vector<int> sites_;             // magnetic atoms
  std::vector<Complex> phase_;         // [Nq × N] e^{−iq·r_i}
  std::vector<Vec3> phase_positions_;  // positions the phases were computed for
  Vec3 n_ = Vec3::UnitZ(), e1_ = Vec3::UnitX(), e2_ = Vec3::UnitY();
  bool frame_set_ = false;
  std::vector<double> times_;
  std::vector<Complex> series_;        // [sample][q][3]
};

}  // namespace spinlat
