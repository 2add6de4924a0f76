#pragma once
// The scatter of the pair-symmetric terms (EAM, pair potentials) over the half neighbour list
// (HalfList, neighbors/neighbor_list.hpp): every pair once, with Newton's third law, and results
// that do not depend on the thread count.
//
// A pair (i, j) is kept under its larger atom i (partner j ≤ i). A pair term walks the atoms in
// increasing order, sums atom i's own pairs and scatters the partner's share to j, which was
// done earlier, LAMMPS's serial scatter: every atom's sum is its own pairs followed by the
// shares of the atoms above it, in increasing order. With threads, each takes one contiguous
// range of atoms and scatters only inside it; a share whose partner lies below the range goes
// to the thread's list of cross shares (CrossShares), which the partner's thread adds after a
// barrier, in increasing pair order (always after the partner's in-range shares, which come
// from lower atoms). The sequence of operations on every atom is that of one thread, so the
// bits are the same for 1, 2 or N threads, without atomics or per-thread copies.
#include <utility>
#include <vector>

#include "spinlat/core/system.hpp"
#include "spinlat/neighbors/neighbor_list.hpp"

namespace spinlat {

/// The shares that threads leave for atoms below their own range (see the top of this file),
/// one list per thread in the order it made them: increasing pair index.
template <class Value>
struct CrossShares {
  struct Share {
    int atom;
    Value value;
  };
  std::vector<std::vector<Share>> by_thread;

  /// Before the parallel region: room for `threads` lists.
  void reserve_threads(int threads) {
    if (static_cast<int>(by_thread.size()) < threads) by_thread.resize(threads);
  }
  /// Thread t applies op(atom, value), in pair order, to the shares that threads t+1 … T−1
  /// left for its atoms [lo, hi): every atom then gets them after its in-range shares, in
  /// increasing pair index, as in one thread's pass. Each thread reads every later list, so
  /// this is cheap while a thread's range is long against a pair's reach in atom index (two
  /// lattice planes: 7 % of the pairs cross at 16000 bcc atoms on 2 threads); with many
  /// threads on a small cell most pairs cross and it costs ~T/2 reads per share.
  template <class Op>
  void apply(int t, int threads, int lo, int hi, Op op) const {
    for (int u = t + 1; u < threads; ++u)
      for (const Share& c : by_thread[u])
        if (c.atom >= lo && c.atom < hi) op(c.atom, c.value);
  }
};

/// Atoms [first, second) of thread t of T for a loop over atoms whose cost per atom is its
/// entries in the CSR `offset` array (own_offset) plus `overhead`: equal shares of that work,
/// not of atoms. The half list's ownership rule (j ≤ i) is not balanced by index: the
/// last atoms of a periodic cell own nearly all their pairs and the first ones nearly none, so
/// equal atom ranges gave one thread of 2 57 % of the pairs at 2000 bcc atoms (54 % at 16000).
/// Every atom is still done whole by one thread, in the same order of operations, so the bits
/// do not depend on T or on this partition.
std::pair<int, int> balanced_range(const std::vector<int>& offset, int overhead, int t, int T);

}  // namespace spinlat
