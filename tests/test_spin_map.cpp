// `spinlat map`: recovery of analytic spin Hamiltonians by the linear fit, held-out errors, the
// written input, the VAMPIRE and UppASD writers against hand-computed conventions, and the
// mean-field ordering temperature (docs/mapping.md).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <tuple>

#include "scratch_dir.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/workflows/run.hpp"
#include "spinlat/workflows/spin_map.hpp"

using namespace spinlat;

namespace {

test_scratch::ScratchRoot g_scratch("spin_map");

struct Mapped {
  Config c;
  System s;
  Hamiltonian h;
  SpinMap m;
};

// read_config wants something to run.
const char* kStage = "\n[[stage]]\ntype = \"mc\"\ntemperature = 100.0\nsweeps = 10\n";

Mapped map_text(const std::string& text, MapOptions o) {
  Mapped r{parse_config(text + kStage, "test.toml"), {}, {}, {}};
  r.s = build_system(r.c);
  r.h = build_hamiltonian(r.c, r.s, builtin_terms());
  o.seed = r.c.seed;
  r.m = map_spin_model(r.s, r.h, o);
  return r;
}

double coefficient(const SpinMap& m, const std::string& label) {
  for (std::size_t j = 0; j < m.column_labels.size(); ++j)
    if (m.column_labels[j].rfind(label, 0) == 0) return m.coefficients[j];
  ADD_FAILURE() << "no column " << label;
  return NAN;
}

/// J of species pair (a, b) at radius r from the mapped table, NaN if absent.
double pair_J(const SpinMap& m, const std::string& a, const std::string& b, double r) {
  for (const auto& p : m.exchange)
    if (((p.a == a && p.b == b) || (p.a == b && p.b == a)) && std::abs(p.radius - r) < 1e-3) return p.J;
  return NAN;
}

void randomize(System& s, std::mt19937_64& g, bool moments) {
  std::normal_distribution<double> n;
  std::uniform_real_distribution<double> u(0.8, 1.2);
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!s.magnetic(i)) continue;
    s.spin[i] = Vec3(n(g), n(g), n(g)).normalized();
    if (moments) s.moment[i] *= u(g);
  }
}

const char* kBccShells = R"(seed = 11
[structure]
lattice = "bcc"
a = 2.87
cells = [3, 3, 3]
species = ["Fe"]
moment = [2.2]
[[potential]]
type = "heisenberg"
J = [0.021, 0.0083, -0.0027]
)";

// sc with exchange, interfacial DMI, a tilted uniaxial axis, cubic anisotropy, Landau and
// biquadratic terms: every fitted family at once.
const char* kScAll = R"(seed = 5
[structure]
lattice = "sc"
a = 2.5
cells = [3, 3, 3]
species = ["Fe"]
moment = [2.0]
[[potential]]
type = "heisenberg"
J = [0.012, -0.002]
[[potential]]
type = "dmi"
kind = "interfacial"
D = [0.0031]
[[potential]]
type = "anisotropy"
K = 0.0007
axis = [1.0, 2.0, 2.0]
[[potential]]
type = "anisotropy"
kind = "cubic"
K = -0.00023
[[potential]]
type = "landau"
A = -0.61
B = 0.073
C = 0.0011
[[potential]]
type = "biquadratic"
Q = [0.0009]
)";

}  // namespace

TEST(SpinMap, RecoversMultiShellHeisenbergTo1e8) {
  MapOptions o;
  o.shells = 3;
  o.train = 12;
  o.held_out = 4;
  const Mapped r = map_text(kBccShells, o);
  const double a = 2.87;
  const double J[] = {0.021, 0.0083, -0.0027};
  const double rad[] = {a * std::sqrt(3.0) / 2.0, a, a * std::sqrt(2.0)};
  for (int k = 0; k < 3; ++k) EXPECT_NEAR(pair_J(r.m, "Fe", "Fe", rad[k]), J[k], 1e-8 * std::abs(J[k])) << k;
  EXPECT_EQ(r.m.exchange.size(), 3u);
  EXPECT_NEAR(r.m.energy_offset, 0.0, 1e-12);
  EXPECT_TRUE(r.m.dropped.empty());
  // Exactly representable: held-out errors at rounding level.
  EXPECT_LT(r.m.held_out.force_rmse, 1e-10 * r.m.held_out.force_rms);
  EXPECT_LT(r.m.held_out.energy_rmse, 1e-12);
  EXPECT_EQ(r.m.held_out.configurations, 4);
}

TEST(SpinMap, RecoversDmiAnisotropyLandauBiquadraticTo1e8) {
  MapOptions o;
  o.shells = 2;
  o.dmi = o.anisotropy = o.landau = o.biquadratic = true;
  o.train = 16;
  o.held_out = 4;
  const Mapped r = map_text(kScAll, o);
  const SpinMap& m = r.m;
  EXPECT_FALSE(m.transverse_only);
  EXPECT_NEAR(pair_J(m, "Fe", "Fe", 2.5), 0.012, 1e-8 * 0.012);
  EXPECT_NEAR(pair_J(m, "Fe", "Fe", 2.5 * std::sqrt(2.0)), -0.002, 1e-8 * 0.002);
  // One D vector per bond direction: interfacial D_ij = D ẑ × r̂_ij on the 3 nearest-neighbour
  // directions (zero along ẑ), zero on the 6 second-neighbour ones.
  int dmi_tables = 0;
  for (const auto& t : m.tables) {
    if (t.type != "dmi") continue;
    ++dmi_tables;
    EXPECT_EQ(t.kind, "bond");
    ASSERT_EQ(t.bonds.size(), 9u);
    for (std::size_t b = 0; b < t.bonds.size(); ++b) {
      const Vec3 expect = t.bonds[b].norm() < 2.6 ? Vec3(0.0031 * Vec3::UnitZ().cross(t.bonds[b].normalized())) : Vec3::Zero();
      EXPECT_LT((t.bond_D[b] - expect).norm(), 1e-8 * 0.0031) << t.bonds[b].transpose();
    }
  }
  EXPECT_EQ(dmi_tables, 1);
  // Single-ion tensor K n nᵀ (E = −ê·K·ê), n = (1, 2, 2)/3, up to the trace (a constant).
  const Vec3 n = Vec3(1, 2, 2) / 3.0;
  Mat3 K = m.anisotropy_tensor.at("Fe");
  Mat3 expect = 0.0007 * n * n.transpose();
  const double shift = (K - expect).trace() / 3.0;
  EXPECT_LT((K - expect - shift * Mat3::Identity()).cwiseAbs().maxCoeff(), 1e-8 * 0.0007);
  EXPECT_NEAR(coefficient(m, "Kc Fe cubic"), -0.00023, 1e-8 * 0.00023);
  // The tensor became one uniaxial table along ±n with K.
  int uniaxial = 0;
  for (const auto& t : m.tables)
    if (t.type == "anisotropy" && t.kind == "uniaxial") {
      ++uniaxial;
      EXPECT_NEAR(t.values[0], 0.0007, 1e-8 * 0.0007);
      EXPECT_NEAR(std::abs(t.vector.dot(n)), 1.0, 1e-8);
    }
  EXPECT_EQ(uniaxial, 1);
  EXPECT_NEAR(coefficient(m, "Landau A"), -0.61, 1e-8 * 0.61);
  EXPECT_NEAR(coefficient(m, "Landau B"), 0.073, 1e-8 * 0.073);
  EXPECT_NEAR(coefficient(m, "Landau C"), 0.0011, 1e-8 * 0.0011);
  EXPECT_NEAR(coefficient(m, "Q shell 1"), 0.0009, 1e-8 * 0.0009);
  EXPECT_NEAR(coefficient(m, "Q shell 2"), 0.0, 1e-8 * 0.0009);
  EXPECT_TRUE(m.dropped.empty());
  EXPECT_LT(m.held_out.force_rmse, 1e-9 * m.held_out.force_rms);
}

TEST(SpinMap, TwoSpeciesPairExchange) {
  // B2 FeCo: Fe-Co nearest neighbours, Fe-Fe and Co-Co second neighbours, each its own J.
  const char* text = R"(seed = 2
[structure]
lattice = "bcc"
a = 2.86
cells = [3, 3, 3]
species = ["Fe", "Co"]
moment = [2.2, 1.7]
[[potential]]
type = "heisenberg"
J = [0.015]
[[potential]]
type = "heisenberg"
J = [0.004]
species = "Fe"
[[potential]]
type = "heisenberg"
J = [-0.0021]
species = "Co"
)";
  MapOptions o;
  o.shells = 2;
  o.train = 12;
  o.held_out = 4;
  const Mapped r = map_text(text, o);
  const double a = 2.86, r1 = a * std::sqrt(3.0) / 2.0;
  EXPECT_NEAR(pair_J(r.m, "Fe", "Co", r1), 0.015, 1e-8 * 0.015);
  EXPECT_NEAR(pair_J(r.m, "Fe", "Fe", a), 0.004, 1e-8 * 0.004);
  EXPECT_NEAR(pair_J(r.m, "Co", "Co", a), -0.0021, 1e-8 * 0.0021);
  EXPECT_TRUE(std::isnan(pair_J(r.m, "Fe", "Fe", r1)));  // no such pairs in B2
  EXPECT_TRUE(r.m.dropped.empty());
  EXPECT_LT(r.m.held_out.force_rmse, 1e-10 * r.m.held_out.force_rms);
}

TEST(SpinMap, HeldOutErrorShowsMissingTerm) {
  // Isotropic exchange only, fitted to a Hamiltonian with DMI: the held-out magnetic-force error
  // must report what the model cannot express.
  const std::string text = std::string(R"(seed = 3
[structure]
lattice = "sc"
a = 2.5
cells = [3, 3, 3]
species = ["Fe"]
moment = [2.0]
[[potential]]
type = "heisenberg"
J = [0.01]
[[potential]]
type = "dmi"
kind = "bulk"
D = [0.004]
)");
  MapOptions o;
  o.shells = 1;
  o.train = 12;
  o.held_out = 6;
  const Mapped iso = map_text(text, o);
  o.dmi = true;
  const Mapped full = map_text(text, o);
  EXPECT_LT(full.m.held_out.force_rmse, 1e-10 * full.m.held_out.force_rms);
  // A bond's DMI torque is |D| ≈ 4 meV against J = 10 meV: a force error of order D/|m|.
  EXPECT_GT(iso.m.held_out.force_rmse, 0.1 * 0.004 / 2.0);
  EXPECT_GT(iso.m.held_out.force_rmse, 1e6 * full.m.held_out.force_rmse);
}

TEST(SpinMap, WrittenInputValidatesAndReproducesEnergies) {
  MapOptions o;
  o.shells = 2;
  o.dmi = o.anisotropy = o.landau = o.biquadratic = true;
  o.train = 16;
  o.held_out = 2;
  const Mapped r = map_text(kScAll, o);
  const std::string toml = spin_model_toml(r.c, r.m, "test.toml");
  const auto dir = g_scratch.dir("toml");
  const std::string path = (dir / "spin_model.toml").string();
  std::ofstream(path) << toml;
  EXPECT_NO_THROW(validate_input(path, {}, builtin_terms())) << toml;
  EXPECT_NE(toml.find("# fit errors, held out"), std::string::npos);
  const Config c2 = read_config(path);
  System s2 = build_system(c2);
  ASSERT_EQ(s2.size(), r.s.size());
  const Hamiltonian h2 = build_hamiltonian(c2, s2, builtin_terms());
  System s1 = r.s;
  std::mt19937_64 g(7);
  for (int trial = 0; trial < 5; ++trial) {
    randomize(s1, g, true);
    s2.spin = s1.spin;
    s2.moment = s1.moment;
    const double e1 = r.h.energy(s1);
    const double e2 = h2.energy(s2) + r.m.energy_offset * static_cast<double>(s1.size());
    EXPECT_NEAR(e2, e1, 1e-9 * std::abs(e1)) << trial;
  }
}

namespace {

/// Energy of VAMPIRE's Hamiltonian from a unit-cell file: E = −½ Σ_lines S_i·T·S_j (joules).
double vampire_energy(const std::string& ucf, const std::vector<Vec3>& spin) {
  std::istringstream in(ucf);
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);)
    if (!l.empty() && l[0] != '#') lines.push_back(l);
  // lines: size, 3 vectors, "n nmat", n atoms, "m type", m interactions.
  const int natoms = std::stoi(lines[4]);
  std::istringstream head(lines[5 + natoms]);
  int m;
  std::string type;
  head >> m >> type;
  double e = 0.0;
  for (int k = 0; k < m; ++k) {
    std::istringstream l(lines[6 + natoms + k]);
    int id, i, j, dx, dy, dz;
    l >> id >> i >> j >> dx >> dy >> dz;
    Mat3 T = Mat3::Zero();
    if (type == "isotropic") {
      double J;
      l >> J;
      T = J * Mat3::Identity();
    } else {
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) l >> T(a, b);
    }
    e -= 0.5 * spin[i].dot(T * spin[j]);
  }
  return e;
}

}  // namespace

TEST(SpinMap, VampireAndUppasdConventionsByHand) {
  // sc, 3×3×3 cells, a = 2 Å, J = 10 meV and bulk DMI 3 meV on nearest neighbours: every atom has
  // 6 bonds of length 2 Å, 162 directed pairs. (In a 2×2×2 cell the ±x neighbours are the same
  // atom and bulk DMI cancels identically.)
  const char* text = R"(seed = 9
[structure]
lattice = "sc"
a = 2.0
cells = [3, 3, 3]
species = ["Fe"]
moment = [2.0]
[[potential]]
type = "heisenberg"
J = [0.01]
[[potential]]
type = "dmi"
kind = "bulk"
D = [0.003]
)";
  MapOptions o;
  o.shells = 1;
  o.dmi = true;
  o.train = 8;
  o.held_out = 0;
  Mapped r = map_text(text, o);
  const std::vector<MappedPair> pairs = mapped_pairs(r.s, r.m);
  ASSERT_EQ(pairs.size(), 162u);
  for (const auto& p : pairs) {
    const Vec3 d = r.s.position[p.j] + r.s.cell.h.transpose() * p.image.cast<double>() - r.s.position[p.i];
    EXPECT_NEAR(d.norm(), 2.0, 1e-9);
    EXPECT_NEAR(p.J, 0.01, 1e-10);
    EXPECT_LT((p.D - 0.003 * d.normalized()).norm(), 1e-10);
  }
  std::mt19937_64 g(3);
  System s = r.s;
  const std::vector<int> mag = s.magnetic_sites();
  const double eV = 1.602176634e-19;
  for (int trial = 0; trial < 3; ++trial) {
    randomize(s, g, false);
    const double e = r.h.energy(s);  // eV
    // VAMPIRE: tensorial file (DMI present), joules.
    const std::string ucf = vampire_ucf(s, r.m);
    EXPECT_NE(ucf.find("162 tensorial"), std::string::npos);
    EXPECT_NEAR(vampire_energy(ucf, s.spin), e * eV, 1e-9 * std::abs(e * eV));
    // UppASD: H = −Σ_{i≠j} J e_i·e_j − Σ_{i≠j} D·(e_i × e_j), mRy, every ordered pair a line.
    const auto files = uppasd_files(s, r.m);
    double eu = 0.0;
    std::istringstream jf(files.at("jfile")), dm(files.at("dmfile"));
    int lines = 0;
    for (std::string l; std::getline(jf, l); ++lines) {
      std::istringstream ls(l);
      int i, j, n1, n2, n3;
      double J;
      ls >> i >> j >> n1 >> n2 >> n3 >> J;
      EXPECT_NEAR(J, 0.5 * 10.0 / 13.605693122994, 1e-9);
      eu -= J * s.spin[mag[i - 1]].dot(s.spin[mag[j - 1]]);
    }
    EXPECT_EQ(lines, 162);
    for (std::string l; std::getline(dm, l);) {
      std::istringstream ls(l);
      int i, j, n1, n2, n3;
      Vec3 D;
      ls >> i >> j >> n1 >> n2 >> n3 >> D.x() >> D.y() >> D.z();
      eu -= D.dot(s.spin[mag[i - 1]].cross(s.spin[mag[j - 1]]));
    }
    EXPECT_NEAR(eu * 13.605693122994e-3, e, 1e-9 * std::abs(e));
  }
  // On the conventional cell (3×3×3 cells of one atom): 6 interactions of atom 0 with its
  // images ±x, ±y, ±z; the ferromagnetic energy per atom from VAMPIRE's formula is −3J.
  {
    const std::string ucf = vampire_ucf(r.s, r.m, Int3(3, 3, 3));
    EXPECT_NE(ucf.find("\n1 1\n0 0 0 0 0 0 0\n"), std::string::npos) << ucf;
    EXPECT_NE(ucf.find("\n6 tensorial\n"), std::string::npos) << ucf;
    for (const auto& line : {"0 0 1 0 0", "0 0 -1 0 0", "0 0 0 1 0", "0 0 0 -1 0", "0 0 0 0 1", "0 0 0 0 -1"})
      EXPECT_NE(ucf.find(std::string(" ") + line + " "), std::string::npos) << line;
    EXPECT_NEAR(vampire_energy(ucf, {Vec3::UnitZ()}), -3.0 * 0.01 * eV, 1e-12 * eV);
    const auto files = uppasd_files(r.s, r.m, Int3(3, 3, 3));
    EXPECT_EQ(std::count(files.at("jfile").begin(), files.at("jfile").end(), '\n'), 6);
    EXPECT_NE(files.at("inpsd.dat").find("ncell 3 3 3"), std::string::npos);
    EXPECT_EQ(files.at("posfile"), "1 1 0 0 0\n");
  }
  // Isotropic-only model: one J per line, in joules.
  SpinMap iso = r.m;
  iso.tables.erase(std::remove_if(iso.tables.begin(), iso.tables.end(), [](const MappedTable& t) { return t.type == "dmi"; }),
                   iso.tables.end());
  const std::string ucf = vampire_ucf(r.s, iso);
  EXPECT_NE(ucf.find("162 isotropic"), std::string::npos);
  EXPECT_NE(ucf.find(" 1.602176634e-21\n"), std::string::npos) << ucf;
  EXPECT_EQ(uppasd_files(r.s, iso).count("dmfile"), 0u);
}

TEST(SpinMap, MeanFieldTemperatureSimpleCubic) {
  // Classical mean field on sc, nearest-neighbour J: k_B T = z J / 3 = 2 J. The same from a
  // 1×1×1 cell (all six neighbours are images of the one atom) and a 3×3×3 cell.
  for (const char* cells : {"[1, 1, 1]", "[3, 3, 3]"}) {
    const std::string text = std::string("seed = 1\n[structure]\nlattice = \"sc\"\na = 2.5\ncells = ") + cells +
                             "\nspecies = [\"Fe\"]\nmoment = [2.0]\n[[potential]]\ntype = \"heisenberg\"\nJ = [0.01]\n";
    MapOptions o;
    o.shells = 1;
    o.train = 6;
    o.held_out = 0;
    const Mapped r = map_text(text, o);
    EXPECT_NEAR(r.m.tc_mean_field * units::k_B, 2.0 * 0.01, 1e-10) << cells;
    EXPECT_NEAR(r.m.tc_mean_field_ferro * units::k_B, 2.0 * 0.01, 1e-10) << cells;
  }
  // Antiferromagnetic J: the ferro mode does not order; the staggered mode orders at 2|J|.
  const std::string af = "seed = 1\n[structure]\nlattice = \"sc\"\na = 2.5\ncells = [2, 2, 2]\nspecies = [\"Fe\"]\n"
                         "moment = [2.0]\n[[potential]]\ntype = \"heisenberg\"\nJ = [-0.01]\n";
  MapOptions o;
  o.shells = 1;
  o.train = 6;
  o.held_out = 0;
  const Mapped r = map_text(af, o);
  EXPECT_NEAR(r.m.tc_mean_field * units::k_B, 0.02, 1e-10);
  EXPECT_EQ(r.m.tc_mean_field_ferro, 0.0);
}

TEST(SpinMap, CommandLineErrors) {
  const auto dir = g_scratch.dir("cli");
  const std::string in = (dir / "in.toml").string();
  std::ofstream(in) << kBccShells << kStage;
  std::ostringstream out;
  const TermRegistry reg = builtin_terms();
  EXPECT_THROW(map_command({in}, reg, out), InputError);  // no -o
  EXPECT_THROW(map_command({in, "-o", "x.toml", "--terms", "dmi,quartic"}, reg, out), InputError);
  EXPECT_THROW(map_command({in, "-o", "x.toml", "--format", "lammps"}, reg, out), InputError);
  EXPECT_THROW(map_command({in, "-o", "x.toml", "--shells", "two"}, reg, out), InputError);
  EXPECT_THROW(map_command({in, "-o", "x.toml", "--shells", "0"}, reg, out), InputError);
  // The whole command: the file holds the header and the tables.
  const std::string outfile = (dir / "spin.toml").string();
  EXPECT_EQ(map_command({in, "-o", outfile, "--shells", "3", "--configs", "6", "--held-out", "2"}, reg, out), 0);
  std::ifstream f(outfile);
  std::stringstream ss;
  ss << f.rdbuf();
  EXPECT_NE(ss.str().find("type = \"heisenberg\""), std::string::npos);
  EXPECT_NE(ss.str().find("mean-field ordering temperature"), std::string::npos);
  EXPECT_NE(out.str().find("held out (2 configurations)"), std::string::npos);
}
