// Phonon DOS recorder (observables/phonons.hpp): normalisation and Parseval on synthetic
// velocities, checkpoint continuation, and a harmonic crystal (fcc, nearest-neighbour Morse
// springs at small amplitude) whose normal modes come from the finite-difference Hessian: a
// single excited mode must give one peak at its exact (Verlet) frequency, a superposition of two
// modes two peaks with the modes' kinetic-energy ratio, and a thermal state no weight above the
// highest harmonic frequency.
#include <gtest/gtest.h>

#include <Eigen/Eigenvalues>

#include <cmath>
#include <memory>
#include <string>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/dynamics/md.hpp"
#include "spinlat/workflows/input.hpp"
#include "spinlat/lattice/pair.hpp"
#include "spinlat/observables/phonons.hpp"

using namespace spinlat;

namespace {

constexpr double kTwoPi = 2.0 * units::kPi;

// Two species of different mass, so the mass weighting is exercised.
System two_species(int n) {
  System s;
  s.cell.h = 20.0 * Mat3::Identity();
  s.species_name = {"A", "B"};
  s.species_mass = {10.0, 55.845};
  for (int i = 0; i < n; ++i) s.add_atom(Vec3(i, 0.5 * i, 0.0), i % 2, 0.0, Vec3::Zero());
  return s;
}

// v_i(t): two tones per atom with atom-dependent amplitudes and phases (Å/ps).
void synthetic_velocities(System& s, double t, double f1, double f2) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const double a = 1.0 + 0.1 * i, b = 0.3 + 0.05 * i, ph = 0.7 * i;
    s.velocity[i] = Vec3(a * std::cos(kTwoPi * f1 * t + ph), b * std::sin(kTwoPi * f2 * t - ph),
                         0.5 * a * std::cos(kTwoPi * f1 * t + 2 * ph) + 0.2 * b);
  }
}

double integral(const PhononDos& d, const std::vector<double>& y) {
  double sum = 0.0;
  for (double v : y) sum += v * d.grid_step;
  return sum;
}

}  // namespace

TEST(PhononDos, NormalisationParsevalAndPeakOnSyntheticVelocities) {
  System s = two_species(6);
  PhononOptions o;
  o.sample_every = 1;
  o.segment_length = 200;  // not a power of two: zero padding to 256
  PhononDosRecorder rec(s, o);
  const double dt = 0.01, f1 = 7.3, f2 = 13.1;  // ps, THz (resolution 0.5 THz, Nyquist 50 THz)
  const int n = 200 + 9 * 100;                   // 10 segments with 50% overlap
  std::vector<double> twice_ke(n);               // Σ m v² (eV) per sample
  for (int t = 0; t < n; ++t) {
    synthetic_velocities(s, t * dt, f1, f2);
    double sum = 0.0;
    for (std::size_t i = 0; i < s.size(); ++i) sum += s.mass(i) * s.velocity[i].squaredNorm() * units::mvv2e;
    twice_ke[t] = sum;
    rec.record(s, t * dt);
  }
  ASSERT_EQ(rec.segments(), 10u);
  const PhononDos d = rec.dos();
  // ∫ g = 3N exactly.
  EXPECT_NEAR(integral(d, d.dos), 3.0 * s.size(), 1e-10);
  // Parseval (spectra_fft.hpp): Σ_k power_k Δf_grid = the Hann-weighted mean of Σ m v² over
  // each segment, averaged over segments.
  const std::vector<double> w = window_weights(Window::hann, 200);
  double w2 = 0.0;
  for (double x : w) w2 += x * x;
  double expected = 0.0;
  for (int seg = 0; seg < 10; ++seg)
    for (int t = 0; t < 200; ++t) expected += w[t] * w[t] * twice_ke[seg * 100 + t] / (w2 * 10.0);
  EXPECT_NEAR(integral(d, d.power), expected, 1e-10 * expected);
  EXPECT_NEAR(d.temperature, expected / ((3.0 * s.size() - 3.0) * units::k_B), 1e-9 * d.temperature);
  EXPECT_NEAR(d.resolution, 0.5, 1e-12);
  EXPECT_NEAR(d.nyquist, 50.0, 1e-12);
  // The strongest line is f1 (largest amplitudes); the parabolic refinement of the Hann lobe
  // puts it within a few per cent of a grid step.
  EXPECT_NEAR(peak_frequency(d.frequency, d.dos), f1, 0.05 * d.grid_step);
  // f2's line: the largest value between 11 and 15 THz.
  std::size_t best = 0;
  for (std::size_t k = 0; k < d.frequency.size(); ++k)
    if (d.frequency[k] > 11 && d.frequency[k] < 15 && (best == 0 || d.dos[k] > d.dos[best])) best = k;
  EXPECT_NEAR(d.frequency[best], f2, d.grid_step);
}

TEST(PhononDos, CheckpointContinuesBitForBitAndErrors) {
  System s = two_species(4);
  PhononOptions o;
  o.sample_every = 1;
  o.segment_length = 64;
  PhononDosRecorder full(s, o), first(s, o);
  const int n = 64 * 5 + 17;
  std::string state;
  for (int t = 0; t < n; ++t) {
    synthetic_velocities(s, t * 0.01, 5.0, 9.0);
    full.record(s, t * 0.01);
    if (t < 150) first.record(s, t * 0.01);
    if (t == 149) state = first.save_state();
  }
  PhononDosRecorder second(s, o);
  second.load_state(state);
  for (int t = 150; t < n; ++t) {
    synthetic_velocities(s, t * 0.01, 5.0, 9.0);
    second.record(s, t * 0.01);
  }
  EXPECT_EQ(full.segments(), second.segments());
  EXPECT_EQ(full.dos().power, second.dos().power);
  EXPECT_EQ(full.save_state(), second.save_state());

  // Too few samples for a segment; unequal spacing; a state for another system size.
  PhononDosRecorder short_run(s, o);
  for (int t = 0; t < 10; ++t) short_run.record(s, t * 0.01);
  EXPECT_THROW(short_run.dos(), InputError);
  EXPECT_THROW(short_run.record(s, 0.2), InputError);
  PhononDosRecorder other(two_species(6), o);
  EXPECT_THROW(other.load_state(state), InputError);
  o.segment_length = 4;
  EXPECT_THROW(PhononDosRecorder(s, o), InputError);
}

namespace {

// fcc crystal with nearest-neighbour Morse springs at their minimum (r0 = a/√2; the cutoff lies
// between the first and second shells), 2×2×2 conventional cells (32 atoms): a stable harmonic
// crystal at small amplitude.
struct HarmonicFcc {
  static constexpr double kMass = 55.845, kA = 3.5355339059327378;  // a = √2 r0
  System s;
  Hamiltonian h;
  Eigen::VectorXd omega2;  // eigenvalues of the dynamical matrix (rad²/ps²), ascending
  Eigen::MatrixXd modes;   // columns: mass-weighted eigenvectors (here m is uniform)

  HarmonicFcc() {
    s = build_supercell(standard_lattice("fcc", kA, 0.0, {"X"}, {0.0}), Int3(2, 2, 2));
    s.species_mass = {kMass};
    PairFunction f;
    f.style = PairFunction::Style::morse;
    f.D0 = 0.4;
    f.alpha = 1.3;
    f.r0 = kA / std::sqrt(2.0);
    f.cutoff = 3.0;
    h.add(std::make_unique<PairPotential>(f));
    h.set_skin(0.3);
    h.bind(s);
    // Hessian by central differences of the forces (exact to O(δ²) for the quadratic part).
    const int n = static_cast<int>(3 * s.size());
    Eigen::MatrixXd phi(n, n);
    const double delta = 1e-4;
    std::vector<Vec3> fp(s.size()), fm(s.size());
    for (int c = 0; c < n; ++c) {
      System t = s;
      t.position[c / 3][c % 3] += delta;
      h.update(t);
      Derivatives d;
      d.force = &fp;
      h.compute(t, d);
      t.position[c / 3][c % 3] -= 2 * delta;
      h.update(t);
      d.force = &fm;
      h.compute(t, d);
      for (int r = 0; r < n; ++r) phi(r, c) = -(fp[r / 3][r % 3] - fm[r / 3][r % 3]) / (2 * delta);
    }
    h.update(s);
    const Eigen::MatrixXd dyn = 0.5 * (phi + phi.transpose()) * (units::ftm2v / kMass);
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(dyn);
    omega2 = es.eigenvalues();
    modes = es.eigenvectors();
  }
  // Velocity Verlet integrates a harmonic mode at ω' = (2/dt) asin(ω dt/2) (the exact discrete
  // dispersion of the leapfrog recursion).
  static double verlet_THz(double w2, double dt) { return 2.0 / dt * std::asin(std::sqrt(w2) * dt / 2.0) / kTwoPi; }
};

PhononDos run_md(System s, Hamiltonian& h, double dt, long long steps, const PhononOptions& o) {
  MdOptions mo;
  mo.dt = dt;
  LatticeIntegrator md(s, h, mo);
  PhononDosRecorder rec(s, o);
  for (long long k = 0; k < steps; ++k) {
    if (rec.due(k)) rec.record(s, k * dt);
    md.step();
  }
  return rec.dos();
}

}  // namespace

TEST(PhononDos, HarmonicCrystalModesSitAtTheirExactFrequencies) {
  HarmonicFcc c;
  const int n = static_cast<int>(c.omega2.size());
  // Three zero modes (translations); every other one stable.
  for (int k = 0; k < 3; ++k) EXPECT_NEAR(c.omega2[k], 0.0, 1e-6 * c.omega2[n - 1]);
  EXPECT_GT(c.omega2[3], 1e-3 * c.omega2[n - 1]);
  const double dt = 0.002;  // ps; ω_max dt ≈ 0.08
  PhononOptions o;
  o.sample_every = 5;       // 10 fs: Nyquist 50 THz
  o.segment_length = 400;   // 4 ps: resolution 0.25 THz
  const long long steps = 5 * (400 + 7 * 200);  // 8 segments
  const double fmax = HarmonicFcc::verlet_THz(c.omega2[n - 1], dt);
  const double flow = HarmonicFcc::verlet_THz(c.omega2[3], dt);
  std::printf("harmonic fcc: %d modes, lowest %.4f THz, highest %.4f THz; distinct:", n - 3, flow, fmax);
  for (int k = 3; k < n; ++k)
    if (k == 3 || c.omega2[k] > c.omega2[k - 1] * (1 + 1e-6)) std::printf(" %.4f (k=%d)", HarmonicFcc::verlet_THz(c.omega2[k], dt), k);
  std::printf("\n");

  // (1) the highest mode alone, amplitude 2e-3 Å: one line at its Verlet frequency.
  {
    System s = c.s;
    const double eps = 2e-3;
    for (std::size_t i = 0; i < s.size(); ++i)
      for (int a = 0; a < 3; ++a) s.position[i][a] += eps * c.modes(3 * i + a, n - 1) * std::sqrt(double(s.size()));
    const PhononDos d = run_md(s, c.h, dt, steps, o);
    const double peak = peak_frequency(d.frequency, d.dos);
    std::printf("single mode: peak %.5f THz, expected %.5f THz (resolution %.3f)\n", peak, fmax, d.resolution);
    EXPECT_NEAR(peak, fmax, 0.03 * d.resolution);
    EXPECT_NEAR(integral(d, d.dos), 3.0 * s.size(), 1e-9);
  }
  // (2) a mode of the second band (f_max/√2) plus the highest: two lines whose weights are the
  // modes' mean kinetic energies, ½ ε_k² ω_k² (mass-weighted amplitudes ε_k). (Not the lowest
  // band, f_max/2: its second harmonic is resonant with the top band and trades energy with it.)
  {
    System s = c.s;
    const double e1 = 3e-3, e2 = 1e-3;
    const double fmid = HarmonicFcc::verlet_THz(c.omega2[35], dt);
    ASSERT_NEAR(fmid, fmax / std::sqrt(2.0), 1e-2);  // the band of modes 35..64
    ASSERT_NEAR(c.omega2[35], c.omega2[64], 1e-6 * c.omega2[64]);
    const double sq = std::sqrt(double(s.size()));
    for (std::size_t i = 0; i < s.size(); ++i)
      for (int a = 0; a < 3; ++a)
        s.position[i][a] += sq * (e1 * c.modes(3 * i + a, 35) + e2 * c.modes(3 * i + a, n - 1));
    const PhononDos d = run_md(s, c.h, dt, steps, o);
    double w1 = 0.0, w2 = 0.0;
    for (std::size_t k = 0; k < d.frequency.size(); ++k) {
      if (std::abs(d.frequency[k] - fmid) < 3 * d.resolution) w1 += d.dos[k] * d.grid_step;
      if (std::abs(d.frequency[k] - fmax) < 3 * d.resolution) w2 += d.dos[k] * d.grid_step;
    }
    const double ratio = (e1 * e1 * c.omega2[35]) / (e2 * e2 * c.omega2[n - 1]);
    std::printf("two modes: weights %.4f + %.4f of 3N, ratio %.5f (expected %.5f)\n", w1 / (3.0 * s.size()),
                w2 / (3.0 * s.size()), w1 / w2, ratio);
    EXPECT_NEAR(w1 + w2, 3.0 * s.size(), 1e-3 * 3.0 * s.size());  // nothing elsewhere
    EXPECT_NEAR(w1 / w2, ratio, 0.01 * ratio);
  }
  // (3) thermal velocities (5 K): weight in every band, none above the top of the spectrum
  // beyond the window's leakage.
  {
    System s = c.s;
    set_velocities(s, 5.0, 7);
    const PhononDos d = run_md(s, c.h, dt, steps, o);
    double above = 0.0;
    for (std::size_t k = 0; k < d.frequency.size(); ++k)
      if (d.frequency[k] > fmax + 3 * d.resolution) above += d.dos[k] * d.grid_step;
    std::printf("thermal: weight above f_max + 3 df = %.3e of 3N; T from the spectrum %.3f K\n",
                above / (3.0 * s.size()), d.temperature);
    EXPECT_LT(above, 1e-4 * 3.0 * s.size());
    EXPECT_LE(peak_frequency(d.frequency, d.dos), fmax + d.resolution);
    // Harmonic virial theorem: starting from the perfect lattice with 5 K of kinetic energy,
    // the mean kinetic energy is half the total: 2.5 K.
    EXPECT_NEAR(d.temperature, 2.5, 0.025);
  }
}

TEST(PhononDos, ConfigTablesPointAtTheRightStages) {
  const std::string base = R"(seed = 1
[structure]
lattice = "bcc"
a = 2.8665
cells = [2, 2, 2]
species = ["Fe"]
moment = [2.2]
mass = [55.845]
[[stage]]
type = "mc"
temperature = 300
sweeps = 10
[[stage]]
type = "sld"
dt = 0.0002
steps = 10
[[stage]]
type = "md"
dt = 0.001
steps = 10
)";
  // [phonons] defaults to the last lattice stage; [spectrum] to the last llg or sld stage.
  Config c = parse_config(base + "[phonons]\nsegment_length = 64\n[spectrum]\npath = \"G-H\"\n", "in.toml");
  ASSERT_TRUE(c.phonons && c.spectrum);
  EXPECT_EQ(c.phonons->stage, 2);
  EXPECT_EQ(c.phonons->segment_length, 64);
  EXPECT_EQ(c.spectrum->stage, 1);
  EXPECT_NO_THROW(parse_config(base + "[phonons]\nstage = 1\n", "in.toml"));
  // Errors name the key: an mc stage has no velocities, an md stage no spin dynamics.
  for (const std::string& bad : {std::string("[phonons]\nstage = 0\n"), std::string("[phonons]\nsegment_length = 4\n"),
                                 std::string("[phonons]\nsample_every = 0\n"), std::string("[phonons]\nwindow = \"x\"\n"),
                                 std::string("[phonons]\nsegments = 3\n"), std::string("[spectrum]\nstage = 2\n")}) {
    try {
      parse_config(base + bad, "in.toml");
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("in.toml"), std::string::npos) << e.what();
    }
  }
}
