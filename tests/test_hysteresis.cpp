// Applied fields and M(B) loops (drivers/hysteresis.cpp, the `field` of mc stages,
// /observables/field): the Stoner–Wohlfarth switching field and remanence of a single-domain
// uniaxial moment at T = 0, the Langevin magnetisation of independent moments in a Monte Carlo
// field, the field schedule of an LLG ramp as recorded, and analysis/plot_hysteresis.py.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "cli_test_helpers.hpp"
#include "scratch_dir.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/drivers/driver.hpp"
#include "spinlat/workflows/input.hpp"
#include "spinlat/io/hdf5.hpp"
#include "spinlat/terms/registry.hpp"
#include "spinlat/workflows/run.hpp"

namespace fs = std::filesystem;
using namespace spinlat;

namespace {

fs::path scratch(const std::string& name) {
  static const test_scratch::ScratchRoot root("hysteresis");
  return root.dir(name);
}

h5::File run_input(const fs::path& dir, const std::string& toml) {
  std::ofstream(dir / "in.toml") << toml;
  const test::CliResult r = test::run_cli("run " + (dir / "in.toml").string() + " -o " + (dir / "out.h5").string());
  EXPECT_EQ(r.status, 0) << r.output;
  return h5::File::open((dir / "out.h5").string());
}

// Moments of 2 μB, uniaxial K = 1e-4 eV along z, uncoupled (two of them: the observables'
// lattice temperature needs 3N − 3 > 0): the anisotropy field 2K/μ = 1.7277 T.
std::string single_domain(double psi) {
  const std::string d = "[" + std::to_string(std::sin(psi)) + ", 0, " + std::to_string(std::cos(psi)) + "]";
  return R"(
[structure]
lattice = "sc"
a = 10.0
cells = [2, 1, 1]
species = ["Fe"]
moment = [2.0]
spins = )" + d + R"(
[[potential]]
type = "anisotropy"
kind = "uniaxial"
K = 1e-4
axis = [0, 0, 1]
[[stage]]
type = "hysteresis"
method = "minimize"
field_max = 3.0
field_points = 300
field_direction = )" + d + R"(
torque_tolerance = 1e-10
[output]
observables_every = 1
)";
}

}  // namespace

// Stoner & Wohlfarth (1948): a field at ψ to the easy axis switches the moment at
// h_sw = (2K/μ) / (cos^{2/3}ψ + sin^{2/3}ψ)^{3/2}; for ψ < 45° the projection on the field
// changes sign in that jump, so the coercive field is h_sw to within one field step
// (0.02 T here). At B = 0 the moment lies on the easy axis: remanence cos ψ.
TEST(Hysteresis, StonerWohlfarthSwitchingFieldAndRemanence) {
  const double hk = 2.0 * 1e-4 / (2.0 * units::mu_B);
  for (double psi_deg : {0.2, 30.0}) {
    const double psi = psi_deg * units::kPi / 180.0;
    const double hsw = hk / std::pow(std::pow(std::cos(psi), 2.0 / 3.0) + std::pow(std::sin(psi), 2.0 / 3.0), 1.5);
    const fs::path dir = scratch("sw");
    h5::File f = run_input(dir, single_domain(psi));
    EXPECT_EQ(f.attr_string("/stages/0", "type"), "hysteresis");
    EXPECT_NEAR(f.attr_double("/stages/0", "coercive_field"), hsw, 0.02) << "psi = " << psi_deg << "°";
    EXPECT_NEAR(f.attr_double("/stages/0", "remanence"), std::cos(psi), 1e-6) << "psi = " << psi_deg << "°";
    EXPECT_EQ(f.attr_double("/stages/0", "unconverged_fields"), 0.0);
    const auto B = f.read_doubles("/stages/0/field");
    const auto M = f.read_doubles("/stages/0/magnetization");
    ASSERT_EQ(B.size(), 601u);
    EXPECT_DOUBLE_EQ(B.front(), 3.0);
    EXPECT_DOUBLE_EQ(B[300], -3.0);
    EXPECT_DOUBLE_EQ(B.back(), 3.0);
    EXPECT_GT(M[0], 0.95);  // 3 T: nearly saturated
    EXPECT_LT(M[300], -0.95);
    // The applied field as an observable: one sample per field, along the field direction.
    const auto field = f.read_doubles("/observables/field/value");
    ASSERT_GE(field.size(), 3 * 601u);
    EXPECT_EQ(f.attr_string("/observables/field/value", "unit"), "T");
    // plot_hysteresis.py reads the same figures from the stored loop.
    if (std::system("/usr/bin/python3 -c 'import h5py, matplotlib, numpy' 2>/dev/null") == 0) {
      const test::CliResult py = test::run_command("/usr/bin/python3 " SPINLAT_SOURCE_DIR "/analysis/plot_hysteresis.py " +
                                                 (dir / "out.h5").string() + " -o " + (dir / "loop.png").string());
      ASSERT_EQ(py.status, 0) << py.output;
      char expect[64];
      std::snprintf(expect, sizeof expect, "coercive field = %.6g T", f.attr_double("/stages/0", "coercive_field"));
      EXPECT_NE(py.output.find(expect), std::string::npos) << py.output << "\nexpected: " << expect;
      EXPECT_TRUE(fs::exists(dir / "loop.png"));
    }
  }
}

// The same switching by damped LLG at T = 0 (α = 0.5, 20 ps per field): K = 1 meV, 2K/μ =
// 17.28 T, ψ = 30°: h_sw = 9.055 T, found within the 1 T field step; remanence cos 30°.
TEST(Hysteresis, LlgLoopAtZeroTemperatureSwitchesAtTheStonerWohlfarthField) {
  const double psi = units::kPi / 6.0, hk = 2.0 * 1e-3 / (2.0 * units::mu_B);
  const double hsw = hk / std::pow(std::pow(std::cos(psi), 2.0 / 3.0) + std::pow(std::sin(psi), 2.0 / 3.0), 1.5);
  const std::string d = "[0.5, 0, 0.8660254037844386]";
  const fs::path dir = scratch("llg");
  h5::File f = run_input(dir, R"(
[structure]
lattice = "sc"
a = 10.0
cells = [2, 1, 1]
species = ["Fe"]
moment = [2.0]
spins = )" + d + R"(
[[potential]]
type = "anisotropy"
kind = "uniaxial"
K = 1e-3
axis = [0, 0, 1]
[[stage]]
type = "hysteresis"
method = "llg"
dt = 5e-3
damping = 0.5
field_max = 20.0
field_points = 40
field_direction = )" + d + R"(
equilibrate = 4000
measure = 1
[output]
observables_every = 4001
)");
  EXPECT_EQ(f.attr_string("/stages/0", "method"), "llg");
  EXPECT_NEAR(f.attr_double("/stages/0", "coercive_field"), hsw, 1.0);
  EXPECT_NEAR(f.attr_double("/stages/0", "remanence"), std::cos(psi), 1e-6);
  // The field as recorded, one sample per field: time advances by 4001 steps of 5 fs each.
  const auto time = f.read_doubles("/observables/field/time");
  ASSERT_GE(time.size(), 2u);
  EXPECT_NEAR(time[1] - time[0], 4001 * 5e-3, 1e-9);
}

// Independent moments (no coupling) in a field B along z at temperature T: ⟨cos θ⟩ is the
// Langevin function L(x) = coth x − 1/x, x = μ μB B / (k_B T). A Monte Carlo loop of fields
// +B, 0, −B, 0, +B samples it at every field: the kernel path (heisenberg, J = 0) and the
// generic path (a Landau term: no kernel).
TEST(Hysteresis, MonteCarloFieldGivesTheLangevinMagnetisation) {
  const double mu = 2.0, B = 10.0, T = 10.0;
  const double x = mu * units::mu_B * B / (units::k_B * T);
  const double L = 1.0 / std::tanh(x) - 1.0 / x;
  for (const std::string term : {"type = \"heisenberg\"\nJ = [0.0]\n", "type = \"landau\"\nA = -0.1\nB = 0.05\n"}) {
    const fs::path dir = scratch("langevin");
    h5::File f = run_input(dir, R"(seed = 9
[structure]
lattice = "sc"
a = 3.0
cells = [8, 8, 8]
species = ["Fe"]
moment = [2.0]
spins = "random"
[[potential]]
)" + term + R"([[stage]]
type = "hysteresis"
method = "mc"
temperature = 10.0
field_max = 10.0
field_points = 2
equilibrate = 200
measure = 2000
[output]
observables_every = 100
)");
    const auto M = f.read_doubles("/stages/0/magnetization");
    const auto err = f.read_doubles("/stages/0/magnetization_err");
    ASSERT_EQ(M.size(), 5u);
    for (int j : {0, 4}) EXPECT_NEAR(M[j], L, 0.01) << term;
    EXPECT_NEAR(M[2], -L, 0.01) << term;
    for (int j : {1, 3}) EXPECT_NEAR(M[j], 0.0, 0.01) << term;
    for (double e : err) EXPECT_GT(e, 0.0);
    // No coercivity without coupling or anisotropy: the loop closes within the noise.
    EXPECT_LT(f.attr_double("/stages/0", "remanence"), 0.02);
  }
}

// The same field as a plain mc stage key, recorded as /observables/field.
TEST(Hysteresis, McStageFieldIsAppliedAndRecorded) {
  const fs::path dir = scratch("mcfield");
  h5::File f = run_input(dir, R"(seed = 4
[structure]
lattice = "sc"
a = 3.0
cells = [8, 8, 8]
species = ["Fe"]
moment = [2.0]
spins = "random"
[[potential]]
type = "heisenberg"
J = [0.0]
[[stage]]
type = "mc"
temperature = 10.0
sweeps = 2000
field = [0, 0, -10.0]
[output]
observables_every = 10
)");
  const auto field = f.read_doubles("/observables/field/value");
  ASSERT_EQ(field.size(), 3 * 201u);
  for (std::size_t k = 0; k < field.size(); k += 3) EXPECT_EQ(field[k + 2], -10.0);
  const auto m = f.read_doubles("/observables/magnetization_vector/value");
  double mz = 0.0;
  int n = 0;
  for (std::size_t k = 3 * 50; k < m.size(); k += 3, ++n) mz += m[k + 2];
  EXPECT_LT(mz / n, 0.0);  // along the field (−z)
}

// An LLG ramp records the field it applied: B(t) = B0 + (B1 − B0) t / t_stage.
TEST(Hysteresis, LlgRampIsRecordedAsTheFieldObservable) {
  const fs::path dir = scratch("ramp");
  h5::File f = run_input(dir, R"(seed = 4
[structure]
lattice = "sc"
a = 2.5
cells = [4, 4, 4]
species = ["Fe"]
moment = [2.0]
[[potential]]
type = "heisenberg"
J = [0.01]
[[stage]]
type = "llg"
damping = 0.1
steps = 100
dt = 1e-4
field = [0, 0, 1.0]
field_schedule = "ramp"
field_end = [0, 0, -1.0]
[output]
observables_every = 10
)");
  const auto field = f.read_doubles("/observables/field/value");
  const auto time = f.read_doubles("/observables/field/time");
  ASSERT_EQ(field.size(), 3 * time.size());
  ASSERT_EQ(time.size(), 11u);
  for (std::size_t k = 0; k < time.size(); ++k) EXPECT_NEAR(field[3 * k + 2], 1.0 - 2.0 * time[k] / 0.01, 1e-12) << k;
}

TEST(Hysteresis, BadKeysAreInputErrors) {
  auto message = [](const std::string& stage) {
    try {
      parse_config("[structure]\nlattice = \"sc\"\na = 2.5\nmoment = [2.0]\n[[potential]]\ntype = \"heisenberg\"\n"
                   "J = [0.01]\n[[stage]]\ntype = \"hysteresis\"\n" + stage, "in.toml");
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("field_points = 10\ntemperature = 10\nmeasure = 10\n").find("field_max"), std::string::npos);
  EXPECT_NE(message("field_max = 1\nfield_points = 1\ntemperature = 10\nmeasure = 10\n").find("field_points"),
            std::string::npos);
  EXPECT_NE(message("method = \"minimize\"\nfield_max = 1\nfield_points = 10\ntemperature = 10\n").find("temperature"),
            std::string::npos);
  EXPECT_NE(message("field_max = 1\nfield_points = 10\ntemperature = 10\nmeasure = 10\nfield_direction = [0, 0, 0]\n")
                .find("field_direction"),
            std::string::npos);
  EXPECT_EQ(message("field_max = 1\nfield_points = 10\ntemperature = 10\nmeasure = 10\n"), "no error");
}

// A hysteresis stage saved and loaded mid-loop (mid-field for mc) continues bit for bit: the
// moments, and the loop it stores.
TEST(Hysteresis, SaveAndLoadContinueBitForBit) {
  for (const std::string method : {"mc", "minimize"}) {
    const std::string keys = method == "mc" ? "temperature = 50\nequilibrate = 2\nmeasure = 3\n" : "steps_per_field = 50\n";
    const Config c = parse_config(R"(seed = 8
[structure]
lattice = "bcc"
a = 2.8665
cells = [2, 2, 2]
species = ["Fe"]
moment = [2.2]
spins = "random"
[[potential]]
type = "heisenberg"
J = [0.01]
[[potential]]
type = "anisotropy"
kind = "uniaxial"
K = 1e-4
axis = [0, 0, 1]
[[stage]]
type = "hysteresis"
method = ")" + method + "\"\nfield_max = 2.0\nfield_points = 4\n" + keys,
                                  "in.toml");
    const TermRegistry terms = builtin_terms();
    const DriverSpec& spec = *c.stages[0].driver;
    System a = build_system(c);
    Hamiltonian ha = build_hamiltonian(c, a, terms);
    auto da = spec.build({a, ha, stage_key(c.seed, 0), spec.temperature});
    for (int n = 0; n < 7; ++n) da->advance(true);
    System b = build_system(c);
    Hamiltonian hb = build_hamiltonian(c, b, terms);
    b = a;
    hb.bind(b);
    auto db = spec.build({b, hb, stage_key(c.seed, 0), spec.temperature});
    db->load_state(da->save_state());
    EXPECT_EQ(da->applied_field(), db->applied_field()) << method;
    for (int n = 0; n < 7; ++n) {
      da->advance(true);
      db->advance(true);
    }
    EXPECT_EQ(a.spin, b.spin) << method;
    const StageSummary sa = da->summary(), sb = db->summary();
    ASSERT_EQ(sa.series.size(), sb.series.size());
    for (std::size_t k = 0; k < sa.series.size(); ++k) EXPECT_EQ(sa.series[k].values, sb.series[k].values) << method;
    EXPECT_EQ(sa.series[0].values.size(), method == "mc" ? 2u : 14u) << method;  // mc: 2 fields of 5 sweeps
  }
}
