// libFuzzer target: parse_poscar (io/poscar.hpp) on arbitrary bytes, with and without
// species names given by the input (VASP 4 files).
#include <sstream>

#include "fuzz_common.hpp"
#include "spinlat/io/poscar.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // The first byte's parity picks whether the input names species (exercises both paths).
  const std::vector<std::string> species =
      (size && (data[0] & 1)) ? std::vector<std::string>{"Fe", "Co"} : std::vector<std::string>{};
  std::istringstream in(text);
  try {
    const auto f = spinlat::parse_poscar(in, "POSCAR", species);
    f.system.check_consistent();
  } catch (const spinlat::InputError&) {
  }
  return 0;
}
