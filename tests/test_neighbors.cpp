// Neighbour lists (src/neighbors): shell counts of standard lattices, cell lists against
// brute force in tiny triclinic cells with multiple images, open boundaries.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "spinlat/core/crystal.hpp"
#include "spinlat/neighbors/neighbor_list.hpp"

using namespace spinlat;

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

// Cutoffs far below the atomic spacing (the overlap check's 0.5 Å) cap the bins at about two
// per atom instead of (2L/cutoff)³; the list is unchanged. Periodic and open, with two atoms
// 0.3 Å apart so that the short list is not empty.
TEST(NeighborList, TinyCutoffsGiveTheSameListWithFewBins) {
  System s = build_supercell(standard_lattice("bcc", 2.8665, 0, {"Fe"}, {2.2}), Int3(7, 6, 5));
  s.position[5] = s.position[4] + Vec3(0.3, 0.0, 0.0);
  for (double rc : {0.2, 0.5, 1.5}) {
    expect_same_lists(build_neighbor_list(s, rc), build_neighbor_list_reference(s, rc));
    System open = s;
    open.cell.periodic = {true, false, false};
    expect_same_lists(build_neighbor_list(open, rc), build_neighbor_list_reference(open, rc));
  }
  const NeighborList l = build_neighbor_list(s, 0.5);
  EXPECT_EQ(l.end(4) - l.begin(4), 1);
  EXPECT_EQ(l.end(5) - l.begin(5), 1);
}

TEST(NeighborList, OpenBoundariesTakeNoImages) {
  System s = build_supercell(standard_lattice("sc", 1.0, 0, {"Fe"}, {1.0}), Int3(3, 3, 3));
  s.cell.periodic = {true, true, false};
  const NeighborList a = build_neighbor_list(s, 1.01), b = build_neighbor_list_reference(s, 1.01);
  expect_same_lists(a, b);
  // A corner atom of the bottom layer (z = 0) has 5 nearest neighbours with z open.
  EXPECT_EQ(a.end(0) - a.begin(0), 5);
}


// Each atom's pairs are ordered by distance, pairs within 1e-12 Å of each other (one shell of
// a perfect crystal, reached by different arithmetic) by partner and then image; the build
// sorts by distance with a counting sort and fixes up the near-equal runs, so check the order
// itself, on a perfect crystal (many ties) and a perturbed one (none). A list rebuilt into
// the storage of another list (Hamiltonian::bind reuses it) equals a fresh one.
TEST(NeighborList, PairsOrderedByDistanceThenPartnerAndImageAndStorageReused) {
  System perfect = build_supercell(standard_lattice("bcc", 2.8665, 0, {"Fe"}, {2.2}), Int3(5, 5, 5));
  System shaken = perfect;
  for (std::size_t i = 0; i < shaken.size(); ++i)
    shaken.position[i] += 0.05 * Vec3(std::sin(1.3 * i), std::cos(0.7 * i + 1), std::sin(2.1 * i + 2));
  NeighborList reused = build_neighbor_list(
      build_supercell(standard_lattice("bcc", 2.8665, 0, {"Fe"}, {2.2}), Int3(6, 6, 6)), 6.1);
  for (const System* s : {&perfect, &shaken}) {
    const NeighborList l = build_neighbor_list(*s, 6.1);
    long ties = 0;
    for (std::size_t i = 0; i < l.atoms(); ++i)
      for (int k = l.begin(i) + 1; k < l.end(i); ++k) {
        const double r0 = l.distance[k - 1], r1 = l.distance[k];
        if (std::abs(r1 - r0) > 1e-12) {
          EXPECT_LT(r0, r1);
          continue;
        }
        ++ties;
        const auto& m = l.image[k - 1];
        const auto& n = l.image[k];
        EXPECT_TRUE(l.index[k - 1] < l.index[k] ||
                    (l.index[k - 1] == l.index[k] &&
                     std::lexicographical_compare(m.data(), m.data() + 3, n.data(), n.data() + 3)))
            << "atom " << i << " entry " << k;
      }
    if (s == &perfect) {
      EXPECT_GT(ties, 1000);  // the ties were exercised
    }
    build_neighbor_list(*s, 6.1, reused);
    expect_same_lists(reused, l);
    for (std::size_t k = 0; k < l.pairs(); ++k) EXPECT_EQ(reused.displacement[k], l.displacement[k]);
    expect_same_lists(l, build_neighbor_list_reference(*s, 6.1));
  }
}
