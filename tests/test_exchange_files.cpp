// Exchange from other codes' files (io/exchange_files.hpp, terms/exchange_file.hpp): the same
// bcc model — isotropic J, DMI and symmetric anisotropic exchange on the 8 nearest-neighbour
// bonds — written by hand as VAMPIRE, UppASD and TB2J files, each in its own code's
// convention, must give spinlat's E = −Σ_{i<j} ê_i·T_ij·ê_j evaluated by brute force here.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <random>
#include <string>

#include "cli_test_helpers.hpp"
#include "scratch_dir.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/workflows/input.hpp"
#include "spinlat/io/exchange_files.hpp"
#include "spinlat/terms/registry.hpp"
#include "spinlat/workflows/run.hpp"

using namespace spinlat;
namespace fs = std::filesystem;

namespace {

const test_scratch::ScratchRoot kScratch("exchange_files");
constexpr double kA = 2.87;  // Å
constexpr double kJ = 0.012, kD = 0.002, kS = 0.0015;  // eV

Mat3 dmi_matrix(const Vec3& D) {  // ê_i·A·ê_j = −D·(ê_i × ê_j)
  Mat3 A = Mat3::Zero();
  A(0, 1) = -D.z(); A(1, 0) = D.z();
  A(0, 2) = D.y();  A(2, 0) = -D.y();
  A(1, 2) = -D.x(); A(2, 1) = D.x();
  return A;
}

Vec3 dmi_of(const Vec3& v) { return kD * v.normalized().cross(Vec3(0.3, -0.5, 1.0).normalized()); }
Mat3 aniso_of(const Vec3& v, bool with_s) {
  const Vec3 u = v.normalized();
  return with_s ? Mat3(kS * (u * u.transpose() - Mat3::Identity() / 3.0)) : Mat3(Mat3::Zero());
}
/// T of the bond from site 0 to site 1 along v; the bond from 1 to 0 along −v carries Tᵀ.
Mat3 tensor_0_to_1(const Vec3& v, bool with_s) { return kJ * Mat3::Identity() + dmi_matrix(dmi_of(v)) + aniso_of(v, with_s); }

std::vector<Vec3> offsets_from_0() {  // cell offsets d of site 1 seen from site 0
  std::vector<Vec3> d;
  for (int x : {0, -1})
    for (int y : {0, -1})
      for (int z : {0, -1}) d.emplace_back(x, y, z);
  return d;
}
Vec3 bond_vector(const Vec3& d) { return kA * (Vec3(0.5, 0.5, 0.5) + d); }

std::string structure(const std::string& potential) {
  return "seed = 1\n[structure]\nlattice = \"bcc\"\na = " + std::to_string(kA) +
         "\ncells = [3, 3, 3]\nspecies = \"Fe\"\nmoment = 2.2\nspins = \"random\"\n" + potential;
}

struct Model {
  System s;
  Hamiltonian h;
};

Model load(const std::string& toml) {
  const Config c = parse_config(toml, "in.toml");
  Model m{build_system(c), Hamiltonian()};
  m.h = build_hamiltonian(c, m.s, builtin_terms());
  return m;
}

/// E = −Σ_{i<j} ê_i·T_ij·ê_j over nearest-neighbour bonds, by brute force over atom pairs.
double brute_force(const System& s, bool with_s) {
  double e = 0.0;
  const Mat3 h = s.cell.h;  // rows = cell vectors
  for (std::size_t i = 0; i < s.size(); ++i)
    for (std::size_t j = 0; j < s.size(); ++j) {
      Vec3 r = s.position[j] - s.position[i];
      const Vec3 f = h.transpose().inverse() * r;
      r = h.transpose() * (f - f.array().round().matrix());  // minimum image (3 cells: unique)
      if (std::abs(r.norm() - kA * std::sqrt(3.0) / 2.0) > 1e-6) continue;
      // Site 0 atoms have integer fractional coordinates in the conventional cell.
      const Vec3 fi = s.position[i] / kA;
      const bool from0 = (fi - fi.array().round().matrix()).norm() < 1e-6;
      const Mat3 T = from0 ? tensor_0_to_1(r, with_s) : Mat3(tensor_0_to_1(-r, with_s).transpose());
      e -= 0.5 * s.spin[i].dot(T * s.spin[j]);
    }
  return e;
}

void write(const fs::path& p, const std::string& text) { std::ofstream(p) << text; }

std::string vampire_ucf(bool with_s) {
  std::ostringstream o;
  o.precision(17);
  o << "# bcc, conventional cell\n" << kA << " " << kA << " " << kA << "\n1 0 0\n0 1 0\n0 0 1\n2 1\n";
  o << "0 0 0 0 0\n1 0.5 0.5 0.5 0\n16 tensorial\n";
  int id = 0;
  auto line = [&](int i, int j, const Vec3& d, const Mat3& T) {
    o << id++ << " " << i << " " << j << " " << d.x() << " " << d.y() << " " << d.z();
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 3; ++c) o << " " << T(r, c) * units::joule_per_eV;
    o << "\n";
  };
  for (const Vec3& d : offsets_from_0()) line(0, 1, d, tensor_0_to_1(bond_vector(d), with_s));
  for (const Vec3& d : offsets_from_0()) line(1, 0, -d, tensor_0_to_1(bond_vector(d), with_s).transpose());
  return o.str();
}

/// `tol`: relative tolerance of the energy (files printed with fewer digits need more).
void check_against_brute_force(Model& m, bool with_s, double tol = 1e-12) {
  std::mt19937_64 rng(7);
  std::normal_distribution<double> g;
  const double e = m.h.energy(m.s), ref = brute_force(m.s, with_s);
  EXPECT_NEAR(e, ref, tol * std::abs(ref));
  // Magnetic forces: −∂E/∂m_i against a central difference of the brute-force energy.
  std::vector<Vec3> b(m.s.size(), Vec3::Zero());
  Derivatives d;
  d.magnetic_force = &b;
  m.h.compute(m.s, d);
  for (std::size_t i : {0u, 7u, 31u}) {
    const Vec3 e0 = m.s.spin[i];
    const Vec3 u = e0.cross(Vec3(g(rng), g(rng), g(rng))).normalized();  // a tangent direction
    const double eps = 1e-5;
    System sp = m.s, sm = m.s;
    sp.spin[i] = (e0 + eps * u).normalized();
    sm.spin[i] = (e0 - eps * u).normalized();
    const double fd = -(brute_force(sp, with_s) - brute_force(sm, with_s)) / (2 * eps) / m.s.moment[i];
    EXPECT_NEAR(b[i].dot(u), fd, 1e-8) << "atom " << i;
    // The local energy change of a full rotation equals the brute-force difference.
    const Vec3 n = Vec3(g(rng), g(rng), g(rng)).normalized();
    System moved = m.s;
    moved.spin[i] = n;
    EXPECT_NEAR(m.h.local_energy_change(m.s, static_cast<int>(i), n, m.s.moment[i]),
                brute_force(moved, with_s) - ref, tol * std::abs(ref));
  }
}

}  // namespace

TEST(ExchangeFiles, VampireTensorialMatchesTheBruteForceModel) {
  const fs::path dir = kScratch.dir("vampire");
  write(dir / "fe.ucf", vampire_ucf(true));
  Model m = load(structure("[[potential]]\ntype = \"exchange-file\"\nfile = \"" + (dir / "fe.ucf").string() + "\"\n"));
  EXPECT_EQ(m.h.spin_kernel(), nullptr);  // symmetric anisotropic exchange: generic path
  check_against_brute_force(m, true);
}

TEST(ExchangeFiles, VampireIsotropicEqualsHeisenbergAndUsesTheSpinKernel) {
  const fs::path dir = kScratch.dir("vampire_iso");
  std::ostringstream o;
  o.precision(17);
  o << kA << " " << kA << " " << kA << "\n1 0 0\n0 1 0\n0 0 1\n2 1\n0 0 0 0 0\n1 0.5 0.5 0.5 0\n8 isotropic\n";
  int id = 0;
  // One direction only: the reader adds the reverse bonds.
  for (const Vec3& d : offsets_from_0())
    o << id++ << " 0 1 " << d.x() << " " << d.y() << " " << d.z() << " " << kJ * units::joule_per_eV << "\n";
  write(dir / "fe.ucf", o.str());
  Model file = load(structure("[[potential]]\ntype = \"exchange-file\"\nfile = \"" + (dir / "fe.ucf").string() + "\"\n"));
  Model heis = load(structure("[[potential]]\ntype = \"heisenberg\"\nJ = [" + std::to_string(kJ) + "]\n"));
  ASSERT_NE(file.h.spin_kernel(), nullptr);
  const double e = file.h.energy(file.s), ref = heis.h.energy(heis.s);
  EXPECT_NEAR(e, ref, 1e-12 * std::abs(ref));
  EXPECT_NEAR(file.h.spin_kernel()->energy(file.s.spin, file.s.moment), ref, 1e-12 * std::abs(ref));
}

TEST(ExchangeFiles, UppasdJfileAndDmfileMatchTheBruteForceModel) {
  // UppASD: H = −Σ_{i≠j} J e_i·e_j − Σ_{i≠j} D·(e_i × e_j) in mRy: J_U = J/2, D_U = −D/2.
  const fs::path dir = kScratch.dir("uppasd");
  const double mry = 1e-3 * units::rydberg_eV;
  std::ostringstream j, dm, inp;
  j.precision(17);
  dm.precision(17);
  for (int from : {1, 2})
    for (const Vec3& d0 : offsets_from_0()) {
      const Vec3 d = from == 1 ? d0 : Vec3(-d0);
      const Vec3 D = from == 1 ? dmi_of(bond_vector(d0)) : Vec3(-dmi_of(bond_vector(d0)));
      const std::string head = std::to_string(from) + " " + std::to_string(3 - from) + " " + std::to_string(int(d.x())) + " " +
                               std::to_string(int(d.y())) + " " + std::to_string(int(d.z()));
      j << head << " " << 0.5 * kJ / mry << "\n";
      dm << head << " " << -0.5 * D.x() / mry << " " << -0.5 * D.y() / mry << " " << -0.5 * D.z() / mry << "\n";
    }
  write(dir / "jfile", j.str());
  write(dir / "dmfile", dm.str());
  write(dir / "posfile", "1 1 0 0 0\n2 1 0.5 0.5 0.5\n");
  std::ostringstream alat;
  alat.precision(17);
  alat << kA * 1e-10;
  write(dir / "inpsd.dat", "simid fe\ncell 1 0 0\n     0 1 0\n     0 0 1\nalat " + alat.str() +
                               "\nposfile ./posfile\nposfiletype D\nmaptype 2\nexchange ./jfile\ndm ./dmfile\n");
  Model m = load(structure("[[potential]]\ntype = \"exchange-file\"\nfile = \"" + (dir / "inpsd.dat").string() + "\"\n"));
  ASSERT_NE(m.h.spin_kernel(), nullptr);  // J and D only
  check_against_brute_force(m, false);
}

TEST(ExchangeFiles, Tb2jExchangeOutMatchesTheBruteForceModel) {
  // TB2J: E = −Σ_{i≠j} [J S_i·S_j + S_i·J_ani·S_j + D·(S_i × S_j)] in meV: halves, D negated.
  const fs::path dir = kScratch.dir("tb2j");
  std::ostringstream o;
  o.precision(10);
  o << std::fixed;
  o << "==========\nInformation: \nExchange parameters generated by TB2J.\n\n==========\nCell (Angstrom):\n";
  o << kA << " 0 0\n0 " << kA << " 0\n0 0 " << kA << "\n\n==========\nAtoms:  \n(Note: charge and magmoms only count the wannier functions.)\n";
  o << " Atom number       x          y          z      w_charge   w_magmom\n";
  o << "Fe1 0.0 0.0 0.0 6.0 2.2\nFe2 " << kA / 2 << " " << kA / 2 << " " << kA / 2 << " 6.0 2.2\nTotal 12.0 4.4\n\n";
  o << "==========\nExchange: \n    i     j          R        J_iso(meV)          vector          distance(A)\n";
  for (int from : {0, 1})
    for (const Vec3& d0 : offsets_from_0()) {
      const Vec3 R = from == 0 ? d0 : Vec3(-d0);
      const Vec3 v = from == 0 ? bond_vector(d0) : Vec3(-bond_vector(d0));
      const Mat3 T = from == 0 ? tensor_0_to_1(v, true) : Mat3(tensor_0_to_1(-v, true).transpose());
      const Vec3 D = from == 0 ? dmi_of(v) : Vec3(-dmi_of(-v));
      const Mat3 S = 0.5 * (T + T.transpose()) - kJ * Mat3::Identity();
      o << "------\n   Fe" << from + 1 << "   Fe" << 2 - from << "   (" << int(R.x()) << ", " << int(R.y()) << ", " << int(R.z())
        << ") " << 0.5 * kJ * 1e3 << "   (" << v.x() << ", " << v.y() << ", " << v.z() << ") " << v.norm() << "\n";
      o << "J_iso: " << 0.5 * kJ * 1e3 << "\n";
      o << "[Testing!] DMI: (" << -0.5e3 * D.x() << " " << -0.5e3 * D.y() << " " << -0.5e3 * D.z() << ")\n";
      o << "[Testing!]J_ani:\n";
      for (int r = 0; r < 3; ++r)
        o << (r == 0 ? "[[" : " [") << 0.5e3 * S(r, 0) << " " << 0.5e3 * S(r, 1) << " " << 0.5e3 * S(r, 2) << (r == 2 ? "]]\n" : "]\n");
    }
  write(dir / "exchange.out", o.str());
  Model m = load(structure("[[potential]]\ntype = \"exchange-file\"\nfile = \"" + (dir / "exchange.out").string() + "\"\n"));
  // exchange.out carries 10 decimals of meV here (TB2J itself prints 4): 1e-13 eV per value.
  check_against_brute_force(m, true, 1e-10);
}

TEST(ExchangeFiles, WhatSpinlatMapWritesReadsBackAsTheSameModel) {
  // spinlat map writes VAMPIRE and UppASD files of a fitted model; exchange-file reads them
  // back. The analytic input maps exactly (to the fit's 1e-8), so the energies agree to that.
  const fs::path dir = kScratch.dir("roundtrip");
  const std::string heis = "[[potential]]\ntype = \"heisenberg\"\nJ = [0.02, 0.01]\n";
  write(dir / "in.toml", structure(heis) + "[[stage]]\ntype = \"mc\"\ntemperature = 10\nsweeps = 1\n");
  for (const std::string format : {"vampire", "uppasd"}) {
    const test::CliResult r = test::run_cli("map " + (dir / "in.toml").string() + " -o " + (dir / format).string() +
                                            " --format " + format + " --shells 2");
    ASSERT_EQ(r.status, 0) << r.output;
    const std::string file = format == "vampire" ? (dir / "vampire").string() : (dir / "uppasd" / "inpsd.dat").string();
    Model m = load(structure("[[potential]]\ntype = \"exchange-file\"\nformat = \"" + format + "\"\nfile = \"" + file + "\"\n"));
    Model ref = load(structure(heis));
    const double e = m.h.energy(m.s), e_ref = ref.h.energy(ref.s);
    EXPECT_NEAR(e, e_ref, 1e-7 * std::abs(e_ref)) << format;
  }
}

TEST(ExchangeFiles, ErrorsNameTheFileTheLineAndWhatWasExpected) {
  const fs::path dir = kScratch.dir("errors");
  // A structure whose atoms are not the file's sites (fcc against a bcc file).
  write(dir / "fe.ucf", vampire_ucf(false));
  const std::string pot = "[[potential]]\ntype = \"exchange-file\"\nfile = \"" + (dir / "fe.ucf").string() + "\"\n";
  std::string fcc = structure(pot);
  fcc.replace(fcc.find("\"bcc\""), 5, "\"fcc\"");
  try {
    load(fcc);
    FAIL() << "fcc structure accepted for a bcc file";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("is no site of this file's cell"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("fe.ucf"), std::string::npos) << e.what();
  }
  // A bond and its reverse that disagree.
  std::string text = vampire_ucf(false);
  const auto last = text.rfind('\n', text.size() - 2);
  text = text.substr(0, last + 1) + "15 1 0 1 1 1 " + std::to_string(3 * kJ * units::joule_per_eV) + " 0 0 0 " +
         std::to_string(3 * kJ * units::joule_per_eV) + " 0 0 0 " + std::to_string(3 * kJ * units::joule_per_eV) + "\n";
  write(dir / "bad.ucf", text);
  try {
    read_exchange_file((dir / "bad.ucf").string());
    FAIL() << "inconsistent reverse bond accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("disagree"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bad.ucf:"), std::string::npos) << e.what();
  }
  // A number that is not one.
  write(dir / "nan.ucf", "2.87 2.87 x\n");
  try {
    read_exchange_file((dir / "nan.ucf").string());
    FAIL();
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("nan.ucf:1:"), std::string::npos) << e.what();
  }
  // An unknown format.
  write(dir / "mystery.txt", "nothing here\n");
  EXPECT_THROW(read_exchange_file((dir / "mystery.txt").string()), InputError);
}

// Species-pair-specific exchange in the shell terms: `pair = ["Fe", "Co"]` acts on Fe–Co
// pairs only, with shells counted between Fe and Co. B2 FeCo (CsCl): Fe–Co nearest neighbours
// at √3a/2 (8 per atom), Fe–Fe and Co–Co at a (6 per atom).
TEST(ExchangeFiles, HeisenbergPairActsOnOneSpeciesPairOnly) {
  const std::string b2 = R"(seed = 1
[structure]
lattice = "custom"
a = 2.86
cell = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
cells = [4, 4, 4]
spins = "ferro"
[[structure.basis]]
position = [0, 0, 0]
species = "Fe"
moment = 2.5
[[structure.basis]]
position = [0.5, 0.5, 0.5]
species = "Co"
moment = 1.7
)";
  const double n = 64;  // atoms of each species
  auto energy = [&](const std::string& pot) { Model m = load(b2 + pot); return m.h.energy(m.s); };
  // Fe–Co: 8 n bonds; the first Fe–Co shell is the nearest-neighbour one.
  EXPECT_NEAR(energy("[[potential]]\ntype = \"heisenberg\"\npair = [\"Fe\", \"Co\"]\nJ = [0.03]\n"), -8 * n * 0.03, 1e-12);
  // Fe–Fe: 3 n bonds at a, the first Fe–Fe shell; Co atoms untouched.
  EXPECT_NEAR(energy("[[potential]]\ntype = \"heisenberg\"\npair = [\"Fe\", \"Fe\"]\nJ = [0.01]\n"), -3 * n * 0.01, 1e-12);
  // `species` selects atoms, so all three pair kinds share its shells: shell 1 is Fe–Co,
  // shell 2 holds Fe–Fe and Co–Co.
  EXPECT_NEAR(energy("[[potential]]\ntype = \"heisenberg\"\nspecies = [\"Fe\", \"Co\"]\nJ = [0.03, 0.01]\n"),
              -8 * n * 0.03 - 6 * n * 0.01, 1e-12);
  // Errors: one name, both keys, an unknown species.
  EXPECT_THROW(energy("[[potential]]\ntype = \"heisenberg\"\npair = [\"Fe\"]\nJ = [0.01]\n"), InputError);
  EXPECT_THROW(energy("[[potential]]\ntype = \"heisenberg\"\npair = [\"Fe\", \"Co\"]\nspecies = \"Fe\"\nJ = [0.01]\n"), InputError);
  EXPECT_THROW(energy("[[potential]]\ntype = \"heisenberg\"\npair = [\"Fe\", \"Ni\"]\nJ = [0.01]\n"), InputError);
  // On-site terms take no `pair`.
  EXPECT_THROW(energy("[[potential]]\ntype = \"anisotropy\"\nkind = \"uniaxial\"\nK = 0.001\naxis = [0, 0, 1]\npair = [\"Fe\", \"Co\"]\n"),
               InputError);
}
