// Interatomic potentials: EAM (setfl and Finnis-Sinclair files, LAMMPS's splines) and the
// Morse / Lennard-Jones pair term. References: LAMMPS (29 Sep 2021) on the same configurations
// (tests/data/lattice_reference.py), finite differences of the energy, and the published
// properties of the Mishin 2006 bcc Fe potential.
#include <gtest/gtest.h>

#include <omp.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <tuple>
#include <sstream>
#include <unistd.h>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/dynamics/md.hpp"
#include "spinlat/lattice/eam.hpp"
#include "spinlat/lattice/pair.hpp"
#include "spinlat/neighbors/half_list.hpp"
#include "spinlat/terms/hamiltonian.hpp"
#include "spinlat/terms/registry.hpp"

using namespace spinlat;

namespace {

const std::string kData = std::string(SPINLAT_SOURCE_DIR) + "/tests/data/";
const std::string kFe = "/usr/share/lammps/examples/SPIN/iron/Fe_Mishin2006.eam.alloy";

#define SKIP_WITHOUT_FE()                                                                         \
  if (!std::filesystem::exists(kFe))                                                              \
  GTEST_SKIP() << "Mishin Fe EAM file " << kFe << " not installed (Debian package lammps-examples)"

// A LAMMPS data file (atomic style, orthogonal or triclinic box with lower-triangular h).
System read_lammps_data(const std::string& path, const std::vector<std::string>& type_names) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path;
  System s;
  s.species_name = type_names;
  for (const auto& n : type_names) s.species_mass.push_back(element_mass(n));
  double lx = 0, ly = 0, lz = 0, xy = 0, xz = 0, yz = 0;
  std::string line;
  int natoms = 0;
  while (std::getline(in, line)) {
    std::istringstream is(line);
    double a, b, c;
    if (line.find("atoms") != std::string::npos && line.find("Atoms") == std::string::npos) is >> natoms;
    if (line.find("xlo xhi") != std::string::npos) { is >> a >> b; lx = b - a; }
    if (line.find("ylo yhi") != std::string::npos) { is >> a >> b; ly = b - a; }
    if (line.find("zlo zhi") != std::string::npos) { is >> a >> b; lz = b - a; }
    if (line.find("xy xz yz") != std::string::npos) { is >> xy >> xz >> yz; }
    if (line.rfind("Atoms", 0) == 0) {
      std::getline(in, line);
      for (int k = 0; k < natoms; ++k) {
        std::getline(in, line);
        std::istringstream as(line);
        int id, type;
        as >> id >> type >> a >> b >> c;
        s.add_atom(Vec3(a, b, c), type - 1, 0.0, Vec3::Zero());
      }
    }
  }
  s.cell.h << lx, 0, 0, xy, ly, 0, xz, yz, lz;
  return s;
}

struct Reference {
  double energy = 0;
  Mat3 virial = Mat3::Zero();
  std::vector<Vec3> force;
};

Reference read_reference(const std::string& name) {
  std::ifstream in(kData + "lattice_ref_" + name + ".txt");
  Reference r;
  std::string w;
  in >> w >> r.energy >> w;
  double v[6];
  for (double& x : v) in >> x;
  r.virial << v[0], v[3], v[4], v[3], v[1], v[5], v[4], v[5], v[2];
  Vec3 f;
  while (in >> f[0] >> f[1] >> f[2]) r.force.push_back(f);
  return r;
}

Hamiltonian with(TermPtr t, const System& s, double skin = 0.3) {
  Hamiltonian h;
  h.add(std::move(t));
  h.set_skin(skin);
  h.bind(s);
  return h;
}

struct Result {
  double e;
  std::vector<Vec3> f;
  Mat3 w;
};
Result evaluate(const Hamiltonian& h, const System& s) {
  Result r;
  Derivatives d;
  d.force = &r.f;
  d.virial = &r.w;
  r.e = h.compute(s, d);
  return r;
}

void expect_matches_lammps(const Hamiltonian& h, const System& s, const std::string& name) {
  const Reference ref = read_reference(name);
  ASSERT_EQ(ref.force.size(), s.size()) << name;
  const Result r = evaluate(h, s);
  // LAMMPS sums in another order: agreement to rounding of the ~1e2 eV totals.
  EXPECT_NEAR(r.e, ref.energy, 1e-10 * std::max(1.0, std::abs(ref.energy))) << name;
  double fmax = 0;
  for (std::size_t i = 0; i < s.size(); ++i) fmax = std::max(fmax, (r.f[i] - ref.force[i]).cwiseAbs().maxCoeff());
  EXPECT_LT(fmax, 1e-10) << name;
  EXPECT_LT((r.w - ref.virial).cwiseAbs().maxCoeff(), 1e-9 * std::max(1.0, ref.virial.cwiseAbs().maxCoeff())) << name;
}

// Forces vs −∂E/∂r by central differences (every coordinate of every atom) and the virial
// vs −∂E/∂ε under a homogeneous strain of cell and positions: W_ab = −∂E/∂ε_ba.
void expect_consistent_derivatives(Hamiltonian& h, System s, double tol_f, double tol_w,
                                   const std::string& what) {
  h.bind(s);
  const Result r = evaluate(h, s);
  const double step = 1e-5;
  double worst = 0;
  for (std::size_t i = 0; i < s.size(); ++i)
    for (int a = 0; a < 3; ++a) {
      const double x0 = s.position[i][a];
      s.position[i][a] = x0 + step;
      const double ep = h.energy(s);
      s.position[i][a] = x0 - step;
      const double em = h.energy(s);
      s.position[i][a] = x0;
      worst = std::max(worst, std::abs(-(ep - em) / (2 * step) - r.f[i][a]));
    }
  EXPECT_LT(worst, tol_f) << what << ": largest force error (eV/Å)";
  const System s0 = s;
  Mat3 w_fd;
  const double de = 1e-6;
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) {
      double e[2];
      for (int sgn = 0; sgn < 2; ++sgn) {
        Mat3 eps = Mat3::Zero();
        eps(a, b) = sgn ? -de : de;
        const Mat3 F = Mat3::Identity() + eps;
        s = s0;
        s.cell.h = s0.cell.h * F.transpose();
        for (auto& p : s.position) p = F * p;
        e[sgn] = h.energy(s);  // the list stays valid: strain × box ≪ skin
      }
      w_fd(b, a) = -(e[0] - e[1]) / (2 * de);
    }
  s = s0;
  EXPECT_LT((w_fd - r.w).cwiseAbs().maxCoeff(), tol_w) << what << ": virial\n" << r.w << "\nvs\n" << w_fd;
  // Site energies add up to the energy; forces add up to zero (translation invariance).
  double esum = 0;
  for (double e : h.site_energies(s)) esum += e;
  EXPECT_NEAR(esum, r.e, 1e-10 * std::max(1.0, std::abs(r.e))) << what;
  Vec3 ftot = Vec3::Zero();
  for (const auto& f : r.f) ftot += f;
  EXPECT_LT(ftot.norm(), 1e-10 * s.size()) << what;
}

System bcc_fe(double a, int n) {
  System s = build_supercell(standard_lattice("bcc", a, 0.0, {"Fe"}, {0.0}), Int3(n, n, n));
  return s;
}

// Morse (D0 eV, α 1/Å, r0 Å) and Lennard-Jones (ε eV, σ Å) pair functions, finalized.
PairFunction morse_function(double D0, double alpha, double r0, double cutoff, bool shift = false) {
  PairFunction f;
  f.style = PairFunction::Style::morse;
  f.D0 = D0;
  f.alpha = alpha;
  f.r0 = r0;
  f.cutoff = cutoff;
  f.shift = shift;
  f.finalize();
  return f;
}
PairFunction lj_function(double epsilon, double sigma, double cutoff, bool shift = false) {
  PairFunction f;
  f.epsilon = epsilon;
  f.sigma = sigma;
  f.cutoff = cutoff;
  f.shift = shift;
  f.finalize();
  return f;
}

TermPtr mishin(const System& s) {
  static const EamFile file = read_eam_file(kFe);  // read once per test program
  return std::make_unique<EamPotential>(file, s);
}

std::string write_temp(const std::string& name, const std::string& text) {
  const auto p = std::filesystem::temp_directory_path() / ("spinlat_lattice_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(p) << text;
  return p.string();
}

}  // namespace

// ---- the spline ------------------------------------------------------------------------------

TEST(EamSpline, ExactForCubicsInsideAndInterpolatesKnots) {
  // The five-point slope formula is exact for polynomials up to degree four, and a Hermite
  // cubic with exact slopes reproduces any cubic: away from the two end intervals the spline
  // equals the cubic it was built from.
  const auto f = [](double x) { return 0.3 - 1.2 * x + 0.7 * x * x - 0.25 * x * x * x; };
  const auto df = [](double x) { return -1.2 + 1.4 * x - 0.75 * x * x; };
  const double delta = 0.1;
  std::vector<double> t;
  for (int k = 0; k < 40; ++k) t.push_back(f(k * delta));
  EamSpline sp;
  sp.build(t, delta);
  for (double x = 0.25; x < 3.6; x += 0.0137) {
    int m;
    double p;
    sp.locate(x, m, p);
    EXPECT_NEAR(sp.value(m, p), f(x), 1e-12) << x;
    EXPECT_NEAR(sp.derivative(m, p), df(x), 1e-11) << x;
  }
  for (int k = 0; k < 40; ++k) {
    int m;
    double p;
    sp.locate(k * delta, m, p);
    EXPECT_NEAR(sp.value(m, p), t[k], 1e-14);
  }
}

// ---- file reading ---------------------------------------------------------------------------

TEST(EamFile, ReadsSetflAndFinnisSinclair) {
  const EamFile a = read_eam_file(kData + "lattice_synthetic.eam.alloy");
  EXPECT_EQ(a.format, "alloy");
  ASSERT_EQ(a.elements, (std::vector<std::string>{"Cu", "Ag"}));
  EXPECT_EQ(a.atomic_number, (std::vector<int>{29, 47}));
  EXPECT_DOUBLE_EQ(a.mass[1], 107.8682);
  EXPECT_EQ(a.nrho, 500);
  EXPECT_EQ(a.nr, 500);
  EXPECT_DOUBLE_EQ(a.cutoff, 5.0);
  EXPECT_EQ(a.rho[0].size(), 1u);
  EXPECT_EQ(a.z2r[1].size(), 2u);
  EXPECT_EQ(a.F[1].size(), 500u);
  const EamFile f = read_eam_file(kData + "lattice_synthetic.eam.fs");
  EXPECT_EQ(f.format, "fs");
  ASSERT_EQ(f.rho[1].size(), 2u);
  // fs block of Ag lists ρ_{Ag→Cu} = 1.3 ρ_Ag, then ρ_{Ag→Ag} = ρ_Ag (make_lattice_data.py).
  EXPECT_NEAR(f.rho[1][0][200], 1.3 * f.rho[1][1][200], 1e-15);
  EXPECT_NEAR(f.rho[1][1][200], a.rho[1][0][200], 1e-15);
  // Format from the name unless given.
  EXPECT_EQ(eam_format_from_name("x/Fe.eam.fs"), "fs");
  EXPECT_EQ(eam_format_from_name("x/Fe.eam.alloy"), "alloy");
}

TEST(EamFile, MalformedFilesNameFileAndLine) {
  std::ifstream in(kData + "lattice_synthetic.eam.alloy");
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  const auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& l : v) s += l + "\n";
    return s;
  };
  {  // a word inside the F(ρ) table of Cu: line 7 + 10 = 17
    auto bad = lines;
    bad[16] = "0.1 0.2 oops 0.4 0.5";
    const std::string p = write_temp("bad.eam.alloy", join(bad));
    try {
      read_eam_file(p);
      FAIL() << "no error";
    } catch (const InputError& e) {
      EXPECT_EQ(e.line(), 17);
      EXPECT_NE(std::string(e.what()).find(p + ":17"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("oops"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("F(rho) of Cu"), std::string::npos) << e.what();
    }
    std::filesystem::remove(p);
  }
  {  // truncated in the pair functions
    auto bad = lines;
    bad.resize(bad.size() - 30);
    const std::string p = write_temp("short.eam.alloy", join(bad));
    try {
      read_eam_file(p);
      FAIL() << "no error";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("file ends early"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("r*phi(r) of Ag-Ag"), std::string::npos) << e.what();
    }
    std::filesystem::remove(p);
  }
  {  // element count disagrees with the names
    auto bad = lines;
    bad[3] = "3 Cu Ag";
    const std::string p = write_temp("count.eam.alloy", join(bad));
    EXPECT_THROW(read_eam_file(p), InputError);
    std::filesystem::remove(p);
  }
  {  // grid line with a zero spacing
    auto bad = lines;
    bad[4] = "500 0.0 500 0.01 5.0";
    const std::string p = write_temp("grid.eam.alloy", join(bad));
    try {
      read_eam_file(p);
      FAIL() << "no error";
    } catch (const InputError& e) {
      EXPECT_EQ(e.line(), 5);
    }
    std::filesystem::remove(p);
  }
  EXPECT_THROW(read_eam_file(kData + "does_not_exist.eam.alloy"), InputError);
}

TEST(EamPotential, SpeciesMissingFromFileIsNamed) {
  System s = bcc_fe(2.8553, 2);
  try {
    EamPotential p(read_eam_file(kData + "lattice_synthetic.eam.alloy"), s);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("'Fe'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("Cu, Ag"), std::string::npos) << e.what();
  }
}

// ---- agreement with LAMMPS ------------------------------------------------------------------

TEST(EamPotential, MatchesLammpsEamAlloyMishinFe) {
  SKIP_WITHOUT_FE();
  const System s = read_lammps_data(kData + "lattice_fe54.data", {"Fe"});
  expect_matches_lammps(with(mishin(s), s), s, "fe54_mishin");
}

TEST(EamPotential, MatchesLammpsSyntheticAlloyAndFs) {
  const System s = read_lammps_data(kData + "lattice_cuag.data", {"Cu", "Ag"});
  expect_matches_lammps(with(std::make_unique<EamPotential>(read_eam_file(kData + "lattice_synthetic.eam.alloy"), s), s),
                        s, "cuag_alloy");
  expect_matches_lammps(with(std::make_unique<EamPotential>(read_eam_file(kData + "lattice_synthetic.eam.fs"), s), s),
                        s, "cuag_fs");
}

TEST(EamPotential, SpeciesAreMatchedByNameAtEveryBind) {
  // The same atoms with the species list in the other order: a term built for the first
  // System gives the LAMMPS numbers on the second (species resolved again by name).
  const System s = read_lammps_data(kData + "lattice_cuag.data", {"Cu", "Ag"});
  System swapped = s;
  swapped.species_name = {"Ag", "Cu"};
  swapped.species_mass = {s.species_mass[1], s.species_mass[0]};
  for (auto& t : swapped.species) t = 1 - t;
  Hamiltonian h;
  h.add(std::make_unique<EamPotential>(read_eam_file(kData + "lattice_synthetic.eam.fs"), s));
  h.set_skin(0.3);
  h.bind(swapped);
  expect_matches_lammps(h, swapped, "cuag_fs");
  System other = bcc_fe(2.8553, 2);
  EXPECT_THROW(h.bind(other), InputError);
}

TEST(ExpSse2, WithinTwoUlpOfLibm) {
  // The Morse pair loop's exponential (core/exp_sse2.hpp) against glibc's exp: within 2 ulp
  // over the whole clamped range and densely where Morse pairs live (|t| < 10), both lanes
  // the same bits as the one-value form, e^0 = 1 exactly, NaN kept, the clamps finite.
  const auto ulps = [](double a, double b) {
    const double ulp = std::nextafter(std::abs(b), INFINITY) - std::abs(b);
    return std::abs(a - b) / ulp;
  };
  double worst = 0.0;
  const auto check = [&](double t) {
    const double e = exp_sse2(t);
    worst = std::max(worst, ulps(e, std::exp(t)));
#if defined(__SSE2__)
    double two[2];
    _mm_storeu_pd(two, exp_sse2(_mm_set_pd(-t, t)));
    EXPECT_EQ(two[0], e);
    EXPECT_EQ(two[1], exp_sse2(-t));
#endif
  };
  for (int k = 0; k <= 200000; ++k) check(-708.0 + 1417.0 * k / 200000.0);
  for (int k = 0; k <= 200000; ++k) check(-10.0 + 20.0 * k / 200000.0 + 1e-7 * std::sin(k));
  std::printf("exp_sse2: worst error %.2f ulp\n", worst);
  EXPECT_LE(worst, 2.0);
  EXPECT_EQ(exp_sse2(0.0), 1.0);
  EXPECT_TRUE(std::isnan(exp_sse2(std::nan(""))));
  EXPECT_GT(exp_sse2(-1000.0), 0.0);
  EXPECT_LT(exp_sse2(-1000.0), 1e-300);
  EXPECT_TRUE(std::isfinite(exp_sse2(1000.0)));
}

TEST(PairFunction, ManyAtOnceEqualsOneByOne) {
  // evaluate() (the pair loop's step: Morse four pairs at a time in AVX2 when the CPU has it,
  // then two in SSE2, then one) gives every pair the bits of operator() on that pair alone:
  // 7 pairs take all three paths, 8 the wide ones alone. The 61 pairs span r = 0.05 to 617 Å,
  // the exponential from e^{+3.9} to its clamp at e^{−708}.
  const PairFunction morse = morse_function(0.4174, 1.3885, 2.845, 5.6734, true);
  const PairFunction lj = lj_function(0.01, 2.3, 5.0);
  for (const PairFunction* f : {&morse, &lj})
    for (int m : {7, 8, 61}) {
      std::vector<double> r2(m), phi(m), q(m);
      for (int k = 0; k < m; ++k)
        r2[k] = m == 61 ? std::pow(0.05 * std::pow(1.17, k), 2) : std::pow(2.1 + 0.43 * k + 0.01 * std::sin(k), 2);
      f->evaluate(r2.data(), m, phi.data(), q.data());
      for (int k = 0; k < m; ++k) {
        const double r = std::sqrt(r2[k]);
        double dphi;
        EXPECT_EQ(phi[k], (*f)(r, dphi)) << k;
        EXPECT_EQ(q[k], dphi / r) << k;
      }
    }
}

TEST(PairPotential, MatchesLammpsMorseAndShiftedLj) {
  const System s = read_lammps_data(kData + "lattice_cuag.data", {"Cu", "Ag"});
  const PairFunction morse = morse_function(0.3, 1.5, 2.7, 6.0);
  expect_matches_lammps(with(std::make_unique<PairPotential>(morse), s), s, "cuag_morse");
  const PairFunction lj = lj_function(0.02, 2.4, 5.5, true);
  expect_matches_lammps(with(std::make_unique<PairPotential>(lj), s), s, "cuag_lj_shift");
}

// ---- derivatives ----------------------------------------------------------------------------

TEST(EamPotential, ForcesAndVirialAreEnergyDerivativesMishinFe) {
  SKIP_WITHOUT_FE();
  System s = read_lammps_data(kData + "lattice_fe54.data", {"Fe"});
  Hamiltonian h = with(mishin(s), s);
  expect_consistent_derivatives(h, s, 2e-6, 2e-5, "Fe54 Mishin");
}

TEST(EamPotential, ForcesAndVirialInACellSmallerThanTheCutoff) {
  SKIP_WITHOUT_FE();
  // One bcc cell (2 atoms, box 2.86 Å) sheared and displaced: the 5.67 Å cutoff reaches
  // many images of every atom, including itself.
  System s = bcc_fe(2.8553, 1);
  s.cell.h(1, 0) = 0.3;
  s.cell.h(2, 1) = -0.2;
  s.position[1] += Vec3(0.11, -0.07, 0.05);
  Hamiltonian h = with(mishin(s), s);
  expect_consistent_derivatives(h, s, 2e-6, 2e-5, "2-atom Fe cell");
}

TEST(EamPotential, ForcesAndVirialSyntheticAlloyAndFs) {
  System s = read_lammps_data(kData + "lattice_cuag.data", {"Cu", "Ag"});
  for (const std::string f : {"lattice_synthetic.eam.alloy", "lattice_synthetic.eam.fs"}) {
    Hamiltonian h = with(std::make_unique<EamPotential>(read_eam_file(kData + f), s), s);
    expect_consistent_derivatives(h, s, 1e-6, 1e-5, f);
  }
}

TEST(PairPotential, ForcesAndVirialMorseAndLj) {
  System s = read_lammps_data(kData + "lattice_cuag.data", {"Cu", "Ag"});
  const PairFunction morse = morse_function(0.3, 1.5, 2.7, 6.0);
  Hamiltonian hm = with(std::make_unique<PairPotential>(morse), s);
  expect_consistent_derivatives(hm, s, 1e-6, 1e-5, "morse");
  const PairFunction lj = lj_function(0.02, 2.4, 5.5, true);
  Hamiltonian hl = with(std::make_unique<PairPotential>(lj), s);
  expect_consistent_derivatives(hl, s, 1e-6, 1e-5, "lj");
  // Only the Cu-Ag pairs.
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  Hamiltonian hx = with(std::make_unique<PairPotential>(lj, std::vector<std::string>{}, Pairs{{"Ag", "Cu"}}), s);
  expect_consistent_derivatives(hx, s, 1e-6, 1e-5, "lj Cu-Ag only");
  // Species selections partition the pairs: E(all) = E(Cu-Cu) + E(Cu-Ag) + E(Ag-Ag), and
  // species = ["Cu"] (both atoms Cu) is the Cu-Cu part.
  const auto energy_of = [&](std::vector<std::string> sp, Pairs pr) {
    Hamiltonian hh = with(std::make_unique<PairPotential>(lj, sp, pr), s);
    return hh.energy(s);
  };
  const double all = energy_of({}, {}), cucu = energy_of({}, {{"Cu", "Cu"}}), agag = energy_of({}, {{"Ag", "Ag"}});
  const double cuag = energy_of({}, {{"Cu", "Ag"}});
  EXPECT_NEAR(all, cucu + cuag + agag, 1e-12);
  EXPECT_NE(cuag, 0.0);
  EXPECT_DOUBLE_EQ(energy_of({"Cu"}, {}), cucu);
  EXPECT_NEAR(energy_of({"Cu", "Ag"}, {{"Cu", "Cu"}, {"Ag", "Ag"}}), cucu + agag, 1e-12);
  // A 2-atom cell 2.93 Å across with a 6 Å cutoff (no shell exactly at the cutoff, where the
  // unshifted energy jumps).
  System tiny = bcc_fe(2.93, 1);
  tiny.position[1] += Vec3(0.1, 0.05, -0.08);
  Hamiltonian ht = with(std::make_unique<PairPotential>(morse), tiny);
  expect_consistent_derivatives(ht, tiny, 1e-6, 1e-5, "morse tiny cell");
}

TEST(PairPotential, DimerValues) {
  // Morse minimum −D0 at r0; LJ minimum −ε at 2^{1/6} σ; the shifted form is zero at rc.
  const PairFunction m = morse_function(0.4, 1.3, 2.5, 8);
  double d;
  EXPECT_NEAR(m(2.5, d), -0.4, 1e-15);
  EXPECT_NEAR(d, 0.0, 1e-15);
  const PairFunction lj = lj_function(0.01, 3.0, 7.5, true);
  const double rmin = std::pow(2.0, 1.0 / 6.0) * 3.0;
  EXPECT_NEAR(lj.raw(rmin, d), -0.01, 1e-15);
  EXPECT_NEAR(d, 0.0, 1e-15);
  EXPECT_NEAR(lj(7.5 - 1e-12, d), 0.0, 1e-14);
}

// Evaluates h on 1, 2, 3 and 7 threads and expects the same bits every time (the half-list
// terms' scatter, neighbors/half_list.hpp); returns the one-thread result. Each time h is first
// evaluated with every atom moved by up to 0.2 Å (within half the skin, so the list still
// holds), which takes some pairs across the cutoff: per-pair scratch of the previous
// evaluation must not leak into the next.
static Result expect_same_bits_for_thread_counts(const Hamiltonian& h, const System& s) {
  System moved = s;
  for (std::size_t i = 0; i < s.size(); ++i)
    moved.position[i] += 0.115 * Vec3(std::sin(3.1 * i), std::sin(1.3 * i + 2), std::sin(2.9 * i + 1));
  const int saved = omp_get_max_threads();
  Result a;
  for (int nt : {1, 2, 3, 7}) {
    omp_set_num_threads(nt);
    evaluate(h, moved);
    const Result b = evaluate(h, s);
    if (nt == 1) {
      a = b;
      continue;
    }
    EXPECT_EQ(a.e, b.e) << nt << " threads";
    int differ = 0;
    for (std::size_t i = 0; i < s.size(); ++i) differ += a.f[i] != b.f[i];
    EXPECT_EQ(differ, 0) << "forces of " << differ << " atoms differ on " << nt << " threads";
    EXPECT_EQ(a.w, b.w) << nt << " threads";
  }
  omp_set_num_threads(saved);
  return a;
}

// ---- the Mishin (2006) Fe potential ---------------------------------------------------------

TEST(EamPotential, MishinFeLatticeConstantAndCohesiveEnergy) {
  SKIP_WITHOUT_FE();
  // What this file (LAMMPS examples/SPIN/iron, "Fe_Mishin2006") gives, checked here and with
  // LAMMPS: bcc minimum at a0 = 2.8665 Å with E = −4.2800 eV/atom, the experimental values
  // that Chamati, Papanicolaou, Mishin & Papaconstantopoulos (Surf. Sci. 600, 1793 (2006))
  // fitted, and the lattice constant the LAMMPS SPIN example uses. The "2.8553 BCC" in the
  // file's element header and E_coh = 4.122 eV are the Mendelev et al. (2003) Fe values, not
  // this potential's: at 2.8553 Å this potential gives −4.2791 eV/atom under +2.137 GPa.
  const auto energy = [](double a, double* p_GPa = nullptr) {
    System s = bcc_fe(a, 2);  // 16 atoms; the list handles the cutoff exceeding half the box
    Hamiltonian h = with(mishin(s), s);
    const Result r = evaluate(h, s);
    if (p_GPa) *p_GPa = pressure(s, r.w) * units::eVA3_to_GPa;
    return r.e / s.size();
  };
  double best_a = 0, best_e = 1e9;
  for (double a = 2.80; a <= 2.92; a += 0.002) {
    const double e = energy(a);
    if (e < best_e) { best_e = e; best_a = a; }
  }
  const double h = 2e-3, em = energy(best_a - h), e0 = energy(best_a), ep = energy(best_a + h);
  const double a0 = best_a - h * (ep - em) / (2 * (ep - 2 * e0 + em));
  double p0, p1;
  const double e_a0 = energy(a0, &p0), e_mendelev = energy(2.8553, &p1);
  std::printf("Mishin Fe file: a0 = %.5f Å, E(a0) = %.6f eV/atom, P(a0) = %.4f GPa; "
              "E(2.8553) = %.6f eV/atom, P(2.8553) = %.4f GPa\n", a0, e_a0, p0, e_mendelev, p1);
  EXPECT_NEAR(a0, 2.8665, 3e-4);
  EXPECT_NEAR(e_a0, -4.2800, 1e-4);
  EXPECT_NEAR(p0, 0.0, 0.02);
  // LAMMPS 29 Sep 2021, 4×4×4 cells: −4.2790909916 eV/atom, 21374.762225 bar; −4.2800000693
  // eV/atom at 2.8665 Å.
  EXPECT_NEAR(e_mendelev, -4.2790909916, 1e-9);
  EXPECT_NEAR(p1, 2.1374762225, 1e-6);
  EXPECT_NEAR(energy(2.8665), -4.2800000693, 1e-9);
}

TEST(EamPotential, ResultsDoNotDependOnThreadCount) {
  SKIP_WITHOUT_FE();
  // 1024 atoms: large enough for the force loops to run threaded. With 3 and 7 threads a
  // range (~150-350 atoms) is shorter than the reach of a pair in atom index (two planes, 256
  // atoms), so shares cross several ranges and the wrap-around of the periodic cell.
  System s = bcc_fe(2.8665, 8);
  for (std::size_t i = 0; i < s.size(); ++i)
    s.position[i] += 0.1 * Vec3(std::sin(1.7 * i), std::sin(2.3 * i + 1), std::sin(0.7 * i + 2));
  Hamiltonian h = with(mishin(s), s);
  expect_same_bits_for_thread_counts(h, s);
}

TEST(EamPotential, PairOnceComputeMatchesReferenceGather) {
  // compute() evaluates each pair's splines once and shares them with the mirror entry;
  // compute_reference() evaluates them from both ends. Same numbers to rounding, for two
  // species with asymmetric fs densities and for a cell smaller than the cutoff.
  System cuag = read_lammps_data(kData + "lattice_cuag.data", {"Cu", "Ag"});
  System tiny = bcc_fe(2.8553, 1);
  tiny.cell.h(1, 0) = 0.3;
  tiny.position[1] += Vec3(0.11, -0.07, 0.05);
  std::vector<std::pair<System*, std::string>> cases = {{&cuag, kData + "lattice_synthetic.eam.fs"},
                                                        {&cuag, kData + "lattice_synthetic.eam.alloy"}};
  if (std::filesystem::exists(kFe)) cases.push_back({&tiny, kFe});
  for (auto& [sys, file] : cases) {
    Hamiltonian h = with(std::make_unique<EamPotential>(read_eam_file(file), *sys), *sys);
    const auto& eam = dynamic_cast<const EamPotential&>(*h.terms()[0]);
    const Result a = evaluate(h, *sys);
    Result b;
    Derivatives d;
    b.f.assign(sys->size(), Vec3::Zero());
    b.w.setZero();
    d.force = &b.f;
    d.virial = &b.w;
    // A pure EAM Hamiltonian builds the half list alone; the reference walks the full one.
    EXPECT_FALSE(h.neighbors().full);
    EXPECT_THROW(eam.compute_reference(*sys, h.neighbors(), d), std::logic_error);
    b.e = eam.compute_reference(*sys, build_neighbor_list(*sys, h.cutoff() + h.skin()), d);
    EXPECT_NEAR(a.e, b.e, 1e-11 * std::abs(b.e)) << file;
    for (std::size_t i = 0; i < sys->size(); ++i) EXPECT_LT((a.f[i] - b.f[i]).norm(), 1e-12) << file;
    EXPECT_LT((a.w - b.w).cwiseAbs().maxCoeff(), 1e-11) << file;
  }
}

TEST(EamPotential, EmbeddingContinuesLinearlyBeyondTable) {
  const System s = read_lammps_data(kData + "lattice_cuag.data", {"Cu", "Ag"});
  EamPotential p(read_eam_file(kData + "lattice_synthetic.eam.alloy"), s);
  const double rhomax = (p.file().nrho - 1) * p.file().drho;
  double d1, d2;
  const double e1 = p.embedding(0, rhomax + 0.5, &d1), e0 = p.embedding(0, rhomax, &d2);
  EXPECT_DOUBLE_EQ(d1, d2);
  EXPECT_NEAR(e1, e0 + 0.5 * d2, 1e-12);
}

// ---- TOML -----------------------------------------------------------------------------------

TEST(LatticeTerms, BuiltFromToml) {
  const System s = read_lammps_data(kData + "lattice_cuag.data", {"Cu", "Ag"});
  const TermRegistry reg = builtin_terms();
  TermContext ctx;
  ctx.system = &s;
  ctx.input_dir = kData;
  {
    auto tbl = toml::parse("type = \"eam\"\nfile = \"lattice_synthetic.eam.fs\"\n");
    Params p(tbl, "in.toml", "potential.0");
    TermPtr t = reg.make(p, ctx);
    auto* eam = dynamic_cast<EamPotential*>(t.get());
    ASSERT_NE(eam, nullptr);
    EXPECT_EQ(eam->file().format, "fs");
    EXPECT_TRUE(t->depends_on_positions());
    EXPECT_DOUBLE_EQ(t->cutoff(), 5.0);
  }
  {
    auto tbl = toml::parse("type = \"eam\"\nfile = \"lattice_synthetic.eam.fs\"\nformat = \"alloy\"\n");
    Params p(tbl, "in.toml", "potential.0");
    EXPECT_THROW(reg.make(p, ctx), InputError);  // an fs file read as setfl is malformed
  }
  {
    auto tbl = toml::parse("type = \"eam\"\nfile = \"nope.eam.alloy\"\n");
    Params p(tbl, "in.toml", "potential.0");
    EXPECT_THROW(reg.make(p, ctx), InputError);
  }
  {
    auto tbl = toml::parse(
        "type = \"pair\"\nstyle = \"morse\"\nD0 = 0.3\nalpha = 1.5\nr0 = 2.7\ncutoff = 6.0\n"
        "species = [\"Cu\", \"Ag\"]\npairs = [[\"Cu\", \"Ag\"]]\nshift = true\n");
    Params p(tbl, "in.toml", "potential.1");
    TermPtr t = reg.make(p, ctx);
    ASSERT_NE(dynamic_cast<PairPotential*>(t.get()), nullptr);
    EXPECT_DOUBLE_EQ(t->cutoff(), 6.0);
  }
  {
    auto tbl = toml::parse("type = \"pair\"\nstyle = \"lj\"\nepsilon = 0.01\nsigma = 2.3\ncutof = 5.0\n");
    Params p(tbl, "in.toml", "potential.1");
    EXPECT_THROW(reg.make(p, ctx), InputError);  // missing cutoff (typo)
  }
  {
    auto tbl = toml::parse("type = \"pair\"\nstyle = \"lj\"\nepsilon = 0.01\nsigma = 2.3\ncutoff = 5.0\n"
                           "species = [\"Cu\", \"Zr\"]\n");
    Params p(tbl, "in.toml", "potential.1");
    try {
      reg.make(p, ctx);
      FAIL();
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("Zr"), std::string::npos);
    }
  }
  {
    auto tbl = toml::parse("type = \"pair\"\nstyle = \"lj\"\nepsilon = 0.01\nsigma = 2.3\ncutoff = 5.0\n"
                           "pairs = [[\"Cu\", \"Ag\", \"Cu\"]]\n");
    Params p(tbl, "in.toml", "potential.1");
    try {
      reg.make(p, ctx);
      FAIL();
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("potential.1.pairs"), std::string::npos) << e.what();
    }
  }
}

// ---- half list (Newton's third law) ---------------------------------------------------------

TEST(HalfList, EveryPairOnceUnderItsLargerAtom) {
  // A sheared 2-atom cell far smaller than the cutoff (self-images, repeated images) and the
  // Cu-Ag triclinic box: each half pair with its mirror gives back the full list exactly.
  System tiny = bcc_fe(2.8553, 1);
  tiny.cell.h(1, 0) = 0.3;
  tiny.position[1] += Vec3(0.11, -0.07, 0.05);
  const System cuag = read_lammps_data(kData + "lattice_cuag.data", {"Cu", "Ag"});
  for (const System* s : std::vector<const System*>{&tiny, &cuag}) {
    const NeighborList full = build_neighbor_list(*s, 6.0);
    std::multiset<std::tuple<int, int, int, int, int>> want;
    for (int i = 0; i < static_cast<int>(full.atoms()); ++i)
      for (int k = full.begin(i); k < full.end(i); ++k)
        want.insert({i, full.index[k], full.image[k][0], full.image[k][1], full.image[k][2]});
    const HalfList half = make_half_list(full);
    ASSERT_EQ(half.atoms(), s->size());
    EXPECT_EQ(2 * half.pairs(), full.pairs());
    std::multiset<std::tuple<int, int, int, int, int>> got;
    for (int i = 0; i < static_cast<int>(half.atoms()); ++i)
      for (int p = half.own_offset[i]; p < half.own_offset[i + 1]; ++p) {
        const int j = half.partner[p];
        EXPECT_LE(j, i);  // kept under the larger atom
        const Int3 n = half.images[half.image_slot[p]];
        got.insert({i, j, n[0], n[1], n[2]});
        got.insert({j, i, -n[0], -n[1], -n[2]});
      }
    EXPECT_EQ(got, want);
  }
}

// The half list straight from the cell lists (EAM or pair potentials alone) against
// make_half_list of the full list: the same pairs, in the same order, with the same image
// slots, on 1, 2 and 3 threads. Cases: the sheared 2-atom cell smaller than the cutoff, the
// Cu-Ag triclinic box, 1024 bcc atoms moved off the lattice with some out of the cell (wrap
// shifts), the same as a slab, and a 128-atom cluster.
static void expect_same_half_list(const HalfList& a, const HalfList& b, const std::string& what) {
  EXPECT_EQ(a.own_offset, b.own_offset) << what;
  EXPECT_EQ(a.partner, b.partner) << what;
  EXPECT_EQ(a.image_slot, b.image_slot) << what;
  EXPECT_EQ(a.images, b.images) << what;
}

TEST(HalfList, DirectBuildEqualsHalfOfFullList) {
  System tiny = bcc_fe(2.8553, 1);
  tiny.cell.h(1, 0) = 0.3;
  tiny.position[1] += Vec3(0.11, -0.07, 0.05);
  const System cuag = read_lammps_data(kData + "lattice_cuag.data", {"Cu", "Ag"});
  System moved = bcc_fe(2.8665, 8);
  for (std::size_t i = 0; i < moved.size(); ++i)
    moved.position[i] += 0.3 * Vec3(std::sin(1.7 * i), std::sin(2.3 * i + 1), std::sin(0.7 * i + 2)) +
                         (i % 7 == 0 ? Vec3(moved.cell.h.row(i % 3).transpose()) : Vec3::Zero());
  // A slab (open along c) and a cluster (open along all three): bins beyond the cell, no
  // images along the open axes.
  System slab = moved, cluster = bcc_fe(2.8665, 4);
  slab.cell.periodic = {true, true, false};
  cluster.cell.periodic = {false, false, false};
  for (std::size_t i = 0; i < cluster.size(); ++i)
    cluster.position[i] += 0.2 * Vec3(std::sin(1.1 * i), std::sin(0.9 * i + 1), std::sin(1.9 * i + 2));
  const int saved = omp_get_max_threads();
  // Largest first: a build on fewer threads after one on more must not read the other
  // threads' stale scratch.
  for (const System* s : std::vector<const System*>{&moved, &slab, &cuag, &cluster, &tiny}) {
    const std::string what = std::to_string(s->size()) + " atoms";
    const HalfList want = make_half_list(build_neighbor_list(*s, 5.8));
    for (int nt : {1, 2, 3}) {
      omp_set_num_threads(nt);
      const NeighborList direct = build_neighbor_list(*s, 5.8, NeighborForms{false, true});
      EXPECT_FALSE(direct.full);
      EXPECT_EQ(direct.pairs(), 0u);
      expect_same_half_list(direct.half, want, what + ", " + std::to_string(nt) + " threads");
      // Both forms at once: the half from the full list.
      const NeighborList both = build_neighbor_list(*s, 5.8, NeighborForms{true, true});
      EXPECT_TRUE(both.full);
      expect_same_half_list(both.half, want, what + ", both forms");
    }
    if (s == &moved) {
      EXPECT_GT(want.images.size(), 14u);  // the wrap shifts show up as images
    }
  }
  omp_set_num_threads(saved);
}

TEST(HalfList, BalancedRangesShareThePairsNotTheAtoms) {
  // bcc Fe 10³ (2000 atoms), the EAM cutoff plus skin: in a periodic cell the last atoms own
  // nearly all their pairs (j < i) and the first ones nearly none, so equal atom ranges are far
  // from equal work. balanced_range must tile [0, n) in order and give every thread its share
  // of the entries (plus the per-atom overhead) to within one atom's worth.
  const System s = bcc_fe(2.8553, 10);
  const HalfList half = make_half_list(build_neighbor_list(s, 5.8));
  const int n = static_cast<int>(half.atoms());
  const auto work = [&](const std::vector<int>& off, int overhead, int a, int b) {
    return off[b] - off[a] + static_cast<long long>(overhead) * (b - a);
  };
  int max_row = 0;
  for (int i = 0; i < n; ++i) max_row = std::max(max_row, half.own_offset[i + 1] - half.own_offset[i]);
  // The imbalance this fixes: equal halves of the atoms own unequal halves of the pairs.
  const double static_share = static_cast<double>(half.own_offset[n / 2]) / half.own_offset[n];
  EXPECT_LT(static_share, 0.45);
  const std::vector<int>& off = half.own_offset;
  for (int nt : {1, 2, 3, 7}) {
    const long long total = work(off, 4, 0, n);
    int next = 0;
    for (int t = 0; t < nt; ++t) {
      const auto [lo, hi] = balanced_range(off, 4, t, nt);
      EXPECT_EQ(lo, next);
      EXPECT_LE(lo, hi);
      next = hi;
      EXPECT_NEAR(static_cast<double>(work(off, 4, lo, hi)), static_cast<double>(total) / nt, max_row + 4)
          << "thread " << t << " of " << nt;
    }
    EXPECT_EQ(next, n);
  }
  EXPECT_EQ(balanced_range(std::vector<int>{}, 4, 0, 2), std::make_pair(0, 0));
}

TEST(PairPotential, HalfListComputeMatchesReferenceAndThreadCount) {
  // compute() (each pair once, Newton's third law) against compute_reference() (each pair from
  // both ends): the same numbers to rounding; and the same bits on 1, 2, 3 and 7 threads (1024 atoms,
  // enough for the loops to run threaded).
  const PairFunction morse = morse_function(0.3, 1.5, 2.7, 6.0);
  System s = bcc_fe(2.8665, 8);
  for (std::size_t i = 0; i < s.size(); ++i)
    s.position[i] += 0.1 * Vec3(std::sin(1.7 * i), std::sin(2.3 * i + 1), std::sin(0.7 * i + 2));
  Hamiltonian h = with(std::make_unique<PairPotential>(morse), s);
  const auto& pair = dynamic_cast<const PairPotential&>(*h.terms()[0]);
  const Result a = expect_same_bits_for_thread_counts(h, s);
  Result r;
  Derivatives d;
  r.f.assign(s.size(), Vec3::Zero());
  r.w.setZero();
  d.force = &r.f;
  d.virial = &r.w;
  r.e = pair.compute_reference(s, build_neighbor_list(s, h.cutoff() + h.skin()), d);
  EXPECT_NEAR(a.e, r.e, 1e-11 * std::abs(r.e));
  for (std::size_t i = 0; i < s.size(); ++i) EXPECT_LT((a.f[i] - r.f[i]).norm(), 1e-12);
  EXPECT_LT((a.w - r.w).cwiseAbs().maxCoeff(), 1e-10);
}
