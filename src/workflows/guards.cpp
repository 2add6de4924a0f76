#include "spinlat/workflows/guards.hpp"

#include <cmath>
#include <sstream>

#include "spinlat/core/error.hpp"
#include "spinlat/neighbors/neighbor_list.hpp"

namespace spinlat {
namespace {

[[noreturn]] void fault(long long step, std::size_t atom, const std::string& what) {
  std::ostringstream os;
  os << "step " << step << ", atom " << atom << ": " << what;
  throw NumericalError(os.str());
}

bool finite(const Vec3& v) { return std::isfinite(v[0]) && std::isfinite(v[1]) && std::isfinite(v[2]); }

}  // namespace

void check_state(const System& s, long long step, double min_moment) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (!finite(s.position[i])) fault(step, i, "position is not finite");
    if (!finite(s.velocity[i])) fault(step, i, "velocity is not finite");
    if (!std::isfinite(s.moment[i])) fault(step, i, "moment size is not finite");
    if (!finite(s.spin[i])) fault(step, i, "moment direction is not finite");
    if (s.moment[i] != 0.0) {
      if (s.moment[i] < min_moment)
        fault(step, i, "magnetic moment collapsed to " + std::to_string(s.moment[i]) + " μB");
      const double n = s.spin[i].norm();
      if (std::abs(n - 1.0) > 1e-6) fault(step, i, "moment direction lost its unit length (|ê| = " + std::to_string(n) + ")");
    }
  }
}

void check_overlaps(const System& s, long long step, double min_distance) {
  const NeighborList l = build_neighbor_list(s, min_distance);
  for (std::size_t i = 0; i < l.atoms(); ++i)
    if (l.end(i) > l.begin(i)) {
      std::ostringstream os;
      os << "atoms overlap: atom " << l.index[l.begin(i)] << " is " << l.distance[l.begin(i)] << " Å away";
      fault(step, i, os.str());
    }
}

}  // namespace spinlat
