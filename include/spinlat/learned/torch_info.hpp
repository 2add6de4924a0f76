#pragma once
#include <string>

namespace spinlat {
/// LibTorch version this build links ("" when built without LibTorch).
std::string torch_version();
}  // namespace spinlat
