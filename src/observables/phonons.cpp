#include "spinlat/observables/phonons.hpp"

#include <cmath>
#include <cstring>

#include "spinlat/core/error.hpp"
#include "spinlat/core/state_io.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/io/hdf5.hpp"
#include "spinlat/io/params.hpp"

namespace spinlat {

PhononOptions read_phonon_options(Params& p) {
  PhononOptions o;
  o.stage = static_cast<int>(p.integer("stage", o.stage));
  p.require(o.stage >= -1, "stage", "expected the index of an md, sld or hybrid stage (0 = first), or -1 for the last");
  o.sample_every = p.integer("sample_every", o.sample_every);
  p.require(o.sample_every >= 1, "sample_every", "expected a positive number of steps between samples");
  o.segment_length = p.integer("segment_length", o.segment_length);
  p.require(o.segment_length >= 8 && o.segment_length <= (1LL << 20), "segment_length",
            "expected 8 to 1048576 samples per segment (the resolution is 1/(segment_length × sample_every × dt))");
  o.window = p.choice("window", {"hann", "hanning", "rectangular", "none", "boxcar"}, o.window);
  o.max_frequency = p.real("max_frequency", o.max_frequency);
  p.require(o.max_frequency >= 0, "max_frequency", "expected a frequency >= 0 (THz; 0 = up to Nyquist)");
  p.finish();
  return o;
}

PhononDosRecorder::PhononDosRecorder(const System& s, PhononOptions options) : opt_(std::move(options)) {
  if (opt_.sample_every < 1) throw InputError("phonons.sample_every must be >= 1");
  if (opt_.segment_length < 8) throw InputError("phonons.segment_length must be >= 8");
  if (opt_.max_frequency < 0) throw InputError("phonons.max_frequency must be >= 0 (THz)");
  window_ = parse_window(opt_.window);
  atoms_ = s.size();
  if (atoms_ == 0) throw InputError("phonons: the system has no atoms");
  mass_.resize(atoms_);
  for (std::size_t i = 0; i < atoms_; ++i) mass_[i] = s.mass(i);
  L_ = static_cast<std::size_t>(opt_.segment_length);
  nfft_ = next_pow2(L_);
  win_ = window_weights(window_, L_);
  w2_ = 0.0;
  for (double w : win_) w2_ += w * w;
  ring_.assign(L_ * 3 * atoms_, 0.0);
  acc_.assign(nfft_ / 2 + 1, 0.0);
}

void PhononDosRecorder::record(const System& s, double time) {
  if (s.size() != atoms_) throw InputError("phonons: the system changed size");
  if (samples_ >= 1) {
    const double dt = time - t_last_;
    if (!(dt > 0)) throw InputError("phonons: samples must be taken at increasing times");
    if (samples_ >= 2 && std::abs(dt - dt_) > 1e-6 * dt_)
      throw InputError("phonons: samples must be equally spaced in time (got " + std::to_string(dt) +
                       " ps after " + std::to_string(dt_) + " ps)");
    if (samples_ == 1) dt_ = dt;
  } else {
    t_first_ = time;
  }
  t_last_ = time;
  double* row = &ring_[(static_cast<std::size_t>(samples_) % L_) * 3 * atoms_];
  for (std::size_t i = 0; i < atoms_; ++i)
    for (int a = 0; a < 3; ++a) row[3 * i + a] = s.velocity[i][a];
  ++samples_;
  const long long L = static_cast<long long>(L_), hop = L / 2;
  if (samples_ >= L && (samples_ - L) % hop == 0) transform_segment();
}

void PhononDosRecorder::transform_segment() {
  // Two real series per FFT: for c = a + ib with a, b real, |C_k|² + |C_{−k}|² =
  // 2(|A_k|² + |B_k|²), which is exactly the folded PSD of a plus that of b. Atom i's (v_x, v_y)
  // share one FFT, v_z another. Serial over atoms in a fixed order: thread-count independent.
  const std::size_t first = static_cast<std::size_t>(samples_) - L_;
  std::vector<Complex> buf(nfft_);
  const std::size_t stride = 3 * atoms_;
  for (std::size_t i = 0; i < atoms_; ++i) {
    for (int pair = 0; pair < 2; ++pair) {
      std::fill(buf.begin(), buf.end(), Complex(0.0, 0.0));
      for (std::size_t t = 0; t < L_; ++t) {
        const double* v = &ring_[((first + t) % L_) * stride + 3 * i];
        buf[t] = win_[t] * (pair == 0 ? Complex(v[0], v[1]) : Complex(v[2], 0.0));
      }
      fft(buf);
      const double m = mass_[i];
      acc_[0] += m * std::norm(buf[0]);
      acc_[nfft_ / 2] += m * std::norm(buf[nfft_ / 2]);
      for (std::size_t k = 1; k < nfft_ / 2; ++k) acc_[k] += m * (std::norm(buf[k]) + std::norm(buf[nfft_ - k]));
    }
  }
  ++segments_;
}

PhononDos PhononDosRecorder::dos() const {
  if (segments_ == 0)
    throw InputError("phonons: no complete segment (" + std::to_string(samples_) + " samples recorded, " +
                     std::to_string(L_) + " needed): record longer or lower segment_length");
  PhononDos out;
  out.atoms = atoms_;
  out.dt_sample = dt_;
  out.segments = static_cast<std::size_t>(segments_);
  out.segment_length = L_;
  out.resolution = 1.0 / (static_cast<double>(L_) * dt_);
  out.nyquist = 0.5 / dt_;
  out.grid_step = 1.0 / (static_cast<double>(nfft_) * dt_);
  const std::size_t nf_all = nfft_ / 2 + 1;
  // P(f) = dt |X(f)|² / Σw² per segment (spectra_fft.hpp), averaged; amu Å²/ps → eV/THz.
  const double norm = units::mvv2e * dt_ / (w2_ * static_cast<double>(segments_));
  std::vector<double> power(nf_all);
  double integral = 0.0, first_moment = 0.0;
  for (std::size_t k = 0; k < nf_all; ++k) {
    power[k] = norm * acc_[k];
    integral += power[k] * out.grid_step;
    first_moment += power[k] * out.grid_step * static_cast<double>(k) * out.grid_step;
  }
  const double n3 = 3.0 * static_cast<double>(atoms_);
  const double dof = atoms_ > 1 ? n3 - 3.0 : 3.0;  // zero total momentum, as kinetic_temperature
  out.temperature = integral / (dof * units::k_B);
  out.mean_frequency = integral > 0 ? first_moment / integral : 0.0;
  std::size_t nf = nf_all;
  if (opt_.max_frequency > 0)
    while (nf > 1 && static_cast<double>(nf - 1) * out.grid_step > opt_.max_frequency) --nf;
  out.frequency.resize(nf);
  out.power.assign(power.begin(), power.begin() + nf);
  out.dos.resize(nf);
  for (std::size_t k = 0; k < nf; ++k) {
    out.frequency[k] = static_cast<double>(k) * out.grid_step;
    out.dos[k] = integral > 0 ? n3 * power[k] / integral : 0.0;
  }
  return out;
}

void PhononDosRecorder::write(h5::File& file, const std::string& group) const {
  const PhononDos d = dos();
  auto P = [&](const std::string& name) { return h5::join_path(group, name); };
  file.create_group(group);
  file.write(P("frequency_THz"), d.frequency);
  file.write(P("dos"), d.dos);
  file.write(P("power"), d.power);
  file.set_attr(P("frequency_THz"), "unit", "THz");
  file.set_attr(P("dos"), "unit", "1/THz");
  file.set_attr(P("power"), "unit", "eV/THz");
  file.set_attr(group, "atoms", static_cast<std::int64_t>(d.atoms));
  file.set_attr(group, "frequency_resolution_THz", d.resolution);
  file.set_attr(group, "nyquist_THz", d.nyquist);
  file.set_attr(group, "dt_sample_ps", d.dt_sample);
  file.set_attr(group, "window", to_string(window_));
  file.set_attr(group, "segment_length", static_cast<std::int64_t>(d.segment_length));
  file.set_attr(group, "segments", static_cast<std::int64_t>(d.segments));
  file.set_attr(group, "samples", static_cast<std::int64_t>(samples_));
  file.set_attr(group, "sample_every", static_cast<std::int64_t>(opt_.sample_every));
  file.set_attr(group, "temperature_K", d.temperature);
  file.set_attr(group, "mean_frequency_THz", d.mean_frequency);
  file.set_attr(group, "dos_units", std::string("1/THz; sum_k dos_k * grid step = 3N over 0..Nyquist"));
  file.set_attr(group, "power_units",
                std::string("eV/THz: sum_i m_i (P_x + P_y + P_z)(f), P the folded velocity PSD; "
                            "sum_k power_k * grid step = window-weighted mean of sum_i m_i v_i^2"));
}

std::string PhononDosRecorder::save_state() const {
  state_io::Writer w("spinlat-phonon-dos", 2);
  w.integer("atoms", atoms_);
  w.integer("segment_length", L_);
  w.signed_integer("samples", samples_);
  w.signed_integer("segments", segments_);
  w.real("t_first", t_first_);
  w.real("t_last", t_last_);
  w.real("dt", dt_);
  w.reals("ring", ring_);
  w.reals("accumulated", acc_);
  return w.str();
}

void PhononDosRecorder::load_state(const std::string& state) {
  state_io::Reader r(state, "spinlat-phonon-dos", 2);
  const std::uint64_t n = r.integer("atoms"), L = r.integer("segment_length");
  if (n != atoms_ || L != L_)
    throw InputError("phonon DOS recorder state: recorded for " + std::to_string(n) + " atoms and segments of " +
                     std::to_string(L) + " samples, this recorder has " + std::to_string(atoms_) + " and " +
                     std::to_string(L_));
  const long long samples = r.signed_integer("samples"), segments = r.signed_integer("segments");
  if (samples < 0 || segments < 0) throw InputError("phonon DOS recorder state: corrupt");
  std::vector<double> ring = r.reals("ring", ring_.size()), acc = r.reals("accumulated", acc_.size());
  samples_ = samples;
  segments_ = segments;
  t_first_ = r.real("t_first");
  t_last_ = r.real("t_last");
  dt_ = r.real("dt");
  ring_ = std::move(ring);
  acc_ = std::move(acc);
}

}  // namespace spinlat
