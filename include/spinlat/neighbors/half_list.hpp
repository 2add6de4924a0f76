#pragma once
// Half neighbour list for pair-symmetric terms (EAM, pair potentials): every pair once,
// with Newton's third law, and results that do not depend on the thread count.
//
// A pair term evaluates each pair once (in `own` order: pairs grouped by their first atom i)
// and stores what the second atom j needs in a per-pair slot; each atom then gathers its
// second-atom slots through `rev`, in increasing pair order. No two threads write the same
// atom and every sum runs in one fixed order, so the bits are the same for 1, 2 or N threads
// (a scatter f[j] −= g from several threads would not be).
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

/// The half list of a full (symmetric) list: entry (i → j, n) is kept when j > i, or for a
/// periodic self-image (j = i) when n is lexicographically positive. Each atom's pairs keep
/// the full list's order (by distance).
HalfList make_half_list(const NeighborList& full);

}  // namespace spinlat
