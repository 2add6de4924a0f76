#pragma once
// Neighbour lists built with cell lists in O(N), in two forms:
// - the full list: every pair stored from both ends, each atom's pairs sorted by distance
//   (spin terms, learned models, shells);
// - the half list: every pair once, under its larger atom, for the pair-symmetric lattice terms
//   (EAM, pair potentials) that use Newton's third law (neighbors/half_list.hpp has their scatter).
// A Hamiltonian builds the forms its terms read (Term::reads_full_list, reads_half_list): a pure
// EAM or pair-potential run builds the half list alone, straight from the cell lists with a half
// stencil, as LAMMPS does: under half the cost of the full list and its half (docs/performance.md,
// "Seventh round").
//
// Correct for any triclinic cell, also when the cutoff exceeds half the box: then an atom
// meets several periodic images of the same neighbour, and even images of itself, each
// stored as its own entry with its integer image shift.
#include <vector>

#include "spinlat/core/system.hpp"

namespace spinlat {

/// Every pair within the cutoff once, under its larger atom: atom i holds its pairs with
/// partner j < i, and its periodic self-images (j = i) whose image n is lexicographically
/// positive.
struct HalfList {
  /// Pairs of atom i: [own_offset[i], own_offset[i+1]); partner j ≤ i and image slot per pair.
  std::vector<int> own_offset, partner, image_slot;
  /// The distinct images used (slot 0 is always the zero image).
  std::vector<Int3> images;

  std::size_t atoms() const { return own_offset.empty() ? 0 : own_offset.size() - 1; }
  std::size_t pairs() const { return partner.size(); }
  /// Cartesian shift of every image slot for the cell `s` (ht · n); slot 0 is exactly zero.
  void shifts(const System& s, std::vector<Vec3>& out) const;
};

/// Which forms a build makes.
struct NeighborForms {
  bool full = true;
  bool half = false;
};

struct NeighborList {
  double cutoff = 0.0;              ///< Å (the list holds every pair with r < cutoff)
  /// False when the full form was not built (NeighborForms::full off): the CSR arrays below
  /// then list no pairs (offset all zero), and code that reads full pairs must refuse it.
  bool full = true;
  HalfList half;                    ///< the half form; empty unless built (NeighborForms::half)
  std::vector<int> offset;          ///< CSR: neighbours of i are [offset[i], offset[i+1])
  std::vector<int> index;           ///< neighbour atom j
  std::vector<Int3> image;          ///< integer image n: r_ij = r_j + n·h − r_i
  std::vector<Vec3> displacement;   ///< r_ij (Å), at build time
  std::vector<double> distance;     ///< |r_ij| (Å), at build time

  std::size_t atoms() const { return offset.empty() ? 0 : offset.size() - 1; }
  /// Throws std::logic_error (naming `who`) unless the full form of `atoms` atoms is here: a
  /// caller that walks full pairs would otherwise see none and give a wrong number.
  void require_full(std::size_t atoms, const char* who) const;
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
/// With forms.half the half form too: from the full list when both are built (make_half_list),
/// else straight from the cell lists; the two are the same list to the bit (each atom's pairs
/// by distance, as in the full list; the same image slots), independent of the thread count.
NeighborList build_neighbor_list(const System& s, double cutoff, NeighborForms forms = {});
/// The same into `list`, reusing its arrays' storage (a rebuild every few MD steps then
/// allocates nothing).
void build_neighbor_list(const System& s, double cutoff, NeighborList& list, NeighborForms forms = {});

/// The half list of a full (symmetric) list: entry (i → j, n) is kept when j < i, or for a
/// periodic self-image (j = i) when n is lexicographically positive. Each atom's pairs keep
/// the full list's order (by distance).
HalfList make_half_list(const NeighborList& full);
/// The same into `half`, reusing its arrays' storage.
void make_half_list(const NeighborList& full, HalfList& half);

/// The same list by brute force over all atoms and images (the reference for tests).
NeighborList build_neighbor_list_reference(const System& s, double cutoff);

/// Distinct pair distances up to `cutoff`, sorted, merged within `tolerance` (Å): the
/// neighbour shells of a crystal (nearest first).
std::vector<double> neighbor_shells(const NeighborList& list, double tolerance = 1e-3);

/// Shell index (0 = nearest) of every list entry, or -1 beyond the last shell given.
std::vector<int> shell_index(const NeighborList& list, const std::vector<double>& shells,
                             double tolerance = 1e-3);

}  // namespace spinlat
