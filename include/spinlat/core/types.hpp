#pragma once
// Small value types used everywhere (Eigen's fixed-size vectors: cheap, stack allocated).
#include <Eigen/Core>
#include <Eigen/Geometry>
#include <cstdint>

namespace spinlat {
using Vec3 = Eigen::Vector3d;
using Mat3 = Eigen::Matrix3d;
using Int3 = Eigen::Vector3i;
}  // namespace spinlat
