// The dipolar term (docs/dipolar.md): Ewald sums against the Lorentz cavity field of cubic
// lattices, independence of the splitting parameter, direct sums over growing spheres, exact
// derivatives and local energy changes, FFT against stored pairs, and an open-box pair.
#include <gtest/gtest.h>

#include <boost/random/normal_distribution.hpp>
#include <cmath>
#include <string>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/core/rng.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/terms/dipolar.hpp"
#include "spinlat/terms/hamiltonian.hpp"
#include "spinlat/terms/registry.hpp"

using namespace spinlat;

namespace {

constexpr double kC = units::dipolar_eV, kPi = units::kPi;

TermPtr term(const std::string& text, const System& s) {
  toml::table t = toml::parse(text);
  Params p(t, "test.toml", "potential.0");
  TermContext ctx;
  ctx.system = &s;
  return builtin_terms().make(p, ctx);
}

Hamiltonian hamiltonian(const System& s, const std::string& text) {
  Hamiltonian h;
  h.add(term(text, s));
  h.bind(s);
  return h;
}

/// The reference path: one Ewald sum per stored pair (no use of the lattice's translations).
Hamiltonian per_pair(const System& s, Vec3 demag = Vec3::Zero()) {
  DipolarOptions o;
  o.storage = DipolarOptions::Storage::pairs;
  o.use_translations = false;
  o.demagnetizing = demag;
  Hamiltonian h;
  h.add(std::make_unique<Dipolar>(o));
  h.bind(s);
  return h;
}

const Dipolar& dipolar(const Hamiltonian& h) { return dynamic_cast<const Dipolar&>(*h.terms()[0]); }

System cubic(const std::string& lattice, double a, int n, double m = 2.0) {
  return build_supercell(standard_lattice(lattice, a, 0.0, {"Fe"}, {m}), Int3(n, n, n));
}

/// A tetragonal cell (a, a, c) with three magnetic sites of different moments and one
/// non-magnetic one, repeated `cells` times.
System tetragonal(const Int3& cells, double a = 3.1, double c = 4.3) {
  Mat3 h = Mat3::Zero();
  h.diagonal() << a, a, c;
  std::vector<BasisSite> basis = {{Vec3(0, 0, 0), "Fe", 2.2}, {Vec3(0.5, 0.5, 0.31), "Fe", 1.7},
                                  {Vec3(0.5, 0.0, 0.62), "Co", 1.1}, {Vec3(0.0, 0.5, 0.5), "O", 0.0}};
  return build_supercell(custom_lattice(h, basis), cells);
}

void randomize(System& s, std::uint64_t seed) {
  Engine e(seed);
  boost::random::normal_distribution<double> g;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (s.magnetic(i)) {
      s.spin[i] = Vec3(g(e), g(e), g(e)).normalized();
      s.moment[i] *= 0.8 + 0.4 * uniform01(e);
    }
}

void set_moment(System& s, std::size_t i, const Vec3& m) {
  s.moment[i] = m.norm();
  s.spin[i] = m / m.norm();
}

/// E per atom of a uniformly magnetised cubic lattice.
double energy_per_atom(const std::string& lattice, double a, int n, const Vec3& dir, const std::string& keys) {
  System s = cubic(lattice, a, n);
  set_spins_along(s, dir.normalized());
  Hamiltonian h = hamiltonian(s, "type = \"dipolar\"\n" + keys);
  return h.energy(s) / static_cast<double>(s.size());
}

/// Energy per cell of the lattice sum over all sites within a sphere of radius R of each
/// site of the cell (the spherical order of summation: the field of a sphere in vacuum).
double sphere_sum(const System& s, double R) {
  const Mat3& h = s.cell.h;
  const int n0 = static_cast<int>(std::ceil(R / s.cell.plane_spacing(0))) + 1;
  const int n1 = static_cast<int>(std::ceil(R / s.cell.plane_spacing(1))) + 1;
  const int n2 = static_cast<int>(std::ceil(R / s.cell.plane_spacing(2))) + 1;
  double e = 0.0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!s.magnetic(i)) continue;
    const Vec3 mi = s.moment_vector(i);
    for (std::size_t j = 0; j < s.size(); ++j) {
      if (!s.magnetic(j)) continue;
      const Vec3 mj = s.moment_vector(j);
      for (int a = -n0; a <= n0; ++a)
        for (int b = -n1; b <= n1; ++b)
          for (int c = -n2; c <= n2; ++c) {
            const Vec3 r = s.position[j] - s.position[i] + (a * h.row(0) + b * h.row(1) + c * h.row(2)).transpose();
            const double d = r.norm();
            if (d < 1e-9 || d > R) continue;
            const Vec3 u = r / d;
            e += 0.5 * kC * (mi.dot(mj) - 3.0 * mi.dot(u) * mj.dot(u)) / (d * d * d);
          }
    }
  }
  return e;
}

}  // namespace

TEST(Units, DipolarEnergyScale) {
  // μ0 μB²/(4π Å³) from CODATA 2018 μ0 and μB in J/T = μB(eV/T)·e.
  const double muB_SI = units::mu_B * units::joule_per_eV;  // J/T
  EXPECT_NEAR(muB_SI, 9.2740100783e-24, 1e-33);
  // μ0/4π is 1e-7 T·m/A to the 5.5e-10 by which the 2019 SI moved it.
  EXPECT_NEAR(units::mu0_over_4pi, 1e-7, 6e-10 * 1e-7);
  EXPECT_NEAR(units::dipolar_eV, units::mu_B * muB_SI * units::mu0_over_4pi * 1e30, 1e-12 * units::dipolar_eV);
  // The field of 1 μB 1 Å away, side-on: (μ0/4π) μB/r³ = 0.9274 T.
  EXPECT_NEAR(units::magforce_to_tesla(units::dipolar_eV), 0.92740100834, 1e-9);
}

// (1) Lorentz: a uniformly magnetised cubic lattice with tinfoil boundary feels the cavity field
// (4π/3)M only, E/N = −(2π/3)(μ0/4π) n m², for any moment direction (cubic symmetry); a
// sphere in vacuum adds the demagnetising field −(4π/3)M and the energy vanishes.
TEST(Dipolar, LorentzCavityFieldOfCubicLattices) {
  struct Case { const char* lattice; double a; int n; int basis; };
  for (const Case& c : {Case{"sc", 2.9, 1, 1}, Case{"bcc", 2.87, 2, 2}, Case{"fcc", 3.6, 1, 4}}) {
    const double density = c.basis / (c.a * c.a * c.a), m = 2.0;
    const double lorentz = -(2.0 * kPi / 3.0) * kC * density * m * m;
    for (const Vec3& dir : {Vec3(1, 0, 0), Vec3(1, 1, 1), Vec3(0.3, -0.5, 0.8)}) {
      const double tin = energy_per_atom(c.lattice, c.a, c.n, dir, "");
      EXPECT_NEAR(tin, lorentz, 1e-8 * std::abs(lorentz)) << c.lattice << " " << dir.transpose();
      const double vac = energy_per_atom(c.lattice, c.a, c.n, dir, "boundary = \"vacuum\"");
      EXPECT_NEAR(vac, 0.0, 1e-8 * std::abs(lorentz)) << c.lattice << " " << dir.transpose();
    }
  }
}

// A slab (N = [0,0,1]) costs the thin-film shape anisotropy 2π M² (μ0 Ms²/2) out of plane and
// nothing in plane, on top of the cavity term.
TEST(Dipolar, SlabDemagnetisingEnergy) {
  const double a = 2.87, density = 2.0 / (a * a * a), m = 2.0;
  const double lorentz = -(2.0 * kPi / 3.0) * kC * density * m * m;
  const std::string slab = "demagnetizing = [0.0, 0.0, 1.0]";
  EXPECT_NEAR(energy_per_atom("bcc", a, 2, Vec3(1, 0, 0), slab), lorentz, 1e-8 * std::abs(lorentz));
  EXPECT_NEAR(energy_per_atom("bcc", a, 2, Vec3(0, 0, 1), slab), lorentz + 2.0 * kPi * kC * density * m * m,
              1e-8 * std::abs(lorentz));
}

// (2) The splitting parameter only moves weight between real and reciprocal space.
TEST(Dipolar, EwaldIndependentOfSplittingParameter) {
  System s = tetragonal(Int3(2, 1, 2));
  randomize(s, 7);
  Hamiltonian ref = hamiltonian(s, "type = \"dipolar\"");
  const double a0 = dipolar(ref).alpha();
  const std::vector<Vec3> h0 = dipolar(ref).fields(s);
  const double e0 = ref.energy(s);
  double hmax = 0.0;
  for (const Vec3& v : h0) hmax = std::max(hmax, v.norm());
  for (double f : {0.5, 0.8, 1.5, 2.5}) {
    Hamiltonian h = hamiltonian(s, "type = \"dipolar\"\nalpha = " + std::to_string(f * a0));
    EXPECT_NEAR(h.energy(s), e0, 1e-10 * std::abs(e0)) << "alpha factor " << f;
    const std::vector<Vec3> hv = dipolar(h).fields(s);
    for (std::size_t i = 0; i < s.size(); ++i) EXPECT_LT((hv[i] - h0[i]).norm(), 1e-10 * hmax) << i;
  }
}

// (3) A non-cubic cell against the direct lattice sum over growing spheres, which converges to
// the sphere-in-vacuum result; the spherical sum's shell fluctuations are averaged over radii.
TEST(Dipolar, EwaldMatchesSphericalLatticeSum) {
  System s = tetragonal(Int3(1, 1, 1));
  randomize(s, 11);
  const double ewald = hamiltonian(s, "type = \"dipolar\"\nboundary = \"vacuum\"").energy(s);
  double mean = 0.0;
  int count = 0;
  for (double R = 40.0; R <= 60.0; R += 1.0, ++count) mean += sphere_sum(s, R);
  mean /= count;
  EXPECT_NEAR(mean, ewald, 2e-3 * std::abs(ewald));
  // Zero net moment: the boundary term vanishes and tinfoil equals vacuum equals the sphere sum.
  System af = tetragonal(Int3(1, 1, 1));
  set_moment(af, 0, Vec3(0.3, -1.2, 0.9));
  set_moment(af, 1, Vec3(-0.1, 0.7, -1.4));
  set_moment(af, 2, Vec3(-0.2, 0.5, 0.5));
  const double tin = hamiltonian(af, "type = \"dipolar\"").energy(af);
  const double vac = hamiltonian(af, "type = \"dipolar\"\nboundary = \"vacuum\"").energy(af);
  EXPECT_NEAR(tin, vac, 1e-12 * std::abs(tin));
  mean = 0.0;
  count = 0;
  for (double R = 40.0; R <= 60.0; R += 1.0, ++count) mean += sphere_sum(af, R);
  EXPECT_NEAR(mean / count, tin, 2e-3 * std::abs(tin));
}

// (4) −∂E/∂m_i by central differences (exact for an energy quadratic in m) and
// local_energy_change against total-energy differences, for both storages.
TEST(Dipolar, MagneticForcesAndLocalEnergyChangeAreExact) {
  for (const std::string storage : {"pairs", "fft", "per-pair"}) {
    System s = tetragonal(Int3(2, 2, 1));
    randomize(s, 3);
    Hamiltonian h = storage == "per-pair"
                        ? per_pair(s, Vec3::Constant(1.0 / 3.0))
                        : hamiltonian(s, "type = \"dipolar\"\nboundary = \"vacuum\"\nstorage = \"" + storage + "\"");
    ASSERT_EQ(dipolar(h).uses_fft(), storage == "fft");
    std::vector<Vec3> fm;
    Derivatives d;
    d.magnetic_force = &fm;
    const double e = h.compute(s, d);
    double fmax = 0.0;
    for (const Vec3& v : fm) fmax = std::max(fmax, v.norm());
    ASSERT_GT(fmax, 0.0);
    const double step = 1e-3;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (!s.magnetic(i)) {
        EXPECT_EQ(fm[i].norm(), 0.0);
        continue;
      }
      for (int a = 0; a < 3; ++a) {
        System t = s;
        Vec3 m = s.moment_vector(i);
        m[a] += step;
        set_moment(t, i, m);
        const double ep = h.energy(t);
        m[a] -= 2 * step;
        set_moment(t, i, m);
        const double em = h.energy(t);
        EXPECT_NEAR(fm[i][a], -(ep - em) / (2 * step), 1e-9 * fmax) << storage << " atom " << i << " comp " << a;
      }
    }
    // Site energies sum to the energy.
    const std::vector<double> se = h.site_energies(s);
    double sum = 0.0;
    for (double x : se) sum += x;
    EXPECT_NEAR(sum, e, 1e-12 * std::abs(e));
    Engine eng(5);
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (!s.magnetic(i)) continue;
      const Vec3 spin = Vec3(uniform01(eng) - 0.5, uniform01(eng) - 0.5, uniform01(eng) - 0.5).normalized();
      const double mnew = 0.5 + 2.0 * uniform01(eng);
      System t = s;
      t.spin[i] = spin;
      t.moment[i] = mnew;
      EXPECT_NEAR(h.local_energy_change(s, static_cast<int>(i), spin, mnew), h.energy(t) - e, 1e-12 * std::abs(e))
          << storage << " atom " << i;
    }
  }
}

// (5) The FFT convolution and the pairs taken from the translation table equal one Ewald sum
// per pair, with mixed-radix lengths (3, 2, 5).
TEST(Dipolar, FftEqualsStoredPairs) {
  struct Case { System s; Int3 reps; };
  std::vector<Case> cases;
  cases.push_back({cubic("bcc", 2.87, 4), Int3(4, 4, 4)});
  cases.push_back({tetragonal(Int3(3, 2, 5)), Int3(3, 2, 5)});
  for (Case& c : cases) {
    randomize(c.s, 9);
    Hamiltonian pairs = per_pair(c.s, Vec3::Constant(1.0 / 3.0));
    Hamiltonian table = hamiltonian(c.s, "type = \"dipolar\"\nstorage = \"pairs\"\nboundary = \"vacuum\"");
    // Automatic storage: above pair_limit magnetic sites the FFT path takes over.
    Hamiltonian fft = hamiltonian(c.s, "type = \"dipolar\"\npair_limit = 50\nboundary = \"vacuum\"");
    ASSERT_FALSE(dipolar(pairs).uses_fft());
    ASSERT_FALSE(dipolar(table).uses_fft());
    ASSERT_TRUE(dipolar(fft).uses_fft());
    EXPECT_EQ(dipolar(fft).repetitions(), c.reps);
    EXPECT_EQ(dipolar(table).repetitions(), c.reps);
    const std::vector<Vec3> hp = dipolar(pairs).fields(c.s), hf = dipolar(fft).fields(c.s),
                            ht = dipolar(table).fields(c.s);
    double hmax = 0.0;
    for (const Vec3& v : hp) hmax = std::max(hmax, v.norm());
    for (std::size_t i = 0; i < c.s.size(); ++i) {
      EXPECT_LT((hp[i] - hf[i]).norm(), 1e-12 * hmax) << i;
      EXPECT_LT((hp[i] - ht[i]).norm(), 1e-12 * hmax) << i;
    }
    const double ep = pairs.energy(c.s);
    EXPECT_NEAR(fft.energy(c.s), ep, 1e-12 * std::abs(ep));
    EXPECT_NEAR(table.energy(c.s), ep, 1e-12 * std::abs(ep));
  }
}

// (6) Two dipoles in an open box: the textbook pair energy and fields.
TEST(Dipolar, TwoDipolesInOpenBox) {
  System s;
  s.cell.h = 20.0 * Mat3::Identity();
  s.cell.periodic = {false, false, false};
  s.species_name = {"Fe"};
  s.species_mass = {55.845};
  const Vec3 m1(0.4, -1.1, 1.9), m2(-0.7, 0.2, 1.3), r(1.3, 0.4, -2.7);
  s.add_atom(Vec3(5, 5, 5), 0, m1.norm(), m1);
  s.add_atom(Vec3(5, 5, 5) + r, 0, m2.norm(), m2);
  Hamiltonian h = hamiltonian(s, "type = \"dipolar\"");
  const double d = r.norm();
  const Vec3 u = r / d;
  const double expect = kC * (m1.dot(m2) - 3.0 * m1.dot(u) * m2.dot(u)) / (d * d * d);
  EXPECT_NEAR(h.energy(s), expect, 1e-14 * std::abs(expect));
  const std::vector<Vec3> f = dipolar(h).fields(s);
  EXPECT_LT((f[0] - kC * (3.0 * u * u.dot(m2) - m2) / (d * d * d)).norm(), 1e-15);
  EXPECT_LT((f[1] - kC * (3.0 * u * u.dot(m1) - m1) / (d * d * d)).norm(), 1e-15);
}

TEST(Dipolar, InputErrorsNameTheKey) {
  System periodic = cubic("sc", 3.0, 2);
  auto message = [&](const System& s, const std::string& text) {
    try {
      term(text, s);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message(periodic, "type = \"dipolar\"\nmethod = \"direct\"").find("'potential.0.method'"), std::string::npos);
  EXPECT_NE(message(periodic, "type = \"dipolar\"\nboundary = \"tinfoil\"\ndemagnetizing = [0.0, 0.0, 1.0]")
                .find("demagnetizing"), std::string::npos);
  EXPECT_NE(message(periodic, "type = \"dipolar\"\ndemagnetizing = [0.5, 0.0, 0.0]").find("summing to 1"),
            std::string::npos);
  EXPECT_NE(message(periodic, "type = \"dipolar\"\nboundary = \"mirror\"").find("boundary"), std::string::npos);
  System slab = periodic;
  slab.cell.periodic = {true, true, false};
  EXPECT_NE(message(slab, "type = \"dipolar\"").find("'potential.0.method'"), std::string::npos);
  System open = periodic;
  open.cell.periodic = {false, false, false};
  EXPECT_NE(message(open, "type = \"dipolar\"\nalpha = 0.3").find("'potential.0.alpha'"), std::string::npos);
  EXPECT_NE(message(open, "type = \"dipolar\"\nstorage = \"fft\"").find("'potential.0.storage'"), std::string::npos);
  // A frozen-lattice term: moving atoms (md, sld) is refused, not silently wrong.
  Hamiltonian h = hamiltonian(periodic, "type = \"dipolar\"");
  System moved = periodic;
  moved.position[0].x() += 0.01;
  EXPECT_THROW(h.energy(moved), InputError);
}
