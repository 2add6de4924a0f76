// `spinlat convert MODEL.pt -o OUT`: an upstream magnetic MACE TorchScript file converted to
// the plain-text format of mace_native.hpp (the reading itself: src/learned/mace_convert.cpp).
#include <torch/script.h>

#include <iomanip>
#include <ostream>

#include "../mace_convert.hpp"
#include "spinlat/learned/mace_native.hpp"
#include "spinlat/learned/tools/convert.hpp"

namespace spinlat {

int convert_command(const std::string& model_path, const std::string& out_path, std::ostream& out) {
  torch::jit::Module m = load_torchscript(model_path);
  const MaceArchive a = convert_mace_module(m, model_path);
  MaceNativeEvaluator ev(a);  // checks that the structure is supported
  write_mace_archive(a, out_path);
  // Self-check: the file as written, read back, against the TorchScript file.
  const MaceNativeEvaluator reread(out_path);
  const double worst = mace_conversion_error(reread, m);
  out << "converted " << model_path << " -> " << out_path << ": " << a.array.size() << " arrays, "
      << ev.interactions() << " interactions, r_max " << ev.r_max() << " A\n"
      << "self-check on a 16-atom bcc cell: max |node energy, converted - TorchScript| = " << std::setprecision(3)
      << worst << " eV\n";
  if (!(worst <= kMaceConversionTolerance)) {
    out << "the converted model does not reproduce the TorchScript file\n";
    return 1;
  }
  return 0;
}

}  // namespace spinlat
