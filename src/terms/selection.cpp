#include "spinlat/terms/selection.hpp"

#include <algorithm>
#include <cmath>

#include "spinlat/core/error.hpp"
#include "spinlat/io/params.hpp"

namespace spinlat {

SpeciesFilter::SpeciesFilter(std::vector<std::string> names, const System& s) : names_(std::move(names)) {
  bind(s);
}

SpeciesFilter SpeciesFilter::pair_of(const std::string& a, const std::string& b, const System& s) {
  SpeciesFilter f;
  f.names_ = a == b ? std::vector<std::string>{a} : std::vector<std::string>{a, b};
  f.pair_only_ = true;
  f.bind(s);
  return f;
}

void SpeciesFilter::bind(const System& s) {
  if (pair_only_) {  // the names' indices in this System (another size may order them differently)
    auto index = [&](const std::string& n) {
      const auto it = std::find(s.species_name.begin(), s.species_name.end(), n);
      return it == s.species_name.end() ? -1 : static_cast<int>(it - s.species_name.begin());
    };
    first_ = index(names_.front());
    second_ = index(names_.back());
  }
  mask_.assign(s.species_name.size(), 0);
  for (const auto& n : names_) {
    const auto it = std::find(s.species_name.begin(), s.species_name.end(), n);
    if (it == s.species_name.end()) {
      std::string known;
      for (const auto& k : s.species_name) known += (known.empty() ? "" : ", ") + ("'" + k + "'");
      throw InputError("species '" + n + "' is not in the structure (species: " + known + ")");
    }
    mask_[it - s.species_name.begin()] = 1;
  }
}

SpeciesFilter read_species(Params& p, const System& s) {
  if (!p.has("species")) {
    p.touch("species");
    return {};
  }
  std::vector<std::string> names = p.strings("species");
  p.require(!names.empty(), "species", "expected at least one species name");
  for (const auto& n : names)
    if (std::find(s.species_name.begin(), s.species_name.end(), n) == s.species_name.end()) {
      std::string known;
      for (const auto& k : s.species_name) known += (known.empty() ? "" : ", ") + ("'" + k + "'");
      const std::string guess = closest_match(n, s.species_name);
      p.fail("species", "'" + n + "' is not a species of the structure" +
                            (guess.empty() ? "" : " (did you mean '" + guess + "'?)") + "; species: " + known);
    }
  return SpeciesFilter(std::move(names), s);
}

SpeciesFilter read_pair_species(Params& p, const System& s) {
  if (!p.has("pair")) {
    p.touch("pair");
    return read_species(p, s);
  }
  p.require(!p.has("species"), "pair", "give either 'species' or 'pair', not both");
  p.touch("species");
  const std::vector<std::string> names = p.strings("pair");
  p.require(names.size() == 2, "pair", "expected two species names, e.g. [\"Fe\", \"Co\"] (the same twice for pairs within one species)");
  for (const auto& n : names)
    if (std::find(s.species_name.begin(), s.species_name.end(), n) == s.species_name.end()) {
      const std::string guess = closest_match(n, s.species_name);
      p.fail("pair", "'" + n + "' is not a species of the structure" + (guess.empty() ? "" : " (did you mean '" + guess + "'?)"));
    }
  return SpeciesFilter::pair_of(names[0], names[1], s);
}

ShellTable ShellTable::find(const System& s, std::size_t count, const SpeciesFilter& species) {
  std::vector<int> sites;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (species(s, i)) sites.push_back(static_cast<int>(i));
  if (sites.empty())
    throw InputError(species.all() ? "pair term needs magnetic sites (moment > 0)"
                                   : "pair term: none of the selected species carries a moment");
  if (count == 0) throw InputError("pair term needs at least one shell");
  // Extent of the structure: once the trial cutoff exceeds it along every open direction
  // of a fully open cluster, every pair has been seen.
  const bool open = !s.cell.periodic[0] && !s.cell.periodic[1] && !s.cell.periodic[2];
  double diameter = 0.0;
  if (open) {
    Vec3 lo = s.position[0], hi = s.position[0];
    for (const Vec3& r : s.position) { lo = lo.cwiseMin(r); hi = hi.cwiseMax(r); }
    diameter = (hi - lo).norm();
  }
  // Grow a trial cutoff until one more distinct distance than needed is seen (it places the
  // outer cutoff between shells).
  double rc = 1.1 * std::cbrt(s.cell.volume() / static_cast<double>(s.size()));
  for (int attempt = 0; attempt < 40; ++attempt, rc *= 1.25) {
    const NeighborList list = build_neighbor_list(s, rc);
    std::vector<double> d;
    for (int i : sites)
      for (int k = list.begin(i); k < list.end(i); ++k)
        if (species.pair(s, static_cast<std::size_t>(i), static_cast<std::size_t>(list.index[k]))) d.push_back(list.distance[k]);
    std::sort(d.begin(), d.end());
    std::vector<double> shells;
    for (double r : d)
      if (shells.empty() || r - shells.back() > 1e-3) shells.push_back(r);
    ShellTable t;
    if (shells.size() > count) {
      t.cutoff = 0.5 * (shells[count - 1] + shells[count]);
    } else if (open && rc > diameter && shells.size() == count) {
      t.cutoff = 1.1 * shells.back();  // a finite cluster: no further shell exists
    } else if (open && rc > diameter) {
      break;
    } else {
      continue;
    }
    shells.resize(count);
    t.radii = shells;
    return t;
  }
  throw InputError("could not find " + std::to_string(count) + " neighbour shells between magnetic sites");
}

std::vector<int> ShellTable::assign(const System& s, const NeighborList& list,
                                    const SpeciesFilter& species) const {
  std::vector<int> out(list.pairs(), -1);
  for (std::size_t i = 0; i < list.atoms(); ++i) {
    if (!species(s, i)) continue;
    for (int k = list.begin(static_cast<int>(i)); k < list.end(static_cast<int>(i)); ++k) {
      const double r = list.distance[k];
      if (r >= cutoff || !species.pair(s, i, static_cast<std::size_t>(list.index[k]))) continue;
      std::size_t best = 0;
      for (std::size_t m = 1; m < radii.size(); ++m)
        if (std::abs(r - radii[m]) < std::abs(r - radii[best])) best = m;
      out[k] = static_cast<int>(best);
    }
  }
  return out;
}

}  // namespace spinlat
