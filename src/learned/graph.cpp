#include "spinlat/learned/graph.hpp"

#include <algorithm>
#include <deque>

namespace spinlat {

Graph build_graph(const System& s, const NeighborList& list, double r_max) {
  Graph g;
  g.nodes = s.size();
  g.offset.assign(g.nodes + 1, 0);
  const Mat3 ht = s.cell.h.transpose();
  const double r2max = r_max * r_max;
  for (std::size_t i = 0; i < g.nodes; ++i) {
    for (int k = list.begin(static_cast<int>(i)); k < list.end(static_cast<int>(i)); ++k) {
      const int j = list.index[k];
      const Vec3 image = ht * list.image[k].cast<double>();
      const Vec3 d = s.position[j] + image - s.position[i];  // r_ij at the current positions
      const double r2 = d.squaredNorm();
      if (!(r2 < r2max) || r2 == 0.0) continue;
      g.sender.push_back(j);
      g.receiver.push_back(static_cast<std::int64_t>(i));
      g.unit_shift.push_back(-list.image[k]);
      g.shift.push_back(-image);
    }
    g.offset[i + 1] = static_cast<int>(g.sender.size());
  }
  return g;
}

std::vector<int> hop_distance(const Graph& g, int source, int max_hops) {
  std::vector<int> hops(g.nodes, -1);
  std::deque<int> queue{source};
  hops[source] = 0;
  while (!queue.empty()) {
    const int v = queue.front();
    queue.pop_front();
    if (hops[v] >= max_hops) continue;
    for (int e = g.offset[v]; e < g.offset[v + 1]; ++e) {
      const int u = static_cast<int>(g.sender[e]);
      if (hops[u] < 0) {
        hops[u] = hops[v] + 1;
        queue.push_back(u);
      }
    }
  }
  return hops;
}

namespace {

// Nodes with hops[v] >= 0 in original order, and the edges into those closer than `radius`.
Subgraph collect(const Graph& g, const std::vector<int>& hops, int radius) {
  Subgraph sub;
  std::vector<int> local(g.nodes, -1);
  // Keep the original node order: the model sees the same atoms in the same relative order.
  for (std::size_t v = 0; v < g.nodes; ++v)
    if (hops[v] >= 0) {
      local[v] = static_cast<int>(sub.node.size());
      sub.node.push_back(static_cast<int>(v));
      sub.hops.push_back(hops[v]);
    }
  Graph& h = sub.graph;
  h.nodes = sub.node.size();
  h.offset.assign(h.nodes + 1, 0);
  for (std::size_t a = 0; a < h.nodes; ++a) {
    const int v = sub.node[a];
    // Nodes on the rim (hop = radius) only send their layer-0 features: no edges into them.
    if (sub.hops[a] < radius)
    for (int e = g.offset[v]; e < g.offset[v + 1]; ++e) {
      const int u = local[g.sender[e]];
      if (u < 0) continue;
      h.sender.push_back(u);
      h.receiver.push_back(static_cast<std::int64_t>(a));
      h.unit_shift.push_back(g.unit_shift[e]);
      h.shift.push_back(g.shift[e]);
    }
    h.offset[a + 1] = static_cast<int>(h.sender.size());
  }
  return sub;
}

}  // namespace

Subgraph extract_subgraph(const Graph& g, int source, int radius) {
  return collect(g, hop_distance(g, source, radius), radius);
}

MultiSubgraph extract_subgraph(const Graph& g, const std::vector<int>& sources, int radius) {
  std::vector<int> hops(g.nodes, -1), owner_of(g.nodes, -1);
  std::deque<int> queue;
  for (std::size_t k = 0; k < sources.size(); ++k) {
    hops[sources[k]] = 0;
    owner_of[sources[k]] = static_cast<int>(k);
    queue.push_back(sources[k]);
  }
  while (!queue.empty()) {
    const int v = queue.front();
    queue.pop_front();
    if (hops[v] >= radius) continue;
    for (int e = g.offset[v]; e < g.offset[v + 1]; ++e) {
      const int u = static_cast<int>(g.sender[e]);
      if (hops[u] < 0) {
        hops[u] = hops[v] + 1;
        owner_of[u] = owner_of[v];
        queue.push_back(u);
      }
    }
  }
  MultiSubgraph m;
  m.sub = collect(g, hops, radius);
  for (int v : m.sub.node) m.owner.push_back(owner_of[v]);
  return m;
}

}  // namespace spinlat
