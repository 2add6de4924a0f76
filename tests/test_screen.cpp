// `spinlat screen` (workflows/screen.hpp) on analytic models whose every column is known:
// ground-state energy, anisotropy energies, the mapped exchange, the mean-field and the Monte
// Carlo Curie temperature of the classical Heisenberg model, and the continuation of a screen.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "scratch_dir.hpp"
#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/io/extxyz.hpp"
#include "spinlat/io/hdf5.hpp"
#include "spinlat/terms/registry.hpp"
#include "spinlat/workflows/screen.hpp"

namespace spinlat {
namespace {

namespace fs = std::filesystem;
const test_scratch::ScratchRoot kScratch("screen");

constexpr double kJ = 0.02;   // eV, nearest-neighbour exchange, E = −Σ_{i<j} J ê_i·ê_j
constexpr double kK = 1e-4;   // eV, uniaxial anisotropy along z, E = −Σ K (ê·ẑ)²

// One conventional cell (bcc: 2 atoms; sc: 1), moments 2 μB along x: the relaxation must find
// the easy axis z on its own.
std::string cell_file(const fs::path& dir, const std::string& lattice) {
  System s = build_supercell(standard_lattice(lattice, 2.87, 0.0, {"Fe"}, {2.0}), Int3(1, 1, 1));
  for (auto& e : s.spin) e = Vec3::UnitX();
  const std::string path = (dir / ("fe_" + lattice + ".xyz")).string();
  write_extxyz(path, std::vector<Frame>{Frame(s)});
  return path;
}

std::string model_file(const fs::path& dir) {
  const std::string path = (dir / "model.toml").string();
  std::ofstream(path) << "[[potential]]\ntype = \"heisenberg\"\nJ = [" << kJ
                      << "]\n\n[[potential]]\ntype = \"anisotropy\"\nkind = \"uniaxial\"\nK = " << kK
                      << "\naxis = [0.0, 0.0, 1.0]\n";
  return path;
}

ScreenOptions options(const fs::path& dir, std::vector<std::string> files) {
  ScreenOptions o;
  o.structures = std::move(files);
  o.model = model_file(dir);
  o.output = (dir / "out").string();
  o.axes = {"001", "100", "110"};
  o.shells = 1;
  o.quiet = true;
  return o;
}

std::string read(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace

// Every column but the Monte Carlo one, exactly: E per atom = −zJ/2 − K (the ferromagnet along
// the easy axis, relaxed from moments along x), anisotropy energies K along [100] (⊥ z) and K/2
// along [101] (45° from z), the mapped J, and the mean-field Tc zJ/(3 k_B).
TEST(Screen, ColumnsOfAnAnalyticModelAreExact) {
  const fs::path dir = kScratch.dir("exact");
  ScreenOptions o = options(dir, {cell_file(dir, "bcc"), cell_file(dir, "sc")});
  o.axes = {"001", "100", "101"};
  o.terms = "anisotropy";  // fitted beside J, so that K cannot leak into it
  o.monte_carlo = false;
  std::ostringstream out;
  const std::vector<ScreenRow> rows = run_screen(o, builtin_terms(), out);
  ASSERT_EQ(rows.size(), 2u);
  const int z[2] = {8, 6};
  for (int k = 0; k < 2; ++k) {
    const ScreenRow& r = rows[static_cast<std::size_t>(k)];
    SCOPED_TRACE(r.structure);
    EXPECT_EQ(r.order, "ferro");
    EXPECT_NEAR(r.energy_per_atom, -z[k] * kJ / 2 - kK, 1e-10);
    EXPECT_NEAR(r.moment, 2.0, 1e-12);
    EXPECT_NEAR(r.magnetisation, 2.0, 1e-6);
    EXPECT_EQ(r.easy_axis, "001");
    ASSERT_EQ(r.anisotropy.size(), 3u);
    EXPECT_NEAR(r.anisotropy[0], 0.0, 1e-9);
    EXPECT_NEAR(r.anisotropy[1], 1e3 * kK, 1e-7);        // meV: K along any axis ⊥ z
    EXPECT_NEAR(r.anisotropy[2], 1e3 * kK / 2, 1e-7);    // [101]: cos²45° = 1/2
    ASSERT_EQ(r.exchange.size(), 1u);
    EXPECT_NEAR(r.exchange[0], 1e3 * kJ, 1e-8 * 1e3 * kJ);
    EXPECT_NEAR(r.tc_mean_field, z[k] * kJ / (3 * units::k_B), 1e-6 * z[k] * kJ / (3 * units::k_B));
    EXPECT_EQ(r.tc_method, "none");
    EXPECT_FALSE(r.tc_note.empty());
  }
  // The HDF5 table holds the same rows.
  const h5::File f = h5::File::open((dir / "out" / "screen.h5").string());
  EXPECT_TRUE(f.is_dataset("/screen/tc_mean_field"));
  EXPECT_TRUE(fs::exists(dir / "out" / "fe_bcc" / "relaxed.xyz"));
  EXPECT_TRUE(fs::exists(dir / "out" / "fe_sc" / "map.txt"));
}

// The Monte Carlo column: the classical Heisenberg ferromagnet's Curie temperature from the
// mapped model's sweep (two sizes, Binder crossing / χ peak), against the high-precision values
// k_B Tc/J = 2.0542 (bcc; Peczak, Ferrenberg & Landau, PRB 43, 6087 (1991)) and 1.4430 (sc;
// Chen, Ferrenberg & Landau, PRB 48, 3249 (1993)). Small sizes (L = 4, 6 and 6, 8) and short
// runs: 4 % (finite-size shift of the crossing plus noise), and the estimator's own error bar.
TEST(Screen, MonteCarloCurieTemperatureOfTheMappedHeisenbergModel) {
  const fs::path dir = kScratch.dir("mc");
  ScreenOptions o = options(dir, {cell_file(dir, "bcc"), cell_file(dir, "sc")});
  o.mc_sweeps = 3000;
  std::ostringstream out;
  const std::vector<ScreenRow> rows = run_screen(o, builtin_terms(), out);
  ASSERT_EQ(rows.size(), 2u);
  const double exact[2] = {2.0542 * kJ / units::k_B, 1.4430 * kJ / units::k_B};
  for (int k = 0; k < 2; ++k) {
    const ScreenRow& r = rows[static_cast<std::size_t>(k)];
    SCOPED_TRACE(r.structure + ": " + r.tc_method + " " + r.tc_note);
    ASSERT_TRUE(std::isfinite(r.tc_monte_carlo));
    EXPECT_NE(r.tc_method, "none");
    EXPECT_GT(r.tc_monte_carlo_err, 0.0);
    EXPECT_NEAR(r.tc_monte_carlo, exact[k], 0.04 * exact[k]);
  }
  EXPECT_TRUE(fs::exists(dir / "out" / "fe_bcc" / "mc.h5"));
  EXPECT_TRUE(fs::exists(dir / "out" / "fe_bcc" / "mapped.toml"));
}

// A screen continues where it stopped: structures already in the table are kept as they are
// (the table rows byte for byte), the others are screened; other settings are refused.
TEST(Screen, ContinuesWithTheStructuresNotYetDone) {
  const fs::path dir = kScratch.dir("continue");
  const std::string bcc = cell_file(dir, "bcc"), sc = cell_file(dir, "sc");
  ScreenOptions o = options(dir, {bcc});
  o.monte_carlo = false;
  o.quiet = false;
  std::ostringstream first;
  run_screen(o, builtin_terms(), first);
  const std::string one = read(dir / "out" / "screen.csv");
  // The per-structure folder is left alone for a finished structure: mark it.
  std::ofstream(dir / "out" / "fe_bcc" / "marker") << "kept";

  o.structures = {bcc, sc};
  std::ostringstream second;
  const std::vector<ScreenRow> rows = run_screen(o, builtin_terms(), second);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_NE(second.str().find("fe_bcc: done in an earlier run"), std::string::npos) << second.str();
  EXPECT_TRUE(fs::exists(dir / "out" / "fe_bcc" / "marker"));
  const std::string two = read(dir / "out" / "screen.csv");
  EXPECT_EQ(two.substr(0, one.size()), one);  // the first row unchanged, the second appended

  // The same folder with other settings: one clear error, and the table is untouched.
  o.shells = 2;
  try {
    run_screen(o, builtin_terms(), second);
    ADD_FAILURE() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("other settings"), std::string::npos) << e.what();
  }
  EXPECT_EQ(read(dir / "out" / "screen.csv"), two);
}

// Without anisotropy every axis costs the same: no easy axis is named.
TEST(Screen, IsotropicModelHasNoEasyAxis) {
  const fs::path dir = kScratch.dir("isotropic");
  ScreenOptions o = options(dir, {cell_file(dir, "bcc")});
  o.model = (dir / "exchange.toml").string();
  std::ofstream(o.model) << "[[potential]]\ntype = \"heisenberg\"\nJ = [" << kJ << "]\n";
  o.monte_carlo = false;
  std::ostringstream out;
  const std::vector<ScreenRow> rows = run_screen(o, builtin_terms(), out);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].easy_axis, "none");
  for (double e : rows[0].anisotropy) EXPECT_NEAR(e, 0.0, 1e-9);
  EXPECT_NEAR(rows[0].energy_per_atom, -8 * kJ / 2, 1e-10);
}

TEST(Screen, BadInputIsOneClearError) {
  const fs::path dir = kScratch.dir("bad");
  std::ostringstream out;
  auto message = [&](const std::vector<std::string>& args) {
    try {
      screen_command(args, builtin_terms(), out);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  const std::string model = model_file(dir);
  EXPECT_NE(message({(dir / "nowhere").string(), "--model", model, "-o", (dir / "o").string()}).find("no such folder"),
            std::string::npos);
  const std::string list = (dir / "list.txt").string();
  std::ofstream(list) << "# structures\nmissing.xyz\n";
  const std::string m = message({list, "--model", model, "-o", (dir / "o").string()});
  EXPECT_NE(m.find("missing.xyz"), std::string::npos) << m;
  EXPECT_NE(m.find(":2"), std::string::npos) << m;  // the list's line
  const std::string bcc = cell_file(dir, "bcc");
  EXPECT_NE(message({bcc, "--model", model, "-o", (dir / "o").string(), "--axes", "0a1"}).find("not an axis"),
            std::string::npos);
  EXPECT_NE(message({dir.string(), "--model", (dir / "none.pt").string(), "-o", (dir / "o").string()}).find("no such model"),
            std::string::npos);
}

}  // namespace spinlat
