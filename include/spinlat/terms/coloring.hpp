#pragma once
// Colouring of the interaction graph of a Hamiltonian for parallel Monte Carlo. The graph
// colouring (greedy_coloring, is_proper_coloring) is core/coloring.hpp; this is the part that
// knows terms: which sites a trial can couple.
#include "spinlat/core/coloring.hpp"
#include "spinlat/core/system.hpp"

namespace spinlat {

class Hamiltonian;

/// Colouring of the magnetic sites of `s` under `h`: from the spin kernel's couplings when
/// the Hamiltonian has a kernel, else from its neighbour list (every entry: the pairs within
/// the largest cutoff plus skin, so the colouring stays valid while the list does).
Coloring color_interactions(const Hamiltonian& h, const System& s);

}  // namespace spinlat
