#pragma once
// Half neighbour list for pair-symmetric terms (EAM, pair potentials): every pair once,
// with Newton's third law, and results that do not depend on the thread count.
//
// A pair term evaluates each pair once (in `own` order: pairs grouped by their first atom i)
// and stores what the second atom j needs in a per-pair slot; each atom then gathers its
// second-atom slots through `rev`, in increasing pair order. No two threads write the same
// atom and every sum runs in one fixed order, so the bits are the same for 1, 2 or N threads
// (a scatter f[j] −= g from several threads would not be).
#include <utility>
#include <vector>

#include "spinlat/core/system.hpp"
#include "spinlat/neighbors/neighbor_list.hpp"

namespace spinlat {

struct HalfList {
  /// Pairs of atom i: [own_offset[i], own_offset[i+1]); partner j and image slot per pair.
  std::vector<int> own_offset, partner, image_slot;
  /// Pairs in which atom a is the partner, in increasing pair index, and their first atoms.
  std::vector<int> rev_offset, rev_pair, rev_first;
  /// The distinct images used (slot 0 is always the zero image).
  std::vector<Int3> images;

  std::size_t atoms() const { return own_offset.empty() ? 0 : own_offset.size() - 1; }
  std::size_t pairs() const { return partner.size(); }
  /// Cartesian shift of every image slot for the cell `s` (ht · n); slot 0 is exactly zero.
  void shifts(const System& s, std::vector<Vec3>& out) const;
};

/// Atoms [first, second) of thread t of T for a loop over atoms whose cost per atom is its
/// entries in the CSR `offset` array (own_offset or rev_offset) plus `overhead`: equal shares of
/// that work, not of atoms. The half list's ownership rule (j > i) is not balanced by index: the
/// first atoms of a periodic cell own nearly all their pairs and the last ones nearly none, so
/// equal atom ranges gave thread 0 of 2 57 % of the pairs at 2000 bcc atoms (54 % at 16000),
/// and thread 1 as much more of the reverse entries. Every atom is still done whole by one thread, in the same
/// order of operations, so the bits do not depend on T or on this partition.
std::pair<int, int> balanced_range(const std::vector<int>& offset, int overhead, int t, int T);

/// The half list of a full (symmetric) list: entry (i → j, n) is kept when j > i, or for a
/// periodic self-image (j = i) when n is lexicographically positive. Each atom's pairs keep
/// the full list's order (by distance).
HalfList make_half_list(const NeighborList& full);

}  // namespace spinlat
