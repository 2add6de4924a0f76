#pragma once
// Full neighbour lists (every pair stored from both ends) built with cell lists in O(N).
//
// Correct for any triclinic cell, also when the cutoff exceeds half the box: then an atom
// meets several periodic images of the same neighbour, and even images of itself, each
// stored as its own entry with its integer image shift.
#include <vector>

#include "spinlat/core/system.hpp"

namespace spinlat {

struct NeighborList {
  double cutoff = 0.0;              ///< Å (the list holds every pair with r < cutoff)
  std::vector<int> offset;          ///< CSR: neighbours of i are [offset[i], offset[i+1])
  std::vector<int> index;           ///< neighbour atom j
  std::vector<Int3> image;          ///< integer image n: r_ij = r_j + n·h − r_i
  std::vector<Vec3> displacement;   ///< r_ij (Å), at build time
  std::vector<double> distance;     ///< |r_ij| (Å), at build time

  std::size_t atoms() const { return offset.empty() ? 0 : offset.size() - 1; }
  std::size_t pairs() const { return index.size(); }
  int begin(int i) const { return offset[i]; }
  int end(int i) const { return offset[i + 1]; }
  /// Position of entry k's image of j relative to atom i for current positions.
  Vec3 current_displacement(const System& s, int i, int k) const {
    return s.position[index[k]] + s.cell.h.transpose() * image[k].cast<double>() - s.position[i];
  }
};

/// All pairs (i, j, image) with 0 < |r_ij| < cutoff. Throws InputError if the cell is
/// degenerate. Periodic images along non-periodic directions are never taken.
NeighborList build_neighbor_list(const System& s, double cutoff);
/// The same into `list`, reusing its arrays' storage (a rebuild every few MD steps then
/// allocates nothing).
void build_neighbor_list(const System& s, double cutoff, NeighborList& list);

/// The same list by brute force over all atoms and images (the reference for tests).
NeighborList build_neighbor_list_reference(const System& s, double cutoff);

/// Distinct pair distances up to `cutoff`, sorted, merged within `tolerance` (Å): the
/// neighbour shells of a crystal (nearest first).
std::vector<double> neighbor_shells(const NeighborList& list, double tolerance = 1e-3);

/// Shell index (0 = nearest) of every list entry, or -1 beyond the last shell given.
std::vector<int> shell_index(const NeighborList& list, const std::vector<double>& shells,
                             double tolerance = 1e-3);

}  // namespace spinlat
