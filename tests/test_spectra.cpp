// Temporal FFT, power spectra, Brillouin-zone paths and the S(q, ω) recorder on synthetic
// signals with exactly known spectra (no dynamics here: see test_spectra_lswt.cpp and
// tests/physics/test_magnons.cpp for LLG against linear spin-wave theory).
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/random/normal_distribution.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/core/rng.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/io/hdf5.hpp"
#include "spinlat/io/params.hpp"
#include "spinlat/observables/spectra.hpp"
#include "spinlat/terms/heisenberg.hpp"

using namespace spinlat;

namespace {

const double kTwoPi = 2.0 * units::kPi;

std::vector<Complex> naive_dft(const std::vector<Complex>& x) {
  const std::size_t n = x.size();
  std::vector<Complex> X(n);
  for (std::size_t k = 0; k < n; ++k)
    for (std::size_t t = 0; t < n; ++t)
      X[k] += x[t] * std::polar(1.0, -kTwoPi * static_cast<double>(k * t % n) / static_cast<double>(n));
  return X;
}

std::vector<Complex> random_signal(std::size_t n, std::uint64_t seed) {
  Engine e(seed);
  boost::random::normal_distribution<double> g;
  std::vector<Complex> x(n);
  for (auto& v : x) v = Complex(g(e), g(e));
  return x;
}

/// A per-process file name in the temporary directory (tests run side by side).
std::string unique_temp(const std::string& stem, const std::string& ext) {
  return (std::filesystem::temp_directory_path() / (stem + "-" + std::to_string(::getpid()) + ext)).string();
}

System cubic_system(const std::string& lattice, int L, double a = 2.5, double m = 2.0) {
  return build_supercell(standard_lattice(lattice, a, 0.0, {"Fe"}, {m}), Int3(L, L, L));
}

/// Sets a circularly precessing spin wave ê_i ∝ n + ε(cos φ_i e1 − sin φ_i e2), φ_i = q·r_i − ωt,
/// the polarisation of a ferromagnet's magnon (counter-clockwise about n).
void set_spin_wave(System& s, const Vec3& q, double omega, double t, double eps, const Vec3& n,
                   const Vec3& e1) {
  const Vec3 e2 = n.cross(e1);
  for (std::size_t i = 0; i < s.size(); ++i) {
    const double phi = q.dot(s.position[i]) - omega * t;
    s.spin[i] = (n + eps * (std::cos(phi) * e1 - std::sin(phi) * e2)).normalized();
  }
}

}  // namespace

TEST(SpectraFFT, MatchesTheDefinitionAndInverts) {
  for (std::size_t n : {1u, 2u, 8u, 64u, 256u}) {
    std::vector<Complex> x = random_signal(n, 7 + n), X = x;
    fft(X);
    const std::vector<Complex> ref = naive_dft(x);
    double err = 0.0, scale = 0.0;
    for (std::size_t k = 0; k < n; ++k) { err = std::max(err, std::abs(X[k] - ref[k])); scale = std::max(scale, std::abs(ref[k])); }
    EXPECT_LT(err, 1e-12 * scale) << n;
    fft(X, true);
    for (std::size_t k = 0; k < n; ++k) EXPECT_LT(std::abs(X[k] / static_cast<double>(n) - x[k]), 1e-13) << n;
  }
  std::vector<Complex> bad(12);
  EXPECT_THROW(fft(bad), std::invalid_argument);
  EXPECT_EQ(next_pow2(1000), 1024u);
  EXPECT_EQ(next_pow2(1024), 1024u);
}

TEST(SpectraFFT, PowerSpectrumObeysParseval) {
  // Σ_k P(f_k) Δf_grid over both signs = Σ w²|x|²/Σ w² (the window-weighted mean of |x|²),
  // exactly, for any window, padding and segment count.
  const std::vector<Complex> x = random_signal(1000, 11);
  const double dt = 0.004;
  for (Window w : {Window::rectangular, Window::hann})
    for (int segs : {1, 3}) {
      const PowerSpectrum p = welch(x, dt, w, segs);
      const double df = p.frequency[1] - p.frequency[0];
      double sum = 0.0;
      for (double v : p.folded()) sum += v * df;
      // Reference: the same weighted mean, segment by segment.
      const std::size_t L = p.segment_length, hop = L / 2;
      const std::vector<double> win = window_weights(w, L);
      double ref = 0.0, w2 = 0.0;
      for (double v : win) w2 += v * v;
      for (int s = 0; s < segs; ++s)
        for (std::size_t t = 0; t < L; ++t) ref += win[t] * win[t] * std::norm(x[s * hop + t]) / (w2 * segs);
      EXPECT_NEAR(sum, ref, 1e-12 * ref) << to_string(w) << " " << segs;
      EXPECT_NEAR(p.resolution(), 1.0 / (L * dt), 1e-12);
      EXPECT_NEAR(p.nyquist(), 0.5 / dt, 1e-12);
    }
  EXPECT_EQ(welch_segment_length(1000, 1), 1000u);
  EXPECT_EQ(welch_segment_length(1000, 3), 500u);  // 50% overlap: 3 segments span 2 lengths
}

TEST(SpectraFFT, PrecessingSignalPeaksAtItsFrequency) {
  // x(t) = e^{−i 2π f0 t} (a moment precessing counter-clockwise, as a magnon at +q shows in
  // m(q, t)) lands at +f0: the peak is found within 2% of the resolution, the −f0 side stays
  // empty, and a real cos(2π f0 t) (both senses) is folded onto +f0.
  const double dt = 0.005, f0 = 7.3;  // ps, THz
  const std::size_t n = 3000;
  std::vector<Complex> x(n), c(n);
  for (std::size_t t = 0; t < n; ++t) {
    x[t] = std::polar(1.0, -kTwoPi * f0 * t * dt);
    c[t] = std::cos(kTwoPi * f0 * t * dt);
  }
  const PowerSpectrum p = welch(x, dt, Window::hann, 1);
  const double df = p.resolution();
  const double fp = peak_frequency(p.frequency, p.positive);
  std::printf("[measured] peak %.5f THz for f0 = %.5f THz (resolution %.5f THz)\n", fp, f0, df);
  EXPECT_NEAR(fp, f0, 0.02 * df);
  double pos = 0.0, neg = 0.0;
  for (std::size_t k = 0; k < p.positive.size(); ++k) { pos += p.positive[k]; neg += p.negative[k]; }
  EXPECT_LT(neg, 1e-6 * pos);
  const PowerSpectrum pc = welch(c, dt, Window::hann, 2);
  EXPECT_NEAR(peak_frequency(pc.frequency, pc.folded()), f0, 0.02 * pc.resolution());
  EXPECT_THROW(parse_window("kaiser"), InputError);
  EXPECT_EQ(parse_window("hanning"), Window::hann);
}

TEST(SpectraPath, BccPathIsCommensurateWithTheSupercell) {
  const double a = 2.8665;
  System s = cubic_system("bcc", 10, a);
  const auto pts = high_symmetry_points("bcc", a * Mat3::Identity());
  const PathCorners pc = parse_path(standard_path("bcc"), pts);
  const QPath p = commensurate_path(pc, s.cell.h);
  // Γ-H: 11 points, H-N, N-Γ, Γ-P, P-H: 5 more each, P-N: 6 (a new piece) = 37.
  ASSERT_EQ(p.size(), 37u);
  const Mat3 toF = s.cell.h / kTwoPi;
  for (const Vec3& q : p.q) {
    const Vec3 F = toF * q;
    for (int k = 0; k < 3; ++k) EXPECT_NEAR(F[k], std::round(F[k]), 1e-9);
  }
  EXPECT_NEAR(p.q[10].norm(), kTwoPi / a, 1e-12);  // H = 2π/a (0, 0, 1)
  for (std::size_t k = 1; k < p.size(); ++k) EXPECT_GE(p.distance[k], p.distance[k - 1] - 1e-12);
  const std::vector<std::string> labels = {"Γ", "H", "N", "Γ", "P", "H|P", "N"};
  EXPECT_EQ(p.labels, labels);
  ASSERT_EQ(p.label_position.size(), labels.size());
  EXPECT_NEAR(p.label_position[1], kTwoPi / a, 1e-12);
  EXPECT_NEAR(p.label_position.back(), p.distance.back(), 1e-12);
  // "G" and "Gamma" name Γ; an unknown name is an input error that lists the known ones.
  EXPECT_EQ(parse_path("G-H|Gamma-P", pts).pieces.size(), 2u);
  EXPECT_THROW(parse_path("Γ-X", pts), InputError);
  EXPECT_THROW(parse_path("Γ", pts), InputError);
  EXPECT_THROW(standard_path("file"), InputError);
}

TEST(SpectraPath, PointsOffTheSupercellLatticeAreSkipped) {
  // sc 5³: R = (½,½,½)·2π/a is not a wave vector of the supercell (F = 2.5) and is skipped,
  // but keeps its label. hcp 6³: the zone corner K = (b1+b2)/3 is (F = 2, 2, 0), |K| = 4π/3a.
  const double a = 3.0;
  System sc = cubic_system("sc", 5, a);
  const QPath p = commensurate_path(parse_path("Γ-R", high_symmetry_points("sc", sc.cell.h / 5.0)), sc.cell.h);
  EXPECT_EQ(p.size(), 3u);  // F = 0, (1,1,1), (2,2,2)
  EXPECT_EQ(p.labels.back(), "R");
  System hcp = build_supercell(standard_lattice("hcp", a, 0.0, {"Co"}, {1.7}), Int3(6, 6, 4));
  Mat3 conv = hcp.cell.h;
  conv.row(0) /= 6; conv.row(1) /= 6; conv.row(2) /= 4;
  const auto hp = high_symmetry_points("hcp", conv);
  EXPECT_NEAR(hp.at("K").norm(), 2.0 * kTwoPi / (3.0 * a), 1e-12);
  EXPECT_NEAR((hp.at("K") - hp.at("M")).dot(hp.at("M")), 0.0, 1e-12);  // M-K runs along the zone edge
  const QPath ph = commensurate_path(parse_path(standard_path("hcp"), hp), hcp.cell.h);
  EXPECT_NEAR((ph.q[4] - hp.at("K")).norm(), 0.0, 1e-12);  // Γ, ⅓M, ⅔M, M, K (M+½(K−M) is not)
  // An explicit list in reciprocal lattice units of the conventional cell.
  SpectrumOptions o;
  o.points = {Vec3(0, 0, 0), Vec3(0.5, 0, 0)};
  o.labels = {"G", "X"};
  o.cells = Int3(4, 4, 4);
  System s4 = cubic_system("sc", 4, a);
  SpinSpectrumRecorder r(s4, o);
  EXPECT_EQ(r.path().size(), 3u);
  EXPECT_NEAR(r.path().q[2].x(), units::kPi / a, 1e-12);
  EXPECT_EQ(r.path().labels.front(), "Γ");
}

TEST(SpectraRecorder, SyntheticSpinWaveGivesOnePeakWithTheRightWeight) {
  // A spin wave of frequency f0 at one q of the path: S⊥(q0, f) peaks at f0 (within 2% of the
  // resolution) and integrates to ⟨|m⊥(q0)|²⟩ = N ε'²/2 (ε' = ε/√(1+ε²), exact for the Hann-
  // weighted PSD of a constant-amplitude wave); the other q's carry nothing.
  const double a = 2.5, f0 = 3.1, dt = 0.01, eps = 0.05;
  const int L = 8;
  System s = cubic_system("sc", L, a);
  SpectrumOptions o;
  o.lattice = "sc";
  o.cells = Int3(L, L, L);
  o.path = "Γ-X";
  o.sample_every = 1;
  SpinSpectrumRecorder r(s, o);
  ASSERT_EQ(r.path().size(), 5u);  // 0, 1/8, ..., 4/8 in 2π/a
  const int iq = 3;
  const Vec3 q0 = r.path().q[iq];
  const int n = 2048;
  for (int t = 0; t < n; ++t) {
    set_spin_wave(s, q0, kTwoPi * f0, t * dt, eps, Vec3::UnitZ(), Vec3::UnitX());
    r.record(s, 5.0 + t * dt);
  }
  const SpinSpectrum sp = r.spectrum();
  EXPECT_NEAR(sp.resolution, 1.0 / (n * dt), 1e-9);
  EXPECT_NEAR(sp.dt_sample, dt, 1e-12);
  std::vector<double> row(sp.intensity.begin() + iq * sp.frequency.size(),
                          sp.intensity.begin() + (iq + 1) * sp.frequency.size());
  EXPECT_NEAR(peak_frequency(sp.frequency, row), f0, 0.02 * sp.resolution);
  const double df = sp.frequency[1] - sp.frequency[0];
  const double epsn = eps / std::sqrt(1 + eps * eps);
  double total = 0.0;
  for (double v : row) total += v * df;
  EXPECT_NEAR(total, s.size() * epsn * epsn / 2.0, 1e-9 * total);
  for (std::size_t q = 0; q < r.path().size(); ++q) {
    if (static_cast<int>(q) == iq) continue;
    double other = 0.0;
    for (std::size_t k = 0; k < sp.frequency.size(); ++k) other += sp.at(q, k);
    EXPECT_LT(other * df, 1e-20 * total) << q;
  }
  // S^zz: only the static moment at Γ (ê·n = 1/√(1+ε²) on every site).
  double zz_gamma = 0.0;
  for (std::size_t k = 0; k < sp.frequency.size(); ++k) zz_gamma += sp.intensity_zz[k] * df;
  EXPECT_NEAR(zz_gamma, s.size() / (1 + eps * eps), 1e-9 * s.size());
}

TEST(SpectraRecorder, FrameFollowsTheMagnetization) {
  // The same spin wave about x instead of z gives the same transverse spectrum in the
  // (default) magnetization frame; in the lab frame it shows up in S^zz instead.
  const double a = 2.5, f0 = 2.0, dt = 0.02, eps = 0.05;
  const int L = 6, n = 256;
  SpectrumOptions o;
  o.lattice = "sc";
  o.cells = Int3(L, L, L);
  o.path = "Γ-X";
  auto run = [&](const Vec3& axis, const Vec3& e1, const std::string& frame) {
    System s = cubic_system("sc", L, a);
    o.frame = frame;
    SpinSpectrumRecorder r(s, o);
    const Vec3 q0 = r.path().q[2];
    for (int t = 0; t < n; ++t) {
      set_spin_wave(s, q0, kTwoPi * f0, t * dt, eps, axis, e1);
      r.record(s, t * dt);
    }
    return r.spectrum();
  };
  const SpinSpectrum z = run(Vec3::UnitZ(), Vec3::UnitX(), "magnetization");
  const SpinSpectrum x = run(Vec3::UnitX(), Vec3::UnitY(), "magnetization");
  const SpinSpectrum lab = run(Vec3::UnitX(), Vec3::UnitY(), "lab");
  const std::size_t nf = z.frequency.size();
  double tz = 0, tx = 0, tlab = 0, tlabzz = 0;
  for (std::size_t k = 0; k < nf; ++k) {
    tz += z.at(2, k);
    tx += x.at(2, k);
    tlab += lab.at(2, k);
    tlabzz += lab.intensity_zz[2 * nf + k];
  }
  EXPECT_NEAR(tx, tz, 1e-9 * tz);
  EXPECT_NEAR(tlab + tlabzz, tz, 1e-9 * tz);
  EXPECT_GT(tlabzz, 0.3 * tz);  // x is longitudinal in the lab frame: half the wave is in "zz"
}

TEST(SpectraRecorder, WritesHdf5AndContinuesBitForBitFromItsState) {
  const int L = 4, n = 64;
  const double dt = 0.01;
  System s = cubic_system("bcc", L, 2.8665, 2.2);
  set_spins_random(s, 99);
  SpectrumOptions o;
  o.lattice = "bcc";
  o.cells = Int3(L, L, L);
  o.segments = 3;
  o.sample_every = 5;
  EXPECT_TRUE(SpinSpectrumRecorder(s, o).due(10));
  EXPECT_FALSE(SpinSpectrumRecorder(s, o).due(11));
  auto evolve = [&](System& sys, int t) {  // a deterministic "dynamics": rotate every spin
    const double ang = 0.1 * t;
    for (std::size_t i = 0; i < sys.size(); ++i) {
      const double c = std::cos(ang + 0.01 * i), si = std::sin(ang + 0.01 * i);
      sys.spin[i] = Vec3(0.3 * c, 0.3 * si, 1.0).normalized();
    }
  };
  SpinSpectrumRecorder full(s, o), first(s, o);
  for (int t = 0; t < n; ++t) {
    evolve(s, t);
    full.record(s, t * dt);
    if (t < n / 2) first.record(s, t * dt);
  }
  SpinSpectrumRecorder second(s, o);
  second.load_state(first.save_state());
  for (int t = n / 2; t < n; ++t) {
    evolve(s, t);
    second.record(s, t * dt);
  }
  const SpinSpectrum a = full.spectrum(), b = second.spectrum();
  EXPECT_EQ(a.intensity, b.intensity);
  EXPECT_EQ(a.intensity_zz, b.intensity_zz);
  EXPECT_THROW(second.record(s, n * dt + 0.5 * dt), InputError);  // uneven spacing
  SpectrumOptions other = o;
  other.path = "Γ-H";
  SpinSpectrumRecorder wrong(s, other);
  EXPECT_THROW(wrong.load_state(first.save_state()), InputError);
  EXPECT_THROW(wrong.load_state("garbage"), InputError);

  const std::string path = unique_temp("spinlat_test_spectra", ".h5");
  {
    h5::File f = h5::File::create(path);
    full.write(f);
  }
  h5::File f = h5::File::open(path);
  const std::uint64_t nq = full.path().size(), nf = a.frequency.size();
  EXPECT_EQ(f.shape("/spectra/spin/q_path"), (h5::Shape{nq, 3}));
  EXPECT_EQ(f.shape("/spectra/spin/intensity"), (h5::Shape{nq, nf}));
  EXPECT_EQ(f.shape("/spectra/spin/intensity_zz"), (h5::Shape{nq, nf}));
  EXPECT_EQ(f.read_strings("/spectra/spin/q_labels").size(), 7u);
  EXPECT_EQ(f.read_doubles("/spectra/spin/q_label_positions").size(), 7u);
  EXPECT_EQ(f.attr_string("/spectra/spin/q_distance", "unit"), "1/angstrom");
  EXPECT_EQ(f.attr_string("/spectra/spin/frequency_THz", "unit"), "THz");
  EXPECT_EQ(f.attr_string("/spectra/spin/intensity", "unit"), "1/THz");
  EXPECT_NEAR(f.attr_double("/spectra/spin", "dt_sample_ps"), dt, 1e-12);
  EXPECT_NEAR(f.attr_double("/spectra/spin", "frequency_resolution_THz"), a.resolution, 1e-12);
  EXPECT_EQ(f.attr_string("/spectra/spin", "window"), "hann");
  const std::vector<double> meV = f.read_doubles("/spectra/spin/energy_meV");
  EXPECT_NEAR(meV[5], a.frequency[5] * 4.135667696, 1e-8);  // h = 4.1357 meV/THz
  EXPECT_FALSE(f.exists("/spectra/spin/lswt_frequency_THz"));  // no Hamiltonian given
  f.close();
  std::filesystem::remove(path);
  // Bad options.
  o.window = "kaiser";
  EXPECT_THROW(SpinSpectrumRecorder(s, o), InputError);
  o.window = "hann";
  o.lattice = "file";
  EXPECT_THROW(SpinSpectrumRecorder(s, o), InputError);
}

TEST(SpectraOptions, ReadsTheSpectrumTableStrictly) {
  const auto doc = toml::parse(R"(
[spectrum]
sample_every = 20
path = [[0, 0, 0], [0.5, 0, 0], [0.5, 0.5, 0]]
labels = ["G", "X", "M"]
window = "hann"
segments = 9
stage = 1
max_frequency = 80.0
)");
  Params p(*doc["spectrum"].as_table(), "in.toml", "spectrum");
  const SpectrumOptions o = read_spectrum_options(p);
  EXPECT_EQ(o.sample_every, 20);
  ASSERT_EQ(o.points.size(), 3u);
  EXPECT_EQ(o.points[2], Vec3(0.5, 0.5, 0));
  EXPECT_EQ(o.labels[0], "G");
  EXPECT_EQ(o.segments, 9);
  EXPECT_EQ(o.stage, 1);
  EXPECT_EQ(o.max_frequency, 80.0);
  EXPECT_EQ(o.frame, "magnetization");
  auto bad = [](const std::string& text) {
    const auto d = toml::parse(text);
    Params q(*d["spectrum"].as_table(), "in.toml", "spectrum");
    read_spectrum_options(q);
  };
  EXPECT_NO_THROW(bad("[spectrum]\npath = \"G-H-N|P-H\"\n"));
  EXPECT_THROW(bad("[spectrum]\nsample_evry = 3\n"), InputError);  // misspelt key
  EXPECT_THROW(bad("[spectrum]\npath = [[0, 0], [1, 0]]\n"), InputError);
  EXPECT_THROW(bad("[spectrum]\nsegments = 0\n"), InputError);
  EXPECT_THROW(bad("[spectrum]\nwindow = \"kaiser\"\n"), InputError);
  EXPECT_THROW(bad("[spectrum]\nlabels = [\"G\"]\n"), InputError);
}

TEST(SpectraRecorder, PlotScriptDrawsTheSpectrumWithLswt) {
  // analysis/plot_spectrum.py reads the file with h5py and writes a PNG (skipped when
  // /usr/bin/python3 lacks h5py, numpy or matplotlib).
  if (std::system("/usr/bin/python3 -c 'import h5py, numpy, matplotlib' > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "no h5py/numpy/matplotlib for /usr/bin/python3";
  const int L = 6;
  System s = cubic_system("bcc", L, 2.8665, 2.2);
  Hamiltonian h;
  h.add(std::make_unique<HeisenbergExchange>(s, std::vector<double>{0.01}));
  h.bind(s);
  SpectrumOptions o;
  o.lattice = "bcc";
  o.cells = Int3(L, L, L);
  SpinSpectrumRecorder r(s, o, &h);
  ASSERT_FALSE(r.lswt().empty()) << r.lswt_status();
  for (int t = 0; t < 128; ++t) {
    set_spin_wave(s, r.path().q[3], kTwoPi * 5.0, t * 0.01, 0.02, Vec3::UnitZ(), Vec3::UnitX());
    r.record(s, t * 0.01);
  }
  const std::string h5path = unique_temp("spinlat_test_spectrum_plot", ".h5");
  const std::string png = unique_temp("spinlat_test_spectrum_plot", ".png");
  {
    h5::File f = h5::File::create(h5path);
    r.write(f);
  }
  std::filesystem::remove(png);
  const std::string cmd = "/usr/bin/python3 " SPINLAT_SOURCE_DIR "/analysis/plot_spectrum.py '" + h5path + "' -o '" +
                          png + "' > /dev/null 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_TRUE(std::filesystem::exists(png));
  EXPECT_GT(std::filesystem::file_size(png), 1000u);
  const std::string check = "/usr/bin/python3 -c \"import h5py; g = h5py.File('" + h5path +
                            "', 'r')['/spectra/spin']; assert g['lswt_frequency_THz'].shape == (" +
                            std::to_string(r.path().size()) + ", 2); assert g['q_labels'][0].decode() == 'Γ'\"";
  EXPECT_EQ(std::system(check.c_str()), 0);
  std::filesystem::remove(png);
  std::filesystem::remove(h5path);
}
