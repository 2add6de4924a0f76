// libFuzzer target: parse_extxyz (io/extxyz.hpp) on arbitrary bytes.
// Accepted outcomes: frames (then each must be a consistent System) or InputError.
#include <sstream>

#include "fuzz_common.hpp"
#include "spinlat/io/extxyz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  try {
    const auto frames = spinlat::parse_extxyz(in, "fuzz.xyz");
    // A frame the reader accepted must be internally consistent; check_consistent throws
    // (not an InputError) if not, which libFuzzer reports.
    for (const auto& f : frames) f.system.check_consistent();
  } catch (const spinlat::InputError&) {
  }
  return 0;
}
