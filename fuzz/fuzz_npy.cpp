// libFuzzer target: parse_npy (io/deepmd.hpp) on arbitrary bytes.
// Accepted outcomes: an array whose value count matches its shape, or InputError.
#include <stdexcept>
#include <string>

#include "fuzz_common.hpp"
#include "spinlat/io/deepmd.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto a = spinlat::parse_npy(std::string(reinterpret_cast<const char*>(data), size), "fuzz.npy");
    if (a.data.size() != a.size()) throw std::logic_error("parse_npy: value count does not match the shape");
  } catch (const spinlat::InputError&) {
  }
  return 0;
}
