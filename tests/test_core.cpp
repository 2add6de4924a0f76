// Units, random streams, crystals and neighbour lists.
#include <gtest/gtest.h>

#include <cmath>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/rng.hpp"
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

TEST(Units, FieldAndFrequencyConversions) {
  // A magnetic force of μB·1T (eV/μB) is a 1 T field; ħω of 1 rad/ps is 0.6582 meV.
  EXPECT_NEAR(units::magforce_to_tesla(units::mu_B), 1.0, 1e-15);
  EXPECT_NEAR(units::radps_to_meV(1.0), 0.6582119569, 1e-10);
  EXPECT_NEAR(units::radps_to_THz(2 * units::kPi), 1.0, 1e-15);
  // k_B·300 K = 25.852 meV.
  EXPECT_NEAR(units::thermal_energy(300.0), 0.025852, 1e-6);
  EXPECT_NEAR(units::eVA3_to_GPa, 1.602176634e-19 / 1e-30 / 1e9, 1e-6);
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

namespace {
void expect_same_lists(const NeighborList& a, const NeighborList& b) {
  ASSERT_EQ(a.atoms(), b.atoms());
  ASSERT_EQ(a.pairs(), b.pairs());
  for (std::size_t i = 0; i < a.atoms(); ++i) {
    ASSERT_EQ(a.offset[i], b.offset[i]);
    for (int k = a.begin(i); k < a.end(i); ++k) {
      EXPECT_EQ(a.index[k], b.index[k]);
      EXPECT_EQ(a.image[k], b.image[k]);
      EXPECT_NEAR(a.distance[k], b.distance[k], 1e-12);
    }
  }
}
int count_within(const NeighborList& l, int i, double r) {
  int n = 0;
  for (int k = l.begin(i); k < l.end(i); ++k) n += l.distance[k] < r;
  return n;
}
}  // namespace

TEST(NeighborList, ShellCountsOfCubicAndHexagonalLattices) {
  struct Case { const char* name; std::vector<int> counts; std::vector<double> radii; };
  // Coordination numbers of the first shells (a = 1): sc 6,12,8; bcc 8,6,12; fcc 12,6,24;
  // ideal hcp 12,6,2 (the third hcp shell at a·√(8/3) holds the 2 atoms straight above/below).
  const std::vector<Case> cases = {
      {"sc", {6, 12, 8}, {1.0, std::sqrt(2.0), std::sqrt(3.0)}},
      {"bcc", {8, 6, 12}, {std::sqrt(3.0) / 2, 1.0, std::sqrt(2.0)}},
      {"fcc", {12, 6, 24}, {std::sqrt(0.5), 1.0, std::sqrt(1.5)}},
      {"hcp", {12, 6, 2}, {1.0, std::sqrt(2.0), std::sqrt(8.0 / 3.0)}},
  };
  for (const auto& c : cases) {
    const Lattice L = standard_lattice(c.name, 1.0, 0.0, {"Fe"}, {2.0});
    const System s = build_supercell(L, Int3(4, 4, 4));
    const NeighborList list = build_neighbor_list(s, 2.0);
    const auto shells = neighbor_shells(list);
    for (std::size_t k = 0; k < c.counts.size(); ++k) {
      ASSERT_GT(shells.size(), k) << c.name;
      EXPECT_NEAR(shells[k], c.radii[k], 1e-9) << c.name << " shell " << k;
      const int cumulative = count_within(list, 0, c.radii[k] + 1e-6);
      int expected = 0;
      for (std::size_t m = 0; m <= k; ++m) expected += c.counts[m];
      EXPECT_EQ(cumulative, expected) << c.name << " shell " << k;
    }
  }
}

TEST(NeighborList, CellListsEqualBruteForceIncludingTinyTriclinicCells) {
  // A triclinic cell smaller than the cutoff: an atom meets many images of each neighbour
  // and of itself.
  System s;
  s.cell.h << 2.0, 0.0, 0.0, 0.7, 1.9, 0.0, 0.3, -0.4, 2.2;
  s.species_name = {"Fe"};
  s.species_mass = {55.845};
  s.add_atom(Vec3(0.1, 0.2, 0.3), 0, 2.0, Vec3::UnitZ());
  s.add_atom(Vec3(1.3, 0.9, 1.1), 0, 2.0, Vec3::UnitZ());
  s.add_atom(Vec3(-0.5, 2.5, 4.0), 0, 2.0, Vec3::UnitZ());  // outside the cell: must wrap
  for (double rc : {1.0, 2.5, 4.7}) {
    expect_same_lists(build_neighbor_list(s, rc), build_neighbor_list_reference(s, rc));
  }
  // Larger cell with many atoms and a cutoff below half the box (the O(N) regime).
  const System big = build_supercell(standard_lattice("bcc", 2.8665, 0, {"Fe"}, {2.2}), Int3(6, 5, 7));
  expect_same_lists(build_neighbor_list(big, 3.4), build_neighbor_list_reference(big, 3.4));
}

TEST(NeighborList, OpenBoundariesTakeNoImages) {
  System s = build_supercell(standard_lattice("sc", 1.0, 0, {"Fe"}, {1.0}), Int3(3, 3, 3));
  s.cell.periodic = {true, true, false};
  const NeighborList a = build_neighbor_list(s, 1.01), b = build_neighbor_list_reference(s, 1.01);
  expect_same_lists(a, b);
  // A corner atom of the bottom layer (z = 0) has 5 nearest neighbours with z open.
  EXPECT_EQ(a.end(0) - a.begin(0), 5);
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
