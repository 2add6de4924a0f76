#pragma once
// Graph colouring of the interaction graph for parallel Monte Carlo.
//
// Two sites of the same colour share no coupling, so a Metropolis trial at one cannot change
// the energy change of a trial at the other: every site of one colour can be updated in
// parallel and the result equals a sequential pass over them in any order. The colouring is
// greedy in site order (each site takes the smallest colour none of its already coloured
// neighbours has), hence deterministic; a bipartite lattice in natural order (sc with even L)
// gets the two-colour checkerboard.
#include <cstddef>
#include <vector>

#include "spinlat/core/rng.hpp"

namespace spinlat {

struct Coloring {
  int colors = 0;
  /// Colour of every atom; −1 for atoms that are not updated (non-magnetic).
  std::vector<int> color;
  /// Updated sites of each colour, ascending.
  std::vector<std::vector<int>> sites;
};

/// Greedy colouring of the graph given in CSR form (`offset` of size n+1, `neighbor`)
/// restricted to the vertices in `vertices` (ascending; others are ignored, also as
/// neighbours). Self loops are ignored.
Coloring greedy_coloring(const std::vector<int>& offset, const std::vector<int>& neighbor,
                         const std::vector<int>& vertices);

// The colouring of a Hamiltonian's interaction graph, color_interactions(h, s), is in
// terms/coloring.hpp: core knows graphs, not terms.

/// Where each random-stream block starts in each colour's site list: start[c][b] is the index
/// in c.sites[c] of the first site at or after blocks.begin(b), start[c][count] its size. A
/// sweep over colour c walks block b's sites [start[c][b], start[c][b+1]) with block b's stream,
/// so the result does not depend on which thread takes which block.
std::vector<std::vector<std::size_t>> block_starts(const Coloring& c, const Blocks& blocks);

/// True when no two vertices of one colour are joined by an edge (tests and debug checks).
bool is_proper_coloring(const Coloring& c, const std::vector<int>& offset,
                        const std::vector<int>& neighbor);

}  // namespace spinlat
