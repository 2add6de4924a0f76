#include "spinlat/learned/torch_info.hpp"

#include <torch/version.h>

namespace spinlat {
std::string torch_version() { return TORCH_VERSION; }
}  // namespace spinlat
