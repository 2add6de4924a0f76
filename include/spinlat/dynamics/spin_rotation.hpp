#pragma once
// The spin move of spin-lattice dynamics (dynamics/sld.hpp) for one moment in a fixed field,
// shared by SpinLatticeIntegrator and the LAMMPS plugin's fix spinlat/sld (src/lammps).
#include <cmath>

#include "spinlat/core/types.hpp"

namespace spinlat {

/// Exact solution over a time t of dê/dt = −g [ê×B + α ê×(ê×B)] for a constant field B (T):
/// precession about B by φ = g|B|t and, for α > 0, tan(θ/2) ← tan(θ/2) e^{−αφ} for the angle
/// θ between ê and B (docs/spin-lattice.md, the spin sub-step). The undamped map is a
/// rotation: exact flow of the sub-Hamiltonian −ê·h for a fixed h.
inline Vec3 advance_spin(const Vec3& e, const Vec3& B, double g, double alpha, double t) {
  const double b2 = B.squaredNorm();
  if (!(b2 > 0.0)) return e;
  const double b = std::sqrt(b2);
  const Vec3 n = B * (1.0 / b);
  const double phi = g * b * t;
  const double x = n.dot(e);
  const Vec3 ep = e - x * n;       // part of ê transverse to B
  const Vec3 q = n.cross(e);       // n × ê = n × ê⊥: ê⊥ turned by +90° about n
  const double c = std::cos(phi), s = std::sin(phi);
  const Vec3 perp = c * ep + s * q;
  Vec3 out;
  if (alpha == 0.0) {
    out = x * n + perp;
  } else {
    // cos θ' and sin θ' from tan(θ'/2) = k tan(θ/2), k = e^{−αφ}, written without tan(θ/2)
    // (stable for θ → π): cos θ' = [(1+x) − k²(1−x)]/D, sin θ' = 2k sin θ / D.
    const double k = std::exp(-alpha * phi);
    const double k2 = k * k;
    const double den = (1.0 + x) + k2 * (1.0 - x);
    const double st = std::sqrt(ep.squaredNorm());
    if (!(st > 0.0) || !(den > 0.0)) return e;
    out = ((1.0 + x) - k2 * (1.0 - x)) / den * n + (2.0 * k / den) * perp;  // |perp| = sin θ
  }
  // Keep |ê| = 1 at rounding level (the map is norm-preserving in exact arithmetic).
  return out * (1.0 / std::sqrt(out.squaredNorm()));
}


}  // namespace spinlat
