#include "spinlat/core/coloring.hpp"

#include <algorithm>

namespace spinlat {

Coloring greedy_coloring(const std::vector<int>& offset, const std::vector<int>& neighbor,
                         const std::vector<int>& vertices) {
  Coloring c;
  const std::size_t n = offset.empty() ? 0 : offset.size() - 1;
  c.color.assign(n, -1);
  std::vector<char> active(n, 0);
  for (int v : vertices) active[v] = 1;
  // `seen[col] == v` marks colour col as taken by a neighbour of v (no clearing per vertex).
  std::vector<int> seen;
  for (int v : vertices) {
    for (int k = offset[v]; k < offset[v + 1]; ++k) {
      const int w = neighbor[k];
      if (w == v || !active[w] || c.color[w] < 0) continue;
      if (static_cast<std::size_t>(c.color[w]) >= seen.size()) seen.resize(c.color[w] + 1, -1);
      seen[c.color[w]] = v;
    }
    int col = 0;
    while (col < static_cast<int>(seen.size()) && seen[col] == v) ++col;
    c.color[v] = col;
    c.colors = std::max(c.colors, col + 1);
  }
  c.sites.assign(c.colors, {});
  for (int v : vertices) c.sites[c.color[v]].push_back(v);
  for (auto& list : c.sites) std::sort(list.begin(), list.end());
  return c;
}

bool is_proper_coloring(const Coloring& c, const std::vector<int>& offset,
                        const std::vector<int>& neighbor) {
  for (std::size_t v = 0; v + 1 < offset.size(); ++v) {
    if (c.color[v] < 0) continue;
    for (int k = offset[v]; k < offset[v + 1]; ++k) {
      const int w = neighbor[k];
      if (w != static_cast<int>(v) && c.color[w] == c.color[v]) return false;
    }
  }
  return true;
}

std::vector<std::vector<std::size_t>> block_starts(const Coloring& c, const Blocks& blocks) {
  std::vector<std::vector<std::size_t>> start(static_cast<std::size_t>(c.colors));
  for (int col = 0; col < c.colors; ++col) {
    const auto& sites = c.sites[static_cast<std::size_t>(col)];
    auto& st = start[static_cast<std::size_t>(col)];
    st.assign(blocks.count() + 1, 0);
    std::size_t k = 0;
    for (std::size_t b = 0; b < blocks.count(); ++b) {
      st[b] = k;
      while (k < sites.size() && static_cast<std::size_t>(sites[k]) < blocks.end(b)) ++k;
    }
    st[blocks.count()] = k;
  }
  return start;
}

}  // namespace spinlat
