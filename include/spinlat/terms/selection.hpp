#pragma once
// Helpers shared by the analytic spin terms: which atoms a term acts on (by species name) and
// neighbour-shell tables for shell-resolved pair terms (heisenberg, dmi, biquadratic).
#include <string>
#include <vector>

#include "spinlat/core/system.hpp"
#include "spinlat/neighbors/neighbor_list.hpp"

namespace spinlat {

class Params;

/// The species a term acts on; empty = every species. Names are resolved to species indices
/// by bind() (a System built later, e.g. for another sweep size, may order species
/// differently). A pair term acts on a pair only when both atoms are selected.
class SpeciesFilter {
 public:
  SpeciesFilter() = default;
  /// Throws InputError if a name is not a species of `s`.
  SpeciesFilter(std::vector<std::string> names, const System& s);
  const std::vector<std::string>& names() const { return names_; }
  bool all() const { return names_.empty(); }
  /// Re-resolves the names against `s` (throws InputError for a missing name).
  void bind(const System& s);
  /// A filter for pairs of exactly these two species (the same name twice: pairs within one
  /// species): `pair = ["Fe", "Co"]` acts on Fe–Co pairs only, not on Fe–Fe or Co–Co.
  static SpeciesFilter pair_of(const std::string& a, const std::string& b, const System& s);
  /// True when atom i is selected and carries a moment.
  bool operator()(const System& s, std::size_t i) const {
    if (!s.magnetic(i)) return false;
    if (names_.empty()) return true;
    const int sp = s.species[i];
    return sp >= 0 && static_cast<std::size_t>(sp) < mask_.size() && mask_[sp];
  }
  /// True when a pair term acts on the pair (i, j): both selected and, for a pair filter, one
  /// of each of its two species.
  bool pair(const System& s, std::size_t i, std::size_t j) const {
    if (!(*this)(s, i) || !(*this)(s, j)) return false;
    if (!pair_only_) return true;
    const int a = s.species[i], b = s.species[j];
    return (a == first_ && b == second_) || (a == second_ && b == first_);
  }

 private:
  std::vector<std::string> names_;
  std::vector<char> mask_;  // per species index
  bool pair_only_ = false;
  int first_ = -1, second_ = -1;  // species indices of a pair filter (after bind)
};

/// Reads the optional `species` key (a name or a list of names) of a term table.
SpeciesFilter read_species(Params& p, const System& s);
/// The same for pair terms, which also accept `pair = ["A", "B"]` (only A–B pairs; not
/// together with `species`).
SpeciesFilter read_pair_species(Params& p, const System& s);

/// Neighbour shells between selected magnetic sites of a reference structure: shell k is the
/// k-th distinct distance (nearest first). Pairs are assigned to the nearest shell radius
/// (boundaries at midpoints), so they keep their shell while atoms vibrate.
struct ShellTable {
  std::vector<double> radii;  ///< Å, one per shell used
  double cutoff = 0.0;        ///< Å, halfway between the last shell used and the next one

  /// Shells of `reference` for `count` shells (throws InputError if there are no selected
  /// magnetic sites or too few shells).
  static ShellTable find(const System& reference, std::size_t count, const SpeciesFilter& species);
  /// Shell index of each list entry, −1 where the pair is beyond the cutoff or an atom is not
  /// selected. Periodic self-images (j == i, tiny cells) get their shell like any pair.
  std::vector<int> assign(const System& s, const NeighborList& list, const SpeciesFilter& species) const;
};

}  // namespace spinlat
