#include "spinlat/core/system.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace spinlat {

double Cell::plane_spacing(int k) const {
  const Vec3 a = h.row((k + 1) % 3), b = h.row((k + 2) % 3);
  const Vec3 n = a.cross(b);
  return volume() / n.norm();
}

Vec3 Cell::wrap(const Vec3& r) const {
  Vec3 f = fractional(r);
  for (int k = 0; k < 3; ++k)
    if (periodic[k]) f[k] -= std::floor(f[k]);
  return cartesian(f);
}

std::vector<int> System::magnetic_sites() const {
  std::vector<int> out;
  for (std::size_t i = 0; i < size(); ++i)
    if (magnetic(i)) out.push_back(static_cast<int>(i));
  return out;
}

int System::sublattice_count() const {
  int n = 0;
  for (int s : sublattice) n = std::max(n, s + 1);
  return std::max(n, 1);
}

void System::add_atom(const Vec3& r, int species_index, double m, const Vec3& direction, int sub) {
  position.push_back(r);
  velocity.push_back(Vec3::Zero());
  const double n = direction.norm();
  if (m > 0.0 && n > 0.0) {
    spin.push_back(direction / n);
    moment.push_back(m);
  } else {
    spin.push_back(Vec3::Zero());
    moment.push_back(0.0);
  }
  species.push_back(species_index);
  sublattice.push_back(sub);
}

void System::check_consistent() const {
  const std::size_t n = position.size();
  if (velocity.size() != n || spin.size() != n || moment.size() != n || species.size() != n ||
      sublattice.size() != n)
    throw std::logic_error("System: per-atom arrays have different lengths");
  if (species_name.size() != species_mass.size())
    throw std::logic_error("System: species names and masses differ in length");
  for (std::size_t i = 0; i < n; ++i) {
    if (species[i] < 0 || species[i] >= static_cast<int>(species_name.size()))
      throw std::logic_error("System: species index out of range at atom " + std::to_string(i));
    if (moment[i] > 0.0 && std::abs(spin[i].squaredNorm() - 1.0) > 1e-9)
      throw std::logic_error("System: spin of atom " + std::to_string(i) + " is not a unit vector");
  }
}

}  // namespace spinlat
