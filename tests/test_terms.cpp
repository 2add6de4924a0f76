// Analytic spin Hamiltonian terms: hand-computed energies, exact derivatives against finite
// differences, the fast spin kernel against the reference path, and input validation.
#include <gtest/gtest.h>
#include <omp.h>

#include <boost/random/normal_distribution.hpp>
#include <cmath>
#include <functional>
#include <string>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/core/rng.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/terms/anisotropy.hpp"
#include "spinlat/terms/biquadratic.hpp"
#include "spinlat/terms/dmi.hpp"
#include "spinlat/terms/hamiltonian.hpp"
#include "spinlat/terms/heisenberg.hpp"
#include "spinlat/terms/landau.hpp"
#include "spinlat/terms/radial_exchange.hpp"
#include "spinlat/terms/registry.hpp"
#include "spinlat/terms/zeeman.hpp"

using namespace spinlat;

namespace {

// LAMMPS examples/SPIN/iron (Tranchida et al., J. Comput. Phys. 372, 406 (2018)): bcc Fe, Bethe-Slater exchange.
constexpr double kFeA = 2.8665, kBsA = 0.02726, kBsB = 0.2171, kBsD = 1.841, kBsCut = 3.4;

System crystal(const std::string& lattice, double a, const Int3& cells, bool af = false,
               std::vector<std::string> species = {"Fe"}, std::vector<double> moments = {2.2}) {
  return build_supercell(standard_lattice(lattice, a, 0.0, species, moments), cells, af);
}

/// Builds a term from TOML text, as a [[potential]] table of an input would.
TermPtr term(const std::string& text, const System& s) {
  toml::table t = toml::parse(text);
  Params p(t, "test.toml", "potential.0");
  TermContext ctx;
  ctx.system = &s;
  return builtin_terms().make(p, ctx);
}

Hamiltonian hamiltonian(const System& s, const std::vector<std::string>& terms, double skin = 0.4) {
  Hamiltonian h;
  for (const auto& t : terms) h.add(term(t, s));
  h.set_skin(skin);
  h.bind(s);
  return h;
}

Vec3 random_unit(Engine& e) {
  boost::random::normal_distribution<double> g;
  Vec3 v(g(e), g(e), g(e));
  return v.normalized();
}

/// Random spins, moment sizes in [1.6, 2.8] μB and positions displaced up to `dr` Å.
void scramble(System& s, std::uint64_t seed, double dr) {
  Engine e(seed);
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!s.magnetic(i)) continue;
    s.spin[i] = random_unit(e);
    s.moment[i] = 1.6 + 1.2 * uniform01(e);
    for (int a = 0; a < 3; ++a) s.position[i][a] += dr * (2.0 * uniform01(e) - 1.0);
  }
}

void set_moment(System& s, std::size_t i, const Vec3& m) {
  s.moment[i] = m.norm();
  s.spin[i] = m / m.norm();
}

/// Checks −∂E/∂m, −∂E/∂r and the virial of `h` against central differences.
void check_derivatives(const Hamiltonian& h, System s, bool positions, const std::string& what) {
  std::vector<Vec3> f, fm;
  Mat3 w;
  Derivatives d;
  d.magnetic_force = &fm;
  if (positions) {
    d.force = &f;
    d.virial = &w;
  }
  h.compute(s, d);
  const double step = 1e-5, tol = 2e-8;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!s.magnetic(i)) continue;
    for (int a = 0; a < 3; ++a) {
      System t = s;
      Vec3 m = s.moment_vector(i);
      m[a] += step;
      set_moment(t, i, m);
      const double ep = h.energy(t);
      m[a] -= 2 * step;
      set_moment(t, i, m);
      const double em = h.energy(t);
      EXPECT_NEAR(fm[i][a], -(ep - em) / (2 * step), tol) << what << ": magnetic force atom " << i << " comp " << a;
    }
  }
  if (!positions) return;
  double fmax = 0.0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    fmax = std::max(fmax, f[i].norm());
    for (int a = 0; a < 3; ++a) {
      System t = s;
      t.position[i][a] += step;
      const double ep = h.energy(t);
      t.position[i][a] -= 2 * step;
      const double em = h.energy(t);
      EXPECT_NEAR(f[i][a], -(ep - em) / (2 * step), tol) << what << ": force atom " << i << " comp " << a;
    }
  }
  EXPECT_GT(fmax, 1e-4) << what << ": forces vanish, the test would not see an error";
  // Homogeneous strain r → (1+ε) r of positions and cell: W_ab = −∂E/∂ε_ba.
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) {
      auto strained = [&](double eps) {
        Mat3 F = Mat3::Identity();
        F(b, a) += eps;
        System t = s;
        for (auto& r : t.position) r = F * r;
        t.cell.h = s.cell.h * F.transpose();
        return h.energy(t);
      };
      const double dE = (strained(step) - strained(-step)) / (2 * step);
      EXPECT_NEAR(w(a, b), -dE, 5 * tol) << what << ": virial " << a << b;
    }
}

/// Kernel against the reference path on the current (random) configuration.
void check_kernel(const Hamiltonian& h, System s, std::uint64_t seed, const std::string& what) {
  const SpinKernel* k = h.spin_kernel();
  ASSERT_NE(k, nullptr) << what;
  const double E = h.energy(s);
  EXPECT_NEAR(k->energy(s.spin, s.moment), E, 1e-11 * (1 + std::abs(E))) << what;
  const std::vector<double> site = h.site_energies(s);
  double sum = 0.0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    sum += site[i];
    EXPECT_NEAR(k->site_energy(s.spin, s.moment, static_cast<int>(i)), site[i], 1e-12) << what << " site " << i;
  }
  EXPECT_NEAR(sum, E, 1e-11 * (1 + std::abs(E))) << what << ": site energies sum to the energy";
  std::vector<Vec3> fm;
  Derivatives d;
  d.magnetic_force = &fm;
  h.compute(s, d);
  Engine e(seed);
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!s.magnetic(i)) continue;
    const Vec3 ei = s.spin[i];
    // field's transverse part over |m| is the transverse magnetic force
    const Vec3 hf = k->field(s.spin, s.moment, static_cast<int>(i));
    const Vec3 kt = (hf - ei.dot(hf) * ei) / s.moment[i];
    const Vec3 rt = fm[i] - ei.dot(fm[i]) * ei;
    EXPECT_LT((kt - rt).norm(), 1e-12) << what << " field, site " << i;
    // a trial rotation: kernel, reference local change and the true energy difference agree
    const Vec3 en = random_unit(e);
    const double dk = k->delta_energy(s.spin, s.moment, static_cast<int>(i), en);
    const double dl = h.local_energy_change(s, static_cast<int>(i), en, s.moment[i]);
    System t = s;
    t.spin[i] = en;
    const double dt = h.energy(t) - E;
    EXPECT_NEAR(dk, dl, 1e-12) << what << " delta, site " << i;
    EXPECT_NEAR(dl, dt, 1e-11) << what << " local change vs energy difference, site " << i;
  }
}

const std::string kBetheSlater = R"(type = "bethe-slater"
a = 0.02726
b = 0.2171
d = 1.841
cutoff = 3.4)";

// DMI given per bond vector (kind = "bond") on bcc Fe: the 4 nearest-neighbour directions and the
// 3 second-neighbour ones, each its own D (no symmetry, so no error can hide).
const std::string kBondDmi = R"(type = "dmi"
kind = "bond"
bonds = [[1.43325, 1.43325, 1.43325, 0.002, -0.001, 0.0005],
         [1.43325, 1.43325, -1.43325, -0.0015, 0.0007, 0.001],
         [1.43325, -1.43325, 1.43325, 0.0003, 0.002, -0.0011],
         [-1.43325, 1.43325, 1.43325, 0.0009, -0.0004, 0.0017],
         [2.8665, 0, 0, 0.0004, 0.0008, -0.0006],
         [0, 2.8665, 0, -0.0007, 0.0002, 0.0005],
         [0, 0, 2.8665, 0.0001, -0.0009, 0.0003]])";

}  // namespace

// ---- hand-computed energies ----------------------------------------------------------------

TEST(TermEnergies, HeisenbergSimpleCubicFerroAndAntiferro) {
  // sc nearest neighbours, E = −J Σ_<ij> ê_i·ê_j: 3 bonds per atom, −3J (ferro), +3J (G-type AF).
  const double J = 0.01;
  for (bool af : {false, true}) {
    const System s = crystal("sc", 2.5, Int3(2, 2, 2), af);
    const Hamiltonian h = hamiltonian(s, {"type = \"heisenberg\"\nJ = [0.01]"});
    EXPECT_NEAR(h.energy(s) / s.size(), af ? 3 * J : -3 * J, 1e-14);
  }
}

TEST(TermEnergies, HeisenbergBccTwoShells) {
  // bcc: 8 NN at a√3/2, 6 NNN at a. Ferro −(8J1+6J2)/2; B2 antiferro +(8J1−6J2)/2.
  const double J1 = 0.02, J2 = -0.005;
  for (bool af : {false, true}) {
    const System s = crystal("bcc", kFeA, Int3(3, 3, 3), af);
    const Hamiltonian h = hamiltonian(s, {"type = \"heisenberg\"\nJ = [0.02, -0.005]"});
    EXPECT_NEAR(h.energy(s) / s.size(), af ? (8 * J1 - 6 * J2) / 2 : -(8 * J1 + 6 * J2) / 2, 1e-14);
  }
}

TEST(TermEnergies, BetheSlaterMatchesLammpsIronExample) {
  // LAMMPS examples/SPIN/iron: E = −Σ_{i<j} J(r) ŝ_i·ŝ_j, J(r) = 4a (r/d)²(1 − b(r/d)²) e^{−(r/d)²},
  // cutoff 3.4 Å between the 2nd (a = 2.8665) and 3rd (a√2 = 4.054) bcc shells.
  auto J = [](double r) {
    const double x = (r / kBsD) * (r / kBsD);
    return 4 * kBsA * x * (1 - kBsB * x) * std::exp(-x);
  };
  const double expected = -(8 * J(kFeA * std::sqrt(3.0) / 2) + 6 * J(kFeA)) / 2;
  EXPECT_NEAR(expected, -0.111165380, 1e-9);  // eV/atom, by hand (python)
  const System s = crystal("bcc", kFeA, Int3(3, 3, 3));
  const Hamiltonian h = hamiltonian(s, {kBetheSlater});
  EXPECT_NEAR(h.energy(s) / s.size(), expected, 1e-14);
  // The same from a tiny 1×1×1 cell, where the cutoff exceeds half the box and every
  // neighbour (and the atom itself) is met through several periodic images.
  const System tiny = crystal("bcc", kFeA, Int3(1, 1, 1));
  const Hamiltonian ht = hamiltonian(tiny, {kBetheSlater});
  EXPECT_NEAR(ht.energy(tiny) / tiny.size(), expected, 1e-14);
}

TEST(TermEnergies, MaDudarevExchange) {
  // Ma, Woo & Dudarev PRB 78 024434: J(r) = 0.870 eV (1 − r/3.75)³ on bcc Fe a = 2.83 Å
  // (two shells inside rc: a√3/2 = 2.451, a = 2.83; a√2 = 4.002 is outside).
  const double a = 2.83;
  auto J = [](double r) { return r < 3.75 ? 0.870 * std::pow(1 - r / 3.75, 3) : 0.0; };
  const double expected = -(8 * J(a * std::sqrt(3.0) / 2) + 6 * J(a)) / 2;
  EXPECT_NEAR(expected, -0.183237501, 1e-9);
  const System s = crystal("bcc", a, Int3(3, 3, 3));
  const Hamiltonian h = hamiltonian(s, {"type = \"ma-dudarev\"\nJ0 = 0.870\ncutoff = 3.75"});
  EXPECT_NEAR(h.energy(s) / s.size(), expected, 1e-14);
}

TEST(TermEnergies, ExchangeTableLinearAndCubic) {
  // Linear interpolation between [2.0, 0.05], [3.0, 0.01], [3.4, 0.0]:
  // J(a√3/2 = 2.48246) = 0.05 − 0.04·0.48246, J(a = 2.8665) = 0.05 − 0.04·0.8665.
  const System s = crystal("bcc", kFeA, Int3(3, 3, 3));
  const double r1 = kFeA * std::sqrt(3.0) / 2, r2 = kFeA;
  const double J1 = 0.05 - 0.04 * (r1 - 2.0), J2 = 0.05 - 0.04 * (r2 - 2.0);
  const Hamiltonian lin = hamiltonian(
      s, {"type = \"exchange-table\"\ninterpolation = \"linear\"\ntable = [[2.0, 0.05], [3.0, 0.01], [3.4, 0]]"});
  EXPECT_NEAR(lin.energy(s) / s.size(), -(8 * J1 + 6 * J2) / 2, 1e-14);

  // A natural cubic spline through the Bethe-Slater curve every 0.05 Å reproduces its energy
  // (interpolation error O(h⁴ J'''') ~ 1e-7 eV).
  std::string table = "type = \"exchange-table\"\ntable = [";
  const RadialFunction bs = RadialFunction::bethe_slater(kBsA, kBsB, kBsD, 10.0);
  for (int k = 0; k <= 48; ++k) {
    const double r = 1.0 + 0.05 * k;
    table += (k ? ", [" : "[") + std::to_string(r) + ", " + std::to_string(bs(r)) + "]";
  }
  table += "]";
  const Hamiltonian cub = hamiltonian(s, {table});
  const Hamiltonian ref = hamiltonian(s, {kBetheSlater});
  EXPECT_NEAR(cub.energy(s) / s.size(), ref.energy(s) / s.size(), 2e-6);
  // The spline passes through its knots and is C¹ there.
  const RadialFunction sp = RadialFunction::table({1.0, 1.5, 2.2, 3.0}, {0.3, -0.1, 0.2, 0.0}, true);
  double J, dJa, dJb;
  sp.evaluate(2.2, J, dJa);
  EXPECT_NEAR(J, 0.2, 1e-15);
  sp.evaluate(2.2 - 1e-9, J, dJb);
  EXPECT_NEAR(dJa, dJb, 1e-6);
  // Below the first point the table is undefined: an error, not a silent extrapolation.
  const Hamiltonian h2 = hamiltonian(s, {"type = \"exchange-table\"\ntable = [[1.0, 0.1], [2.0, 0.05], [3.4, 0]]"});
  System close = s;
  close.position[1] = close.position[0] + Vec3(0.5, 0.5, 0.5);  // 0.87 Å from atom 0
  EXPECT_THROW(h2.energy(close), NumericalError);
  EXPECT_THROW(hamiltonian(close, {"type = \"exchange-table\"\ntable = [[1.0, 0.1], [2.0, 0.05], [3.4, 0]]"}),
               NumericalError);
}

TEST(TermEnergies, ZeemanSingleMoment) {
  // E = −|m| μB B cos θ; the magnetic force is μB B.
  System s;
  s.cell.h = 10.0 * Mat3::Identity();
  s.species_name = {"Fe"};
  s.species_mass = {55.845};
  const double theta = 1.0;
  s.add_atom(Vec3::Zero(), 0, 2.2, Vec3(std::sin(theta), 0, std::cos(theta)));
  const Hamiltonian h = hamiltonian(s, {"type = \"zeeman\"\nfield = [0, 0, 5.0]"});
  EXPECT_NEAR(h.energy(s), -2.2 * units::mu_B * 5.0 * std::cos(theta), 1e-16);
  std::vector<Vec3> fm;
  Derivatives d;
  d.magnetic_force = &fm;
  h.compute(s, d);
  EXPECT_LT((fm[0] - Vec3(0, 0, units::mu_B * 5.0)).norm(), 1e-18);
  // A longitudinal change of the moment changes the energy too.
  EXPECT_NEAR(h.local_energy_change(s, 0, s.spin[0], 3.0), -(3.0 - 2.2) * units::mu_B * 5.0 * std::cos(theta), 1e-16);
}

TEST(TermEnergies, DmiPairAndSpiralChain) {
  // Two moments 2.5 Å apart along x in an open box: interfacial D_12 = D ẑ × x̂ = D ŷ;
  // bulk D_12 = D x̂.
  const double D = 0.003;
  System pair;
  pair.cell.h = 20.0 * Mat3::Identity();
  pair.cell.periodic = {false, false, false};
  pair.species_name = {"Fe"};
  pair.species_mass = {55.845};
  pair.add_atom(Vec3(5, 5, 5), 0, 2.0, Vec3::UnitX());
  pair.add_atom(Vec3(7.5, 5, 5), 0, 2.0, Vec3::UnitZ());
  {
    // ê_1 × ê_2 = x̂ × ẑ = −ŷ: E = −D.
    const Hamiltonian h = hamiltonian(pair, {"type = \"dmi\"\nkind = \"interfacial\"\nD = [0.003]"});
    EXPECT_NEAR(h.energy(pair), -D, 1e-15);
  }
  {
    System p = pair;
    p.spin[0] = Vec3::UnitY();  // ŷ × ẑ = x̂: E = +D
    const Hamiltonian h = hamiltonian(p, {"type = \"dmi\"\nkind = \"bulk\"\nD = [0.003]"});
    EXPECT_NEAR(h.energy(p), D, 1e-15);
    // An interfacial normal along x̂ gives D_12 = 0 for a bond along x̂.
    const Hamiltonian hn = hamiltonian(p, {"type = \"dmi\"\nkind = \"interfacial\"\nnormal = [1, 0, 0]\nD = [0.003]"});
    EXPECT_NEAR(hn.energy(p), 0.0, 1e-18);
  }
  {
    // kind = "bond": D_12 = D ŷ for the bond b = r_2 − r_1 = 2.5 x̂, so E = D ŷ·(x̂ × ẑ) = −D; the
    // same bond given as −b with −D is the same term; a bond vector far from r_12 gives 0.
    for (const char* bonds : {"[[2.5, 0, 0, 0, 0.003, 0]]", "[[-2.5, 0, 0, 0, -0.003, 0]]"}) {
      const Hamiltonian h = hamiltonian(pair, {std::string("type = \"dmi\"\nkind = \"bond\"\nbonds = ") + bonds});
      EXPECT_NEAR(h.energy(pair), -D, 1e-15) << bonds;
      EXPECT_FALSE(h.depends_on_positions());
    }
    const Hamiltonian h0 = hamiltonian(pair, {"type = \"dmi\"\nkind = \"bond\"\nbonds = [[0, 2.5, 0, 0, 0.003, 0]]"});
    EXPECT_EQ(h0.energy(pair), 0.0);
  }
  // A periodic chain along x (spacing 2.5 Å, 8 atoms) with a cycloid in the xz plane,
  // ê_n = (sin nφ, 0, cos nφ): ê_n × ê_{n+1} = sin φ ŷ, so E = N D sin φ (interfacial, normal ẑ):
  // a left- or right-handed cycloid has energy ∓N D |sin φ|.
  for (int q : {1, -1, 3}) {
    System chain;
    chain.cell.h = Vec3(20.0, 30.0, 30.0).asDiagonal();
    chain.species_name = {"Fe"};
    chain.species_mass = {55.845};
    const double phi = 2 * units::kPi * q / 8;
    for (int n = 0; n < 8; ++n)
      chain.add_atom(Vec3(2.5 * n, 1, 1), 0, 2.0, Vec3(std::sin(n * phi), 0, std::cos(n * phi)));
    const Hamiltonian h = hamiltonian(chain, {"type = \"dmi\"\nkind = \"interfacial\"\nD = [0.003]"});
    EXPECT_NEAR(h.energy(chain), 8 * D * std::sin(phi), 1e-15) << "q = " << q;
  }
}

TEST(TermEnergies, AnisotropyUniaxialAndCubic) {
  System s;
  s.cell.h = 10.0 * Mat3::Identity();
  s.species_name = {"Fe"};
  s.species_mass = {55.845};
  s.add_atom(Vec3::Zero(), 0, 2.2, Vec3(1, 1, 1));
  const double Kc = 4e-6, K = 5e-5;
  // Cubic: [111] gives 3·(1/3)² = 1/3, [100] gives 0, [110] gives 1/4.
  const Hamiltonian hc = hamiltonian(s, {"type = \"anisotropy\"\nkind = \"cubic\"\nK = 4e-6"});
  EXPECT_NEAR(hc.energy(s), Kc / 3, 1e-20);
  s.spin[0] = Vec3(1, 1, 0).normalized();
  EXPECT_NEAR(hc.energy(s), Kc / 4, 1e-20);
  s.spin[0] = Vec3::UnitY();
  EXPECT_NEAR(hc.energy(s), 0.0, 1e-20);
  // Uniaxial along (0, 1, 1)/√2: E = −K cos²θ.
  const Hamiltonian hu = hamiltonian(s, {"type = \"anisotropy\"\nK = 5e-5\naxis = [0, 1, 1]"});
  EXPECT_NEAR(hu.energy(s), -K * 0.5, 1e-20);
  s.spin[0] = Vec3::UnitX();
  EXPECT_NEAR(hu.energy(s), 0.0, 1e-20);
}

TEST(TermEnergies, BiquadraticSimpleCubic) {
  // E = −Q Σ_<ij> (ê_i·ê_j)²: −3Q per atom for ferro and for G-type antiferro, 0 when every
  // pair of neighbours is perpendicular (x̂ and ẑ alternating on the G-type pattern).
  const double Q = 0.002;
  for (int pattern = 0; pattern < 3; ++pattern) {
    System s = crystal("sc", 2.5, Int3(4, 4, 4), pattern == 1);
    if (pattern == 2) {
      System af = crystal("sc", 2.5, Int3(4, 4, 4), true);
      for (std::size_t i = 0; i < s.size(); ++i) s.spin[i] = af.spin[i][2] > 0 ? Vec3::UnitZ() : Vec3::UnitX();
    }
    const Hamiltonian h = hamiltonian(s, {"type = \"biquadratic\"\nQ = [0.002]"});
    EXPECT_NEAR(h.energy(s) / s.size(), pattern == 2 ? 0.0 : -3 * Q, 1e-15) << "pattern " << pattern;
  }
}

TEST(TermEnergies, LandauMaDudarevIron) {
  // E = A m² + B m⁴ + C m⁶ per atom, Ma & Dudarev PRB 86 054416 bcc Fe coefficients.
  const double A = -0.744824, B = 0.345295, C = -0.00790205, m = 2.2;
  System s = crystal("bcc", 2.83, Int3(2, 2, 2));
  const Hamiltonian h =
      hamiltonian(s, {"type = \"landau\"\nA = -0.744824\nB = 0.345295\nC = -0.00790205"});
  EXPECT_NEAR(h.energy(s) / s.size(), A * m * m + B * std::pow(m, 4) + C * std::pow(m, 6), 1e-13);
  EXPECT_NEAR(h.energy(s) / s.size(), 3.5878607, 1e-6);  // by hand
  EXPECT_TRUE(h.depends_on_moment_size());
  EXPECT_EQ(h.spin_kernel(), nullptr);  // no kernel form
  // Its magnetic force is longitudinal: −(2Am + 4Bm³ + 6Cm⁵) ê.
  std::vector<Vec3> fm;
  Derivatives d;
  d.magnetic_force = &fm;
  h.compute(s, d);
  const double f = -(2 * A * m + 4 * B * m * m * m + 6 * C * std::pow(m, 5));
  EXPECT_LT((fm[3] - f * s.spin[3]).norm(), 1e-13);
}

TEST(TermEnergies, SpeciesRestriction) {
  // B2 "FeCo": Fe on corners, Co at body centres. Fe-Fe neighbours are 6 at a (the Fe simple
  // cubic sublattice), so heisenberg restricted to Fe gives −3J per Fe atom; Zeeman restricted to
  // Co sees only the Co moments.
  System s = crystal("bcc", 2.85, Int3(3, 3, 3), false, {"Fe", "Co"}, {2.2, 1.6});
  const Hamiltonian hj = hamiltonian(s, {"type = \"heisenberg\"\nJ = [0.01]\nspecies = \"Fe\""});
  EXPECT_NEAR(hj.energy(s), -3 * 0.01 * 27, 1e-13);
  const Hamiltonian hz = hamiltonian(s, {"type = \"zeeman\"\nfield = [0, 0, 2]\nspecies = [\"Co\"]"});
  EXPECT_NEAR(hz.energy(s), -27 * 1.6 * units::mu_B * 2, 1e-15);
  EXPECT_THROW(term("type = \"zeeman\"\nfield = [0, 0, 2]\nspecies = [\"Ni\"]", s), InputError);
}

// ---- exact derivatives against finite differences ------------------------------------------

TEST(TermDerivatives, EveryTermOnRandomConfigurations) {
  const std::vector<std::pair<std::string, bool>> cases = {
      {"type = \"heisenberg\"\nJ = [0.02, 0.007]", false},
      {kBetheSlater, true},
      {"type = \"ma-dudarev\"\nJ0 = 0.87\ncutoff = 3.75", true},
      {"type = \"exchange-table\"\ntable = [[1.8, 0.05], [2.4, 0.03], [2.9, 0.012], [3.3, 0.002], [3.6, 0]]", true},
      {"type = \"dmi\"\nkind = \"interfacial\"\nD = [0.003, -0.001]\nnormal = [0.2, 0.1, 1]", true},
      {"type = \"dmi\"\nkind = \"bulk\"\nD = [0.002, 0.0015]", true},
      {kBondDmi, false},
      {"type = \"biquadratic\"\nQ = [0.004, -0.001]", false},
      {"type = \"anisotropy\"\nK = 0.003\naxis = [1, 2, 3]", false},
      {"type = \"anisotropy\"\nkind = \"cubic\"\nK = 0.004", false},
      {"type = \"zeeman\"\nfield = [3, -2, 7]", false},
      {"type = \"landau\"\nA = -0.744824\nB = 0.345295\nC = -0.00790205", false},
  };
  // A 2×2×2 bcc cell and a 1×1×1 one (2 atoms; cutoffs beyond half the box, self-images).
  for (const Int3& cells : {Int3(2, 2, 2), Int3(1, 1, 1)}) {
    System s = crystal("bcc", kFeA, cells);
    scramble(s, 11 + cells[0], 0.12);
    for (const auto& [text, positions] : cases) {
      const Hamiltonian h = hamiltonian(s, {text});
      EXPECT_EQ(h.depends_on_positions(), positions) << text;
      check_derivatives(h, s, positions, text + " cells " + std::to_string(cells[0]));
    }
  }
}

// ---- fast kernel against the reference path -----------------------------------------------

TEST(TermKernel, KernelEqualsReferenceForEveryKernelTerm) {
  const std::vector<std::string> all = {
      "type = \"heisenberg\"\nJ = [0.02, 0.007]",
      kBetheSlater,
      "type = \"dmi\"\nkind = \"interfacial\"\nD = [0.003, -0.001]\nnormal = [0.2, 0.1, 1]",
      "type = \"dmi\"\nkind = \"bulk\"\nD = [0.002]",
      kBondDmi,
      "type = \"biquadratic\"\nQ = [0.004, -0.001]",
      "type = \"anisotropy\"\nK = 0.003\naxis = [1, 2, 3]",
      "type = \"anisotropy\"\nkind = \"cubic\"\nK = 0.004",
      "type = \"zeeman\"\nfield = [3, -2, 7]",
  };
  for (const Int3& cells : {Int3(3, 2, 2), Int3(1, 1, 1)}) {
    System s = crystal("bcc", kFeA, cells);
    scramble(s, 5, 0.1);
    for (const auto& t : all) check_kernel(hamiltonian(s, {t}), s, 17, t);
    check_kernel(hamiltonian(s, all), s, 19, "all terms together");
  }
  // Species-restricted terms on a two-species structure.
  System ab = crystal("bcc", 2.85, Int3(2, 2, 2), false, {"Fe", "Co"}, {2.2, 1.6});
  scramble(ab, 23, 0.1);
  check_kernel(hamiltonian(ab, {"type = \"heisenberg\"\nJ = [0.01]\nspecies = \"Fe\"",
                                "type = \"bethe-slater\"\na = 0.02\nb = 0.2\nd = 1.8\ncutoff = 3.4\nspecies = [\"Fe\", \"Co\"]",
                                "type = \"zeeman\"\nfield = [0, 0, 2]\nspecies = \"Co\"",
                                "type = \"anisotropy\"\nK = 0.001\nspecies = \"Fe\""}),
               ab, 29, "species-restricted terms");
}

TEST(TermKernel, ResultsDoNotDependOnThreadCount) {
  System s = crystal("bcc", kFeA, Int3(4, 4, 4));
  scramble(s, 3, 0.1);
  const Hamiltonian h = hamiltonian(s, {kBetheSlater, "type = \"dmi\"\nkind = \"bulk\"\nD = [0.002]",
                                        "type = \"biquadratic\"\nQ = [0.001]"});
  auto run = [&](int threads, std::vector<Vec3>& f, std::vector<Vec3>& fm, Mat3& w) {
    omp_set_num_threads(threads);
    Derivatives d;
    d.force = &f;
    d.magnetic_force = &fm;
    d.virial = &w;
    return h.compute(s, d);
  };
  std::vector<Vec3> f1, f2, m1, m2;
  Mat3 w1, w2;
  const double e1 = run(1, f1, m1, w1), e2 = run(2, f2, m2, w2);
  EXPECT_EQ(e1, e2);
  EXPECT_TRUE(w1 == w2);
  for (std::size_t i = 0; i < s.size(); ++i) {
    EXPECT_TRUE(f1[i] == f2[i]);
    EXPECT_TRUE(m1[i] == m2[i]);
  }
}

TEST(TermKernel, ReferencePathWithMomentSizeChanges) {
  // Landau and Zeeman depend on |m|: a local change of direction and size equals the energy
  // difference, and site energies still sum to the energy (no kernel here: Landau has none).
  System s = crystal("bcc", kFeA, Int3(2, 2, 2));
  scramble(s, 31, 0.1);
  const Hamiltonian h = hamiltonian(s, {"type = \"landau\"\nA = -0.744824\nB = 0.345295\nC = -0.00790205",
                                        "type = \"zeeman\"\nfield = [1, 2, -3]", kBetheSlater,
                                        "type = \"dmi\"\nkind = \"bulk\"\nD = [0.002]"});
  EXPECT_EQ(h.spin_kernel(), nullptr);
  const double E = h.energy(s);
  const std::vector<double> site = h.site_energies(s);
  double sum = 0.0;
  for (double x : site) sum += x;
  EXPECT_NEAR(sum, E, 1e-12 * (1 + std::abs(E)));
  Engine e(37);
  for (std::size_t i = 0; i < s.size(); ++i) {
    const Vec3 en = random_unit(e);
    const double mn = 1.5 + uniform01(e);
    System t = s;
    t.spin[i] = en;
    t.moment[i] = mn;
    EXPECT_NEAR(h.local_energy_change(s, static_cast<int>(i), en, mn), h.energy(t) - E, 1e-11) << "site " << i;
  }
}

// ---- input validation ----------------------------------------------------------------------

TEST(TermInput, BadParametersAreClearErrors) {
  const System s = crystal("bcc", kFeA, Int3(2, 2, 2));
  const std::vector<std::string> bad = {
      "type = \"bethe-slater\"\na = 0.02\nb = 0.2\nd = 1.8\ncutoff = -1",
      "type = \"bethe-slater\"\na = 0.02\nb = 0.2\nd = 0\ncutoff = 3.4",
      "type = \"bethe-slater\"\na = 0.02\nb = 0.2\nd = 1.8\ncutof = 3.4",  // typo
      "type = \"ma-dudarev\"\nJ0 = 0.87",
      "type = \"exchange-table\"\ntable = [[2.0, 0.1], [1.5, 0.05], [3.0, 0]]",
      "type = \"exchange-table\"\ntable = [[2.0, 0.1], [3.0]]",
      "type = \"exchange-table\"\ninterpolation = \"quadratic\"\ntable = [[2.0, 0.1], [2.5, 0.05], [3.0, 0]]",
      "type = \"dmi\"\nkind = \"bulky\"\nD = [0.001]",
      "type = \"dmi\"\nkind = \"bulk\"\nD = [0.001]\nnormal = [0, 0, 1]",
      "type = \"dmi\"\nkind = \"interfacial\"\nD = [0.001]\nnormal = [0, 0, 0]",
      "type = \"dmi\"\nkind = \"bond\"\nbonds = [[1, 0, 0, 0.001, 0]]",
      "type = \"dmi\"\nkind = \"bond\"\nbonds = [[1, 0, 0, 0, 0, 0.001], [-1, 0, 0, 0, 0, 0.001]]",
      "type = \"dmi\"\nkind = \"bond\"\nbonds = [[0, 0, 0, 0, 0, 0.001]]",
      "type = \"dmi\"\nkind = \"bond\"\nbonds = [[1, 0, 0, 0, 0, 0.001]]\nD = [0.001]",
      "type = \"dmi\"\nkind = \"bulk\"\nD = [0.001]\nbonds = [[1, 0, 0, 0, 0, 0.001]]",
      "type = \"anisotropy\"\nK = 0.001\naxis = [0, 0, 0]",
      "type = \"anisotropy\"\nkind = \"cubic\"\nK = 0.001\naxis = [0, 0, 1]",
      "type = \"zeeman\"\nfield = [0, 1]",
      "type = \"biquadratic\"\nQ = []",
      "type = \"landau\"\nA = -0.7",
      "type = \"heisenberg\"\nJ = [0.01]\nspecies = \"Fee\"",
  };
  for (const auto& t : bad) EXPECT_THROW(term(t, s), InputError) << t;
  // Every contract name is registered.
  const TermRegistry r = builtin_terms();
  for (const char* name : {"heisenberg", "bethe-slater", "ma-dudarev", "exchange-table", "dmi", "anisotropy",
                           "zeeman", "biquadratic", "landau"})
    EXPECT_TRUE(r.has(name)) << name;
}
