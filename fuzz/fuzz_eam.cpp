// libFuzzer target: read_eam_file (lattice/eam.hpp), setfl and fs, via a tmpfs file (the
// reader takes a path; nothing is added to the library for fuzzing).
#include "fuzz_common.hpp"
#include "spinlat/lattice/eam.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The first byte's parity picks the format; the rest is the file.
  if (size == 0) return 0;
  const std::string format = (data[0] & 1) ? "fs" : "alloy";
  spinlat_fuzz::TempFile tmp(data + 1, size - 1, ".eam");
  try {
    const auto f = spinlat::read_eam_file(tmp.path(), format);
    (void)f;
  } catch (const spinlat::InputError&) {
  }
  return 0;
}
