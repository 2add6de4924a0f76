// The strict input reader (src/workflows/input.cpp): every error names file, key and line; a full
// input parses to the values it says; --set overrides; build_system builds what the input
// describes (standard, custom and file structures, spins, masses, velocities).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#include "spinlat/core/error.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/workflows/build.hpp"
#include "spinlat/workflows/input.hpp"
#include "spinlat/io/paths.hpp"

using namespace spinlat;

namespace {

const std::string kBase = R"(seed = 1
[structure]
lattice = "bcc"
a = 2.8665
cells = [2, 2, 2]
species = ["Fe"]
moment = [2.2]
[[stage]]
type = "mc"
temperature = 300
sweeps = 100
)";

/// kBase with one line replaced (the replacement may span several lines).
std::string with(const std::string& base, const std::string& line, const std::string& replacement) {
  const auto k = base.find(line);
  if (k == std::string::npos) throw std::logic_error("test: no line '" + line + "'");
  return base.substr(0, k) + replacement + base.substr(k + line.size());
}

/// 1-based line of the first line that contains `marker`.
int line_of(const std::string& text, const std::string& marker) {
  const auto k = text.find(marker);
  if (k == std::string::npos) throw std::logic_error("test: no marker '" + marker + "'");
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(k), '\n'));
}

std::string error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    parse_config(text, "in.toml", overrides);
  } catch (const InputError& e) {
    return e.what();
  }
  return "(no error)";
}

struct ErrorCase {
  std::string name, text, key, marker, says;  // marker: text on the line the error must name
};

}  // namespace

TEST(Config, MinimalInputParses) {
  const Config c = parse_config(kBase, "in.toml");
  EXPECT_EQ(c.seed, 1u);
  EXPECT_EQ(c.structure.lattice, "bcc");
  EXPECT_DOUBLE_EQ(c.structure.a, 2.8665);
  EXPECT_EQ(c.structure.cells, Int3(2, 2, 2));
  ASSERT_EQ(c.stages.size(), 1u);
  EXPECT_EQ(c.stages[0].type, "mc");
  EXPECT_EQ(c.stages[0].driver->length, 100);
  EXPECT_EQ(c.stages[0].driver->settings().at("move"), "gaussian");
  EXPECT_EQ(c.stages[0].line, 8);
  EXPECT_FALSE(c.sweep.enabled);
  EXPECT_EQ(c.text, kBase);
}

TEST(Config, EveryErrorNamesFileKeyAndLine) {
  const std::string sweep = kBase + "[sweep]\ntemperatures = [100, 200]\n";
  const std::string custom = with(kBase, "lattice = \"bcc\"\na = 2.8665\ncells = [2, 2, 2]\nspecies = [\"Fe\"]\nmoment = [2.2]\n",
                                  "lattice = \"custom\"\ncell = [[3, 0, 0], [0, 3, 0], [0, 0, 3]]\n"
                                  "[[structure.basis]]\nposition = [0, 0, 0]\nspecies = \"Fe\"\nmoment = 2.2\n"
                                  "[[structure.basis]]  # site 1\nposition = [0.5, 0.5, 0.5]\nspecies = \"Fe\"\nmoment = 2.2\n");
  const std::vector<ErrorCase> cases = {
      {"unknown top-level key", "sead = 3\n" + kBase, "sead", "sead", "did you mean 'seed'"},
      {"unknown structure key", with(kBase, "cells = [2, 2, 2]", "cels = [2, 2, 2]"), "structure.cels", "cels =",
       "did you mean 'cells'"},
      {"unknown stage key", with(kBase, "temperature = 300", "temprature = 300"), "stage.0.temprature", "temprature",
       "did you mean 'temperature'"},
      {"unknown sweep key", sweep + "measurre = 10\n", "sweep.measurre", "measurre", "did you mean 'measure'"},
      {"unknown output key", kBase + "[output]\nfile = \"x.h5\"\ntrajectory_evry = 5\n", "output.trajectory_evry",
       "trajectory_evry", "did you mean 'trajectory_every'"},
      {"unknown basis key", with(custom, "moment = 2.2\n[[structure.basis]]", "moment = 2.2\nafsign = -1\n[[structure.basis]]"),
       "structure.basis.0.afsign", "afsign", "did you mean 'af_sign'"},
      {"unknown temperatures key", kBase + "[sweep]\ntemperatures = { from = 100, to = 200, stp = 10 }\n",
       "sweep.temperatures.stp", "stp", "did you mean 'step'"},
      {"negative stage temperature", with(kBase, "temperature = 300", "temperature = -5"), "stage.0.temperature",
       "temperature = -5", ">= 0 K"},
      {"zero cells", with(kBase, "cells = [2, 2, 2]", "cells = [2, 0, 2]"), "structure.cells", "cells =", "from 1"},
      {"negative cells", with(kBase, "cells = [2, 2, 2]", "cells = -3"), "structure.cells", "cells =", "from 1"},
      {"cells of two numbers", with(kBase, "cells = [2, 2, 2]", "cells = [2, 2]"), "structure.cells", "cells =", "[nx, ny, nz]"},
      {"negative moment", with(kBase, "moment = [2.2]", "moment = [2.2, -1.0]"), "structure.moment", "moment =", ">= 0"},
      {"zero a", with(kBase, "a = 2.8665", "a = 0"), "structure.a", "a = 0", "> 0"},
      {"negative a", with(kBase, "a = 2.8665", "a = -2.8"), "structure.a", "a = -2.8", "> 0"},
      {"a of wrong type", with(kBase, "a = 2.8665", "a = \"big\""), "structure.a", "a = \"big\"", "expected a number"},
      {"unknown lattice", with(kBase, "lattice = \"bcc\"", "lattice = \"bbc\""), "structure.lattice", "bbc",
       "did you mean 'bcc'"},
      {"species list too long for fcc", with(kBase, "lattice = \"bcc\"\n", "lattice = \"fcc\"\n").replace(
           kBase.find("species = [\"Fe\"]"), 16, "species = [\"Fe\", \"Ni\", \"Co\"]"),
       "structure.species", "species =", "1 or 4 entries"},
      {"moment list too long for bcc", with(kBase, "moment = [2.2]", "moment = [2.2, 2.2, 2.2]"), "structure.moment",
       "moment =", "1 or 2 entries"},
      {"c for a cubic lattice", with(kBase, "a = 2.8665", "a = 2.8665\nc = 4.0"), "structure.c", "c = 4.0", "not used"},
      {"dt of an llg stage zero", with(kBase, "type = \"mc\"\ntemperature = 300\nsweeps = 100",
                                       "type = \"llg\"\nsteps = 10\ndt = 0.0"), "stage.0.dt", "dt = 0.0", "> 0"},
      {"dt of an md stage negative", with(kBase, "type = \"mc\"\ntemperature = 300\nsweeps = 100",
                                          "type = \"md\"\nsteps = 10\ndt = -1e-3"), "stage.0.dt", "dt = -1e-3", "> 0"},
      {"dt missing for llg", with(kBase, "type = \"mc\"\ntemperature = 300\nsweeps = 100", "type = \"llg\"\nsteps = 10"),
       "stage.0.dt", "[[stage]]", "missing"},
      {"dt in a Monte Carlo stage", with(kBase, "sweeps = 100", "sweeps = 100\ndt = 0.001"), "stage.0.dt", "dt = 0.001",
       "not used by 'mc' stages"},
      {"negative sweeps", with(kBase, "sweeps = 100", "sweeps = -1"), "stage.0.sweeps", "sweeps = -1", ">= 0"},
      {"spin substeps with the whole-lattice sld update",
       with(kBase, "type = \"mc\"\ntemperature = 300\nsweeps = 100",
            "type = \"sld\"\nsteps = 10\ndt = 1e-4\nintegrator = \"explicit-midpoint\"\nspin_substeps = 2"),
       "stage.0.spin_substeps", "spin_substeps = 2", "suzuki-trotter\" only"},
      {"unknown sld integrator",
       with(kBase, "type = \"mc\"\ntemperature = 300\nsweeps = 100",
            "type = \"sld\"\nsteps = 10\ndt = 1e-4\nintegrator = \"midpoint\""),
       "stage.0.integrator", "integrator = \"midpoint\"", "explicit-midpoint"},
      {"unknown stage type", with(kBase, "type = \"mc\"", "type = \"lgg\""), "stage.0.type", "lgg", "did you mean 'llg'"},
      {"llg at temperature without damping",
       with(kBase, "type = \"mc\"\ntemperature = 300\nsweeps = 100", "type = \"llg\"\ntemperature = 10\nsteps = 10\ndt = 1e-4"),
       "stage.0.temperature", "temperature = 10", "damping > 0"},
      {"empty temperature list", kBase + "[sweep]\ntemperatures = []\n", "sweep.temperatures", "temperatures", "empty"},
      {"negative sweep temperature", kBase + "[sweep]\ntemperatures = [100, -200]\n", "sweep.temperatures",
       "temperatures", "> 0 K"},
      {"range with no points", kBase + "[sweep]\ntemperatures = { from = 500, to = 100, step = 50 }\n",
       "sweep.temperatures.step", "temperatures", "negative step"},
      {"range with zero step", kBase + "[sweep]\ntemperatures = { from = 100, to = 500, step = 0 }\n",
       "sweep.temperatures.step", "temperatures", "not be zero"},
      {"sample_every above measure", sweep + "measure = 10\nsample_every = 20\n", "sweep.sample_every", "sample_every",
       "larger than measure"},
      {"odd reweight_samples", sweep + "reweight_samples = 101\n", "sweep.reweight_samples", "reweight_samples",
       "even number >= 64"},
      {"llg sweep without dt", sweep + "method = \"llg\"\n", "sweep.dt", "[sweep]", "missing"},
      {"algorithm of an llg sweep", sweep + "method = \"llg\"\ndt = 1e-4\nalgorithm = \"wolff\"\n", "sweep.algorithm",
       "algorithm", "not used by method 'llg'"},
      {"negative threads", "threads = -2\n" + kBase, "threads", "threads", ">= 0"},
      {"negative seed", with(kBase, "seed = 1", "seed = -7"), "seed", "seed", "non-negative"},
      {"fractional seed", with(kBase, "seed = 1", "seed = 1.5"), "seed", "seed", "expected an integer"},
      {"missing structure", "seed = 1\n[[stage]]\ntype = \"mc\"\ntemperature = 1\nsweeps = 1\n", "structure", "seed",
       "missing"},
      {"missing structure file", with(kBase, "lattice = \"bcc\"\na = 2.8665", "lattice = \"file\"\nfile = \"no/such.xyz\""),
       "structure.file", "no/such.xyz", "no such file"},
      {"unknown spins mode", with(kBase, "moment = [2.2]", "moment = [2.2]\nspins = \"ferri\""), "structure.spins",
       "ferri", "did you mean 'ferro'"},
      {"zero spin vector", with(kBase, "moment = [2.2]", "moment = [2.2]\nspins = [0, 0, 0]"), "structure.spins",
       "spins", "zero vector"},
      {"negative lattice temperature", with(kBase, "moment = [2.2]", "moment = [2.2]\nlattice_temperature = -1"),
       "structure.lattice_temperature", "lattice_temperature", ">= 0 K"},
      {"unknown element that must move",
       with(with(kBase, "species = [\"Fe\"]", "species = [\"Xx\"]"), "type = \"mc\"\ntemperature = 300\nsweeps = 100",
            "type = \"md\"\nsteps = 10\ndt = 1e-3"),
       "structure.species", "Xx", "give its mass"},
      {"mass list of the wrong length", with(kBase, "moment = [2.2]", "moment = [2.2]\nmass = [55.8, 58.7]"),
       "structure.mass", "mass =", "one mass per species entry"},
      {"mass for a species not present", with(kBase, "moment = [2.2]", "moment = [2.2]\nmass = { Ni = 58.7 }"),
       "structure.mass", "mass =", "no species 'Ni'"},
      {"sc antiferromagnet with odd cells",
       with(with(kBase, "lattice = \"bcc\"", "lattice = \"sc\""), "cells = [2, 2, 2]", "cells = [2, 3, 2]\nspins = \"antiferro\""),
       "structure.spins", "antiferro", "even number"},
      {"custom cell of zero volume", with(custom, "cell = [[3, 0, 0], [0, 3, 0], [0, 0, 3]]", "cell = [[3, 0, 0], [0, 3, 0], [3, 3, 0]]"),
       "structure.cell", "cell =", "zero volume"},
      {"custom basis sites on top of each other", with(custom, "position = [0.5, 0.5, 0.5]", "position = [1, 0, 1]"),
       "structure.basis.1.position", "position = [1, 0, 1]", "coincides"},
      {"custom basis without position", with(custom, "position = [0.5, 0.5, 0.5]\n", ""), "structure.basis.1.position",
       "# site 1", "missing"},
      {"custom basis af_sign", with(custom, "moment = 2.2\n[[structure.basis]]", "moment = 2.2\naf_sign = 2\n[[structure.basis]]"),
       "structure.basis.0.af_sign", "af_sign", "+1 or -1"},
      {"species in a custom structure", with(custom, "cell =", "species = [\"Fe\"]\ncell ="), "structure.species",
       "species = [", "not used by lattice 'custom'"},
      {"potential that is not a table", "potential = [1, 2]\n" + kBase, "potential.0", "potential", "must be a table"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string msg = error_of(c.text);
    const int line = line_of(c.text, c.marker);
    EXPECT_NE(msg.find("in.toml:" + std::to_string(line) + ":"), std::string::npos) << msg << "\n(expected line " << line << ")";
    EXPECT_NE(msg.find("'" + c.key + "'"), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.says), std::string::npos) << msg;
  }
}

TEST(Config, TomlSyntaxErrorsNameFileAndLine) {
  const std::string text = with(kBase, "a = 2.8665", "a = 2.8665 2.9");
  const std::string msg = error_of(text);
  EXPECT_NE(msg.find("in.toml:4:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("invalid TOML"), std::string::npos) << msg;
  // Duplicate keys are TOML errors too.
  const std::string dup = with(kBase, "a = 2.8665", "a = 2.8665\na = 3.0");
  EXPECT_NE(error_of(dup).find("in.toml:5:"), std::string::npos) << error_of(dup);
}

TEST(Config, FullInputParsesToItsValues) {
  const std::string dir = std::string(SPINLAT_SOURCE_DIR) + "/tests/data";
  const Config c = read_config(dir + "/full_input.toml");
  EXPECT_EQ(c.title, "bcc Fe from an extended XYZ file");
  EXPECT_EQ(c.seed, 2024u);
  EXPECT_EQ(c.threads, 2);
  EXPECT_EQ(c.path, dir + "/full_input.toml");
  const StructureConfig& s = c.structure;
  EXPECT_EQ(s.lattice, "file");
  EXPECT_EQ(s.file, dir + "/fe_bcc_2x2x2.xyz");
  EXPECT_EQ(s.format, "auto");
  EXPECT_EQ(s.cells, Int3(1, 1, 2));
  EXPECT_DOUBLE_EQ(s.mass_by_species.at("Fe"), 55.845);
  EXPECT_EQ(s.spins, "random");
  EXPECT_DOUBLE_EQ(s.lattice_temperature, 300.0);

  ASSERT_EQ(c.potentials.size(), 2u);
  ASSERT_EQ(c.potential_lines.size(), 2u);
  EXPECT_EQ(c.potential_lines[0], line_of(c.text, "[[potential]]"));
  const toml::table& p0 = *c.potentials[0].as_table();
  EXPECT_EQ(p0["type"].value<std::string>(), "heisenberg");
  EXPECT_DOUBLE_EQ(*p0["J"][1].value<double>(), 0.0060);
  // Source lines survive the move into Config (the term registry reports them).
  EXPECT_EQ(static_cast<int>(p0.get("J")->source().begin.line), line_of(c.text, "J = [0.0194"));
  EXPECT_EQ(c.potentials[1].as_table()->at("type").value<std::string>(), "zeeman");

  ASSERT_EQ(c.stages.size(), 3u);
  EXPECT_EQ(c.stages[0].type, "mc");
  EXPECT_DOUBLE_EQ(c.stages[0].driver->temperature, 300.0);
  EXPECT_EQ(c.stages[0].driver->length, 2000);
  EXPECT_EQ(c.stages[0].driver->settings().at("move"), "hinzke-nowak");
  const StageConfig& llg = c.stages[1];
  const auto ls = llg.driver->settings();
  EXPECT_EQ(llg.type, "llg");
  EXPECT_EQ(llg.driver->length, 10000);
  EXPECT_EQ(ls.at("dt"), "0.0001");
  EXPECT_DOUBLE_EQ(llg.driver->spin_damping(), 0.05);
  EXPECT_EQ(ls.at("integrator"), "depondt");
  EXPECT_EQ(ls.at("field_schedule"), "ramp");
  EXPECT_EQ(ls.at("field"), "[0, 0, 2]");
  EXPECT_EQ(ls.at("field_end"), "[0, 0, -2]");
  EXPECT_FALSE(llg.driver->conservative());
  EXPECT_EQ(llg.line, line_of(c.text, "[[stage]]                       # stochastic"));
  const StageConfig& sld = c.stages[2];
  const auto ss = sld.driver->settings();
  EXPECT_EQ(sld.type, "sld");
  EXPECT_EQ(ss.at("integrator"), "auto");  // the colour sweep here: no generic term
  EXPECT_EQ(ss.at("lattice_damping"), "1");
  EXPECT_EQ(ss.at("spin_substeps"), "2");

  const SweepConfig& w = c.sweep;
  EXPECT_TRUE(w.enabled);
  ASSERT_EQ(w.temperatures.size(), 13u);  // 600, 650, ..., 1200 inclusive
  EXPECT_DOUBLE_EQ(w.temperatures.front(), 600.0);
  EXPECT_DOUBLE_EQ(w.temperatures.back(), 1200.0);
  EXPECT_EQ(w.sizes, (std::vector<int>{4, 6, 8}));
  EXPECT_EQ(w.method, "mc");
  EXPECT_EQ(w.driver->settings().at("algorithm"), "wolff");
  EXPECT_EQ(w.driver->settings().at("wolff_per_sweep"), "3");
  EXPECT_EQ(w.equilibrate, 500);
  EXPECT_EQ(w.measure, 2000);
  EXPECT_EQ(w.sample_every, 2);
  EXPECT_EQ(w.order, "ferro");
  EXPECT_FALSE(w.anneal);

  EXPECT_EQ(c.output.file, "fe.h5");
  EXPECT_EQ(c.output.trajectory_every, 100);
  EXPECT_EQ(c.output.observables_every, 10);
  EXPECT_EQ(c.output.checkpoint_every, 1000);

  // The structure: the 16-atom file twice along z, random unit spins, velocities at exactly
  // 300 K (3N−3 degrees of freedom) with zero total momentum.
  const System sys = build_system(c);
  ASSERT_EQ(sys.size(), 32u);
  EXPECT_NEAR(sys.cell.h(2, 2), 4 * 2.8665, 1e-12);
  double ke2 = 0.0;
  Vec3 p = Vec3::Zero();
  for (std::size_t i = 0; i < sys.size(); ++i) {
    EXPECT_NEAR(sys.spin[i].norm(), 1.0, 1e-12);
    EXPECT_DOUBLE_EQ(sys.moment[i], 2.2);
    ke2 += sys.mass(i) * sys.velocity[i].squaredNorm();
    p += sys.mass(i) * sys.velocity[i];
  }
  EXPECT_NEAR(ke2 * units::mvv2e / (3.0 * (sys.size() - 1) * units::k_B), 300.0, 1e-9);
  EXPECT_LT(p.norm(), 1e-10);
}

TEST(Config, TemperatureRangesIncludeTheirEnd) {
  auto temps = [](const std::string& range) {
    return parse_config(kBase + "[sweep]\ntemperatures = " + range + "\n", "in.toml").sweep.temperatures;
  };
  EXPECT_EQ(temps("{ from = 100, to = 200, step = 25 }"), (std::vector<double>{100, 125, 150, 175, 200}));
  EXPECT_EQ(temps("{ from = 200, to = 100, step = -50 }"), (std::vector<double>{200, 150, 100}));
  EXPECT_EQ(temps("{ from = 300, to = 300, step = 10 }"), (std::vector<double>{300}));
  // 0.1 + 2 * 0.1 = 0.30000000000000004 > 0.3: still three points (inclusive within step/1e6).
  EXPECT_EQ(temps("{ from = 0.1, to = 0.3, step = 0.1 }").size(), 3u);
  // Not inclusive beyond that: the end must be within step/1e6.
  EXPECT_EQ(temps("{ from = 100, to = 149, step = 25 }"), (std::vector<double>{100, 125}));
  EXPECT_EQ(temps("[500, 400.5, 300]"), (std::vector<double>{500, 400.5, 300}));
}

TEST(Config, OverridesSetAnyDottedKey) {
  const std::string text = kBase + "[[potential]]\ntype = \"heisenberg\"\nJ = [0.02, 0.005]\n";
  const Config c = parse_config(text, "in.toml",
                                {"structure.cells=[8,8,8]", "potential.0.J=[0.01]", "seed=5", "title=abc",
                                 "stage.1.type=llg", "stage.1.steps=10", "stage.1.dt=1e-4", "output.file = out/x.h5",
                                 "structure.spins=antiferro"});
  EXPECT_EQ(c.structure.cells, Int3(8, 8, 8));
  EXPECT_EQ(c.seed, 5u);
  EXPECT_EQ(c.title, "abc");
  EXPECT_EQ(c.structure.spins, "antiferro");
  const toml::array& J = *c.potentials[0].as_table()->at("J").as_array();
  ASSERT_EQ(J.size(), 1u);
  EXPECT_DOUBLE_EQ(*J[0].value<double>(), 0.01);
  ASSERT_EQ(c.stages.size(), 2u);  // index == count appends an entry
  EXPECT_EQ(c.stages[1].type, "llg");
  EXPECT_EQ(c.stages[1].driver->length, 10);
  EXPECT_EQ(c.output.file, "out/x.h5");

  // Config::text is the input as run: reading it back gives the same values.
  const Config again = parse_config(c.text, "again.toml");
  EXPECT_EQ(again.structure.cells, Int3(8, 8, 8));
  EXPECT_EQ(again.seed, 5u);
  EXPECT_EQ(again.title, "abc");
  EXPECT_EQ(again.stages.size(), 2u);
  EXPECT_DOUBLE_EQ(*(*again.potentials[0].as_table())["J"][0].value<double>(), 0.01);

  // Bad overrides.
  auto fails = [&](const std::string& o, const std::string& says) {
    SCOPED_TRACE(o);
    const std::string msg = error_of(text, {o});
    EXPECT_NE(msg.find(says), std::string::npos) << msg;
  };
  fails("potential.3.J=[1]", "--set: 'potential.3.J': index 3 is out of range");
  fails("seed", "expected KEY=VALUE");
  fails("structure.a.b=1", "'structure.a' is a single value");
  fails("structure..a=1", "dotted key");
  // A path that is not in the schema is caught by the strict reader.
  fails("structure.cellz=[1,1,1]", "'structure.cellz': unknown key (did you mean 'cells'?)");
  fails("structure.cells=[0,1,1]", "'structure.cells': cell counts must be");
  fails("seed=abc", "'seed': expected an integer, got a string");
}

TEST(Config, BuildsStandardLatticesWithTheirSpinPatterns) {
  const Config ferro = parse_config(kBase, "in.toml");
  const System s = build_system(ferro);
  ASSERT_EQ(s.size(), 16u);
  EXPECT_EQ(s.species_name, std::vector<std::string>{"Fe"});
  EXPECT_DOUBLE_EQ(s.species_mass[0], 55.845);
  for (std::size_t i = 0; i < s.size(); ++i) EXPECT_EQ(s.spin[i], Vec3::UnitZ());
  EXPECT_NEAR(s.cell.h(0, 0), 2 * 2.8665, 1e-12);
  EXPECT_EQ(build_system(ferro, Int3(3, 1, 2)).size(), 12u);

  // bcc antiferromagnet (B2): corners up, body centres down; af_sign says the same.
  const Config af = parse_config(with(kBase, "moment = [2.2]", "moment = [2.2]\nspins = \"antiferro\""), "in.toml");
  const BuiltStructure b = build_structure(af);
  for (std::size_t i = 0; i < b.system.size(); ++i) {
    EXPECT_EQ(b.af_sign[i], b.system.sublattice[i] == 0 ? 1 : -1);
    EXPECT_EQ(b.system.spin[i], Vec3(0, 0, b.af_sign[i]));
  }

  // sc G-type: every nearest neighbour antiparallel.
  const Config sc = parse_config(with(with(kBase, "lattice = \"bcc\"", "lattice = \"sc\""), "moment = [2.2]",
                                      "moment = [2.2]\nspins = \"antiferro\""),
                                 "in.toml");
  const System g = build_system(sc);
  ASSERT_EQ(g.size(), 8u);
  for (std::size_t i = 0; i < g.size(); ++i)
    for (std::size_t j = 0; j < g.size(); ++j) {
      Vec3 d = g.position[j] - g.position[i];
      for (int k = 0; k < 3; ++k) d[k] -= 2 * 2.8665 * std::round(d[k] / (2 * 2.8665));
      if (std::abs(d.norm() - 2.8665) < 1e-9) {
        EXPECT_DOUBLE_EQ(g.spin[i].dot(g.spin[j]), -1.0);
      }
    }

  // A fixed direction is normalised; random spins are unit vectors that depend on the seed only.
  const Config vec = parse_config(with(kBase, "moment = [2.2]", "moment = [2.2]\nspins = [1, 1, 0]"), "in.toml");
  EXPECT_NEAR((build_system(vec).spin[3] - Vec3(1, 1, 0).normalized()).norm(), 0.0, 1e-15);
  const std::string rnd = with(kBase, "moment = [2.2]", "moment = [2.2]\nspins = \"random\"");
  const System r1 = build_system(parse_config(rnd, "in.toml"));
  const System r2 = build_system(parse_config(rnd, "in.toml"));
  const System r3 = build_system(parse_config(rnd, "in.toml", {"seed=2"}));
  std::set<double> zs;
  for (std::size_t i = 0; i < r1.size(); ++i) {
    EXPECT_NEAR(r1.spin[i].norm(), 1.0, 1e-12);
    EXPECT_EQ(r1.spin[i], r2.spin[i]);
    EXPECT_NE(r1.spin[i], r3.spin[i]);
    zs.insert(r1.spin[i].z());
  }
  EXPECT_EQ(zs.size(), r1.size());

  // Rocksalt: one species and moment per sublattice; masses by table and by list.
  const Config nio = parse_config(with(with(with(kBase, "lattice = \"bcc\"", "lattice = \"rocksalt\""), "species = [\"Fe\"]",
                                            "species = [\"Ni\", \"O\"]\nmass = [58.0, 16.0]"),
                                       "moment = [2.2]", "moment = [1.27, 0]"),
                                  "in.toml");
  const System ns = build_system(nio, Int3(1, 1, 1));
  ASSERT_EQ(ns.size(), 8u);
  EXPECT_EQ(ns.species_name, (std::vector<std::string>{"Ni", "O"}));
  EXPECT_EQ(ns.species_mass, (std::vector<double>{58.0, 16.0}));
  EXPECT_EQ(ns.magnetic_sites().size(), 4u);

  // A dummy species needs no mass while nothing moves.
  const Config dummy = parse_config(with(kBase, "species = [\"Fe\"]", "species = \"X\""), "in.toml");
  EXPECT_EQ(build_system(dummy).species_mass[0], 0.0);
  const Config given = parse_config(
      with(with(kBase, "species = [\"Fe\"]", "species = \"X\"\nmass = { X = 12.5 }\nlattice_temperature = 50"),
           "type = \"mc\"\ntemperature = 300\nsweeps = 100", "type = \"md\"\nsteps = 10\ndt = 1e-3"),
      "in.toml");
  const System gs = build_system(given);
  EXPECT_EQ(gs.species_mass[0], 12.5);
  EXPECT_GT(gs.velocity[0].norm(), 0.0);
}

TEST(Config, CustomBasisInATriclinicCellEqualsTheBuilder) {
  // hcp written by hand as a custom cell (triclinic: 120° between a1 and a2) with the
  // alternate-layer antiferromagnetic pattern, against standard_lattice("hcp").
  const double a = 2.5, c = 4.07;
  const std::string text = "[structure]\nlattice = \"custom\"\na = 2.5\n"
                           "cell = [[1, 0, 0], [-0.5, 0.8660254037844386, 0], [0, 0, 1.628]]\n"
                           "cells = [2, 2, 2]\nspins = \"antiferro\"\n"
                           "[[structure.basis]]\nposition = [0.3333333333333333, 0.6666666666666666, 0.25]\n"
                           "species = \"Co\"\nmoment = 1.6\n"
                           "[[structure.basis]]\nposition = [0.6666666666666666, 0.3333333333333333, 0.75]\n"
                           "species = \"Co\"\nmoment = 1.6\naf_sign = -1\n"
                           "[sweep]\ntemperatures = [100]\n";
  const Config cfg = parse_config(text, "custom.toml");
  EXPECT_NEAR(cfg.structure.custom_cell(1, 1), a * std::sqrt(3.0) / 2, 1e-12);
  const BuiltStructure got = build_structure(cfg);
  const System ref = build_supercell(standard_lattice("hcp", a, c, {"Co"}, {1.6}), Int3(2, 2, 2), true);
  ASSERT_EQ(got.system.size(), ref.size());
  EXPECT_NEAR((got.system.cell.h - ref.cell.h).norm(), 0.0, 1e-9);
  for (std::size_t i = 0; i < ref.size(); ++i) {
    EXPECT_NEAR((got.system.position[i] - ref.position[i]).norm(), 0.0, 1e-9) << i;
    EXPECT_EQ(got.system.spin[i], ref.spin[i]) << i;
    EXPECT_EQ(got.system.moment[i], 1.6);
  }
  EXPECT_EQ(got.system.species_mass[0], 58.933);

  // The antiferro pattern must exist in the basis.
  const std::string no_pattern = with(text, "moment = 1.6\naf_sign = -1\n", "moment = 1.6\n");
  const std::string msg = error_of(no_pattern);
  EXPECT_NE(msg.find("'structure.spins'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("af_sign = -1"), std::string::npos) << msg;
}

TEST(InputPaths, RelativeNamesResolveAgainstTheNamingFilesDirectory) {
  EXPECT_EQ(resolve_input_path("/runs/fe", "models/fe_bcc.spl"), "/runs/fe/models/fe_bcc.spl");
  EXPECT_EQ(resolve_input_path("/runs/fe", "../data/x.xyz"), "/runs/data/x.xyz");
  EXPECT_EQ(resolve_input_path("/runs/fe", "/abs/./y.eam"), "/abs/y.eam");
  EXPECT_EQ(resolve_input_path("", "a/./b.xyz"), "a/b.xyz");
  EXPECT_EQ(resolve_input_path("/runs/fe", ""), "");  // an optional file left out
  EXPECT_EQ(input_directory("/runs/fe/input.toml"), "/runs/fe");
  EXPECT_EQ(input_directory("input.toml"), std::filesystem::current_path().lexically_normal().string());
}
