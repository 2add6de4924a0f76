// libFuzzer target: read_checkpoint (io/checkpoint.hpp) on mutated HDF5 bytes, then
// restore_system when the checkpoint holds one. Seeds are real checkpoints (fuzz/corpus/
// checkpoint); libhdf5's own behaviour on corrupt files is outside spinlat's control
// (docs/reliability.md, "known limitations").
#include <hdf5.h>

#include "fuzz_common.hpp"
#include "spinlat/io/checkpoint.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = [] {
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // no HDF5 error stacks on stderr per input
    return true;
  }();
  (void)quiet;
  spinlat_fuzz::TempFile tmp(data, size, ".ckpt");
  try {
    const auto c = spinlat::read_checkpoint(tmp.path());
    if (c.has("system/spin")) {
      const auto s = spinlat::restore_system(c, "system");
      s.check_consistent();
    }
  } catch (const spinlat::InputError&) {
  }
  return 0;
}
