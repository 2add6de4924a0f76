// The interaction graph of a Hamiltonian, coloured for parallel Monte Carlo; see
// include/spinlat/terms/coloring.hpp (the graph colouring itself is core/coloring.cpp).
#include "spinlat/terms/coloring.hpp"

#include "spinlat/terms/hamiltonian.hpp"
#include "spinlat/terms/spin_kernel.hpp"

namespace spinlat {

Coloring color_interactions(const Hamiltonian& h, const System& s) {
  const std::vector<int> mag = s.magnetic_sites();
  if (const SpinKernel* k = h.spin_kernel()) return greedy_coloring(k->offset, k->neighbor, mag);
  if (h.batches_trials()) {
    // Trials batched per colour must be independent through every term: sites of one colour
    // lie farther apart than the trial range (2L·r_max for an L-layer learned model), plus
    // twice the skin: the colouring is refreshed at the positions of the moment, while the
    // list only promises that atoms stay within skin/2 of where it was built, so two sites
    // may approach by up to 2·skin before the next refresh.
    const NeighborList wide = build_neighbor_list(s, h.trial_range() + 2.0 * h.skin());
    return greedy_coloring(wide.offset, wide.index, mag);
  }
  const NeighborList& list = h.neighbors();
  if (list.offset.size() != s.size() + 1) {
    // No list (an unbound Hamiltonian or one without pair terms): nothing couples.
    std::vector<int> offset(s.size() + 1, 0), none;
    return greedy_coloring(offset, none, mag);
  }
  return greedy_coloring(list.offset, list.index, mag);
}

}  // namespace spinlat
