// Physical sanity checks (workflows/sanity.hpp): four-state exchange per shell against the
// Hamiltonian's own J, the mean-field ordering temperature against its closed form, and the
// warnings for meV typed as eV, a spin-dynamics step too large for the fields, and a spin
// temperature far from its bath.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <string>

#include "cli_test_helpers.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/workflows/input.hpp"
#include "spinlat/terms/registry.hpp"
#include "spinlat/workflows/run.hpp"
#include "spinlat/workflows/sanity.hpp"

using namespace spinlat;

namespace {

// bcc iron-like Heisenberg model: J1 on 8 first neighbours, J2 on 6 second neighbours.
std::string input(double J1, double J2, const std::string& stage) {
  return R"(seed = 1
[structure]
lattice = "bcc"
a = 2.87
cells = [6, 6, 6]
species = "Fe"
moment = 2.2
[[potential]]
type = "heisenberg"
J = [)" + std::to_string(J1) + ", " + std::to_string(J2) + R"(]
)" + stage;
}

const char* kMc = R"([[stage]]
type = "mc"
temperature = 300
sweeps = 10
)";

PhysicsChecks checks_of(const std::string& text, bool shells) {
  const Config c = parse_config(text, "in.toml");
  const System s = build_system(c);
  const Hamiltonian h = build_hamiltonian(c, s, builtin_terms());
  return check_physics(c, s, h, shells);
}

bool any_contains(const std::vector<std::string>& v, const std::string& what) {
  for (const auto& w : v)
    if (w.find(what) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST(Sanity, FourStateExchangeRecoversEachShellsJ) {
  const PhysicsChecks k = checks_of(input(0.02, 0.011, kMc), true);
  ASSERT_GE(k.shells.size(), 2u);
  EXPECT_NEAR(k.shells[0].distance, 2.87 * std::sqrt(3.0) / 2.0, 1e-9);
  EXPECT_EQ(k.shells[0].count, 8);
  EXPECT_NEAR(k.shells[0].J, 0.02, 1e-12);  // exact: the model is bilinear
  EXPECT_NEAR(k.shells[1].distance, 2.87, 1e-9);
  EXPECT_EQ(k.shells[1].count, 6);
  EXPECT_NEAR(k.shells[1].J, 0.011, 1e-12);
  EXPECT_TRUE(k.warnings.empty());
}

TEST(Sanity, MeanFieldTemperatureOfAHeisenbergFerromagnet) {
  // k_B T_MF = (1/3) Σ_j J_ij = (8 J1 + 6 J2)/3 for classical moments. The random-direction
  // average is estimated from ~4000 sampled moments (10 configurations of 432): its noise is
  // about J1 √(14/2) / √4000 ≈ 0.4 % of the ordering energy here, so 2 % is a 5σ tolerance.
  const PhysicsChecks k = checks_of(input(0.02, 0.011, kMc), false);
  const double exact = (8 * 0.02 + 6 * 0.011) / 3.0 / units::k_B;
  EXPECT_NEAR(k.tc_mean_field, exact, 0.02 * exact);
  EXPECT_NEAR(k.ordering_energy, 0.5 * (8 * 0.02 + 6 * 0.011), 0.02 * 0.5 * (8 * 0.02 + 6 * 0.011));
}

TEST(Sanity, ExchangeInMeVTypedAsEVIsFlaggedWithTheNumber) {
  const PhysicsChecks k = checks_of(input(20.0, 11.0, kMc), false);
  ASSERT_EQ(k.warnings.size(), 1u);
  EXPECT_TRUE(any_contains(k.warnings, "meV where eV is expected")) << k.warnings[0];
  EXPECT_TRUE(any_contains(k.warnings, "eV per magnetic atom")) << k.warnings[0];
}

TEST(Sanity, SpinDynamicsStepTooLargeForTheFieldIsFlagged) {
  // The exchange field on a moment of the ferromagnet: |B| = (8 J1 + 6 J2)/|m| in eV/μB.
  const double field = units::magforce_to_tesla((8 * 0.02 + 6 * 0.011) / 2.2);
  auto llg = [](double dt) {
    return "[[stage]]\ntype = \"llg\"\ntemperature = 10\nsteps = 10\ndamping = 0.1\ndt = " + std::to_string(dt) + "\n";
  };
  const PhysicsChecks big = checks_of(input(0.02, 0.011, llg(0.5)), false);
  EXPECT_NEAR(big.max_field_tesla, field, 0.5 * field);  // random configurations can exceed it
  ASSERT_EQ(big.warnings.size(), 1u);
  EXPECT_TRUE(any_contains(big.warnings, "reduce dt")) << big.warnings[0];
  EXPECT_TRUE(any_contains(big.warnings, "stage 0 (llg)")) << big.warnings[0];
  const PhysicsChecks fine = checks_of(input(0.02, 0.011, llg(1e-4)), false);
  EXPECT_TRUE(fine.warnings.empty());
}

TEST(Sanity, SpinTemperatureFarFromTheBath) {
  EXPECT_EQ(bath_mismatch(310.0, 300.0), "");
  EXPECT_EQ(bath_mismatch(160.0, 300.0), "");
  EXPECT_NE(bath_mismatch(13452.0, 10.0).find("reduce dt"), std::string::npos);
  EXPECT_NE(bath_mismatch(100.0, 300.0).find("100 K against a bath of 300 K"), std::string::npos);
  EXPECT_NE(bath_mismatch(NAN, 10.0).find("mostly undefined"), std::string::npos);
}

TEST(Sanity, LlgStepFarTooLargeEndsWithABathWarning) {
  // dt = 0.5 ps in an exchange field of ~1000 T: 90 rad of precession per step; the moments
  // end hotter than the bath of 10 K by orders of magnitude (or beyond infinite temperature).
  const std::string dir = ::testing::TempDir();
  const std::string path = dir + "/sanity_llg.toml";
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  const std::string text = input(0.02, 0.011, "[[stage]]\ntype = \"llg\"\ntemperature = 10\nsteps = 400\n"
                                              "damping = 0.1\ndt = 0.5\n[output]\nobservables_every = 10\n");
  std::fputs(text.c_str(), f);
  std::fclose(f);
  const test::CliResult r = test::run_cli("run " + path + " -o " + dir + "/sanity_llg.h5 --quiet");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("reduce dt to about"), std::string::npos) << r.output;           // before the run
  EXPECT_NE(r.output.find("warning: stage 0 (llg): "), std::string::npos) << r.output;      // after the stage
  EXPECT_NE(r.output.find("bath of 10 K"), std::string::npos) << r.output;
}

TEST(Sanity, RunAndValidatePrintTheWarnings) {
  const std::string dir = ::testing::TempDir();
  const std::string path = dir + "/sanity_mev.toml";
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  const std::string text = input(20.0, 11.0, kMc);
  std::fputs(text.c_str(), f);
  std::fclose(f);
  const test::CliResult v = test::run_cli("validate " + path);
  ASSERT_EQ(v.status, 0) << v.output;
  EXPECT_NE(v.output.find("shell 1: 2.4855 Å, 8 magnetic neighbours, J = 20000.0000 meV"), std::string::npos) << v.output;
  EXPECT_NE(v.output.find("warning: the moments' ordering energy"), std::string::npos) << v.output;
  const test::CliResult r = test::run_cli("run " + path + " -o " + dir + "/sanity_mev.h5 --quiet");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("warning: the moments' ordering energy"), std::string::npos) << r.output;
}

TEST(Sanity, AStructureWithoutMomentsPointsAtStructureMoment) {
  // A POSCAR without a MAGMOM comment has no moments: the pair term's refusal must point at
  // [structure] moment, not just say "pair term needs magnetic sites".
  const std::string dir = ::testing::TempDir();
  std::ifstream in(std::string(SPINLAT_SOURCE_DIR) + "/tests/data/POSCAR_Fe_bcc");
  std::string first, rest((std::istreambuf_iterator<char>(std::getline(in, first))), std::istreambuf_iterator<char>());
  std::ofstream(dir + "/POSCAR_nomag") << "bcc Fe without moments\n" << rest;
  const Config c = parse_config("[structure]\nlattice = \"file\"\nfile = \"" + dir + "/POSCAR_nomag\"\n"
                                "[[potential]]\ntype = \"heisenberg\"\nJ = [0.02]\n", "in.toml");
  const System s = build_system(c);
  try {
    build_hamiltonian(c, s, builtin_terms());
    FAIL() << "a pair term accepted a structure without moments";
  } catch (const InputError& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("in.toml:1: 'structure.moment'"), std::string::npos) << m;
    EXPECT_NE(m.find("POSCAR without MAGMOM"), std::string::npos) << m;
  }
}

// Total spin in spin-lattice dynamics (issue 15, item 5): Σ m_i is a constant of undamped
// precession when every term is invariant under a global rotation of the moments
// (Term::conserves_total_spin); its change over a stage is the integrator's error.
TEST(Sanity, TotalSpinConservationIsAskedOfEveryTerm) {
  const std::string lattice = R"([structure]
lattice = "bcc"
a = 2.8665
cells = [3, 3, 3]
species = ["Fe"]
moment = [2.2]
[[potential]]
type = "heisenberg"
J = [0.02]
[[potential]]
type = "bethe-slater"
a = 0.02726
b = 0.2171
d = 1.841
cutoff = 3.4
[[potential]]
type = "biquadratic"
Q = [0.001]
)";
  auto conserves = [](const std::string& text) {
    const Config c = parse_config(text, "in.toml");
    const System s = build_system(c);
    return build_hamiltonian(c, s, builtin_terms()).conserves_total_spin();
  };
  EXPECT_TRUE(conserves(lattice));
  EXPECT_FALSE(conserves(lattice + "[[potential]]\ntype = \"anisotropy\"\nkind = \"uniaxial\"\nK = 1e-4\naxis = [0, 0, 1]\n"));
  EXPECT_FALSE(conserves(lattice + "[[potential]]\ntype = \"zeeman\"\nfield = [0, 0, 1]\n"));
  EXPECT_EQ(spin_conservation_breach(Vec3(0, 0, 100), Vec3(0, 0.01, 100), 200.0), "");
  const std::string w = spin_conservation_breach(Vec3(0, 0, 100), Vec3(0, 1, 100), 200.0);
  EXPECT_NE(w.find("|ΔM| = 1 μB (0.005 of the saturation moment 200 μB"), std::string::npos) << w;
  EXPECT_NE(w.find("reduce dt"), std::string::npos) << w;
}

TEST(Sanity, SpinLatticeDynamicsWithTooLargeAStepBreaksTotalSpin) {
  const char* eam = "/usr/share/lammps/examples/SPIN/iron/Fe_Mishin2006.eam.alloy";
  if (!std::ifstream(eam)) GTEST_SKIP() << "needs Debian's lammps-examples (" << eam << ")";
  const std::string dir = ::testing::TempDir();
  const std::string path = dir + "/sanity_sld.toml";
  std::ofstream(path) << R"(seed = 31
[structure]
lattice = "bcc"
a = 2.8665
cells = [3, 3, 3]
species = ["Fe"]
moment = [2.2]
mass = [55.845]
spins = "random"
lattice_temperature = 100.0
[[potential]]
type = "eam"
file = ")" << eam << R"("
[[potential]]
type = "bethe-slater"
a = 0.02726
b = 0.2171
d = 1.841
cutoff = 3.4
[[stage]]
type = "sld"
dt = 0.0001
steps = 500
temperature = 0.0
damping = 0.0
max_energy_drift = 0
[output]
observables_every = 50
)";
  auto run = [&](const std::string& set) {
    const test::CliResult r = test::run_cli("run " + path + " -o " + dir + "/sanity_sld.h5 " + set);
    EXPECT_EQ(r.status, 0) << r.output;
    return r.output;
  };
  const std::string ok = run("");  // dt = 0.1 fs, the LAMMPS SPIN example's
  EXPECT_NE(ok.find("total spin change |ΔM|/Σ|m| = "), std::string::npos) << ok;
  EXPECT_EQ(ok.find("the total spin changed"), std::string::npos) << ok;
  // dt = 10 fs: 1.8 rad of precession per step in the exchange field (~900 T).
  const std::string bad = run("--set stage.0.dt=0.01");
  EXPECT_NE(bad.find("warning: stage 0 (sld): the total spin changed by |ΔM| = "), std::string::npos) << bad;
  EXPECT_NE(bad.find("reduce dt"), std::string::npos) << bad;
  // A term that does not conserve it (anisotropy) or damping: no check.
  const std::string aniso = run("--set 'potential.2={type=\"anisotropy\",kind=\"uniaxial\",K=1e-4,axis=[0,0,1]}'");
  EXPECT_EQ(aniso.find("total spin change"), std::string::npos) << aniso;
  const std::string damped = run("--set stage.0.damping=0.1");
  EXPECT_EQ(damped.find("total spin change"), std::string::npos) << damped;
}
