#pragma once
// The lattice half-steps of the splitting integrators, shared by lattice MD (dynamics/md.hpp)
// and spin-lattice dynamics (dynamics/sld.hpp): B (velocity kick), A (position drift) and O
// (the exact Ornstein-Uhlenbeck velocity update of a Langevin bath), in the BAOAB arrangement
// of Leimkuhler & Matthews, Appl. Math. Res. Express 2013, 34 (2013). Units: docs/units.md
// (forces eV/Å, masses amu, velocities Å/ps).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "spinlat/core/rng.hpp"
#include "spinlat/core/system.hpp"
#include "spinlat/core/units.hpp"

namespace spinlat::lattice_steps {

/// B: v_i += h F_i / m_i.
inline void kick(System& s, const std::vector<Vec3>& force, double h, int threads) {
  const long n = static_cast<long>(s.size());
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
  for (long i = 0; i < n; ++i) s.velocity[i] += units::kick_per_force(h, s.mass(i)) * force[i];
}

/// A: r_i += h v_i.
inline void drift(System& s, double h, int threads) {
  const long n = static_cast<long>(s.size());
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
  for (long i = 0; i < n; ++i) s.position[i] += h * s.velocity[i];
}

/// The Ornstein-Uhlenbeck step's coefficients over h for friction γ: c1 = e^{−γh} (what the
/// velocity keeps) and c2 = √(1 − c1²) (the noise's share of the thermal speed).
inline void ou_coefficients(double gamma, double h, double& c1, double& c2) {
  c1 = std::exp(-gamma * h);
  c2 = std::sqrt(std::max(0.0, 1.0 - c1 * c1));
}

struct Bath {
  double damping = 0.0;      ///< γ (1/ps); no bath when not > 0
  double temperature = 0.0;  ///< K
  bool zero_momentum = true; ///< remove the noise's net momentum (mass-weighted)
};

/// O: v ← c v + √((1−c²) k_B T/m) ξ with c = e^{−γh}, ξ a standard normal 3-vector drawn by
/// `draw(engine)` from engine k of `noise` for the atoms of block k, in atom order (thread-count
/// independent). With zero_momentum the noise's mass-weighted mean is removed, so the total
/// momentum stays zero and the bath acts on the 3N−3 internal degrees of freedom (an exact OU
/// step on them: the friction is the same for every atom). `dv` is scratch.
template <class Draw>
void bath(System& s, const Blocks& blocks, StreamSet& noise, const Bath& b, double h, int threads,
          std::vector<Vec3>& dv, Draw draw) {
  if (!(b.damping > 0.0)) return;
  double c1, c2;
  ou_coefficients(b.damping, h, c1, c2);
  const double kT = units::k_B * b.temperature;
  const long nb = static_cast<long>(blocks.count());
  dv.resize(s.size());
  std::vector<Vec3> block_p(nb, Vec3::Zero());
  std::vector<double> block_m(nb, 0.0);
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && nb > 1)
  for (long k = 0; k < nb; ++k) {
    Engine& e = noise[k];
    for (std::size_t i = blocks.begin(k); i < blocks.end(k); ++i) {
      const double m = s.mass(i);
      dv[i] = (c2 * units::thermal_speed(kT, m)) * draw(e);
      block_p[k] += m * dv[i];
      block_m[k] += m;
    }
  }
  Vec3 shift = Vec3::Zero();
  if (b.zero_momentum && s.size() > 1) {
    Vec3 p = Vec3::Zero();
    double m = 0.0;
    for (long k = 0; k < nb; ++k) {
      p += block_p[k];
      m += block_m[k];
    }
    shift = p / m;
  }
  const long n = static_cast<long>(s.size());
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
  for (long i = 0; i < n; ++i) s.velocity[i] = c1 * s.velocity[i] + (dv[i] - shift);
}

}  // namespace spinlat::lattice_steps
