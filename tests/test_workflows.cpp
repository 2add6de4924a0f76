// The command line and the run workflows end to end: exit codes and messages, the HDF5 layout
// of docs/output.md, thread-count independence of whole runs, numerical-fault guards.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <vector>
#include <string>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/workflows/input.hpp"
#include "cli_test_helpers.hpp"
#include "spinlat/io/extxyz.hpp"
#include "spinlat/io/hdf5.hpp"
#include "spinlat/workflows/guards.hpp"
#include "spinlat/workflows/run.hpp"

namespace fs = std::filesystem;
using namespace spinlat;

namespace {

using Result = test::CliResult;
Result run(const std::string& args) { return test::run_cli(args); }

fs::path scratch(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("spinlat_wf_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

fs::path write(const fs::path& dir, const std::string& name, const std::string& text) {
  std::ofstream(dir / name) << text;
  return dir / name;
}

const char* kStages = R"(seed = 3
[structure]
lattice = "bcc"
a = 2.8665
cells = [4, 4, 4]
species = ["Fe"]
moment = [2.2]
spins = "random"
[[potential]]
type = "bethe-slater"
a = 0.02726
b = 0.2171
d = 1.841
cutoff = 3.4
[[stage]]
type = "mc"
temperature = 500.0
sweeps = 200
[[stage]]
type = "llg"
temperature = 500.0
steps = 300
dt = 1e-4
damping = 0.2
[output]
observables_every = 10
trajectory_every = 100
)";

}  // namespace

TEST(Cli, HelpVersionAndUnknownCommand) {
  EXPECT_EQ(run("--help").status, 0);
  const Result v = run("--version");
  EXPECT_EQ(v.status, 0);
  EXPECT_NE(v.output.find("spinlat"), std::string::npos);
  const Result u = run("frobnicate");
  EXPECT_EQ(u.status, 2);
  EXPECT_NE(u.output.find("unknown command"), std::string::npos);
}

// The command line's dispatch: each command with a wrong argument count says its usage and
// exits 2; an input with only [structure] and [[potential]] is readable (what `spinlat eval`
// needs) but `run` and `validate` say there is nothing to run.
TEST(Cli, DispatchAndInputsWithNothingToRun) {
  for (const std::string cmd : {"run", "validate", "eval"}) {
    const Result r = run(cmd);
    EXPECT_EQ(r.status, 2) << cmd << ": " << r.output;
    EXPECT_NE(r.output.find("usage: spinlat " + cmd), std::string::npos) << r.output;
  }
  const fs::path dir = scratch("nothing");
  std::string text = kStages;
  text = text.substr(0, text.find("[[stage]]"));
  const fs::path in = write(dir, "potential_only.toml", text);
  EXPECT_NO_THROW(read_config(in.string()));
  for (const std::string cmd : {"run", "validate"}) {
    const Result r = run(cmd + " " + in.string() + " -o " + (dir / "o.h5").string());
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_NE(r.output.find("nothing to run"), std::string::npos) << r.output;
  }
  fs::remove_all(dir);
}

// The command registry (spinlat/app/commands.hpp): --help shows every command's usage, an
// unknown command lists them all, and each one is reachable (a wrong call gives its own usage
// or, for the learned module's commands in a build without LibTorch, says so; exit 2).
TEST(Cli, CommandRegistryDispatch) {
  const std::vector<std::string> names = {"run", "validate", "eval", "map", "screen", "train", "export", "convert", "bench"};
  const Result help = run("--help");
  ASSERT_EQ(help.status, 0);
  for (const std::string& n : names) EXPECT_NE(help.output.find("spinlat " + n + " "), std::string::npos) << n;
  const Result u = run("frobnicate");
  EXPECT_EQ(u.status, 2);
  EXPECT_NE(u.output.find("expected run, validate, eval, map, screen, train, export, convert, bench"), std::string::npos)
      << u.output;
  const bool torch = run("--version").output.find("LibTorch") != std::string::npos;
  for (const std::string& n : names) {
    const Result r = run(n + " a b c d -o x");  // too many arguments for every command
    EXPECT_EQ(r.status, 2) << n << ": " << r.output;
    const bool usage = r.output.find("usage: spinlat " + n) != std::string::npos;
    const bool needs_torch = r.output.find("spinlat " + n + " needs a build with LibTorch") != std::string::npos;
    if (n == "bench") {  // bench takes any arguments: the first names the benchmark
      EXPECT_NE(r.output.find("unknown benchmark 'a'"), std::string::npos) << r.output;
    } else {
      EXPECT_TRUE(usage || (!torch && needs_torch)) << n << ": " << r.output;
    }
  }
  EXPECT_EQ(run("bench learned x").status, 2);  // the learned module's suite, or "needs LibTorch"
  const Result opt = run("validate in.toml --frob");
  EXPECT_EQ(opt.status, 2);
  EXPECT_NE(opt.output.find("unknown option '--frob'"), std::string::npos) << opt.output;
}

// `spinlat eval` needs no stage: an input with only [structure] and [[potential]] evaluates
// the frames. Bethe-Slater exchange on a ferromagnetic 2-atom bcc cell (8 neighbours at
// a√3/2, 6 at a, both inside the 3.4 Å cutoff): E = −(8 J(r1) + 6 J(r2)) for the cell.
TEST(Cli, EvalOfAnInputWithoutStages) {
  if (run("--version").output.find("LibTorch") == std::string::npos) GTEST_SKIP() << "eval needs LibTorch";
  const fs::path dir = scratch("eval");
  std::string text = kStages;
  text = text.substr(0, text.find("[[stage]]"));
  const fs::path in = write(dir, "potential_only.toml", text);
  const double a = 2.8665;
  std::ostringstream xyz;
  xyz.precision(17);
  xyz << "2\nLattice=\"" << a << " 0 0 0 " << a << " 0 0 0 " << a
      << "\" Properties=species:S:1:pos:R:3:magmom:R:3 pbc=\"T T T\"\n"
      << "Fe 0 0 0 0 0 2.2\nFe " << a / 2 << " " << a / 2 << " " << a / 2 << " 0 0 2.2\n";
  const fs::path frames = write(dir, "frames.xyz", xyz.str());
  const Result r = run("eval " + in.string() + " " + frames.string() + " -o " + (dir / "out.xyz").string());
  ASSERT_EQ(r.status, 0) << r.output;
  const std::vector<Frame> out = read_extxyz((dir / "out.xyz").string());
  ASSERT_EQ(out.size(), 1u);
  auto J = [](double r) {
    const double x = (r / 1.841) * (r / 1.841);
    return 4 * 0.02726 * x * (1 - 0.2171 * x) * std::exp(-x);
  };
  EXPECT_NEAR(out[0].info.at("energy"), -(8 * J(a * std::sqrt(3.0) / 2) + 6 * J(a)), 1e-12);
  fs::remove_all(dir);
}

TEST(Cli, BadInputGivesOneLineWithFileKeyAndLine) {
  const fs::path dir = scratch("bad");
  std::string text = kStages;
  text.replace(text.find("sweeps = 200"), 12, "sweps = 200");
  const fs::path in = write(dir, "bad.toml", text);
  const Result r = run("run " + in.string() + " -o " + (dir / "o.h5").string());
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("bad.toml:18"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("stage.0.sweps"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("did you mean 'sweeps'"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "o.h5")) << "nothing runs on a bad input";
  // validate on the good input
  const fs::path good = write(dir, "good.toml", kStages);
  EXPECT_EQ(run("validate " + good.string()).status, 0);
  // an unwritable output directory fails before any work
  const Result w = run("run " + good.string() + " -o /nonexistent-dir/x.h5");
  EXPECT_EQ(w.status, 2);
  EXPECT_NE(w.output.find("/nonexistent-dir"), std::string::npos) << w.output;
  fs::remove_all(dir);
}

TEST(Workflow, StagesWriteH5mdObservablesAndTrajectory) {
  const fs::path dir = scratch("stages");
  const fs::path in = write(dir, "in.toml", kStages);
  const fs::path out = dir / "out.h5";
  const Result r = run("run " + in.string() + " -o " + out.string() + " --quiet");
  ASSERT_EQ(r.status, 0) << r.output;
  h5::File f = h5::File::open(out.string());
  EXPECT_TRUE(f.has_attr("/", "spinlat_version"));
  EXPECT_NE(f.attr_string("/", "input").find("bethe-slater"), std::string::npos);
  EXPECT_TRUE(f.has_attr("/", "units"));
  EXPECT_TRUE(f.is_group("/h5md"));
  for (const char* name : {"potential_energy", "total_energy", "magnetization", "magnetization_vector",
                           "spin_temperature", "sublattice_order"}) {
    const std::string g = std::string("/observables/") + name;
    ASSERT_TRUE(f.is_dataset(g + "/value")) << g;
    ASSERT_TRUE(f.is_dataset(g + "/step")) << g;
    ASSERT_TRUE(f.is_dataset(g + "/time")) << g;
  }
  EXPECT_EQ(f.attr_string("/observables/total_energy/value", "unit"), "eV/atom");
  // No stage moves the atoms: no identically-zero lattice observables.
  EXPECT_FALSE(f.exists("/observables/kinetic_energy"));
  EXPECT_FALSE(f.exists("/observables/lattice_temperature"));
  // The stage table marks where each stage begins on the step axis.
  EXPECT_EQ(f.read_strings("/stages/type"), (std::vector<std::string>{"mc", "llg"}));
  EXPECT_EQ(f.read_ints("/stages/first_step"), (std::vector<std::int64_t>{0, 200}));
  EXPECT_EQ(f.read_ints("/stages/steps"), (std::vector<std::int64_t>{200, 300}));
  // step counts sweeps then steps over the whole run; time is 0 for MC, ps for dynamics.
  const auto step = f.read_ints("/observables/potential_energy/step");
  const auto time = f.read_doubles("/observables/potential_energy/time");
  ASSERT_EQ(step.size(), 51u);  // 0, 10, ..., 500
  EXPECT_EQ(step.back(), 500);
  EXPECT_DOUBLE_EQ(time[20], 0.0);                 // step 200: end of the MC stage
  EXPECT_NEAR(time.back(), 300 * 1e-4, 1e-12);     // 300 LLG steps of 0.1 fs
  const auto m = f.read_doubles("/observables/magnetization/value");
  for (double x : m) {
    EXPECT_GE(x, 0.0);
    EXPECT_LE(x, 1.0);
  }
  EXPECT_EQ(f.shape("/particles/all/moment/value"), (h5::Shape{6, 128, 3}));
  EXPECT_FALSE(fs::exists(out.string() + ".ckpt"));
  fs::remove_all(dir);
}

TEST(Workflow, WithoutTrajectoryFramesThereIsNoParticleGroup) {
  const fs::path dir = scratch("noframes");
  std::string text = kStages;
  text.replace(text.find("trajectory_every = 100"), 22, "trajectory_every = 0");
  const fs::path in = write(dir, "in.toml", text);
  const fs::path out = dir / "out.h5";
  const Result r = run("run " + in.string() + " -o " + out.string() + " --quiet");
  ASSERT_EQ(r.status, 0) << r.output;
  h5::File f = h5::File::open(out.string());
  EXPECT_FALSE(f.exists("/particles"));
  EXPECT_TRUE(f.is_dataset("/observables/total_energy/value"));
  fs::remove_all(dir);
}

TEST(Workflow, ShortSweepPointsAreSummarisedOnceWithTheMeasureThatWouldSuffice) {
  const fs::path dir = scratch("shortsweep");
  const fs::path in = write(dir, "in.toml", R"(seed = 2
[structure]
lattice = "sc"
a = 2.5
cells = [4, 4, 4]
species = "Fe"
moment = 2.0
[[potential]]
type = "heisenberg"
J = [0.02]
[sweep]
temperatures = [200, 300]
equilibrate = 100
measure = 200
)");
  const Result r = run("run " + in.string() + " -o " + (dir / "out.h5").string());
  ASSERT_EQ(r.status, 0) << r.output;
  // 200 samples cannot hold 320 tau_int when tau_int > 0.6: both points are marked, and the
  // reason is said once, with the remedy.
  std::size_t marks = 0;
  for (std::size_t at = r.output.find("[*]\n"); at != std::string::npos; at = r.output.find("[*]\n", at + 1)) ++marks;
  EXPECT_EQ(marks, 2u) << r.output;
  EXPECT_NE(r.output.find("warning: 2 of 2 points [*]"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("[sweep] measure = "), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("run too short for its autocorrelation time"), std::string::npos) << r.output;
  fs::remove_all(dir);
}

TEST(Workflow, ANumericalFaultInDynamicsSaysReduceDt) {
  const char* eam = "/usr/share/lammps/examples/SPIN/iron/Fe_Mishin2006.eam.alloy";
  if (!fs::exists(eam)) GTEST_SKIP() << "needs Debian's lammps-examples (" << eam << ")";
  const fs::path dir = scratch("fault");
  // dt = 0.2 ps at 3000 K: atoms run into each other within a few steps.
  const fs::path in = write(dir, "in.toml", std::string(R"(seed = 1
[structure]
lattice = "bcc"
a = 2.8665
cells = [3, 3, 3]
species = ["Fe"]
moment = [2.2]
lattice_temperature = 3000.0
[[potential]]
type = "eam"
file = ")") + eam + R"("
[[stage]]
type = "md"
steps = 400
dt = 0.2
max_energy_drift = 0
[output]
observables_every = 5
)");
  const Result r = run("run " + in.string() + " -q -o " + (dir / "out.h5").string());
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("md stage, dt = 0.2 ps"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("reduce dt"), std::string::npos) << r.output;
  fs::remove_all(dir);
}

TEST(Cli, ValidateRefusesWhatRunWouldRefuseNamingFileKeyAndLine) {
  // Wolff clusters need isotropic exchange only: with anisotropy, validate must fail as run does.
  const fs::path dir = scratch("wolff");
  const fs::path in = write(dir, "in.toml", R"(seed = 1
[structure]
lattice = "bcc"
a = 2.87
cells = [4, 4, 4]
species = "Fe"
moment = 2.2
[[potential]]
type = "heisenberg"
J = [0.02]
[[potential]]
type = "anisotropy"
kind = "uniaxial"
K = 0.001
axis = [0, 0, 1]
[sweep]
temperatures = [300, 400]
algorithm = "wolff"
equilibrate = 10
measure = 20
)");
  for (const std::string cmd : {"validate ", "run "}) {
    const Result r = run(cmd + in.string() + (cmd == "run " ? " -q -o " + (dir / "out.h5").string() : ""));
    EXPECT_EQ(r.status, 2) << cmd << r.output;
    EXPECT_NE(r.output.find("in.toml:18: 'sweep.algorithm': Wolff"), std::string::npos) << cmd << r.output;
  }
  fs::remove_all(dir);
}

// `--set` errors name the argument, not line 1 of the file (issue 15, item 5): errors found
// while reading (Params), unknown keys, errors found while building (the Wolff refusal above,
// located at the key that chose the sampler), and with --set the file's own lines stay right.
TEST(Cli, SetErrorsNameTheSetArgument) {
  const fs::path dir = scratch("seterr");
  const fs::path in = write(dir, "in.toml", R"(seed = 1
[structure]
lattice = "bcc"
a = 2.87
cells = [4, 4, 4]
species = "Fe"
moment = 2.2
[[potential]]
type = "heisenberg"
J = [0.02]
[[potential]]
type = "anisotropy"
kind = "uniaxial"
K = 0.001
axis = [0, 0, 1]
[sweep]
temperatures = [300, 400]
algorithm = "metropolis"
equilibrate = 10
measure = 20
)");
  const std::pair<std::string, std::string> cases[] = {
      {"structure.cells=[0,1,1]", "--set structure.cells=[0,1,1]: 'structure.cells': cell counts must be"},
      {"potential.0.J=abc", "--set potential.0.J=abc: 'potential.0.J': expected a number"},
      {"structure.cellz=3", "--set structure.cellz=3: 'structure.cellz': unknown key (did you mean 'cells'?)"},
      {"sweep.algorithm=wolff", "--set sweep.algorithm=wolff: 'sweep.algorithm': Wolff"},
      {"potential.2=oops", "--set potential.2=oops: 'potential.2': each [[potential]] entry must be a table"},
      {"potential.1={type=\"anisotropy\",kind=\"uniaxial\",K=\"x\"}",
       "--set potential.1={type=\"anisotropy\",kind=\"uniaxial\",K=\"x\"}: 'potential.1.K'"},
  };
  for (const auto& [set, expected] : cases) {
    const Result r = run("validate " + in.string() + " --set '" + set + "'");
    EXPECT_EQ(r.status, 2) << set << r.output;
    EXPECT_NE(r.output.find(expected), std::string::npos) << set << "\n" << r.output;
    EXPECT_EQ(r.output.find("in.toml:1:"), std::string::npos) << set << "\n" << r.output;
  }
  // An error in the file while another key is overridden keeps the file's line.
  const Result w = run("validate " + in.string() + " --set sweep.measure=30 --set potential.0.type=heisenbreg");
  EXPECT_NE(w.output.find("--set potential.0.type=heisenbreg: 'potential.0.type'"), std::string::npos) << w.output;
  std::string text;
  {
    std::ifstream f(in);
    text.assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  }
  text.replace(text.find("\"metropolis\""), 12, "\"wolff\"");
  const fs::path in2 = write(dir, "in2.toml", text);
  const Result f = run("validate " + in2.string() + " --set seed=4 --set structure.cells=[4,4,4]");
  EXPECT_NE(f.output.find("in2.toml:18: 'sweep.algorithm': Wolff"), std::string::npos) << f.output;
  fs::remove_all(dir);
}

// Per-sublattice magnetisation in sweeps (issue 15, item 6): a simple-cubic G-type
// antiferromagnet (J = −10 meV, T_N = 1.443 |J|/k_B = 167 K) well below T_N. Each sublattice
// is nearly saturated (|m_s| ≈ the staggered magnetisation), the total |M| nearly zero; a
// structure with one sublattice gets none.
TEST(Workflow, SweepRecordsTheMagnetisationOfEachSublattice) {
  const fs::path dir = scratch("sublattices");
  const std::string base = R"(seed = 4
[structure]
lattice = "sc"
a = 2.5
cells = [4, 4, 4]
species = "Fe"
moment = 2.0
[[potential]]
type = "heisenberg"
J = [-0.01]
[sweep]
temperatures = [40, 80]
equilibrate = 300
measure = 2000
order = "antiferro"
)";
  const fs::path in = write(dir, "afm.toml", base);
  const Result r = run("run " + in.string() + " -q -o " + (dir / "afm.h5").string());
  ASSERT_EQ(r.status, 0) << r.output;
  h5::File f = h5::File::open((dir / "afm.h5").string());
  ASSERT_TRUE(f.exists("/sweep/sublattice_magnetization_0")) << r.output;
  ASSERT_TRUE(f.exists("/sweep/sublattice_magnetization_1"));
  EXPECT_FALSE(f.exists("/sweep/sublattice_magnetization_2"));
  EXPECT_EQ(f.attr_string("/sweep/sublattice_magnetization_0", "unit"), "1");
  const auto m0 = f.read_doubles("/sweep/sublattice_magnetization_0"), m1 = f.read_doubles("/sweep/sublattice_magnetization_1");
  const auto e0 = f.read_doubles("/sweep/sublattice_magnetization_0_err");
  const auto op = f.read_doubles("/sweep/order_parameter"), m = f.read_doubles("/sweep/magnetization");
  ASSERT_EQ(m0.size(), 2u);
  for (std::size_t k = 0; k < 2; ++k) {
    EXPECT_GT(m0[k], 0.8) << k;  // ordered (classical spins at T/T_N ≤ 0.5)
    EXPECT_GT(e0[k], 0.0) << k;
    EXPECT_LT(e0[k], 0.01) << k;
    // Opposite sublattices of equal size: |m_A| = |m_B| = m_st up to the fluctuations of the
    // total moment, which is O(1/√N) and nearly zero.
    EXPECT_NEAR(m0[k], op[k], 0.02) << k;
    EXPECT_NEAR(m1[k], op[k], 0.02) << k;
    EXPECT_LT(m[k], 0.1) << k;
  }
  EXPECT_GT(m0[0], m0[1]);  // more disorder at 80 K than at 40 K
  // One magnetic sublattice (the ferromagnet on sc): nothing recorded.
  std::string ferro = base;
  ferro.replace(ferro.find("J = [-0.01]"), 11, "J = [0.01]");
  ferro.replace(ferro.find("order = \"antiferro\""), 19, "order = \"ferro\"");
  const Result rf = run("run " + write(dir, "fm.toml", ferro).string() + " -q -o " + (dir / "fm.h5").string());
  ASSERT_EQ(rf.status, 0) << rf.output;
  EXPECT_FALSE(h5::File::open((dir / "fm.h5").string()).exists("/sweep/sublattice_magnetization_0"));
  fs::remove_all(dir);
}

TEST(Workflow, RestartCommandRepeatsOutputAndOverrides) {
  RunOptions o;
  o.input = "in.toml";
  EXPECT_EQ(restart_command(o), "spinlat run in.toml --restart");
  o.input = "my runs/fe.toml";
  o.output = "out/fe.h5";
  o.overrides = {"stage.0.temperature=300", "structure.cells=[4,4,4]", "title=it's"};
  EXPECT_EQ(restart_command(o),
            "spinlat run 'my runs/fe.toml' -o out/fe.h5 --set stage.0.temperature=300 "
            "--set 'structure.cells=[4,4,4]' --set 'title=it'\\''s' --restart");
}

TEST(Workflow, SweepIsIndependentOfThreadCount) {
  const fs::path dir = scratch("threads");
  const fs::path in = write(dir, "in.toml", R"(seed = 9
[structure]
lattice = "sc"
a = 1.0
cells = [8, 8, 8]
species = ["Fe"]
moment = [1.0]
[[potential]]
type = "heisenberg"
J = [0.01]
[sweep]
temperatures = [150.0, 170.0]
sizes = [8, 10]
method = "mc"
algorithm = "metropolis"
equilibrate = 100
measure = 200
)");
  ASSERT_EQ(run("run " + in.string() + " -q -o " + (dir / "t1.h5").string() + " --set threads=1").status, 0);
  ASSERT_EQ(run("run " + in.string() + " -q -o " + (dir / "t2.h5").string() + " --set threads=2").status, 0);
  h5::File a = h5::File::open((dir / "t1.h5").string()), b = h5::File::open((dir / "t2.h5").string());
  for (const char* q : {"/sweep/energy", "/sweep/magnetization", "/sweep/binder", "/sweep/susceptibility"}) {
    const auto x = a.read_doubles(q), y = b.read_doubles(q);
    ASSERT_EQ(x.size(), 4u);
    for (std::size_t k = 0; k < x.size(); ++k) EXPECT_EQ(x[k], y[k]) << q << k;
  }
  fs::remove_all(dir);
}

TEST(Guards, NamesStepAtomAndQuantity) {
  System s = build_supercell(standard_lattice("bcc", 2.8665, 0, {"Fe"}, {2.2}), Int3(2, 2, 2));
  EXPECT_NO_THROW(check_state(s, 5));
  System bad = s;
  bad.spin[3][1] = std::numeric_limits<double>::quiet_NaN();
  try {
    check_state(bad, 42);
    FAIL();
  } catch (const NumericalError& e) {
    EXPECT_NE(std::string(e.what()).find("step 42, atom 3"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("direction"), std::string::npos) << e.what();
  }
  bad = s;
  bad.moment[7] = 1e-9;
  EXPECT_THROW(check_state(bad, 1), NumericalError);
  bad = s;
  bad.position[1] = bad.position[0] + Vec3(0.1, 0, 0);
  try {
    check_overlaps(bad, 9);
    FAIL();
  } catch (const NumericalError& e) {
    EXPECT_NE(std::string(e.what()).find("overlap"), std::string::npos) << e.what();
  }
}

TEST(Workflow, NveEnergyDriftStopsTheRunWithADiagnostic) {
  const char* eam = "/usr/share/lammps/examples/SPIN/iron/Fe_Mishin2006.eam.alloy";
  if (!fs::exists(eam)) GTEST_SKIP() << "needs Debian's lammps-examples (" << eam << ")";
  const fs::path dir = scratch("drift");
  const fs::path in = write(dir, "in.toml", std::string(R"(seed = 1
[structure]
lattice = "bcc"
a = 2.8665
cells = [3, 3, 3]
species = ["Fe"]
moment = [2.2]
lattice_temperature = 600.0
[[potential]]
type = "eam"
file = ")") + eam + R"("
[[stage]]
type = "md"
steps = 400
dt = 0.02
[output]
observables_every = 5
)");
  const fs::path out = dir / "out.h5";
  const Result r = run("run " + in.string() + " -q -o " + out.string());
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("drifted"), std::string::npos) << r.output;
  // What was measured before the fault is in the file, with the reason.
  h5::File f = h5::File::open(out.string());
  EXPECT_GT(f.read_doubles("/observables/total_energy/value").size(), 1u);
  EXPECT_NE(f.attr_string("/", "error").find("step"), std::string::npos);
  // The same run with a sane time step passes the guard.
  EXPECT_EQ(run("run " + in.string() + " -q -o " + (dir / "ok.h5").string() + " --set stage.0.dt=0.001").status, 0);
  fs::remove_all(dir);
}
