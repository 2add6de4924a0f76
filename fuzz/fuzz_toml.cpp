// libFuzzer target: parse_config (workflows/input.hpp) on arbitrary text, then build_system when
// the structure is small.
//
// Harness caps (documented in docs/reliability.md):
//  * build_system is skipped when the input asks for more than kMaxAtoms atoms: parse_config
//    accepts cells up to 100000 per axis (by design, for big runs), and building 10^15 atoms is
//    an allocation failure, not a parser bug.
//  * lattice = "file" is not built: the path is fuzzer-controlled and could name /dev/zero or
//    a FIFO; the structure-file readers have their own targets (fuzz_extxyz, fuzz_poscar).
#include "fuzz_common.hpp"
#include "spinlat/core/system.hpp"
#include "spinlat/workflows/build.hpp"
#include "spinlat/workflows/input.hpp"

namespace {
constexpr long long kMaxAtoms = 20000;

long long sites_per_cell(const spinlat::StructureConfig& s) {
  if (s.lattice == "sc") return 1;
  if (s.lattice == "bcc") return 2;
  if (s.lattice == "fcc" || s.lattice == "hcp") return 4;  // hcp: 2 (upper bound 4 is safe)
  if (s.lattice == "rocksalt") return 8;
  if (s.lattice == "custom") return static_cast<long long>(s.basis.size()) + 1;
  return -1;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const spinlat::Config c = spinlat::parse_config(text, "fuzz.toml");
    const auto& s = c.structure;
    const long long per = sites_per_cell(s);
    if (per < 0) return 0;  // lattice = "file" (see above)
    long long n = per;
    for (int k = 0; k < 3; ++k) {
      n *= s.cells[k];
      if (n > kMaxAtoms) return 0;
    }
    const spinlat::System sys = spinlat::build_system(c);
    sys.check_consistent();
  } catch (const spinlat::InputError&) {
  }
  return 0;
}
