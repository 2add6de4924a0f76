// The LAMMPS plugin (pair_style spin/spinlat, docs/lammps.md) against `spinlat eval`, against
// LAMMPS's own SPIN iron model, and in fix nve/spin: LAMMPS is driven through its library with
// the plugin loaded. Built and registered only after `make lammps` (label lammps).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <array>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "atom.h"
#include "domain.h"
#include "force.h"
#include "lammps.h"
#include "library.h"
#include "pair.h"
#include "pair_spin.h"

#include "spinlat/core/units.hpp"
#include "spinlat/dynamics/sld.hpp"
#include "spinlat/io/extxyz.hpp"
#include "spinlat/workflows/all_terms.hpp"
#include "spinlat/workflows/build.hpp"
#include "spinlat/workflows/input.hpp"

namespace {

namespace fs = std::filesystem;
using spinlat::Vec3;

const std::string src = SPINLAT_SOURCE_DIR;
const std::string fe_input = src + "/inputs/fe_sld_nve.toml";
const std::string feco_input = src + "/tests/data/learned/feco.toml";
const std::string mishin = "/usr/share/lammps/examples/SPIN/iron/Fe_Mishin2006.eam.alloy";

fs::path scratch(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("spinlat_lammps_" + name + "_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

// One LAMMPS instance (serial, no log), the plugin loaded.
class Lammps {
 public:
  Lammps() {
    const char* args[] = {"lmp", "-log", "none", "-screen", "none", "-nocite"};
    h_ = lammps_open_no_mpi(6, const_cast<char**>(args), nullptr);
    cmd("plugin load " SPINLAT_LAMMPS_PLUGIN);
  }
  ~Lammps() { lammps_close(h_); }
  void cmd(const std::string& c) {
    lammps_commands_string(h_, c.c_str());
    if (lammps_has_error(h_)) {
      char buf[2048];
      lammps_get_last_error_message(h_, buf, sizeof buf);
      throw std::runtime_error("LAMMPS: " + std::string(buf) + " in:\n" + c);
    }
  }
  // The error LAMMPS raises for `c` ("" when none).
  std::string error_of(const std::string& c) {
    lammps_commands_string(h_, c.c_str());
    if (!lammps_has_error(h_)) return "";
    char buf[2048];
    lammps_get_last_error_message(h_, buf, sizeof buf);
    return buf;
  }
  LAMMPS_NS::LAMMPS* lmp() const { return static_cast<LAMMPS_NS::LAMMPS*>(h_); }
  double thermo(const char* k) { return lammps_get_thermo(h_, k); }
  double global_compute(const char* id) {
    return *static_cast<double*>(lammps_extract_compute(h_, id, LMP_STYLE_GLOBAL, LMP_TYPE_SCALAR));
  }
  int n() const { return lmp()->atom->nlocal; }
  LAMMPS_NS::PairSpin* spin_pair() const {
    return dynamic_cast<LAMMPS_NS::PairSpin*>(lmp()->force->pair_match("spin/spinlat", 1));
  }
  double hbar() const { return lmp()->force->hplanck / (2.0 * M_PI); }

 private:
  void* h_ = nullptr;
};

// A strained triclinic bcc box of n³ conventional cells (a sheared supercell of the cubic
// lattice, then strained by 1%) with atoms displaced by up to 0.1 Å and random spins (types 1
// and 2 on the two bcc sites when `b2`).
std::string box_commands(int n, bool b2, double m1, double m2) {
  std::ostringstream c;
  c << "units metal\natom_style spin\natom_modify map array sort 0 0.0\nboundary p p p\n"
    << "lattice bcc 2.8665\n"
    << "region box prism 0 " << n << " 0 " << n << " 0 " << n << " 1 -1 1\n"
    << "create_box " << (b2 ? 2 : 1) << " box\n";
  if (b2) c << "create_atoms 1 box basis 1 1 basis 2 2\nmass 1 55.845\nmass 2 58.933\n"
            << "set type 1 spin/random 31 " << m1 << "\nset type 2 spin/random 32 " << m2 << "\n";
  else c << "create_atoms 1 box\nmass 1 55.845\nset group all spin/random 31 " << m1 << "\n";
  c << "change_box all x scale 1.01 y scale 0.995 xy delta -0.05 remap units box\n"
    << "displace_atoms all random 0.1 0.1 0.1 4711 units box\n";
  return c.str();
}

// LAMMPS's configuration as an extended XYZ frame, and what `spinlat eval` computes on it.
spinlat::Frame eval_with_spinlat(const Lammps& L, const std::string& input, const std::vector<std::string>& type_species,
                                 const fs::path& dir) {
  auto* lmp = L.lmp();
  spinlat::System s;
  const auto* d = lmp->domain;
  s.cell.h << d->xprd, 0, 0, d->xy, d->yprd, 0, d->xz, d->yz, d->zprd;
  s.species_name = type_species;
  s.species_mass.assign(type_species.size(), 1.0);
  for (int i = 0; i < L.n(); ++i) {
    const double* x = lmp->atom->x[i];
    const double* sp = lmp->atom->sp[i];
    s.add_atom(Vec3(x[0] - d->boxlo[0], x[1] - d->boxlo[1], x[2] - d->boxlo[2]), lmp->atom->type[i] - 1, sp[3],
               Vec3(sp[0], sp[1], sp[2]));
  }
  const fs::path in = dir / "frame.xyz", out = dir / "eval.xyz";
  {
    std::ofstream f(in);
    spinlat::write_extxyz(f, spinlat::Frame(s));
  }
  const std::string cmd = std::string(SPINLAT_BINARY) + " eval " + input + " " + in.string() + " -o " + out.string() +
                          " 2>" + (dir / "eval.err").string();
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  auto frames = spinlat::read_extxyz(out.string());
  EXPECT_EQ(frames.size(), 1u);
  return frames.at(0);
}

double max_norm(const std::vector<Vec3>& v) {
  double m = 0.0;
  for (const auto& a : v) m = std::max(m, a.norm());
  return m;
}

// The part of a vector across ŝ.
Vec3 across(const Vec3& v, const Vec3& s) { return v - v.dot(s) * s; }

// Energy, forces, magnetic forces and virial of LAMMPS with the plugin against `spinlat eval`.
void compare_with_eval(Lammps& L, const std::string& input, const std::vector<std::string>& species, double tol,
                       const std::string& name) {
  L.cmd("compute pea all pe/atom\ncompute peasum all reduce sum c_pea\n"
        "thermo_style custom step pe press c_peasum\nfix nve all nve/spin lattice moving\nrun 0");
  const fs::path dir = scratch(name);
  const spinlat::Frame ref = eval_with_spinlat(L, input, species, dir);
  auto* lmp = L.lmp();
  const double e_ref = ref.info.at("energy");
  const double e = L.thermo("pe");
  EXPECT_NEAR(e, e_ref, tol * std::abs(e_ref)) << name << ": energy";
  EXPECT_NEAR(L.global_compute("peasum"), e_ref, 1e-10 * std::abs(e_ref)) << name << ": per-atom energies sum";
  const auto& F = ref.vectors.at("forces");
  const auto& B = ref.vectors.at("magforces");
  std::vector<Vec3> w_ref(L.n());
  for (int i = 0; i < L.n(); ++i) {
    const Vec3 s(lmp->atom->sp[i][0], lmp->atom->sp[i][1], lmp->atom->sp[i][2]);
    // ω = |m| F / ħ (bridge.hpp); the part along ŝ turns no spin and depends on how E is
    // extended off the sphere (the plugin follows pair spin/exchange there), so compare across.
    w_ref[i] = across(lmp->atom->sp[i][3] * B[i] / L.hbar(), s);
  }
  const double fmax = max_norm(F), wmax = max_norm(w_ref);
  ASSERT_GT(fmax, 0.01);
  ASSERT_GT(wmax, 1.0);
  double df = 0.0, dw = 0.0;
  for (int i = 0; i < L.n(); ++i) {
    const double* f = lmp->atom->f[i];
    const double* fm = lmp->atom->fm[i];
    df = std::max(df, (Vec3(f[0], f[1], f[2]) - F[i]).norm());
    const Vec3 s(lmp->atom->sp[i][0], lmp->atom->sp[i][1], lmp->atom->sp[i][2]);
    dw = std::max(dw, (across(Vec3(fm[0], fm[1], fm[2]), s) - w_ref[i]).norm());
  }
  EXPECT_LE(df, tol * fmax) << name << ": forces";
  EXPECT_LE(dw, tol * wmax) << name << ": magnetic forces (rad/ps)";
  // Virial: spinlat writes stress = −Wᵀ/V (row-major, W_ab = Σ r_a f_b); LAMMPS's pair virial
  // is W's xx, yy, zz, xy, xz, yz (Pair::virial_fdotr_compute: xy = Σ x f_y).
  const auto& st = ref.info_arrays.at("stress");
  const double V = lmp->domain->xprd * lmp->domain->yprd * lmp->domain->zprd;
  const double* W = L.spin_pair()->virial;
  const double wref[6] = {-st[0] * V, -st[4] * V, -st[8] * V, -st[3] * V, -st[6] * V, -st[7] * V};
  double wscale = 0.0;
  for (double v : wref) wscale = std::max(wscale, std::abs(v));
  for (int k = 0; k < 6; ++k) EXPECT_NEAR(W[k], wref[k], tol * wscale) << name << ": virial component " << k;
  fs::remove_all(dir);
}

TEST(LammpsPlugin, IronEamBetheSlaterEqualsSpinlatEval) {
  if (!fs::exists(mishin)) GTEST_SKIP() << mishin << " (Debian's lammps-examples) not installed";
  Lammps L;
  L.cmd(box_commands(3, false, 2.2, 0.0) + "pair_style spin/spinlat " + fe_input + "\npair_coeff * * Fe\n");
  compare_with_eval(L, fe_input, {"Fe"}, 1e-10, "fe");
}

TEST(LammpsPlugin, LearnedTorchScriptModelEqualsSpinlatEval) {
  Lammps L;
  L.cmd(box_commands(3, true, 2.2, 1.7) + "pair_style spin/spinlat " + feco_input + "\npair_coeff * * Fe Co\n");
  compare_with_eval(L, feco_input, {"Fe", "Co"}, 1e-10, "feco");
}

TEST(LammpsPlugin, BundledNativeModelEqualsSpinlatEval) {
  const std::string input = src + "/inputs/default.toml";  // inputs/models/fe_bcc.spl
  Lammps L;
  L.cmd(box_commands(3, false, 2.2, 0.0) + "pair_style spin/spinlat " + input + "\npair_coeff * * Fe\n");
  compare_with_eval(L, input, {"Fe"}, 1e-10, "native");
}

// The upstream magnetic MACE file (../shared/mmace, loaded as is through TorchScript).
TEST(LammpsPlugin, UpstreamMagneticMaceEqualsSpinlatEval) {
  const fs::path model = fs::path(src) / ".." / "shared" / "mmace" / "mmace_fe_co_soc.pt";
  if (!fs::exists(model)) GTEST_SKIP() << model << " is absent";
  const fs::path dir = scratch("mmace_input");
  const std::string input = (dir / "mmace.toml").string();
  {
    std::ofstream f(input);
    f << "[structure]\nlattice = \"bcc\"\na = 2.8665\ncells = [2, 2, 2]\nspecies = [\"Fe\", \"Co\"]\n"
      << "moment = [2.2, 1.7]\nspins = \"random\"\n\n[[potential]]\ntype = \"learned\"\nmodel = \""
      << model.string() << "\"\n";
  }
  Lammps L;
  L.cmd(box_commands(3, true, 2.2, 1.7) + "pair_style spin/spinlat " + input + "\npair_coeff * * Fe Co\n");
  compare_with_eval(L, input, {"Fe", "Co"}, 1e-10, "mmace");
  fs::remove_all(dir);
}

// Bad input: one clear LAMMPS error naming what is wrong, never a crash.
TEST(LammpsPlugin, BadInputGivesOneClearError) {
  const std::string box = box_commands(3, false, 2.2, 0.0);
  {
    Lammps L;
    L.cmd(box);
    const std::string e = L.error_of("pair_style spin/spinlat /nonexistent/input.toml");
    EXPECT_NE(e.find("/nonexistent/input.toml"), std::string::npos) << e;
  }
  {
    Lammps L;
    L.cmd(box + "pair_style spin/spinlat " + feco_input + "\n");
    const std::string e = L.error_of("pair_coeff * * Ni");
    EXPECT_NE(e.find("'Ni', not one of the spinlat input's species (Fe, Co)"), std::string::npos) << e;
  }
  {
    Lammps L;
    L.cmd(box + "pair_style spin/spinlat " + feco_input + "\n");
    const std::string e = L.error_of("pair_coeff * * Fe Co");
    EXPECT_NE(e.find("expected '* *' and one species name per atom type (1)"), std::string::npos) << e;
  }
  {
    Lammps L;
    const std::string e = L.error_of("units real\natom_style spin\nlattice bcc 2.8665\nregion b block 0 2 0 2 0 2\n"
                                     "create_box 1 b\npair_style spin/spinlat " + feco_input);
    EXPECT_NE(e.find("metal units"), std::string::npos) << e;
  }
}

// compute_single_pair (what fix nve/spin calls for one spin) against the magnetic forces of a
// full evaluation: at the evaluated configuration, and after spins and positions changed the
// way fix nve/spin changes them between two evaluations.
void check_single_pair(Lammps& L, const std::string& name) {
  L.cmd("fix nve all nve/spin lattice moving\nrun 0");
  auto* lmp = L.lmp();
  auto* pair = L.spin_pair();
  ASSERT_NE(pair, nullptr);
  const int n = L.n();
  auto single = [&](int i) {
    double w[3] = {0.0, 0.0, 0.0};
    pair->compute_single_pair(i, w);
    return Vec3(w[0], w[1], w[2]);
  };
  auto fm = [&](int i) { return Vec3(lmp->atom->fm[i][0], lmp->atom->fm[i][1], lmp->atom->fm[i][2]); };
  double wmax = 0.0, d = 0.0;
  for (int i = 0; i < n; ++i) wmax = std::max(wmax, fm(i).norm());
  ASSERT_GT(wmax, 1.0);
  for (int i = 0; i < n; ++i) d = std::max(d, (single(i) - fm(i)).norm());
  EXPECT_LE(d, 1e-12 * wmax) << name << ": at the evaluated configuration";
  // Rotate every other spin and move every atom a little (no atom leaves the box by 0.02 Å).
  std::srand(5);
  auto u = [] { return 2.0 * std::rand() / RAND_MAX - 1.0; };
  for (int i = 0; i < n; i += 2) {
    double* sp = lmp->atom->sp[i];
    Vec3 e(sp[0] + 0.3 * u(), sp[1] + 0.3 * u(), sp[2] + 0.3 * u());
    e.normalize();
    for (int k = 0; k < 3; ++k) sp[k] = e[k];
  }
  for (int i = 0; i < n; ++i)
    for (int k = 0; k < 3; ++k) lmp->atom->x[i][k] += 0.02 * u();
  std::vector<Vec3> w(n);
  for (int i = 0; i < n; ++i) w[i] = single(i);
  L.cmd("run 0");  // a full evaluation at the changed configuration (atoms not sorted)
  d = 0.0;
  for (int i = 0; i < n; ++i) d = std::max(d, (w[i] - fm(i)).norm());
  EXPECT_LE(d, 1e-12 * wmax) << name << ": after spins and positions changed";
}

TEST(LammpsPlugin, SinglePairFieldIsExactForRadialExchange) {
  if (!fs::exists(mishin)) GTEST_SKIP() << mishin << " (Debian's lammps-examples) not installed";
  Lammps L;
  L.cmd(box_commands(3, false, 2.2, 0.0) + "pair_style spin/spinlat " + fe_input + "\npair_coeff * * Fe\n");
  check_single_pair(L, "fe");
}

TEST(LammpsPlugin, SinglePairFieldIsExactForLearnedModel) {
  Lammps L;
  L.cmd(box_commands(3, true, 2.2, 1.7) + "pair_style spin/spinlat " + feco_input + "\npair_coeff * * Fe Co\n");
  check_single_pair(L, "feco");
}

// The same iron model written with LAMMPS's own pair styles (examples/SPIN/iron: eam/alloy +
// spin/exchange, energy −Σ_{i<j} J(r) ŝ_i·ŝ_j) against the plugin running spinlat's: an
// independent check of the units (ħ, rad/ps) and signs of energies, forces, magnetic forces
// and virial.
// What one LAMMPS run 0 leaves: energy, forces, ω, spins and the pair virial.
struct Snapshot {
  double energy = 0.0;
  std::vector<Vec3> f, w, s;
  double virial[6] = {0, 0, 0, 0, 0, 0};
};
Snapshot run0(const std::string& commands) {
  Lammps L;  // one instance at a time: a second one would not see the plugin
  L.cmd(commands + "fix nve all nve/spin lattice moving\nthermo_style custom step pe press\nrun 0");
  Snapshot r;
  r.energy = L.thermo("pe");
  auto* a = L.lmp()->atom;
  for (int i = 0; i < L.n(); ++i) {
    r.f.emplace_back(a->f[i][0], a->f[i][1], a->f[i][2]);
    r.w.emplace_back(a->fm[i][0], a->fm[i][1], a->fm[i][2]);
    r.s.emplace_back(a->sp[i][0], a->sp[i][1], a->sp[i][2]);
  }
  for (int k = 0; k < 6; ++k) r.virial[k] = L.lmp()->force->pair->virial[k];
  return r;
}

// The same iron model written with LAMMPS's own pair styles (examples/SPIN/iron: eam/alloy +
// spin/exchange, energy −Σ_{i<j} J(r) ŝ_i·ŝ_j) against the plugin running spinlat's: an
// independent check of the units (ħ, rad/ps) and signs of energies, forces, magnetic forces
// and virial. The exchange parts agree to rounding; the EAM parts to the difference between
// LAMMPS's and spinlat's splines of the tabulated functions (docs/lattice.md).
TEST(LammpsPlugin, IronEqualsLammpsOwnSpinExchangeAndEam) {
  if (!fs::exists(mishin)) GTEST_SKIP() << mishin << " (Debian's lammps-examples) not installed";
  const std::string box = box_commands(3, false, 2.2, 0.0);
  const Snapshot A = run0(box + "pair_style hybrid/overlay eam/alloy spin/exchange 3.4\npair_coeff * * eam/alloy " +
                          mishin + " Fe\npair_coeff * * spin/exchange exchange 3.4 0.02726 0.2171 1.841\n");
  const Snapshot B = run0(box + "pair_style spin/spinlat " + fe_input +
                          "\npair_coeff * * Fe\n");
  EXPECT_NEAR(B.energy, A.energy, 1e-10 * std::abs(A.energy));
  ASSERT_EQ(A.f.size(), B.f.size());
  double df = 0.0, fmax = 0.0, dw = 0.0, wmax = 0.0;
  for (std::size_t i = 0; i < A.f.size(); ++i) {
    // ω in full, the part along ŝ included: fix nve/spin's sub-steps depend on it.
    const Vec3& wa = A.w[i];
    df = std::max(df, (A.f[i] - B.f[i]).norm());
    fmax = std::max(fmax, A.f[i].norm());
    dw = std::max(dw, (wa - B.w[i]).norm());
    wmax = std::max(wmax, wa.norm());
  }
  std::printf("iron: E %.8f eV, dE %.3e eV, max|f| %.3f eV/A, max df %.3e, max|w| %.3f rad/ps, max dw %.3e\n",
              A.energy, B.energy - A.energy, fmax, df, wmax, dw);
  EXPECT_LE(df, 1e-8 * fmax);
  EXPECT_LE(dw, 1e-12 * wmax);
  double vscale = 0.0;
  for (int k = 0; k < 6; ++k) vscale = std::max(vscale, std::abs(A.virial[k]));
  for (int k = 0; k < 6; ++k) EXPECT_NEAR(B.virial[k], A.virial[k], 1e-8 * vscale) << "virial " << k;
}

// fix nve/spin (spins by Suzuki-Trotter sweeps through compute_single_pair, lattice by velocity
// Verlet) with the plugin: the total energy's error is second order in dt and equals the one
// of the same run with LAMMPS's own pair styles for the same model.
const std::string lammps_iron = "pair_style hybrid/overlay eam/alloy spin/exchange 3.4\npair_coeff * * eam/alloy " +
                                mishin + " Fe\npair_coeff * * spin/exchange exchange 3.4 0.02726 0.2171 1.841\n";
const std::string plugin_iron = "pair_style spin/spinlat " + fe_input + "\npair_coeff * * Fe\n";

// RMS deviation of the total energy from its start over an NVE run (eV/atom), with the
// integrator fix `integrator` (LAMMPS's fix nve/spin by default).
double energy_rms(const std::string& pair, double dt, int steps, const fs::path& dir,
                  const std::string& integrator = "fix nve all nve/spin lattice moving\n") {
  Lammps L;
  const fs::path f = dir / ("e_" + std::to_string(steps) + ".txt");
  L.cmd(box_commands(3, false, 2.2, 0.0) + pair + "velocity all create 300 4928459 dist gaussian\n" + integrator +
        "timestep " + std::to_string(dt) + "\nthermo 0\n"
        "variable et equal etotal\nfix rec all ave/time 1 1 1 v_et format %.17g file " + f.string() + "\nrun " +
        std::to_string(steps));
  std::ifstream in(f);
  std::string line;
  std::vector<double> e;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    long step;
    double v;
    ls >> step >> v;
    e.push_back(v);
  }
  EXPECT_EQ(e.size(), static_cast<std::size_t>(steps + 1));
  double rms = 0.0;
  for (double v : e) rms += (v - e[0]) * (v - e[0]);
  return std::sqrt(rms / e.size()) / L.n();
}

TEST(LammpsPlugin, NveSpinConservesEnergyToSecondOrder) {
  if (!fs::exists(mishin)) GTEST_SKIP() << mishin << " (Debian's lammps-examples) not installed";
  const fs::path dir = scratch("nve");
  // 40 fs at dt = 0.4 and 0.2 fs (54 atoms displaced by up to 0.1 Å, 300 K, random spins):
  // RMS deviation of the total energy from its start, per atom.
  const double big = energy_rms(plugin_iron, 4e-4, 100, dir), small = energy_rms(plugin_iron, 2e-4, 200, dir);
  const double big_lmp = energy_rms(lammps_iron, 4e-4, 100, dir), small_lmp = energy_rms(lammps_iron, 2e-4, 200, dir);
  std::printf("NVE energy error (RMS, eV/atom): plugin dt 0.4 fs %.4e, 0.2 fs %.4e (ratio %.3f); "
              "LAMMPS's own styles %.4e, %.4e (ratio %.3f)\n", big, small, small / big, big_lmp, small_lmp,
              small_lmp / big_lmp);
  EXPECT_GT(small / big, 0.2);  // second order: 1/4
  EXPECT_LT(small / big, 0.3);
  // The same trajectory as LAMMPS's own styles (equal forces and ω up to rounding), so the
  // same energy error, to 0.1%.
  EXPECT_NEAR(big, big_lmp, 1e-3 * big_lmp);
  EXPECT_NEAR(small, small_lmp, 1e-3 * small_lmp);
  fs::remove_all(dir);
}

// fix spinlat/sld: spinlat's own spin-lattice dynamics on LAMMPS's atoms. It equals
// spinlat's SpinLatticeIntegrator run from the same state (positions, velocities, spins), and
// LAMMPS's total energy (the pair style's energy plus LAMMPS's kinetic energy) has a
// second-order error.
void check_fix_sld(const std::string& keywords, const spinlat::SldOptions& o, std::uint64_t seed,
                   const std::string& input = fe_input) {
  Lammps L;
  L.cmd(box_commands(3, false, 2.2, 0.0) + "pair_style spin/spinlat " + input + "\npair_coeff * * Fe\n" +
        "velocity all create 300 4928459 dist gaussian\n"
        "fix sld all spinlat/sld " + keywords + "\ntimestep " + std::to_string(o.dt) +
        "\nthermo_style custom step pe\nrun 0");
  auto* lmp = L.lmp();
  auto* d = lmp->domain;
  // The same state in spinlat.
  spinlat::System s;
  s.cell.h << d->xprd, 0, 0, d->xy, d->yprd, 0, d->xz, d->yz, d->zprd;
  s.species_name = {"Fe"};
  s.species_mass = {lmp->atom->mass[1]};
  for (int i = 0; i < L.n(); ++i) {
    const double* x = lmp->atom->x[i];
    const double* sp = lmp->atom->sp[i];
    s.add_atom(Vec3(x[0] - d->boxlo[0], x[1] - d->boxlo[1], x[2] - d->boxlo[2]), 0, sp[3], Vec3(sp[0], sp[1], sp[2]));
    s.velocity.back() = Vec3(lmp->atom->v[i][0], lmp->atom->v[i][1], lmp->atom->v[i][2]);
  }
  const spinlat::Config c = spinlat::read_config(input);
  spinlat::Hamiltonian h = spinlat::build_hamiltonian(c, spinlat::build_system(c), spinlat::all_terms());
  spinlat::SpinLatticeIntegrator sld(s, h, o, spinlat::StreamKey(seed));
  const int steps = 100;
  sld.run(steps);
  L.cmd("run " + std::to_string(steps));
  const spinlat::Mat3 hinv = s.cell.h.transpose().inverse();
  double dx = 0.0, dv = 0.0, ds = 0.0, moved = 0.0;
  for (int i = 0; i < L.n(); ++i) {
    const double* x = lmp->atom->x[i];
    Vec3 r = Vec3(x[0] - d->boxlo[0], x[1] - d->boxlo[1], x[2] - d->boxlo[2]) - s.position[i];
    Vec3 f = hinv * r;
    for (int k = 0; k < 3; ++k) f[k] -= std::round(f[k]);  // LAMMPS wraps atoms into the box
    dx = std::max(dx, (s.cell.h.transpose() * f).norm());
    dv = std::max(dv, (Vec3(lmp->atom->v[i][0], lmp->atom->v[i][1], lmp->atom->v[i][2]) - s.velocity[i]).norm());
    ds = std::max(ds, (Vec3(lmp->atom->sp[i][0], lmp->atom->sp[i][1], lmp->atom->sp[i][2]) - s.spin[i]).norm());
    moved = std::max(moved, s.velocity[i].norm() * steps * o.dt);
  }
  std::printf("fix spinlat/sld %s against SpinLatticeIntegrator after %d steps: |dx| %.2e A, |dv| %.2e A/ps, "
              "|ds| %.2e\n", keywords.c_str(), steps, dx, dv, ds);
  EXPECT_GT(moved, 0.01);  // the atoms did move
  EXPECT_LT(dx, 1e-10);
  EXPECT_LT(dv, 1e-8);
  EXPECT_LT(ds, 1e-10);
  // LAMMPS's energy (the pair style's evaluation) equals the integrator's.
  L.cmd("run 0");
  EXPECT_NEAR(L.thermo("pe"), sld.potential_energy(), 1e-9 * std::abs(sld.potential_energy()));
}

TEST(LammpsPlugin, FixSpinlatSldEqualsSpinlatIntegrator) {
  if (!fs::exists(mishin)) GTEST_SKIP() << mishin << " (Debian's lammps-examples) not installed";
  spinlat::SldOptions o;
  o.dt = 0.0002;
  o.zero_momentum = false;
  check_fix_sld("", o, 1);  // NVE
  // With the stochastic LLG spin bath and the Langevin lattice bath: the same random streams.
  o.temperature = 500.0;
  o.damping = {0.1};
  o.lattice_damping = 2.0;
  check_fix_sld("temp 500 alpha 0.1 lattice_damping 2 seed 77", o, 77);
  // The whole-lattice spin update on LAMMPS's arrays, chosen by name (auto takes the colour
  // sweep here, on one rank: every term of this Hamiltonian has a fast field path). NVE: its
  // noise is keyed by atom tag, not by spinlat's site blocks (FixSpinlatSldBathsOnTwoRanks...).
  spinlat::SldOptions m;
  m.dt = 0.0002;
  m.zero_momentum = false;
  m.spin_update = spinlat::SldSpinUpdate::explicit_midpoint;
  check_fix_sld("integrator explicit-midpoint", m, 1);
  // The bundled learned model: "auto" takes the whole-lattice update.
  check_fix_sld("", m, 1, src + "/inputs/default.toml");
}

TEST(LammpsPlugin, FixSpinlatSldRunsLearnedModelToSecondOrder) {
  // The bundled learned model (inputs/models/fe_bcc.spl) under fix spinlat/sld: "auto" takes
  // the whole-lattice update (two evaluations per step, not two per colour move), and the NVE
  // energy error is second order in dt.
  const fs::path dir = scratch("sld_learned");
  const std::string pair = "pair_style spin/spinlat " + src + "/inputs/default.toml\npair_coeff * * Fe\n";
  auto rms = [&](double dt, int steps) { return energy_rms(pair, dt, steps, dir, "fix sld all spinlat/sld\n"); };
  const double big = rms(4e-4, 100), small = rms(2e-4, 200);
  std::printf("fix spinlat/sld, learned model, NVE energy error (RMS, eV/atom): dt 0.4 fs %.4e, 0.2 fs %.4e "
              "(ratio %.3f)\n", big, small, small / big);
  EXPECT_GT(big, 0.0);
  EXPECT_LT(big, 1e-4);
  EXPECT_GT(small / big, 0.175);  // second order: 1/4 (± 30 %)
  EXPECT_LT(small / big, 0.325);
  const fs::path log = dir / "log.lammps";
  {
    Lammps L;
    L.cmd("log " + log.string() + "\n" + box_commands(3, false, 2.2, 0.0) + pair + "fix sld all spinlat/sld\nrun 1");
  }
  std::ifstream in(log);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("fix spinlat/sld: spin update explicit-midpoint"), std::string::npos) << text;
  fs::remove_all(dir);
}

TEST(LammpsPlugin, FixSpinlatSldConservesEnergyToSecondOrder) {
  if (!fs::exists(mishin)) GTEST_SKIP() << mishin << " (Debian's lammps-examples) not installed";
  const fs::path dir = scratch("sld");
  // As NveSpinConservesEnergyToSecondOrder, with fix spinlat/sld for fix nve/spin.
  auto rms = [&](double dt, int steps) { return energy_rms(plugin_iron, dt, steps, dir, "fix sld all spinlat/sld\n"); };
  const double big = rms(4e-4, 100), small = rms(2e-4, 200);
  std::printf("fix spinlat/sld NVE energy error (RMS, eV/atom): dt 0.4 fs %.4e, 0.2 fs %.4e (ratio %.3f)\n", big, small,
              small / big);
  EXPECT_GT(big, 0.0);
  EXPECT_LT(big, 1e-5);
  EXPECT_GT(small / big, 0.2);  // second order: 1/4
  EXPECT_LT(small / big, 0.3);
  fs::remove_all(dir);
}

// ---- several MPI ranks (LAMMPS's domain decomposition), lmp run as its own process -------------

// Runs `lmp -in script` on `ranks` ranks; returns the exit status, output in `out`.
int run_lmp(int ranks, const fs::path& script, const fs::path& dir, std::string& out) {
  setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
  setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
  setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 0);
  setenv("OMP_NUM_THREADS", "1", 1);
  const fs::path log = dir / ("out_" + std::to_string(ranks) + ".txt");
  const std::string cmd = std::string(SPINLAT_MPIEXEC) + " --oversubscribe -np " + std::to_string(ranks) +
                          " " SPINLAT_LMP " -in " + script.string() + " -var ranks " + std::to_string(ranks) +
                          " -log none > " + log.string() + " 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream f(log);
  out.assign((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return rc;
}

// A dump of `x y z fx fy fz fmx fmy fmz`, keyed by position: atom ids depend on the processor
// grid (create_atoms numbers atoms rank by rank), positions do not.
std::map<std::array<long long, 3>, std::array<double, 6>> read_dump(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line) && line.rfind("ITEM: ATOMS", 0) != 0) {}
  std::map<std::array<long long, 3>, std::array<double, 6>> m;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    double x[3];
    std::array<double, 6> v;
    ls >> x[0] >> x[1] >> x[2];
    for (double& a : v) ls >> a;
    m[{std::llround(x[0] * 1e6), std::llround(x[1] * 1e6), std::llround(x[2] * 1e6)}] = v;
  }
  return m;
}

// Every number of a text file but its comment lines (# ...).
std::vector<double> read_numbers(const fs::path& file) {
  std::ifstream in(file);
  std::vector<double> v;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line[0] == '#') continue;
    std::istringstream ls(line);
    double a;
    while (ls >> a) v.push_back(a);
  }
  return v;
}

// 1 and 2 ranks on the same configuration (1024 atoms, strained triclinic box): energy,
// pressure tensor, forces and ω equal.
void check_ranks(const std::string& pair, bool b2, const std::string& name) {
  const fs::path dir = scratch("ranks_" + name);
  const fs::path script = dir / "in.lmp";
  {
    std::ofstream in(script);
    in << box_commands(8, b2, 2.2, 1.7) << "plugin load " SPINLAT_LAMMPS_PLUGIN "\n" << pair
       << "compute pa all property/atom fmx fmy fmz\n"
       << "dump d all custom 1 " << (dir / "dump_${ranks}.txt").string()
       << " x y z fx fy fz c_pa[1] c_pa[2] c_pa[3]\ndump_modify d format float %.17g\n"
       << "thermo_style custom step pe press pxx pyy pzz pxy pxz pyz\nrun 0\n"
       << "print \"$(pe:%.17g) $(pxx:%.17g) $(pyy:%.17g) $(pzz:%.17g) $(pxy:%.17g) $(pxz:%.17g) $(pyz:%.17g)\" file "
       << (dir / "thermo_${ranks}.txt").string() << "\n";
  }
  std::string out1, out2;
  ASSERT_EQ(run_lmp(1, script, dir, out1), 0) << out1;
  ASSERT_EQ(run_lmp(2, script, dir, out2), 0) << out2;
  const auto t1 = read_numbers(dir / "thermo_1.txt"), t2 = read_numbers(dir / "thermo_2.txt");
  ASSERT_EQ(t1.size(), 7u);
  ASSERT_EQ(t2.size(), 7u);
  EXPECT_NEAR(t2[0], t1[0], 1e-12 * std::abs(t1[0])) << name << ": energy";
  double pscale = 0.0;
  for (int k = 1; k < 7; ++k) pscale = std::max(pscale, std::abs(t1[k]));
  for (int k = 1; k < 7; ++k) EXPECT_NEAR(t2[k], t1[k], 1e-10 * pscale) << name << ": pressure component " << k;
  const auto d1 = read_dump(dir / "dump_1.txt"), d2 = read_dump(dir / "dump_2.txt");
  ASSERT_EQ(d1.size(), 1024u);
  ASSERT_EQ(d2.size(), 1024u);
  double df = 0.0, fmax = 0.0, dw = 0.0, wmax = 0.0;
  for (const auto& [key, a] : d1) {
    const auto it = d2.find(key);
    ASSERT_NE(it, d2.end()) << name << ": an atom of the 1-rank run is missing in the 2-rank run";
    const auto& b = it->second;
    for (int k = 0; k < 3; ++k) {
      df = std::max(df, std::abs(a[k] - b[k]));
      fmax = std::max(fmax, std::abs(a[k]));
      dw = std::max(dw, std::abs(a[3 + k] - b[3 + k]));
      wmax = std::max(wmax, std::abs(a[3 + k]));
    }
  }
  std::printf("%s, 2 ranks against 1: dE %.2e eV, max df %.2e of %.3f eV/A, max dw %.2e of %.3f rad/ps\n", name.c_str(),
              t2[0] - t1[0], df, fmax, dw, wmax);
  EXPECT_LE(df, 1e-10 * fmax) << name << ": forces";
  EXPECT_LE(dw, 1e-10 * wmax) << name << ": magnetic forces";
  fs::remove_all(dir);
}

TEST(LammpsPlugin, IronTwoRanksEqualOneRank) {
  if (!fs::exists(mishin)) GTEST_SKIP() << mishin << " (Debian's lammps-examples) not installed";
  check_ranks(plugin_iron, false, "iron");
}

TEST(LammpsPlugin, LearnedModelTwoRanksEqualOneRank) {
  check_ranks("pair_style spin/spinlat " + feco_input + "\npair_coeff * * Fe Co\n", true, "feco");
}

// fix nve/spin on 2 ranks (its sectors) with the plugin and with LAMMPS's own styles: the same
// trajectory, so the same total energy at every step.
TEST(LammpsPlugin, NveSpinTwoRanksEqualsLammpsOwnStyles) {
  if (!fs::exists(mishin)) GTEST_SKIP() << mishin << " (Debian's lammps-examples) not installed";
  const fs::path dir = scratch("nve_ranks");
  std::vector<std::vector<double>> e;
  for (const std::string& pair : {plugin_iron, lammps_iron}) {
    const fs::path script = dir / "in.lmp", efile = dir / "e.txt";
    {
      std::ofstream in(script);
      // 432 atoms: each rank's half (8.6 Å) holds fix nve/spin's sectors (twice the exchange cutoff).
      in << box_commands(6, false, 2.2, 0.0) << "plugin load " SPINLAT_LAMMPS_PLUGIN "\n" << pair
         << "velocity all create 300 4928459 dist gaussian\nfix nve all nve/spin lattice moving\n"
         << "timestep 0.0002\nthermo 0\nvariable et equal etotal\n"
         << "fix rec all ave/time 1 1 1 v_et format \" %.17g\" file " << efile.string() << "\nrun 50\n";
    }
    std::string out;
    ASSERT_EQ(run_lmp(2, script, dir, out), 0) << out;
    std::vector<double> v = read_numbers(efile);
    std::vector<double> et;
    for (std::size_t k = 1; k < v.size(); k += 2) et.push_back(v[k]);  // step, value pairs
    e.push_back(et);
  }
  ASSERT_EQ(e[0].size(), 51u);
  ASSERT_EQ(e[1].size(), 51u);
  double d = 0.0, drift = 0.0;
  for (std::size_t k = 0; k < e[0].size(); ++k) {
    d = std::max(d, std::abs(e[0][k] - e[1][k]));
    drift = std::max(drift, std::abs(e[1][k] - e[1][0]));
  }
  std::printf("2 ranks, fix nve/spin: plugin against LAMMPS's styles max |dE_total| %.2e eV (energy error %.2e eV)\n", d,
              drift);
  EXPECT_GT(drift, 0.0);
  EXPECT_LE(d, 1e-3 * drift);
  fs::remove_all(dir);
}

// fix spinlat/sld's baths on LAMMPS's arrays (the whole-lattice update, noise keyed by atom id):
// one atom in 10 T at 10 K, α = 1, γ = 5/ps, dt = 0.01 ps. The moment samples the Langevin
// function, ⟨ŝ·B̂⟩ = coth(x) − 1/x, x = |m| μB B/(k_B T) = 1.478 (Langevin, Ann. Chim. Phys. 5,
// 70 (1905)); the velocity equipartition, ⟨½ m v²⟩ = 3/2 k_B T. 41 blocks of 200 ps, the first
// dropped; 5σ of the block means.
TEST(LammpsPlugin, FixSpinlatSldBathsSampleLangevinAndEquipartition) {
  const fs::path dir = scratch("sld_baths");
  const fs::path input = dir / "zeeman.toml", out = dir / "av.txt";
  {
    std::ofstream f(input);
    f << "[structure]\nlattice = \"bcc\"\na = 2.8665\ncells = [1, 1, 1]\nspecies = [\"Fe\"]\nmoment = [2.2]\n\n"
      << "[[potential]]\ntype = \"zeeman\"\nfield = [0, 0, 10.0]\n";
  }
  const double T = 10.0, m = 2.2, B = 10.0;
  {
    Lammps L;
    L.cmd("units metal\natom_style spin\natom_modify map array\nboundary p p p\n"
          "region box block 0 20 0 20 0 20 units box\ncreate_box 1 box\ncreate_atoms 1 single 10 10 10 units box\n"
          "mass 1 55.845\nset atom 1 spin 2.2 1 0 0\npair_style spin/spinlat " + input.string() +
          "\npair_coeff * * Fe\nfix sld all spinlat/sld temp 10 alpha 1 lattice_damping 5 seed 3 "
          "integrator explicit-midpoint\ntimestep 0.01\ncompute sp all spin\ncompute ke all ke\nthermo 0\n"
          "fix av all ave/time 1 20000 20000 c_sp[3] c_ke format \" %.17g\" file " + out.string() + "\nrun 820000");
  }
  const std::vector<double> v = read_numbers(out);  // step, ⟨ŝ_z⟩, ⟨ke⟩ per block
  ASSERT_EQ(v.size(), 123u);
  auto mean_and_error = [&](int column) {
    std::vector<double> b;
    for (std::size_t k = 3; k < v.size(); k += 3) b.push_back(v[k + column]);
    double avg = 0.0, var = 0.0;
    for (double x : b) avg += x / b.size();
    for (double x : b) var += (x - avg) * (x - avg) / (b.size() - 1) / b.size();
    return std::pair<double, double>{avg, std::sqrt(var)};
  };
  const double x = m * spinlat::units::mu_B * B / (spinlat::units::k_B * T);
  const double langevin = 1.0 / std::tanh(x) - 1.0 / x;
  const auto [sz, sz_err] = mean_and_error(1);
  const auto [ke, ke_err] = mean_and_error(2);
  const double ke_exact = 1.5 * spinlat::units::k_B * T;
  std::printf("fix spinlat/sld baths, one atom: <s.B> %.4f +- %.4f (Langevin %.4f), <ke> %.4e +- %.1e eV (3/2 kT %.4e)\n",
              sz, sz_err, langevin, ke, ke_err, ke_exact);
  EXPECT_NEAR(sz, langevin, 5.0 * sz_err);
  EXPECT_LT(sz_err, 0.01);
  EXPECT_NEAR(ke, ke_exact, 5.0 * ke_err);
  EXPECT_LT(ke_err, 0.03 * ke_exact);
  fs::remove_all(dir);
}

// fix spinlat/sld's whole-lattice update over LAMMPS's domain decomposition, both baths on: 2
// ranks follow the 1-rank trajectory (the noise is keyed by atom tag, so the atoms are read
// from one data file to have the same tags on any processor grid).
void check_fix_sld_ranks(const std::string& pair, const std::string& name, int steps) {
  const fs::path dir = scratch("sld_ranks_" + name);
  const fs::path data = dir / "atoms.data", make = dir / "make.lmp", script = dir / "in.lmp";
  {
    std::ofstream in(make);
    in << box_commands(8, false, 2.2, 0.0) << "plugin load " SPINLAT_LAMMPS_PLUGIN "\n" << pair
       << "velocity all create 300 4928459 dist gaussian loop geom\nwrite_data " << data.string() << "\n";
    std::ofstream run(script);
    run << "units metal\natom_style spin\natom_modify map array sort 0 0.0\nboundary p p p\nread_data "
        << data.string() << "\nplugin load " SPINLAT_LAMMPS_PLUGIN "\n" << pair
        << "fix sld all spinlat/sld temp 500 alpha 0.1 lattice_damping 2 seed 77 integrator explicit-midpoint\n"
        << "timestep 0.0002\nthermo 0\ncompute ps all property/atom spx spy spz\ndump d all custom " << steps << " "
        << (dir / "final_${ranks}.txt").string() << " id x y z vx vy vz c_ps[1] c_ps[2] c_ps[3]\n"
        << "dump_modify d sort id format float %.17g\nrun " << steps << "\n";
  }
  std::string out;
  ASSERT_EQ(run_lmp(1, make, dir, out), 0) << out;
  std::string out1, out2;
  ASSERT_EQ(run_lmp(1, script, dir, out1), 0) << out1;
  ASSERT_EQ(run_lmp(2, script, dir, out2), 0) << out2;
  EXPECT_NE(out2.find("spin update explicit-midpoint"), std::string::npos) << out2;
  auto read = [](const fs::path& f) {
    std::ifstream in(f);
    std::string line;
    std::vector<std::array<double, 9>> rows;  // the last frame's
    bool atoms = false;
    while (std::getline(in, line)) {
      if (line.rfind("ITEM:", 0) == 0) {
        atoms = line.rfind("ITEM: ATOMS", 0) == 0;
        if (atoms) rows.clear();
        continue;
      }
      if (!atoms) continue;
      std::istringstream ls(line);
      long long id;
      std::array<double, 9> r;
      ls >> id;
      for (double& a : r) ls >> a;
      rows.push_back(r);
    }
    return rows;
  };
  const auto a = read(dir / "final_1.txt"), b = read(dir / "final_2.txt");
  ASSERT_EQ(a.size(), 1024u);
  ASSERT_EQ(b.size(), 1024u);
  double dx = 0.0, dv = 0.0, ds = 0.0, vmax = 0.0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    for (int k = 0; k < 3; ++k) {
      dx = std::max(dx, std::abs(a[i][k] - b[i][k]));
      dv = std::max(dv, std::abs(a[i][3 + k] - b[i][3 + k]));
      vmax = std::max(vmax, std::abs(a[i][3 + k]));
      ds = std::max(ds, std::abs(a[i][6 + k] - b[i][6 + k]));
    }
  }
  std::printf("fix spinlat/sld explicit-midpoint with baths, %s, %d steps, 2 ranks against 1: |dx| %.2e A, "
              "|dv| %.2e of %.2f A/ps, |ds| %.2e\n", name.c_str(), steps, dx, dv, vmax, ds);
  EXPECT_LT(dx, 1e-9);
  EXPECT_LT(dv, 1e-9 * vmax);
  EXPECT_LT(ds, 1e-9);
  fs::remove_all(dir);
}

TEST(LammpsPlugin, FixSpinlatSldBathsOnTwoRanksEqualOneRank) {
  if (!fs::exists(mishin)) GTEST_SKIP() << mishin << " (Debian's lammps-examples) not installed";
  check_fix_sld_ranks(plugin_iron, "iron", 50);
  check_fix_sld_ranks("pair_style spin/spinlat " + src + "/inputs/default.toml\npair_coeff * * Fe\n", "learned", 10);
}

// A Hamiltonian that needs the whole box (the Ewald dipolar sum): one clear error on 2 ranks.
TEST(LammpsPlugin, RefusesDipolarOnMoreThanOneRank) {
  const fs::path dir = scratch("dipolar");
  const fs::path input = dir / "dipolar.toml", script = dir / "in.lmp";
  {
    std::ofstream f(input);
    f << "[structure]\nlattice = \"bcc\"\na = 2.8665\ncells = [2, 2, 2]\nspecies = [\"Fe\"]\nmoment = [2.2]\n\n"
      << "[[potential]]\ntype = \"heisenberg\"\nJ = [0.01]\n\n[[potential]]\ntype = \"dipolar\"\n";
    std::ofstream in(script);
    in << box_commands(4, false, 2.2, 0.0) << "plugin load " SPINLAT_LAMMPS_PLUGIN "\npair_style spin/spinlat "
       << input.string() << "\npair_coeff * * Fe\nrun 0\n";
  }
  std::string out;
  EXPECT_EQ(run_lmp(1, script, dir, out), 0) << out;  // one rank: fine
  EXPECT_NE(run_lmp(2, script, dir, out), 0);
  EXPECT_NE(out.find("cannot run on more than one MPI rank: the dipolar term"), std::string::npos) << out;
  fs::remove_all(dir);
}

}  // namespace
