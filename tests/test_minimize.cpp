// The `minimize` stage (dynamics/minimize.hpp, drivers/minimize.cpp) against exact ground
// states: a bcc ferromagnet from random moments, the J1–J2 chain's spiral, the
// Stoner–Wohlfarth angle, the Landau moment size, and an EAM crystal with a displaced atom
// relaxed back by FIRE; plus "not converged", the HDF5 report and bit-for-bit continuation.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include "cli_test_helpers.hpp"
#include "scratch_dir.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/dynamics/minimize.hpp"
#include "spinlat/workflows/input.hpp"
#include "spinlat/io/hdf5.hpp"
#include "spinlat/terms/registry.hpp"
#include "spinlat/workflows/run.hpp"

namespace fs = std::filesystem;
using namespace spinlat;

namespace {

const std::string kEam = "/usr/share/lammps/examples/SPIN/iron/Fe_Mishin2006.eam.alloy";

fs::path scratch(const std::string& name) {
  static const test_scratch::ScratchRoot root("minimize");
  return root.dir(name);
}

struct Built {
  Config config;
  System system;
  Hamiltonian hamiltonian;
};

Built build(const std::string& toml) {
  Built b{parse_config(toml, "in.toml"), System(), Hamiltonian()};
  b.system = build_system(b.config);
  b.hamiltonian = build_hamiltonian(b.config, b.system, builtin_terms());
  return b;
}

/// Runs the minimiser until it converges or `max_steps` pass; returns the steps taken.
long long relax(Minimizer& m, long long max_steps) {
  while (!m.converged() && m.steps() < max_steps) m.step();
  return m.steps();
}

// bcc, J1 = 20 meV (8 neighbours), J2 = 10 meV (6): the ferromagnet has E = −(8 J1 + 6 J2)/2
// = −0.11 eV/atom exactly (E = −Σ_{i<j} J ê_i·ê_j).
const char* kBccFerro = R"(seed = 3
[structure]
lattice = "bcc"
a = 2.8665
cells = [4, 4, 4]
species = ["Fe"]
moment = [2.2]
spins = "random"
[[potential]]
type = "heisenberg"
J = [0.02, 0.01]
)";

}  // namespace

// Today's Metropolis quench stopped 1.3e-4 eV/atom above this after 10 000 sweeps.
TEST(Minimize, BccFerromagnetFromRandomMomentsReachesTheExactGroundState) {
  for (MinimizeMethod method : {MinimizeMethod::fire, MinimizeMethod::vp}) {
    Built b = build(kBccFerro);
    MinimizeOptions o;
    o.method = method;
    o.torque_tolerance = 1e-9;
    Minimizer m(b.hamiltonian, b.system, o);
    EXPECT_GT(m.residuals().torque, 1e-2);  // random start: far from converged
    relax(m, 20000);
    ASSERT_TRUE(m.converged()) << m.residual_text();
    EXPECT_LE(m.residuals().torque, 1e-9);
    const double n = double(b.system.size());
    EXPECT_NEAR(m.energy() / n, -0.11, 1e-10) << "method " << int(method) << " after " << m.steps() << " steps";
    // The energy the minimiser reports is the Hamiltonian's at the final moments.
    EXPECT_NEAR(b.hamiltonian.energy(b.system), m.energy(), 1e-12 * n);
  }
}

// J1–J2 chain (J1 > 0, J2 = −J1/2 < 0): E(q)/spin = −J1 cos q − J2 cos 2q is lowest at
// cos q = −J1/(4 J2) = 1/2, a spiral of pitch q = π/3 (6 sites, commensurate with 12), with
// E = −3 J1/4; the ferromagnet has −J1/2.
TEST(Minimize, J1J2ChainReachesTheAnalyticSpiral) {
  const double J1 = 0.01, J2 = -0.005;
  Built b = build(R"(seed = 11
[structure]
lattice = "custom"
cell = [3.0, 10.0, 10.0]
cells = [12, 1, 1]
spins = "random"
[[structure.basis]]
position = [0, 0, 0]
species = "Fe"
moment = 2.0
[[potential]]
type = "heisenberg"
J = [0.01, -0.005]
)");
  MinimizeOptions o;
  o.torque_tolerance = 1e-9;
  Minimizer m(b.hamiltonian, b.system, o);
  relax(m, 50000);
  ASSERT_TRUE(m.converged()) << m.residual_text();
  const double n = double(b.system.size());
  EXPECT_NEAR(m.energy() / n, -J1 * 0.5 - J2 * (-0.5), 1e-10);
  // The pitch: every neighbour pair at 60°.
  for (std::size_t i = 0; i < b.system.size(); ++i)
    EXPECT_NEAR(b.system.spin[i].dot(b.system.spin[(i + 1) % b.system.size()]), 0.5, 1e-6) << i;
}

// One moment with uniaxial anisotropy K along z and a field B at ψ = 30° from it
// (Stoner & Wohlfarth 1948): E(θ) = −K cos²θ − μ B cos(θ − ψ), μ = |m| μB; from the easy axis
// the moment turns to the root of K sin 2θ = μB sin(ψ − θ) in (0, ψ).
TEST(Minimize, StonerWohlfarthAngle) {
  const double K = 1e-4, mu = 2.0, B = 1.0, psi = units::kPi / 6.0;
  Built b = build(R"(
[structure]
lattice = "sc"
a = 10.0
species = ["Fe"]
moment = [2.0]
spins = [0, 0, 1]
[[potential]]
type = "anisotropy"
kind = "uniaxial"
K = 1e-4
axis = [0, 0, 1]
[[potential]]
type = "zeeman"
field = [0.5, 0, 0.8660254037844386]
)");
  const double h = mu * units::mu_B * B;
  double lo = 0.0, hi = psi;  // g(θ) = K sin 2θ − h sin(ψ − θ): g(0) < 0 < g(ψ)
  for (int k = 0; k < 200; ++k) {
    const double mid = 0.5 * (lo + hi);
    (K * std::sin(2 * mid) - h * std::sin(psi - mid) < 0.0 ? lo : hi) = mid;
  }
  const double theta = 0.5 * (lo + hi);
  MinimizeOptions o;
  o.torque_tolerance = 1e-12;
  Minimizer m(b.hamiltonian, b.system, o);
  relax(m, 10000);
  ASSERT_TRUE(m.converged()) << m.residual_text();
  const Vec3 e = b.system.spin[0];
  EXPECT_NEAR(std::acos(e.z()), theta, 1e-7);
  EXPECT_NEAR(e.y(), 0.0, 1e-12);  // in the plane of axis and field
  EXPECT_GT(e.x(), 0.0);
  EXPECT_NEAR(m.energy(), -K * std::cos(theta) * std::cos(theta) - h * std::cos(theta - psi), 1e-14);
}

// Landau E = A|m|² + B|m|⁴ has its minimum at |m|² = −A/(2B); exchange couples directions only,
// so every moment relaxes to that size and the moments to the ferromagnet.
TEST(Minimize, LongitudinalRelaxationReachesTheLandauMinimum) {
  Built b = build(std::string(kBccFerro) + R"(
[[potential]]
type = "landau"
A = -0.744824
B = 0.345295
)");
  MinimizeOptions o;
  o.longitudinal = true;
  o.torque_tolerance = 1e-9;
  Minimizer m(b.hamiltonian, b.system, o);
  relax(m, 20000);
  ASSERT_TRUE(m.converged()) << m.residual_text();
  const double m0 = std::sqrt(0.744824 / (2 * 0.345295));
  for (double x : b.system.moment) EXPECT_NEAR(x, m0, 1e-8);
  const double e0 = -0.744824 * m0 * m0 + 0.345295 * m0 * m0 * m0 * m0;
  EXPECT_NEAR(m.energy() / double(b.system.size()), -0.11 + e0, 1e-10);
  // Without longitudinal relaxation the sizes stay.
  Built c = build(std::string(kBccFerro) + "[[potential]]\ntype = \"landau\"\nA = -0.744824\nB = 0.345295\n");
  Minimizer fixed(c.hamiltonian, c.system, MinimizeOptions());
  relax(fixed, 20000);
  for (double x : c.system.moment) EXPECT_EQ(x, 2.2);
}

// FIRE: bcc Fe (Mishin EAM) with one atom pushed 0.15 Å. Forces sum to zero, so FIRE keeps
// the centre of mass: the relaxed crystal is the perfect one shifted by d/N.
TEST(Minimize, FireRelaxesADisplacedAtomBackToTheLattice) {
  if (!fs::exists(kEam)) GTEST_SKIP() << "needs Debian's lammps-examples (" << kEam << ")";
  Built b = build(R"(
[structure]
lattice = "bcc"
a = 2.8553
cells = [3, 3, 3]
species = ["Fe"]
moment = [0]
[[potential]]
type = "eam"
file = ")" + kEam + "\"\n");
  const std::vector<Vec3> perfect = b.system.position;
  const double e_perfect = b.hamiltonian.energy(b.system);
  const Vec3 d(0.15, -0.05, 0.08);
  b.system.position[13] += d;
  MinimizeOptions o;
  o.positions = true;
  o.force_tolerance = 1e-6;
  Minimizer m(b.hamiltonian, b.system, o);
  EXPECT_GT(m.residuals().force, 0.1);
  relax(m, 5000);
  ASSERT_TRUE(m.converged()) << m.residual_text();
  EXPECT_LE(m.residuals().force, 1e-6);
  const Vec3 shift = d / double(b.system.size());
  for (std::size_t i = 0; i < perfect.size(); ++i)
    EXPECT_LT((b.system.position[i] - perfect[i] - shift).norm(), 1e-6) << i;
  EXPECT_NEAR(m.energy(), e_perfect, 1e-9);
}

// Lennard-Jones fcc (argon-like ε = 0.0104 eV, σ = 3.4 Å, cutoff 8.7 Å between the 5th shell
// (√(5/2) a) and the 6th (√3 a) at the equilibrium). The exact lattice
// constant at the cutoff is the root of d(H/N)/da = ½ Σ_k n_k d_k φ'(d_k a) + ¾ P0 a² = 0
// (fcc: 4 atoms per a³, H = E + P0 V), shells (n_k, d_k/a) = (12, √½), (6, 1), (24, √(3/2)),
// (12, √2), (24, √(5/2)); the shift of φ at the cutoff is a constant per pair and drops out.
namespace {

constexpr double kLjEps = 0.0104, kLjSigma = 3.4, kLjCut = 8.7;

double lj_enthalpy_slope(double a, double p0_eVA3) {
  const double n[] = {12, 6, 24, 12, 24}, d[] = {std::sqrt(0.5), 1.0, std::sqrt(1.5), std::sqrt(2.0), std::sqrt(2.5)};
  double s = 0.0;
  for (int k = 0; k < 5; ++k) {
    const double r = d[k] * a, x6 = std::pow(kLjSigma / r, 6);
    const double dphi = 4.0 * kLjEps * (-12.0 * x6 * x6 + 6.0 * x6) / r;
    s += 0.5 * n[k] * d[k] * dphi;
  }
  return s + 0.75 * p0_eVA3 * a * a;
}

/// Bisection of lj_enthalpy_slope on [lo, hi] to machine precision.
double lj_lattice_constant(double p0_GPa) {
  const double p0 = p0_GPa / units::eVA3_to_GPa;
  double lo = 4.8, hi = 5.8;
  EXPECT_LT(lj_enthalpy_slope(lo, p0), 0.0);
  EXPECT_GT(lj_enthalpy_slope(hi, p0), 0.0);
  for (int k = 0; k < 200 && hi - lo > 1e-14; ++k) {
    const double mid = 0.5 * (lo + hi);
    (lj_enthalpy_slope(mid, p0) < 0.0 ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

std::string lj_fcc(double a) {
  char buf[512];
  std::snprintf(buf, sizeof buf, R"(
[structure]
lattice = "fcc"
a = %.10f
cells = [4, 4, 4]
species = ["Ar"]
moment = [0]
[[potential]]
type = "pair"
style = "lj"
epsilon = %g
sigma = %g
cutoff = %g
shift = true
)", a, kLjEps, kLjSigma, kLjCut);
  return buf;
}

/// Strains every lattice vector and position by D (r → D r): a non-cubic, sheared start.
void deform(System& s, const Mat3& D) {
  s.cell.h = s.cell.h * D.transpose();
  for (Vec3& r : s.position) r = D * r;
}

const Mat3 kStrain = (Mat3() << 1.03, 0.01, 0.0, 0.01, 0.98, -0.005, 0.0, -0.005, 1.02).finished();

}  // namespace

// FIRE on the cell from a 2–3% strained, sheared start (positions follow affinely: every fcc
// atom is a centre of inversion, so the forces vanish by symmetry) returns the cubic cell of
// the exact lattice constant, at zero pressure and at 0.1 GPa (F is kept symmetric: no rotation).
TEST(Minimize, CellRelaxationReachesTheExactLennardJonesLatticeConstant) {
  for (double p0 : {0.0, 0.1}) {
    const double a_exact = lj_lattice_constant(p0);
    // The lattice sum's shells are those within the cutoff at a_exact (with 1% to spare).
    ASSERT_LT(std::sqrt(2.5) * a_exact * 1.01, kLjCut);
    ASSERT_GT(std::sqrt(3.0) * a_exact * 0.99, kLjCut);
    Built b = build(lj_fcc(0.99 * a_exact));
    deform(b.system, kStrain);
    MinimizeOptions o;
    o.cell = true;
    o.pressure = p0;
    o.stress_tolerance = 1e-7;
    Minimizer m(b.hamiltonian, b.system, o);
    EXPECT_GT(m.residuals().stress, 0.05) << p0;  // strained: far from converged
    relax(m, 5000);
    ASSERT_TRUE(m.converged()) << m.residual_text();
    const Mat3 cubic = 4.0 * a_exact * Mat3::Identity();  // 4 × 4 × 4 conventional cells
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c)
        EXPECT_NEAR(b.system.cell.h(r, c), cubic(r, c), 1e-5 * 4.0 * a_exact)
            << "P0 = " << p0 << " GPa, cell(" << r << "," << c << ") after " << m.steps() << " steps";
    // The reported stress is the stress of the final state: −P0 on the diagonal.
    for (int r = 0; r < 3; ++r)
      EXPECT_NEAR(m.stress()(r, r) * units::eVA3_to_GPa, -p0, 1e-7);
  }
}

// The stage end to end: keys, the residual on the console and as /stages/<k> attributes, the
// final volume; bad keys are InputErrors.
TEST(Minimize, CellRelaxationStageReportsTheStress) {
  const fs::path dir = scratch("cell");
  const double a_exact = lj_lattice_constant(0.0);
  std::ofstream(dir / "in.toml") << lj_fcc(1.025 * a_exact)
                                 << "[[stage]]\ntype = \"minimize\"\nrelax_cell = true\nrelax_positions = true\n"
                                    "stress_tolerance = 1e-6\nforce_tolerance = 1e-6\n";
  const test::CliResult r = test::run_cli("run " + (dir / "in.toml").string() + " -o " + (dir / "out.h5").string());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("minimize converged after"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("max stress"), std::string::npos) << r.output;
  h5::File f = h5::File::open((dir / "out.h5").string());
  EXPECT_LE(f.attr_double("/stages/0", "max_stress"), 1e-6);
  EXPECT_EQ(f.attr_double("/stages/0", "stress_tolerance"), 1e-6);
  EXPECT_EQ(f.attr_double("/stages/0", "pressure"), 0.0);
  EXPECT_NEAR(f.attr_double("/stages/0", "volume"), std::pow(a_exact, 3) / 4.0, 1e-4 * std::pow(a_exact, 3) / 4.0);
  EXPECT_LE(f.read_doubles("/observables/max_stress/value").back(), 1e-6);

  auto message = [&](const std::string& stage) {
    try {
      parse_config(lj_fcc(a_exact) + "[[stage]]\ntype = \"minimize\"\n" + stage, "in.toml");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("pressure = 1\n").find("relax_cell"), std::string::npos);
  EXPECT_NE(message("stress_tolerance = 1e-3\n").find("relax_cell"), std::string::npos);
  EXPECT_NE(message("relax_cell = true\nstress_tolerance = 0\n").find("stress_tolerance"), std::string::npos);
  EXPECT_EQ(message("relax_cell = true\npressure = -0.5\n"), "no error");
  // A Hamiltonian without a lattice term cannot relax a cell.
  std::ofstream(dir / "spins.toml") << kBccFerro << "[[stage]]\ntype = \"minimize\"\nrelax_cell = true\n";
  const test::CliResult bad = test::run_cli("run " + (dir / "spins.toml").string() + " -o " + (dir / "bad.h5").string());
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("relax_cell"), std::string::npos) << bad.output;
}

// Velocities and steps saved and loaded: the continuation equals the uninterrupted run bit for
// bit (moments, positions and the cell together).
TEST(Minimize, SaveAndLoadContinueBitForBit) {
  if (!fs::exists(kEam)) GTEST_SKIP() << "needs Debian's lammps-examples (" << kEam << ")";
  const std::string toml = std::string(kBccFerro) + "[[potential]]\ntype = \"eam\"\nfile = \"" + kEam + "\"\n";
  MinimizeOptions o;
  o.positions = true;
  o.cell = true;
  Built a = build(toml);
  a.system.position[5] += Vec3(0.1, 0.0, 0.0);
  deform(a.system, kStrain);
  Minimizer ma(a.hamiltonian, a.system, o);
  for (int k = 0; k < 30; ++k) ma.step();
  Built b = build(toml);
  b.system = a.system;
  b.hamiltonian.bind(b.system);
  Minimizer mb(b.hamiltonian, b.system, o);
  mb.load_state(ma.save_state());
  EXPECT_EQ(mb.steps(), 30);
  for (int k = 0; k < 30; ++k) {
    ma.step();
    mb.step();
  }
  for (std::size_t i = 0; i < a.system.size(); ++i) {
    EXPECT_EQ(a.system.spin[i], b.system.spin[i]) << i;
    EXPECT_EQ(a.system.position[i], b.system.position[i]) << i;
  }
  EXPECT_EQ(a.system.cell.h, b.system.cell.h);
  EXPECT_NE(a.system.cell.h, build(toml).system.cell.h);  // the cell did move
  EXPECT_EQ(ma.energy(), mb.energy());
}

// A stage end to end: the report on the console and as attributes of /stages/<k>, converged
// or not, and the stage ends as soon as it converges.
TEST(Minimize, StageReportsConvergedOrNotConverged) {
  const fs::path dir = scratch("stage");
  const std::string base = std::string(kBccFerro) + "[output]\nobservables_every = 10\n";
  {
    std::ofstream(dir / "ok.toml") << base << "[[stage]]\ntype = \"minimize\"\nsteps = 5000\ntorque_tolerance = 1e-8\n";
    const test::CliResult r = test::run_cli("run " + (dir / "ok.toml").string() + " -o " + (dir / "ok.h5").string());
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("minimize converged after"), std::string::npos) << r.output;
    h5::File f = h5::File::open((dir / "ok.h5").string());
    EXPECT_EQ(f.attr_string("/stages/0", "status"), "converged");
    EXPECT_EQ(f.attr_double("/stages/0", "converged"), 1.0);
    const double steps = f.attr_double("/stages/0", "steps");
    EXPECT_LT(steps, 5000.0);
    EXPECT_LE(f.attr_double("/stages/0", "max_torque"), 1e-8);
    EXPECT_NEAR(f.attr_double("/stages/0", "energy"), -0.11, 1e-10);
    // The last observable is the final state.
    const auto step = f.read_ints("/observables/max_torque/step");
    EXPECT_EQ(double(step.back()), steps);
    EXPECT_LE(f.read_doubles("/observables/max_torque/value").back(), 1e-8);
  }
  {
    std::ofstream(dir / "short.toml") << base << "[[stage]]\ntype = \"minimize\"\nmax_steps = 5\n";
    const test::CliResult r = test::run_cli("run " + (dir / "short.toml").string() + " -o " + (dir / "short.h5").string());
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("minimize not converged after 5 steps"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("max torque"), std::string::npos) << r.output;
    h5::File f = h5::File::open((dir / "short.h5").string());
    EXPECT_EQ(f.attr_string("/stages/0", "status"), "not converged");
    EXPECT_EQ(f.attr_double("/stages/0", "converged"), 0.0);
    EXPECT_EQ(f.attr_double("/stages/0", "steps"), 5.0);
    EXPECT_GT(f.attr_double("/stages/0", "max_torque"), 1e-6);
  }
}

TEST(Minimize, BadKeysAreInputErrors) {
  auto message = [](const std::string& stage) {
    try {
      parse_config(std::string(kBccFerro) + "[[stage]]\ntype = \"minimize\"\n" + stage, "in.toml");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("torque_tolerance = -1\n").find("torque_tolerance"), std::string::npos);
  EXPECT_NE(message("method = \"lbfgs\"\n").find("method"), std::string::npos);
  EXPECT_NE(message("force_tolerance = 1e-3\n").find("relax_positions"), std::string::npos);
  EXPECT_NE(message("steps = 10\nmax_steps = 10\n").find("either"), std::string::npos);
  EXPECT_NE(message("method = \"metropolis\"\ntorque_tolerance = 1e-3\n").find("not used"), std::string::npos);
  EXPECT_EQ(message("method = \"metropolis\"\nsteps = 3\n"), "no error");
}
