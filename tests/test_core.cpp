// Units, random streams, crystals, graph colouring and the state encoding (src/core; neighbour
// lists: tests/test_neighbors.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/core/rng.hpp"
#include "spinlat/core/state_io.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/neighbors/neighbor_list.hpp"

using namespace spinlat;

TEST(Units, GyromagneticRatioIsGMuBOverHbar) {
  // γ_e = g μB / ħ: the three CODATA constants must agree to their printed precision.
  EXPECT_NEAR(units::g_e * units::mu_B / units::hbar, units::gamma_e, 1e-9);
}

TEST(Units, KineticEnergyConversion) {
  // 1 amu moving at 1 Å/ps: ½ m v² = 0.5 * 1.66053906660e-27 kg * (100 m/s)^2 in eV.
  const double joule = 0.5 * 1.66053906660e-27 * 100.0 * 100.0;
  EXPECT_NEAR(0.5 * units::mvv2e, joule / 1.602176634e-19, 1e-15);
  EXPECT_DOUBLE_EQ(units::mvv2e * units::ftm2v, 1.0);
}

TEST(Units, DynamicsConversionsAgainstSI) {
  // Each worked in SI with CODATA 2018 constants, independently of units.hpp.
  const double amu = 1.66053906660e-27, eV = 1.602176634e-19, kB = 1.380649e-23, muB = 9.2740100783e-24;
  // 1 eV/Å on 1 amu for 1 ps: Δv = F t/m in m/s, then Å/ps (1 Å/ps = 100 m/s).
  EXPECT_NEAR(units::kick_per_force(1.0, 1.0), (eV / 1e-10) * 1e-12 / amu / 100.0, 1e-6);
  // Thermal speed of iron (55.845 amu) at 300 K: √(k_B T/m).
  EXPECT_NEAR(units::thermal_speed(units::thermal_energy(300.0), 55.845), std::sqrt(kB * 300.0 / (55.845 * amu)) / 100.0,
              1e-9);
  // Thermal field of a 2.2 μB moment, α = 0.1, 300 K, held 0.1 fs: √(2αk_BT/(γ m μB τ)) in T,
  // with γ = g μB/ħ in rad/(s·T).
  const double gamma_SI = 2.00231930436256 * muB / 1.054571817e-34;
  EXPECT_NEAR(units::thermal_field_sigma(0.1, 300.0, 2.2, 1e-4),
              std::sqrt(2.0 * 0.1 * kB * 300.0 / (gamma_SI * 2.2 * muB * 1e-16)), 1e-6 * 1e3);
}

TEST(Units, FieldAndFrequencyConversions) {
  // A magnetic force of μB·1T (eV/μB) is a 1 T field; ħω of 1 rad/ps is 0.6582 meV.
  EXPECT_NEAR(units::magforce_to_tesla(units::mu_B), 1.0, 1e-15);
  EXPECT_NEAR(units::radps_to_meV(1.0), 0.6582119569, 1e-10);
  EXPECT_NEAR(units::radps_to_THz(2 * units::kPi), 1.0, 1e-15);
  // k_B·300 K = 25.852 meV.
  EXPECT_NEAR(units::thermal_energy(300.0), 0.025852, 1e-6);
  EXPECT_NEAR(units::eVA3_to_GPa, 1.602176634e-19 / 1e-30 / 1e9, 1e-6);
  // 1 eV/Å³ = e·10³⁰ Pa: the pressure factor and the joule are one constant.
  EXPECT_NEAR(units::eVA3_to_GPa, units::joule_per_eV * 1e21, 1e-9);
  // Ry = α² m_e c² / 2 with α = 7.2973525693e-3 and m_e c² = 510998.95000 eV (CODATA 2018).
  EXPECT_NEAR(units::rydberg_eV, 0.5 * 7.2973525693e-3 * 7.2973525693e-3 * 510998.95000, 1e-8);
}

TEST(Random, StreamsAreReproducibleAndDistinct) {
  StreamSet a(42, StreamPurpose::metropolis, 4), b(42, StreamPurpose::metropolis, 4);
  StreamSet c(42, StreamPurpose::spin_noise, 4);
  for (int k = 0; k < 4; ++k) {
    const auto x = a[k](), y = b[k](), z = c[k]();
    EXPECT_EQ(x, y);
    EXPECT_NE(x, z);
  }
  EXPECT_NE(a[0](), a[1]());
  const std::string state = a.save();
  const auto next = a[2]();
  StreamSet d;
  d.load(state);
  EXPECT_EQ(d[2](), next);
}

TEST(Random, Uniform01MeanAndRange) {
  Engine e(1);
  double sum = 0;
  const int n = 200000;
  for (int k = 0; k < n; ++k) {
    const double u = uniform01(e);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  // mean 1/2 with standard error sqrt(1/12/n) = 6.5e-4: 5 sigma.
  EXPECT_NEAR(sum / n, 0.5, 5 * std::sqrt(1.0 / 12 / n));
}

TEST(Crystal, VelocitiesHaveTemperatureAndNoDrift) {
  System s = build_supercell(standard_lattice("bcc", 2.8665, 0, {"Fe"}, {2.2}), Int3(5, 5, 5));
  set_velocities(s, 300.0, 7);
  Vec3 p = Vec3::Zero();
  double ke = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    p += s.mass(i) * s.velocity[i];
    ke += 0.5 * s.mass(i) * s.velocity[i].squaredNorm() * units::mvv2e;
  }
  EXPECT_LT(p.norm(), 1e-9);
  EXPECT_NEAR(2 * ke / (3 * (s.size() - 1) * units::k_B), 300.0, 1e-9);
}

TEST(Crystal, AntiferroPatternsHaveZeroNetMomentAndRightNeighbours) {
  // G-type sc, B2 bcc and AF-II fcc/rocksalt: zero net moment; in AF-II every cation has 6 of
  // its 12 nearest cation neighbours antiparallel, and its 6 second neighbours (at a) all
  // antiparallel (the NiO/MnO order).
  for (const char* name : {"sc", "bcc", "fcc", "rocksalt"}) {
    const std::vector<std::string> sp = std::string(name) == "rocksalt" ? std::vector<std::string>{"Ni", "O"}
                                                                        : std::vector<std::string>{"Fe"};
    const std::vector<double> mo = std::string(name) == "rocksalt" ? std::vector<double>{2.0, 0.0}
                                                                   : std::vector<double>{2.0};
    const System s = build_supercell(standard_lattice(name, 4.0, 0, sp, mo), Int3(2, 2, 2), true);
    Vec3 m = Vec3::Zero();
    for (std::size_t i = 0; i < s.size(); ++i) m += s.moment_vector(i);
    EXPECT_LT(m.norm(), 1e-12) << name;
    if (std::string(name) == "fcc" || std::string(name) == "rocksalt") {
      const NeighborList l = build_neighbor_list(s, 4.01);
      int anti1 = 0, anti2 = 0, n2 = 0;
      for (int k = l.begin(0); k < l.end(0); ++k) {
        const int j = l.index[k];
        if (!s.magnetic(j)) continue;
        const bool anti = s.spin[0].dot(s.spin[j]) < 0;
        if (l.distance[k] < 3.0) anti1 += anti;
        else { anti2 += anti; ++n2; }
      }
      EXPECT_EQ(anti1, 6) << name;
      EXPECT_EQ(n2, 6) << name;
      EXPECT_EQ(anti2, 6) << name;
    }
  }
}

// ---- state encoding (core/state_io) ----------------------------------------------------------

namespace {
std::uint64_t bits(double x) {
  std::uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}
}  // namespace

TEST(StateIo, RealsRoundTripBitForBit) {
  // Restart continues bit for bit only if every double reads back with the same 64 bits:
  // signed zeros, the smallest denormal, the largest finite, infinities, and rounding-sensitive
  // values (0.1, 1/3) are the cases a decimal or %g format gets wrong.
  using L = std::numeric_limits<double>;
  const std::vector<double> v = {0.0,      -0.0,         0.1,          1.0 / 3.0,     -2.5e-300,
                                 L::denorm_min(), -L::denorm_min(), L::min(), L::max(), -L::max(),
                                 L::infinity(),   -L::infinity(),   L::epsilon(), 6.02214076e23};
  state_io::Writer w("test-record", 7);
  w.real("single", -0.0);
  w.real("tiny", L::denorm_min());
  w.reals("list", v);
  w.reals("empty", std::vector<double>{});
  w.integer("big", std::numeric_limits<std::uint64_t>::max());
  w.signed_integer("negative", std::numeric_limits<std::int64_t>::min());
  w.integers("ints", {0, -1, std::numeric_limits<std::int64_t>::max()});
  w.vectors("vectors", {Vec3(1.0, -0.0, 0.5), Vec3(L::denorm_min(), 2.0, -3.0)});
  Mat3 m;
  m << 1, 2, 3, 4, 5, 6, 7, 8, 0.1;
  w.matrix("matrix", m);

  const state_io::Reader r(w.str(), "test-record", 7);
  EXPECT_EQ(bits(r.real("single")), bits(-0.0));
  EXPECT_EQ(bits(r.real("tiny")), bits(L::denorm_min()));
  const std::vector<double> back = r.reals("list", v.size());
  for (std::size_t k = 0; k < v.size(); ++k) EXPECT_EQ(bits(back[k]), bits(v[k])) << "entry " << k;
  EXPECT_TRUE(r.reals("empty").empty());
  EXPECT_EQ(r.integer("big"), std::numeric_limits<std::uint64_t>::max());
  EXPECT_EQ(r.signed_integer("negative"), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(r.integers("ints"), (std::vector<std::int64_t>{0, -1, std::numeric_limits<std::int64_t>::max()}));
  const std::vector<Vec3> vecs = r.vectors("vectors", 2);
  EXPECT_EQ(bits(vecs[0][1]), bits(-0.0));
  EXPECT_EQ(bits(vecs[1][0]), bits(L::denorm_min()));
  EXPECT_EQ(r.matrix("matrix"), m);
  // NaN keeps its sign (not its payload).
  state_io::Writer wn("nan", 1);
  wn.real("x", -std::numeric_limits<double>::quiet_NaN());
  const double x = state_io::Reader(wn.str(), "nan", 1).real("x");
  EXPECT_TRUE(std::isnan(x));
  EXPECT_TRUE(std::signbit(x));
}

TEST(StateIo, BlobsHoldAnyBytesAndNest) {
  // A blob may hold newlines, NULs, spaces and a whole nested record (a driver's state holds
  // its sampler's); the entries after it must still be found.
  std::string bytes = "line one\nline two\n\n@5\nkey 1\n";
  bytes.push_back('\0');
  bytes += "\xff tail";
  state_io::Writer inner("inner", 1);
  inner.reals("r", {1.5, -0.0});
  inner.blob("raw", bytes);
  Engine e(12345);
  for (int k = 0; k < 10; ++k) e();
  state_io::Writer outer("outer", 2);
  outer.blob("nested", inner.str());
  outer.blob("raw", bytes);
  outer.blob("empty", "");
  outer.engine("engine", e);
  outer.integer("after", 42);

  const state_io::Reader r(outer.str(), "outer", 2);
  EXPECT_EQ(r.blob("raw"), bytes);
  EXPECT_EQ(r.blob("empty"), "");
  EXPECT_EQ(r.integer("after"), 42u);
  const state_io::Reader in(r.blob("nested"), "inner", 1);
  EXPECT_EQ(in.blob("raw"), bytes);
  EXPECT_EQ(bits(in.reals("r", 2)[1]), bits(-0.0));
  Engine back = r.engine("engine");
  for (int k = 0; k < 5; ++k) EXPECT_EQ(back(), e());
}

TEST(StateIo, MalformedRecordsAreInputErrors) {
  state_io::Writer w("rec", 2);
  w.reals("v", {1.0, 2.0, 3.0});
  w.blob("b", "abcdef");
  const std::string good = w.str();
  EXPECT_THROW(state_io::Reader(good, "rec", 1), InputError);    // wrong version
  EXPECT_THROW(state_io::Reader(good, "other", 2), InputError);  // wrong magic
  const state_io::Reader r(good, "rec", 2);
  EXPECT_THROW(r.reals("v", 4), InputError);  // wrong length
  EXPECT_THROW(r.real("missing"), InputError);
  EXPECT_THROW(r.integer("v"), InputError);  // a list is not an integer
  // A list cut short, a list longer than its count, a truncated blob.
  auto edited = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  EXPECT_THROW(state_io::Reader(edited("#3", "#4"), "rec", 2).reals("v"), InputError);
  EXPECT_THROW(state_io::Reader(edited("#3", "#2"), "rec", 2).reals("v"), InputError);
  EXPECT_THROW(state_io::Reader(edited("@6", "@60"), "rec", 2), InputError);
}
