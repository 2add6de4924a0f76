#pragma once
// Paths through the Brillouin zone for magnon spectra.
//
// Wave vectors are Cartesian, in 1/Å, with the crystallographer's 2π included: q = Σ_k F_k b_k
// for reciprocal vectors b_k, the rows of 2π h^{-T} (h: rows = lattice vectors, Å), so that
// a_j·b_k = 2π δ_jk. High-symmetry points follow Setyawan & Curtarolo, Comput. Mater. Sci. 49,
// 299 (2010), written in the conventional cubic axes (units 2π/a) for sc, bcc and fcc and in
// units of the hexagonal reciprocal vectors for hcp:
//   sc   Γ(0,0,0) X(0,½,0) M(½,½,0) R(½,½,½)                     Γ-X-M-Γ-R-X|M-R
//   bcc  Γ H(0,0,1) N(½,0,½) P(½,½,½)                             Γ-H-N-Γ-P-H|P-N
//   fcc  Γ X(0,1,0) W(½,1,0) K(¾,¾,0) L(½,½,½) U(¼,1,¼)           Γ-X-W-K-Γ-L-U-W-L-K|U-X
//   hcp  Γ M(½b1) K(corner) A(½b3) L(M+A) H(K+A)                  Γ-M-K-Γ-A-L-H-A|L-M|K-H
//
// A periodic supercell of cell matrix H only supports wave vectors of its own reciprocal
// lattice, q = Σ_k n_k B_k (n_k integer, B_k rows of 2π H^{-T}): only there is the spatial
// Fourier transform of a periodic configuration exact. The sampled path keeps the points of
// that lattice that lie on the path's straight segments (plus every corner that is one).
#include <map>
#include <string>
#include <vector>

#include "spinlat/core/types.hpp"

namespace spinlat {

/// Reciprocal vectors of a cell: rows of 2π h^{-T} (1/Å).
Mat3 reciprocal_vectors(const Mat3& h);

/// Named high-symmetry points (Cartesian, 1/Å) of the conventional cell `conventional` (rows:
/// lattice vectors) of lattice `sc`, `bcc`, `fcc` (also `rocksalt`: its fcc lattice) or `hcp`.
/// Γ is named "Γ". InputError for other lattices.
std::map<std::string, Vec3> high_symmetry_points(const std::string& lattice, const Mat3& conventional);
/// The standard path of a lattice as a string of labels ("Γ-H-N-Γ-P-H|P-N").
std::string standard_path(const std::string& lattice);

/// Corners of a path: continuous pieces (split at '|'), each a list of labelled points.
struct PathCorners {
  struct Corner {
    std::string label;
    Vec3 q = Vec3::Zero();  ///< 1/Å
  };
  std::vector<std::vector<Corner>> pieces;
};

/// Parses "Γ-X-M|R-Γ" (names separated by '-', pieces by '|'; "G" and "Gamma" mean Γ)
/// against `points`. InputError for unknown names or a piece with fewer than two points.
PathCorners parse_path(const std::string& spec, const std::map<std::string, Vec3>& points);
/// One continuous piece through `q` (1/Å) with optional labels (empty: unlabelled).
PathCorners explicit_path(const std::vector<Vec3>& q, const std::vector<std::string>& labels = {});

/// Points along a path with their cumulative length and the label positions.
struct QPath {
  std::vector<Vec3> q;                     ///< 1/Å (Cartesian)
  std::vector<double> distance;            ///< cumulative path length at each point (1/Å)
  std::vector<std::string> labels;         ///< corner labels ("X|M" where the path jumps)
  std::vector<double> label_position;      ///< path length at each label (1/Å)
  std::size_t size() const { return q.size(); }
};

/// The points of the reciprocal lattice of the supercell `supercell` (rows: lattice vectors)
/// that lie on the path, in path order; a point shared by two consecutive segments is kept
/// once. `tolerance` is in units of the supercell's reciprocal lattice.
QPath commensurate_path(const PathCorners& path, const Mat3& supercell, double tolerance = 1e-6);
/// `per_segment` + 1 evenly spaced points on every segment (dense curves for plots).
QPath dense_path(const PathCorners& path, int per_segment);

}  // namespace spinlat
