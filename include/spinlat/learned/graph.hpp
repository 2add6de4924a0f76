#pragma once
// The periodic atom graph that learned potentials (TorchScript or native) are evaluated on,
// built from spinlat's full neighbour list. Plain data: no LibTorch types here, so the native
// model and the trainer can share it.
//
// Edge convention (MACE's, mace/modules/utils.py get_edge_vectors_and_lengths):
//   edge_index[0] = sender s, edge_index[1] = receiver r, and the edge vector is
//     vector_e = position[r] − position[s] + shift_e,   shift_e = unit_shift_e · h  (Å),
//   i.e. it points from the sender's periodic image to the receiver. Messages flow from sender
//   to receiver and node features are aggregated over the receiver's incoming edges.
// spinlat's list entry (i, j, n) (r_ij = r_j + n·h − r_i) becomes the edge sender = j,
// receiver = i, unit_shift = −n: vector = r_i − (r_j + n·h) = −r_ij. Since the list is full
// (each pair from both ends), the reverse edge is present too and the edge set equals MACE's
// (matscipy's i→j with shift S·h). Edges are grouped by receiver in list order, so
// `offset` is a CSR index over receivers. Several images of the same pair (r_max above half
// the box) are separate edges, and so are edges from an atom to its own images.
#include <cstdint>
#include <string>
#include <vector>

#include "spinlat/core/crystal.hpp"  // atomic_number, element_symbol (species → one-hot)
#include "spinlat/core/system.hpp"
#include "spinlat/neighbors/neighbor_list.hpp"

namespace spinlat {

struct Graph {
  std::size_t nodes = 0;
  std::vector<std::int64_t> sender;    ///< edge_index[0]
  std::vector<std::int64_t> receiver;  ///< edge_index[1]
  /// Integer shift: the sender's image sits at position[s] − unit_shift · h.
  std::vector<Int3> unit_shift;
  std::vector<Vec3> shift;             ///< Å: unit_shift · h (rows of h are the lattice vectors)
  std::vector<int> offset;             ///< CSR over receivers: edges of node i are [offset[i], offset[i+1])

  std::size_t edges() const { return sender.size(); }
};

/// Edges of every list entry with |current r_ij| < r_max (the list may carry a skin and have
/// been built at older positions; positions are read from `s`). Zero-length pairs are skipped.
Graph build_graph(const System& s, const NeighborList& list, double r_max);

/// Graph distance (number of edges) from `source` to every node, −1 beyond `max_hops`
/// (breadth-first over incoming edges; the graph is symmetric).
std::vector<int> hop_distance(const Graph& g, int source, int max_hops);

/// The part of a graph a message-passing model needs to evaluate node energies near a site.
struct Subgraph {
  Graph graph;                ///< renumbered nodes 0..k−1
  std::vector<int> node;      ///< original index of each subgraph node
  std::vector<int> hops;      ///< hop distance of each subgraph node from the source
};

/// Nodes within `radius` hops of `source` and every edge between two of them that ends at a
/// node closer than `radius` (rim nodes only send their layer-0 features). For a model of
/// L message-passing layers, node energies of nodes within L hops are exact when radius >= 2L:
/// a node at hop d has exact layer-t features when d + t <= radius (its inputs come from hop
/// d + 1 at layer t − 1).
Subgraph extract_subgraph(const Graph& g, int source, int radius);

/// The same around several sources at once (breadth-first from all of them): `sub.hops` is
/// the distance to the nearest source and `owner[a]` the index (into `sources`) of that
/// source. When every two sources are more than `radius` hops apart, the balls of radius/2
/// around them are disjoint, so a node within radius/2 hops of a source is owned by it.
struct MultiSubgraph {
  Subgraph sub;
  std::vector<int> owner;
};
MultiSubgraph extract_subgraph(const Graph& g, const std::vector<int>& sources, int radius);

}  // namespace spinlat
