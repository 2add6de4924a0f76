#include "spinlat/observables/spectra_path.hpp"

#include <algorithm>
#include <cmath>

#include "spinlat/core/error.hpp"
#include "spinlat/core/units.hpp"

namespace spinlat {

namespace {

const std::string kGamma = "\xCE\x93";  // "Γ" in UTF-8

std::string canonical_label(const std::string& s) {
  if (s == "G" || s == "Gamma" || s == "GAMMA" || s == "gamma" || s == "\\Gamma") return kGamma;
  return s;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) { out.push_back(cur); cur.clear(); }
    else cur += c;
  }
  out.push_back(cur);
  return out;
}

}  // namespace

Mat3 reciprocal_vectors(const Mat3& h) {
  if (std::abs(h.determinant()) < 1e-12) throw InputError("reciprocal vectors: degenerate cell");
  return 2.0 * units::kPi * h.inverse().transpose();
}

std::map<std::string, Vec3> high_symmetry_points(const std::string& lattice, const Mat3& conv) {
  const Mat3 b = reciprocal_vectors(conv);  // rows b1, b2, b3
  // Cubic lattices: points in units of the conventional reciprocal vectors (2π/a for a cube).
  auto cubic = [&](double x, double y, double z) -> Vec3 {
    return (x * b.row(0) + y * b.row(1) + z * b.row(2)).transpose();
  };
  std::map<std::string, Vec3> p;
  p[kGamma] = Vec3::Zero();
  if (lattice == "sc") {
    p["X"] = cubic(0, 0.5, 0);
    p["M"] = cubic(0.5, 0.5, 0);
    p["R"] = cubic(0.5, 0.5, 0.5);
  } else if (lattice == "bcc") {
    p["H"] = cubic(0, 0, 1);
    p["N"] = cubic(0.5, 0, 0.5);
    p["P"] = cubic(0.5, 0.5, 0.5);
  } else if (lattice == "fcc" || lattice == "rocksalt") {
    p["X"] = cubic(0, 1, 0);
    p["W"] = cubic(0.5, 1, 0);
    p["K"] = cubic(0.75, 0.75, 0);
    p["L"] = cubic(0.5, 0.5, 0.5);
    p["U"] = cubic(0.25, 1, 0.25);
  } else if (lattice == "hcp") {
    const Vec3 b1 = b.row(0).transpose(), b2 = b.row(1).transpose(), b3 = b.row(2).transpose();
    // The zone corner K depends on whether b1 and b2 make 60° (a1, a2 at 120°) or 120°.
    const Vec3 K = b1.dot(b2) > 0 ? Vec3((b1 + b2) / 3.0) : Vec3((2.0 * b1 + b2) / 3.0);
    p["M"] = 0.5 * b1;
    p["K"] = K;
    p["A"] = 0.5 * b3;
    p["L"] = 0.5 * b1 + 0.5 * b3;
    p["H"] = K + 0.5 * b3;
  } else {
    throw InputError("no standard Brillouin-zone path for lattice '" + lattice +
                     "' (sc, bcc, fcc, hcp); give the path as a list of points");
  }
  return p;
}

std::string standard_path(const std::string& lattice) {
  if (lattice == "sc") return "Γ-X-M-Γ-R-X|M-R";
  if (lattice == "bcc") return "Γ-H-N-Γ-P-H|P-N";
  if (lattice == "fcc" || lattice == "rocksalt") return "Γ-X-W-K-Γ-L-U-W-L-K|U-X";
  if (lattice == "hcp") return "Γ-M-K-Γ-A-L-H-A|L-M|K-H";
  throw InputError("no standard Brillouin-zone path for lattice '" + lattice +
                   "' (sc, bcc, fcc, hcp); give the path as a list of points");
}

PathCorners parse_path(const std::string& spec, const std::map<std::string, Vec3>& points) {
  PathCorners pc;
  for (const std::string& piece : split(spec, '|')) {
    std::vector<PathCorners::Corner> corners;
    for (const std::string& raw : split(piece, '-')) {
      const std::string name = canonical_label(trim(raw));
      const auto it = points.find(name);
      if (it == points.end()) {
        std::string known;
        for (const auto& [k, v] : points) known += (known.empty() ? "" : ", ") + k;
        throw InputError("path '" + spec + "': unknown point '" + trim(raw) + "' (known: " + known + ")");
      }
      corners.push_back({name, it->second});
    }
    if (corners.size() < 2)
      throw InputError("path '" + spec + "': every piece needs at least two points");
    pc.pieces.push_back(std::move(corners));
  }
  return pc;
}

PathCorners explicit_path(const std::vector<Vec3>& q, const std::vector<std::string>& labels) {
  if (q.size() < 2) throw InputError("a q path needs at least two points");
  if (!labels.empty() && labels.size() != q.size())
    throw InputError("path labels: expected " + std::to_string(q.size()) + " labels, got " +
                     std::to_string(labels.size()));
  PathCorners pc;
  pc.pieces.emplace_back();
  for (std::size_t k = 0; k < q.size(); ++k)
    pc.pieces.back().push_back({labels.empty() ? std::string() : canonical_label(labels[k]), q[k]});
  return pc;
}

namespace {

/// Adds the corner labels and positions of `path` (lengths along the path, pieces joined).
void add_labels(const PathCorners& path, QPath& out) {
  double d = 0.0;
  for (std::size_t p = 0; p < path.pieces.size(); ++p) {
    const auto& piece = path.pieces[p];
    for (std::size_t c = 0; c < piece.size(); ++c) {
      if (c > 0) d += (piece[c].q - piece[c - 1].q).norm();
      if (c == 0 && p > 0) {  // a jump: "X|M" at the same position
        out.labels.back() += "|" + piece[c].label;
        continue;
      }
      out.labels.push_back(piece[c].label);
      out.label_position.push_back(d);
    }
  }
}

}  // namespace

QPath commensurate_path(const PathCorners& path, const Mat3& supercell, double tol) {
  // Fractional coordinates in the supercell's reciprocal lattice: F = H q / 2π (F_k = a_k·q/2π).
  const Mat3 toF = supercell / (2.0 * units::kPi);
  QPath out;
  double d0 = 0.0;  // path length at the current segment's start
  for (const auto& piece : path.pieces) {
    for (std::size_t c = 0; c + 1 < piece.size(); ++c) {
      const Vec3 qa = piece[c].q, qb = piece[c + 1].q;
      const double len = (qb - qa).norm();
      const Vec3 Fa = toF * qa, dF = toF * (qb - qa);
      int k = 0;
      dF.cwiseAbs().maxCoeff(&k);
      std::vector<double> ts;
      if (std::abs(dF[k]) < tol) {  // a zero-length segment: just its point
        ts.push_back(0.0);
      } else {
        const double lo = std::min(Fa[k], Fa[k] + dF[k]), hi = std::max(Fa[k], Fa[k] + dF[k]);
        for (long long m = static_cast<long long>(std::ceil(lo - tol)); m <= static_cast<long long>(std::floor(hi + tol)); ++m) {
          const double t = (static_cast<double>(m) - Fa[k]) / dF[k];
          const Vec3 F = Fa + t * dF;
          bool ok = true;
          for (int a = 0; a < 3; ++a) ok = ok && std::abs(F[a] - std::round(F[a])) < tol;
          if (ok) ts.push_back(std::clamp(t, 0.0, 1.0));
        }
        std::sort(ts.begin(), ts.end());
      }
      for (double t : ts) {
        // The start of a segment after the first of a piece is the end of the previous one.
        if (c > 0 && t < 1e-12) continue;
        out.q.push_back(qa + t * (qb - qa));
        out.distance.push_back(d0 + t * len);
      }
      d0 += len;
    }
  }
  add_labels(path, out);
  return out;
}

QPath dense_path(const PathCorners& path, int per_segment) {
  per_segment = std::max(per_segment, 1);
  QPath out;
  double d0 = 0.0;
  for (const auto& piece : path.pieces)
    for (std::size_t c = 0; c + 1 < piece.size(); ++c) {
      const Vec3 qa = piece[c].q, qb = piece[c + 1].q;
      const double len = (qb - qa).norm();
      for (int k = (c > 0 ? 1 : 0); k <= per_segment; ++k) {
        const double t = static_cast<double>(k) / per_segment;
        out.q.push_back(qa + t * (qb - qa));
        out.distance.push_back(d0 + t * len);
      }
      d0 += len;
    }
  add_labels(path, out);
  return out;
}

}  // namespace spinlat
