#include "spinlat/observables/spectra.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "spinlat/core/error.hpp"
#include "spinlat/core/state_io.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/io/hdf5.hpp"
#include "spinlat/io/params.hpp"

namespace spinlat {

namespace {

Vec3 perpendicular_unit(const Vec3& n) {
  const Vec3 a = std::abs(n.x()) < 0.9 ? Vec3::UnitX() : Vec3::UnitY();
  return (a - a.dot(n) * n).normalized();
}

}  // namespace

SpectrumOptions read_spectrum_options(Params& p) {
  SpectrumOptions o;
  o.sample_every = p.integer("sample_every", o.sample_every);
  p.require(o.sample_every >= 1, "sample_every", "expected a positive number of steps between samples");
  if (const toml::node* n = p.table().get("path")) {
    p.touch("path");
    if (n->is_string()) {
      o.path = p.string("path");
    } else if (const toml::array* arr = n->as_array()) {
      for (const toml::node& e : *arr) {
        const toml::array* v = e.as_array();
        Vec3 f;
        bool ok = v && v->size() == 3;
        for (std::size_t k = 0; ok && k < 3; ++k) {
          const auto x = (*v)[k].value<double>();
          ok = x.has_value();
          if (ok) f[k] = *x;
        }
        if (!ok) p.fail("path", "expected \"auto\", a path of point names like \"G-H-N|P-H\", or a list of "
                                "[h, k, l] points (reciprocal lattice units of the conventional cell)");
        o.points.push_back(f);
      }
      p.require(o.points.size() >= 2, "path", "a list path needs at least two points");
    } else {
      p.fail("path", "expected a string or a list of [h, k, l] points");
    }
  }
  if (p.has("labels")) {
    o.labels = p.strings("labels");
    p.require(!o.points.empty(), "labels", "labels go with a list of points in `path`");
    p.require(o.labels.size() == o.points.size(), "labels", "expected one label per path point");
  }
  o.window = p.choice("window", {"hann", "hanning", "rectangular", "none", "boxcar"}, o.window);
  o.segments = static_cast<int>(p.integer("segments", o.segments));
  p.require(o.segments >= 1, "segments", "expected at least 1 segment");
  o.stage = static_cast<int>(p.integer("stage", o.stage));
  p.require(o.stage >= -1, "stage", "expected the index of an llg stage (0 = first), or -1 for the last");
  o.frame = p.choice("frame", {"magnetization", "lab"}, o.frame);
  o.lswt = p.boolean("lswt", o.lswt);
  o.max_frequency = p.real("max_frequency", o.max_frequency);
  p.require(o.max_frequency >= 0, "max_frequency", "expected a frequency >= 0 (THz; 0 = up to Nyquist)");
  p.finish();
  return o;
}

SpinSpectrumRecorder::SpinSpectrumRecorder(const System& s, SpectrumOptions options, const Hamiltonian* h)
    : opt_(std::move(options)) {
  if (opt_.sample_every < 1) throw InputError("spectrum.sample_every must be >= 1");
  if (opt_.segments < 1) throw InputError("spectrum.segments must be >= 1");
  if (opt_.max_frequency < 0) throw InputError("spectrum.max_frequency must be >= 0 (THz)");
  window_ = parse_window(opt_.window);
  if (opt_.frame != "magnetization" && opt_.frame != "lab")
    throw InputError("spectrum.frame: expected 'magnetization' or 'lab', got '" + opt_.frame + "'");
  lab_frame_ = opt_.frame == "lab";
  for (int k = 0; k < 3; ++k)
    if (opt_.cells[k] < 1) throw InputError("spectrum: structure cells must be >= 1");

  // The conventional cell: the supercell divided by the cell counts.
  Mat3 conv = s.cell.h;
  for (int k = 0; k < 3; ++k) conv.row(k) /= static_cast<double>(opt_.cells[k]);
  PathCorners corners;
  if (!opt_.points.empty()) {
    const Mat3 b = reciprocal_vectors(conv);
    std::vector<Vec3> q;
    for (const Vec3& f : opt_.points) q.push_back(b.transpose() * f);  // q = Σ F_k b_k
    corners = explicit_path(q, opt_.labels);
  } else {
    const std::string spec = opt_.path == "auto" ? standard_path(opt_.lattice) : opt_.path;
    corners = parse_path(spec, high_symmetry_points(opt_.lattice, conv));
  }
  path_ = commensurate_path(corners, s.cell.h);
  if (path_.size() == 0)
    throw InputError("spectrum path: no wave vector of the path is commensurate with the supercell "
                     "(make the supercell larger or choose other points)");
  dense_ = dense_path(corners, opt_.lswt_dense_points);

  sites_ = s.magnetic_sites();
  if (sites_.empty()) throw InputError("spectrum: the system has no magnetic atoms");

  if (!opt_.lswt) {
    lswt_status_ = "disabled";
  } else if (!h) {
    lswt_status_ = "not computed (no Hamiltonian given)";
  } else {
    try {
      LswtOptions ls;
      ls.damping = opt_.lswt_damping;
      const LinearSpinWaves lw(s, *h, ls);
      for (const Vec3& q : path_.q) lswt_.push_back(lw.modes(q));
      for (const Vec3& q : dense_.q) lswt_dense_.push_back(lw.modes(q));
      const Vec3 n = lw.axis();
      char buf[200];
      std::snprintf(buf, sizeof buf, "ok: %d branch(es), %s precession, axis (%.6g, %.6g, %.6g)",
                    lw.branches(), lw.circular() ? "circular" : "elliptical", n.x(), n.y(), n.z());
      lswt_status_ = buf;
    } catch (const InputError& e) {
      lswt_.clear();
      lswt_dense_.clear();
      lswt_status_ = std::string("not applicable: ") + e.what();
    }
  }
}

void SpinSpectrumRecorder::update_phases(const System& s) {
  bool same = phase_positions_.size() == sites_.size();
  for (std::size_t k = 0; same && k < sites_.size(); ++k) same = s.position[sites_[k]] == phase_positions_[k];
  if (same) return;
  phase_positions_.resize(sites_.size());
  for (std::size_t k = 0; k < sites_.size(); ++k) phase_positions_[k] = s.position[sites_[k]];
  const std::size_t N = sites_.size(), nq = path_.size();
  phase_.resize(nq * N);
  // Threads only for large tables: a parallel region per sample costs more than small sums.
  const bool big = nq * N >= (std::size_t(1) << 20);
#pragma omp parallel for schedule(static) if (big)
  for (long long q = 0; q < static_cast<long long>(nq); ++q)
    for (std::size_t k = 0; k < N; ++k)
      phase_[q * N + k] = std::polar(1.0, -path_.q[q].dot(phase_positions_[k]));
}

void SpinSpectrumRecorder::update_frame(const System& s) {
  if (lab_frame_) {
    n_ = Vec3::UnitZ(); e1_ = Vec3::UnitX(); e2_ = Vec3::UnitY();
    return;
  }
  Vec3 M = Vec3::Zero();
  double total = 0.0;
  for (int i : sites_) { M += s.moment[i] * s.spin[i]; total += s.moment[i]; }
  const bool ordered = M.norm() > 1e-3 * total;
  if (!frame_set_) {
    frame_set_ = true;
    if (!ordered) {  // no net moment to follow: the lab frame for the whole recording
      lab_frame_ = true;
      update_frame(s);
      return;
    }
    n_ = M.normalized();
    e1_ = perpendicular_unit(n_);
    e2_ = n_.cross(e1_);
    return;
  }
  if (!ordered) return;
  // Parallel transport: the minimal rotation taking the old axis to the new one (Rodrigues),
  // so the transverse axes follow a slowly wandering magnetization without twisting.
  const Vec3 m = M.normalized();
  const Vec3 v = n_.cross(m);
  const double c = n_.dot(m);
  if (c > -0.999999) {
    auto rot = [&](const Vec3& x) { return Vec3(x + v.cross(x) + v.cross(v.cross(x)) / (1.0 + c)); };
    e1_ = rot(e1_);
  }
  n_ = m;
  e1_ = (e1_ - e1_.dot(n_) * n_).normalized();
  e2_ = n_.cross(e1_);
}

void SpinSpectrumRecorder::record(const System& s, double time) {
  if (!times_.empty()) {
    const double dt = time - times_.back();
    if (!(dt > 0)) throw InputError("spectrum: samples must be taken at increasing times");
    if (times_.size() >= 2) {
      const double dt0 = times_[1] - times_[0];
      if (std::abs(dt - dt0) > 1e-6 * dt0)
        throw InputError("spectrum: samples must be equally spaced in time (got " + std::to_string(dt) +
                         " ps after " + std::to_string(dt0) + " ps)");
    }
  }
  for (int i : sites_)
    if (static_cast<std::size_t>(i) >= s.size()) throw InputError("spectrum: the system changed size");
  update_phases(s);
  update_frame(s);
  const std::size_t N = sites_.size(), nq = path_.size();
  std::vector<Vec3> c(N);
  for (std::size_t k = 0; k < N; ++k) {
    const Vec3& e = s.spin[sites_[k]];
    c[k] = Vec3(e.dot(e1_), e.dot(e2_), e.dot(n_));
  }
  const std::size_t base = series_.size();
  series_.resize(base + 3 * nq);
  const double norm = 1.0 / std::sqrt(static_cast<double>(N));
  // One q per iteration, summed over sites in a fixed order: thread-count independent.
  const bool big = nq * N >= (std::size_t(1) << 20);
#pragma omp parallel for schedule(static) if (big)
  for (long long q = 0; q < static_cast<long long>(nq); ++q) {
    Complex a(0, 0), b(0, 0), z(0, 0);
    const Complex* ph = &phase_[q * N];
    for (std::size_t k = 0; k < N; ++k) {
      a += ph[k] * c[k][0];
      b += ph[k] * c[k][1];
      z += ph[k] * c[k][2];
    }
    series_[base + 3 * q + 0] = a * norm;
    series_[base + 3 * q + 1] = b * norm;
    series_[base + 3 * q + 2] = z * norm;
  }
  times_.push_back(time);
}

SpinSpectrum SpinSpectrumRecorder::spectrum() const {
  const std::size_t nt = times_.size(), nq = path_.size();
  if (nt < 2 || welch_segment_length(nt, opt_.segments) < 4)
    throw InputError("spectrum: too few samples (" + std::to_string(nt) + ") for " +
                     std::to_string(opt_.segments) + " segment(s); record longer or sample more often");
  SpinSpectrum out;
  out.dt_sample = (times_.back() - times_.front()) / static_cast<double>(nt - 1);
  // Frequencies from one Welch call; every q and component shares the grid.
  const PowerSpectrum p0 = welch(&series_[0], nt, 3 * nq, out.dt_sample, window_, opt_.segments);
  std::size_t nf = p0.frequency.size();
  if (opt_.max_frequency > 0)
    while (nf > 1 && p0.frequency[nf - 1] > opt_.max_frequency) --nf;
  out.frequency.assign(p0.frequency.begin(), p0.frequency.begin() + nf);
  out.resolution = p0.resolution();
  out.nyquist = p0.nyquist();
  out.segment_length = p0.segment_length;
  out.segments = p0.segments;
  out.intensity.assign(nq * nf, 0.0);
  out.intensity_zz.assign(nq * nf, 0.0);
#pragma omp parallel for schedule(dynamic) if (nq * nt >= (std::size_t(1) << 16))
  for (long long q = 0; q < static_cast<long long>(nq); ++q)
    for (int a = 0; a < 3; ++a) {
      const std::vector<double> f =
          welch(&series_[3 * q + a], nt, 3 * nq, out.dt_sample, window_, opt_.segments).folded();
      double* dst = a < 2 ? &out.intensity[q * nf] : &out.intensity_zz[q * nf];
      for (std::size_t k = 0; k < nf; ++k) dst[k] += f[k];
    }
  return out;
}

void SpinSpectrumRecorder::write(h5::File& file, const std::string& group) const {
  const SpinSpectrum sp = spectrum();
  const std::size_t nq = path_.size(), nf = sp.frequency.size();
  auto P = [&](const std::string& name) { return h5::join_path(group, name); };
  file.create_group(group);
  std::vector<double> q(3 * nq);
  for (std::size_t k = 0; k < nq; ++k)
    for (int a = 0; a < 3; ++a) q[3 * k + a] = path_.q[k][a];
  file.write(P("q_path"), q, {nq, 3});
  file.write(P("q_distance"), path_.distance);
  file.write_strings(P("q_labels"), path_.labels);
  file.write(P("q_label_positions"), path_.label_position);
  file.write(P("frequency_THz"), sp.frequency);
  std::vector<double> meV(nf);
  for (std::size_t k = 0; k < nf; ++k) meV[k] = sp.frequency[k] * units::h_planck * 1e3;
  file.write(P("energy_meV"), meV);
  file.write(P("intensity"), sp.intensity, {nq, nf});
  file.write(P("intensity_zz"), sp.intensity_zz, {nq, nf});
  if (!lswt_.empty()) {
    const std::size_t nb = lswt_.front().omega.size();
    auto put = [&](const std::vector<LswtModes>& modes, const std::string& fname, const std::string& wname) {
      std::vector<double> f(modes.size() * nb), w(modes.size() * nb);
      for (std::size_t k = 0; k < modes.size(); ++k)
        for (std::size_t b = 0; b < nb; ++b) {
          f[k * nb + b] = units::radps_to_THz(modes[k].omega[b]);
          w[k * nb + b] = modes[k].weight[b];
        }
      file.write(P(fname), f, {modes.size(), nb});
      file.write(P(wname), w, {modes.size(), nb});
    };
    put(lswt_, "lswt_frequency_THz", "lswt_weight");
    put(lswt_dense_, "lswt_dense_frequency_THz", "lswt_dense_weight");
    file.write(P("lswt_q_distance"), dense_.distance);
  }
  // Units on every dataset (H5MD style `unit` attributes), not only in the names.
  for (const char* name : {"q_path", "q_distance", "q_label_positions"}) file.set_attr(P(name), "unit", "1/angstrom");
  file.set_attr(P("frequency_THz"), "unit", "THz");
  file.set_attr(P("energy_meV"), "unit", "meV");
  file.set_attr(P("intensity"), "unit", "1/THz");
  file.set_attr(P("intensity_zz"), "unit", "1/THz");
  if (!lswt_.empty()) {
    file.set_attr(P("lswt_frequency_THz"), "unit", "THz");
    file.set_attr(P("lswt_dense_frequency_THz"), "unit", "THz");
    file.set_attr(P("lswt_q_distance"), "unit", "1/angstrom");
  }
  file.set_attr(group, "frequency_resolution_THz", sp.resolution);
  file.set_attr(group, "nyquist_THz", sp.nyquist);
  file.set_attr(group, "dt_sample_ps", sp.dt_sample);
  file.set_attr(group, "window", to_string(window_));
  file.set_attr(group, "segments", static_cast<std::int64_t>(sp.segments));
  file.set_attr(group, "segment_length", static_cast<std::int64_t>(sp.segment_length));
  file.set_attr(group, "samples", static_cast<std::int64_t>(times_.size()));
  file.set_attr(group, "sample_every", static_cast<std::int64_t>(opt_.sample_every));
  file.set_attr(group, "frame", lab_frame_ ? std::string("lab") : std::string("magnetization"));
  file.set_attr(group, "lswt", lswt_status_);
  file.set_attr(group, "intensity_units",
                std::string("1/THz: S(q,f) = P(+f) + P(-f), P(f) = dt |sum_t w_t m(q,t) e^{2 pi i f t}|^2 / "
                            "sum_t w_t^2, m(q,t) = N^{-1/2} sum_i e_i exp(-i q.r_i)"));
}

std::string SpinSpectrumRecorder::save_state() const {
  state_io::Writer w("spinlat-spectrum", 2);
  w.integer("wave_vectors", path_.size());
  w.integer("lab_frame", lab_frame_ ? 1 : 0);
  w.integer("frame_set", frame_set_ ? 1 : 0);
  w.vectors("frame", {n_, e1_, e2_});
  w.reals("times", times_);
  // [sample][q][3] complex numbers as (re, im) pairs (std::complex is laid out as double[2]).
  w.reals("series", reinterpret_cast<const double*>(series_.data()), 2 * series_.size());
  return w.str();
}

void SpinSpectrumRecorder::load_state(const std::string& state) {
  state_io::Reader r(state, "spinlat-spectrum", 2);
  const std::uint64_t nq = r.integer("wave_vectors");
  if (nq != path_.size())
    throw InputError("spectrum recorder state: recorded for " + std::to_string(nq) + " wave vectors, this path has " +
                     std::to_string(path_.size()));
  const std::vector<Vec3> frame = r.vectors("frame", 3);
  std::vector<double> times = r.reals("times");
  const std::vector<double> series = r.reals("series", 2 * times.size() * 3 * path_.size());
  lab_frame_ = r.integer("lab_frame") != 0;
  frame_set_ = r.integer("frame_set") != 0;
  n_ = frame[0];
  e1_ = frame[1];
  e2_ = frame[2];
  times_ = std::move(times);
  series_.resize(series.size() / 2);
  for (std::size_t k = 0; k < series_.size(); ++k) series_[k] = Complex(series[2 * k], series[2 * k + 1]);
}

}  // namespace spinlat
