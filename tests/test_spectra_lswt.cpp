// Linear spin-wave theory against closed forms (exact to 1e-10), and against deterministic
// LLG runs of single small-amplitude spin waves (the recorder's peak within a fraction of the
// frequency resolution). Closed forms, for J in the convention E = −Σ_{i<j} J ê_i·ê_j and
// c = γ_e/(|m| μB) (docs/magnons.md: ω(q) = c Σ_j J_0j (1 − cos q·r_0j) + ...):
//   sc   shell 1 (6 at a):        2 J1 (3 − cos qx a − cos qy a − cos qz a)
//        shell 2 (12 at a√2):     J2 (12 − 4 (cx cy + cy cz + cz cx)),  c_α = cos q_α a
//   bcc  shell 1 (8 at a√3/2):    8 J1 (1 − cos(qx a/2) cos(qy a/2) cos(qz a/2))
//        shell 2 (6 at a):        2 J2 (3 − cos qx a − cos qy a − cos qz a)
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <memory>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/dynamics/llg.hpp"
#include "spinlat/observables/lswt.hpp"
#include "spinlat/observables/spectra.hpp"
#include "spinlat/terms/anisotropy.hpp"
#include "spinlat/terms/dmi.hpp"
#include "spinlat/terms/heisenberg.hpp"
#include "spinlat/terms/radial_exchange.hpp"
#include "spinlat/terms/zeeman.hpp"

using namespace spinlat;

namespace {

const double kTwoPi = 2.0 * units::kPi;

double rate(double m) { return units::gamma_e / (m * units::mu_B); }  // rad/(ps·eV)

double sc_shells(const Vec3& q, double a, double J1, double J2) {
  const double cx = std::cos(q.x() * a), cy = std::cos(q.y() * a), cz = std::cos(q.z() * a);
  return 2 * J1 * (3 - cx - cy - cz) + J2 * (12 - 4 * (cx * cy + cy * cz + cz * cx));
}

double bcc_shells(const Vec3& q, double a, double J1, double J2) {
  const double g = std::cos(q.x() * a / 2) * std::cos(q.y() * a / 2) * std::cos(q.z() * a / 2);
  return 8 * J1 * (1 - g) + 2 * J2 * (3 - std::cos(q.x() * a) - std::cos(q.y() * a) - std::cos(q.z() * a));
}

const std::vector<Vec3>& test_q() {
  // Generic wave vectors (1/Å): not on the supercell's reciprocal lattice, no symmetry.
  static const std::vector<Vec3> q = {Vec3(0, 0, 0), Vec3(0.31, -0.17, 0.05), Vec3(1.1, 0.4, -0.9),
                                      Vec3(-2.3, 1.7, 0.6), Vec3(0.05, 0.02, 2.2)};
  return q;
}

struct Model {
  System s;
  Hamiltonian h;
};

std::unique_ptr<Model> cubic_model(const std::string& lattice, int L, double a, double m,
                                   const std::vector<double>& J) {
  auto M = std::make_unique<Model>();
  M->s = build_supercell(standard_lattice(lattice, a, 0.0, {"Fe"}, {m}), Int3(L, L, L));
  M->h.add(std::make_unique<HeisenbergExchange>(M->s, J));
  return M;
}

/// Primitive bcc (one atom per cell, vectors a/2(−1,1,1), ...), L³ cells.
std::unique_ptr<Model> bcc_primitive(int L, double a, double m, const std::vector<double>& J) {
  Mat3 cell;
  cell << -a / 2, a / 2, a / 2, a / 2, -a / 2, a / 2, a / 2, a / 2, -a / 2;
  BasisSite site;
  site.species = "Fe";
  site.moment = m;
  auto M = std::make_unique<Model>();
  M->s = build_supercell(custom_lattice(cell, {site}), Int3(L, L, L));
  M->h.add(std::make_unique<HeisenbergExchange>(M->s, J));
  return M;
}

/// CsCl (B2) ferromagnet: moments m1 at the cube corner, m2 at the body centre.
std::unique_ptr<Model> b2_model(int L, double a, double m1, double m2, const std::vector<double>& J) {
  BasisSite s1, s2;
  s1.species = "Fe"; s1.moment = m1;
  s2.species = "Co"; s2.moment = m2; s2.fractional = Vec3(0.5, 0.5, 0.5);
  auto M = std::make_unique<Model>();
  M->s = build_supercell(custom_lattice(a * Mat3::Identity(), {s1, s2}), Int3(L, L, L));
  M->h.add(std::make_unique<HeisenbergExchange>(M->s, J));
  return M;
}

}  // namespace

TEST(LSWT, BravaisFerromagnetsMatchTheClosedForm) {
  // sc (1 and 2 shells; also a 2³ cell, where every neighbour is met through two images at
  // equal distance) and bcc written as a one-atom primitive cell; relative error < 1e-10.
  const double a = 2.5, m = 2.0, J1 = 0.010, J2 = 0.005;
  struct Case { std::string name; std::unique_ptr<Model> M; double J2; bool bcc; };
  std::vector<Case> cases;
  cases.push_back({"sc J1", cubic_model("sc", 5, a, m, {J1}), 0.0, false});
  cases.push_back({"sc J1 J2", cubic_model("sc", 5, a, m, {J1, J2}), J2, false});
  cases.push_back({"sc 2^3 J1 J2", cubic_model("sc", 2, a, m, {J1, J2}), J2, false});
  cases.push_back({"bcc primitive J1", bcc_primitive(6, a, m, {J1}), 0.0, true});
  cases.push_back({"bcc primitive J1 J2", bcc_primitive(6, a, m, {J1, J2}), J2, true});
  for (auto& c : cases) {
    c.M->h.bind(c.M->s);
    const LinearSpinWaves lw(c.M->s, c.M->h);
    ASSERT_EQ(lw.branches(), 1) << c.name;
    EXPECT_TRUE(lw.circular());
    for (const Vec3& q : test_q()) {
      const double exact = rate(m) * (c.bcc ? bcc_shells(q, a, J1, c.J2) : sc_shells(q, a, J1, c.J2));
      const LswtModes md = lw.modes(q);
      EXPECT_NEAR(md.omega[0], exact, 1e-10 * rate(m) * (J1 + J2) * 12) << c.name << " q=" << q.transpose();
      EXPECT_NEAR(md.weight[0], 1.0, 1e-12);
    }
  }
}

TEST(LSWT, ConventionalBccCellGivesTheFoldedPairOfBranches) {
  // The cubic two-atom cell folds the Bravais dispersion: branches {ω(q), ω(q + 2π/a x̂)};
  // the structure-factor weight picks ω(q) (weight 1) and hides the folded one (weight 0).
  // Also the smallest cell (1³: eight images of the one neighbour, all at a√3/2).
  const double a = 2.8665, m = 2.2, J1 = 0.010, J2 = 0.005;
  for (int L : {1, 6})
    for (double j2 : {0.0, J2}) {
      if (L == 1 && j2 != 0.0) continue;  // second shell reaches the atom's own image
      auto M = cubic_model("bcc", L, a, m, j2 != 0.0 ? std::vector<double>{J1, j2} : std::vector<double>{J1});
      M->h.bind(M->s);
      const LinearSpinWaves lw(M->s, M->h);
      ASSERT_EQ(lw.branches(), 2);
      for (const Vec3& q : test_q()) {
        const double w0 = rate(m) * bcc_shells(q, a, J1, j2);
        const double w1 = rate(m) * bcc_shells(q + Vec3(kTwoPi / a, 0, 0), a, J1, j2);
        const LswtModes md = lw.modes(q);
        const double tol = 1e-10 * rate(m) * 16 * (J1 + J2);
        EXPECT_NEAR(md.omega[0], std::min(w0, w1), tol) << L;
        EXPECT_NEAR(md.omega[1], std::max(w0, w1), tol) << L;
        const int seen = md.weight[0] > md.weight[1] ? 0 : 1;
        EXPECT_NEAR(md.omega[seen], w0, tol);
        EXPECT_NEAR(md.weight[seen], 1.0, 1e-9);
        EXPECT_NEAR(md.weight[1 - seen], 0.0, 1e-9);
      }
    }
}

TEST(LSWT, UnequalMomentsUseTheMomentMetric) {
  // B2 ferromagnet, moments 2.5 and 1.0 μB, J1 between sublattices (8 at a√3/2), J2 within
  // (6 at a), uniaxial K and a field B along z. With A_ss = 8J1 + 2J2(3 − Σcos q_α a) + 2K +
  // m_s μB B, A_12 = −8 J1 Π cos(q_α a/2), m_s = |m_s| μB/γ_e, the branches solve
  //   m1 m2 ω² − (A11 m2 + A22 m1) ω + A11 A22 − A12² = 0.
  const double a = 2.9, m1 = 2.5, m2 = 1.0, J1 = 0.012, J2 = 0.003, K = 0.0004, B = 3.0;
  auto M = b2_model(5, a, m1, m2, {J1, J2});
  M->h.add(std::make_unique<UniaxialAnisotropy>(K, Vec3::UnitZ()));
  M->h.add(std::make_unique<Zeeman>(Vec3(0, 0, B)));
  M->h.bind(M->s);
  const LinearSpinWaves lw(M->s, M->h);
  ASSERT_EQ(lw.branches(), 2);
  EXPECT_TRUE(lw.circular());
  EXPECT_NEAR(lw.axis().z(), 1.0, 1e-15);
  for (const Vec3& q : test_q()) {
    const double g = std::cos(q.x() * a / 2) * std::cos(q.y() * a / 2) * std::cos(q.z() * a / 2);
    const double intra = 2 * J2 * (3 - std::cos(q.x() * a) - std::cos(q.y() * a) - std::cos(q.z() * a));
    const double A11 = 8 * J1 + intra + 2 * K + m1 * units::mu_B * B;
    const double A22 = 8 * J1 + intra + 2 * K + m2 * units::mu_B * B;
    const double A12 = -8 * J1 * g;
    const double M1 = 1 / rate(m1), M2 = 1 / rate(m2);
    const double qa = M1 * M2, qb = -(A11 * M2 + A22 * M1), qc = A11 * A22 - A12 * A12;
    const double disc = std::sqrt(qb * qb - 4 * qa * qc);
    const double lo = (-qb - disc) / (2 * qa), hi = (-qb + disc) / (2 * qa);
    const LswtModes md = lw.modes(q);
    EXPECT_NEAR(md.omega[0], lo, 1e-10 * hi) << q.transpose();
    EXPECT_NEAR(md.omega[1], hi, 1e-10 * hi) << q.transpose();
  }
  // Larmor's theorem: without anisotropy the uniform mode precesses rigidly at γ_e B,
  // whatever the moments.
  auto L = b2_model(3, a, m1, m2, {J1, J2});
  L->h.add(std::make_unique<Zeeman>(Vec3(0, 0, B)));
  L->h.bind(L->s);
  const double larmor = units::gamma_e * B;
  EXPECT_NEAR(LinearSpinWaves(L->s, L->h).modes(Vec3::Zero()).omega[0], larmor, 1e-10 * larmor);
}

TEST(LSWT, AnisotropyFieldAndRadialExchange) {
  const double a = 2.5, m = 2.0, J1 = 0.010, c = rate(m);
  // Cubic Kc > 0 along z acts as a uniaxial 2Kc gap; Kc < 0 with the moments along [111]
  // gives a gap −4Kc/3 (the transverse curvature of Kc Σ e_a²e_b² at [111]).
  for (double Kc : {0.001, -0.001}) {
    auto M = cubic_model("sc", 4, a, m, {J1});
    M->h.add(std::make_unique<CubicAnisotropy>(Kc));
    if (Kc < 0) set_spins_along(M->s, Vec3(1, 1, 1));
    M->h.bind(M->s);
    const LinearSpinWaves lw(M->s, M->h);
    EXPECT_TRUE(lw.circular());
    const double gap = Kc > 0 ? 2 * Kc : -4 * Kc / 3;
    for (const Vec3& q : test_q())
      EXPECT_NEAR(lw.frequencies(q)[0], c * (sc_shells(q, a, J1, 0) + gap), 1e-10 * c * 12 * J1) << Kc;
  }
  // Elliptical precession: field B along z, easy axis x (K, with m μB B > 2K keeping z
  // stable): ω = c √((A + Z − 2K)(A + Z)), Z = m μB B (Kittel's formula with exchange).
  {
    const double K = 0.001, B = 30.0, Z = m * units::mu_B * B;
    auto M = cubic_model("sc", 4, a, m, {J1});
    M->h.add(std::make_unique<UniaxialAnisotropy>(K, Vec3::UnitX()));
    M->h.add(std::make_unique<Zeeman>(Vec3(0, 0, B)));
    M->h.bind(M->s);
    const LinearSpinWaves lw(M->s, M->h);
    EXPECT_FALSE(lw.circular());
    for (const Vec3& q : test_q()) {
      const double A = sc_shells(q, a, J1, 0);
      EXPECT_NEAR(lw.frequencies(q)[0], c * std::sqrt((A + Z - 2 * K) * (A + Z)), 1e-10 * c * 12 * J1);
    }
  }
  // Easy plane (K < 0 along z), moments along x: the automatic axis stays in the plane and
  // ω = c √(A (A + 2|K|)) (the out-of-plane curvature 2|K| makes the precession elliptical).
  {
    const double K = -0.001;
    auto M = cubic_model("sc", 4, a, m, {J1});
    M->h.add(std::make_unique<UniaxialAnisotropy>(K, Vec3::UnitZ()));
    set_spins_along(M->s, Vec3(1, 0.2, 0));
    M->h.bind(M->s);
    const LinearSpinWaves lw(M->s, M->h);
    EXPECT_NEAR(lw.axis().z(), 0.0, 1e-15);
    EXPECT_FALSE(lw.circular());
    for (const Vec3& q : test_q()) {
      const double A = sc_shells(q, a, J1, 0);
      EXPECT_NEAR(lw.frequencies(q)[0], c * std::sqrt(A * (A - 2 * K)), 1e-10 * c * 12 * J1);
    }
  }
  // Bethe-Slater exchange of LAMMPS's iron example on bcc: J1 = J(a√3/2), J2 = J(a).
  {
    const double af = 2.8665, mf = 2.2;
    const RadialFunction J = RadialFunction::bethe_slater(0.02726, 0.2171, 1.841, 3.4);
    Model M;
    M.s = build_supercell(standard_lattice("bcc", af, 0.0, {"Fe"}, {mf}), Int3(4, 4, 4));
    M.h.add(std::make_unique<RadialExchange>("bethe-slater", J));
    M.h.bind(M.s);
    const LinearSpinWaves lw(M.s, M.h);
    const double j1 = J(af * std::sqrt(3.0) / 2), j2 = J(af);
    for (const Vec3& q : test_q()) {
      const LswtModes md = lw.modes(q);
      const int seen = md.weight[0] > md.weight[1] ? 0 : 1;
      if (q.norm() > 0) {
        EXPECT_NEAR(md.omega[seen], rate(mf) * bcc_shells(q, af, j1, j2), 1e-10 * rate(mf) * 16 * j1);
      }
    }
    std::printf("[measured] bcc Fe Bethe-Slater: J1 = %.6f eV, J2 = %.6f eV, f(H) = %.3f THz\n", j1, j2,
                units::radps_to_THz(lw.modes(Vec3(0, 0, kTwoPi / af)).omega[1]));
  }
}

TEST(LSWT, RefusesWhatItCannotDescribe) {
  // A 1³ simple cubic cell: the atom's neighbours are its own images.
  auto tiny = cubic_model("sc", 1, 2.5, 2.0, {0.01});
  tiny->h.bind(tiny->s);
  EXPECT_THROW(LinearSpinWaves(tiny->s, tiny->h), InputError);
  // A collinear state across the field is not stationary.
  auto M = cubic_model("sc", 3, 2.5, 2.0, {0.01});
  M->h.add(std::make_unique<Zeeman>(Vec3(0, 0, 5.0)));
  M->h.bind(M->s);
  LswtOptions st;
  st.axis = Vec3(1, 0, 0);
  EXPECT_THROW(LinearSpinWaves(M->s, M->h, st), InputError);
  EXPECT_NO_THROW(LinearSpinWaves(M->s, M->h));  // the automatic axis follows the field
  // A sublattice whose atoms differ (one moment changed).
  auto D = cubic_model("sc", 3, 2.5, 2.0, {0.01});
  D->s.moment[5] = 1.0;
  D->h.bind(D->s);
  EXPECT_THROW(LinearSpinWaves(D->s, D->h), InputError);
}

// ---- LLG against LSWT: single spin waves, no damping, no noise ---------------------------

namespace {

/// Sets ê_i ∝ n + ε_s (cos φ_i x̂ − sin φ_i ŷ), φ_i = q·r_i (a counter-clockwise wave about
/// n = z), with amplitude eps[sublattice].
void excite(System& s, const Vec3& q, const std::vector<double>& eps) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const double phi = q.dot(s.position[i]), e = eps[s.sublattice[i]];
    s.spin[i] = Vec3(e * std::cos(phi), -e * std::sin(phi), 1.0).normalized();
  }
}

/// Runs undamped, noiseless LLG and returns the recorder (sampled every 5 steps).
SpinSpectrumRecorder run_llg(Model& M, SpectrumOptions o, double dt, long long steps) {
  o.sample_every = 5;
  SpinSpectrumRecorder r(M.s, o, &M.h);
  LLGOptions p;
  p.dt = dt;
  p.damping = {0.0};
  p.threads = 1;  // small systems: a parallel region per step would cost more than it saves
  LLG llg(M.h, M.s, p, 1);
  for (long long k = 0; k <= steps; ++k) {
    if (r.due(k)) r.record(M.s, k * dt);
    llg.step(M.s);
  }
  return r;
}

/// Peak (THz) of S⊥(q index iq) within [lo, hi] THz.
double peak_in(const SpinSpectrum& sp, std::size_t iq, double lo, double hi) {
  std::vector<double> f, y;
  for (std::size_t k = 0; k < sp.frequency.size(); ++k)
    if (sp.frequency[k] >= lo && sp.frequency[k] <= hi) { f.push_back(sp.frequency[k]); y.push_back(sp.at(iq, k)); }
  return peak_frequency(f, y);
}

}  // namespace

TEST(LSWTvsLLG, SpinWavesPrecessAtTheLswtFrequency) {
  // sc 8³ (J1 10 meV, J2 3 meV, 2 μB) and a B2 ferromagnet with 2.5 and 1.5 μB (both branches
  // excited by a wave on one sublattice only); Heun, dt = 0.5 fs, 8 ps (Δf = 0.125 THz),
  // ε = 0.01. Each peak lies within Δf/4 of LSWT. Heun's phase error, a relative +(ω dt)²/6
  // (at most 6e-4 here, 0.09 Δf at 18 THz), and the cone-angle shift (ε²/2 = 5e-5) are the
  // known deviations from the linear theory.
  const double dt = 0.0005;
  const long long steps = 16000;
  {
    Model M;
    M.s = build_supercell(standard_lattice("sc", 2.5, 0.0, {"Fe"}, {2.0}), Int3(8, 8, 8));
    M.h.add(std::make_unique<HeisenbergExchange>(M.s, std::vector<double>{0.010, 0.003}));
    M.h.bind(M.s);
    SpectrumOptions o;
    o.lattice = "sc";
    o.cells = Int3(8, 8, 8);
    o.path = "Γ-M";
    SpinSpectrumRecorder probe(M.s, o, &M.h);
    for (std::size_t iq : {1u, 2u}) {
      excite(M.s, probe.path().q[iq], {0.01});
      SpinSpectrumRecorder r = run_llg(M, o, dt, steps);
      const SpinSpectrum sp = r.spectrum();
      const double f_lswt = units::radps_to_THz(r.lswt()[iq].omega[0]);
      const double f = peak_in(sp, iq, 0.2, sp.nyquist);
      std::printf("[measured] sc q%zu: LLG %.4f THz, LSWT %.4f THz, resolution %.4f THz\n", iq, f, f_lswt,
                  sp.resolution);
      EXPECT_NEAR(f, f_lswt, 0.25 * sp.resolution);
    }
  }
  {
    auto M = b2_model(6, 2.9, 2.5, 1.5, {0.006, 0.002});
    M->h.bind(M->s);
    SpectrumOptions o;
    o.points = {Vec3(0, 0, 0), Vec3(0.5, 0.5, 0)};
    o.cells = Int3(6, 6, 6);
    SpinSpectrumRecorder probe(M->s, o, &M->h);
    const std::size_t iq = 2;
    excite(M->s, probe.path().q[iq], {0.01, 0.0});
    SpinSpectrumRecorder r = run_llg(*M, o, dt, steps);
    const SpinSpectrum sp = r.spectrum();
    for (int b = 0; b < 2; ++b) {
      const double f_lswt = units::radps_to_THz(r.lswt()[iq].omega[b]);
      const double f = peak_in(sp, iq, f_lswt - 3 * sp.resolution, f_lswt + 3 * sp.resolution);
      std::printf("[measured] B2 branch %d: LLG %.4f THz, LSWT %.4f THz\n", b, f, f_lswt);
      EXPECT_NEAR(f, f_lswt, 0.25 * sp.resolution);
    }
  }
}

TEST(LSWTvsLLG, EllipticalAndNonreciprocalModes) {
  // Easy x axis under a field along z (elliptical precession), and bulk DMI with the moments
  // along z: ω(+q) ≠ ω(−q) along z (Δω = 4 c D sin(q a) at first order). LLG confirms the
  // LSWT value (within Δf/4, as above) and the sign of the splitting.
  const double dt = 0.0005, a = 2.5;
  const long long steps = 16000;
  {
    Model M;
    M.s = build_supercell(standard_lattice("sc", a, 0.0, {"Fe"}, {2.0}), Int3(8, 8, 8));
    M.h.add(std::make_unique<HeisenbergExchange>(M.s, std::vector<double>{0.010}));
    M.h.add(std::make_unique<UniaxialAnisotropy>(0.002, Vec3::UnitX()));
    M.h.add(std::make_unique<Zeeman>(Vec3(0, 0, 40.0)));
    M.h.bind(M.s);
    SpectrumOptions o;
    o.lattice = "sc";
    o.cells = Int3(8, 8, 8);
    o.path = "Γ-X";
    SpinSpectrumRecorder probe(M.s, o, &M.h);
    const std::size_t iq = 2;
    excite(M.s, probe.path().q[iq], {0.01});
    SpinSpectrumRecorder r = run_llg(M, o, dt, steps);
    const SpinSpectrum sp = r.spectrum();
    const double f_lswt = units::radps_to_THz(r.lswt()[iq].omega[0]);
    const double f = peak_in(sp, iq, 0.2, sp.nyquist);
    std::printf("[measured] elliptical: LLG %.4f THz, LSWT %.4f THz (%s)\n", f, f_lswt, r.lswt_status().c_str());
    EXPECT_NEAR(f, f_lswt, 0.25 * sp.resolution);
  }
  {
    Model M;
    M.s = build_supercell(standard_lattice("sc", a, 0.0, {"Fe"}, {2.0}), Int3(8, 8, 8));
    M.h.add(std::make_unique<HeisenbergExchange>(M.s, std::vector<double>{0.010}));
    M.h.add(std::make_unique<DMInteraction>(M.s, DMInteraction::Kind::bulk, std::vector<double>{0.002}));
    M.h.add(std::make_unique<Zeeman>(Vec3(0, 0, 10.0)));
    M.h.bind(M.s);
    SpectrumOptions o;
    o.points = {Vec3(0, 0, -0.5), Vec3(0, 0, 0.5)};
    o.cells = Int3(8, 8, 8);
    SpinSpectrumRecorder probe(M.s, o, &M.h);
    ASSERT_EQ(probe.path().size(), 9u);
    std::vector<double> fl;
    for (std::size_t iq : {2u, 6u}) {  // q = ∓(2/8)·2π/a ẑ
      const double c = rate(2.0), qz = probe.path().q[iq].z();
      const double closed = c * (2 * 0.010 * (1 - std::cos(qz * a)) - 2 * 0.002 * std::sin(qz * a) +
                                 2.0 * units::mu_B * 10.0);
      EXPECT_NEAR(probe.lswt()[iq].omega[0], closed, 1e-10 * closed);
      excite(M.s, probe.path().q[iq], {0.01});
      SpinSpectrumRecorder r = run_llg(M, o, dt, steps);
      const SpinSpectrum sp = r.spectrum();
      const double f_lswt = units::radps_to_THz(r.lswt()[iq].omega[0]);
      const double f = peak_in(sp, iq, 0.2, sp.nyquist);
      std::printf("[measured] DMI q_z = %+.4f 1/Å: LLG %.4f THz, LSWT %.4f THz\n", qz, f, f_lswt);
      EXPECT_NEAR(f, f_lswt, 0.25 * sp.resolution);
      fl.push_back(f);
    }
    EXPECT_GT(std::abs(fl[0] - fl[1]), 5 * 0.125);  // the splitting is resolved
  }
}
