#pragma once
// `spinlat export MODEL.spl -o MODEL.pt`: a native model (native_model.hpp) as a TorchScript
// module that follows the interface of docs/learned-potential.md, so that Python
// (torch.jit.load), the `learned` term and any other TorchScript runtime evaluate the same
// function. The forward() source is generated for the model's configuration (every loop over
// layers, edge paths and product paths unrolled) and uses standard ATen ops only, so that
// autograd in the TorchScript interpreter gives forces, magnetic forces and the virial.
// docs/learned-potential.md, "Exporting a native model to TorchScript".
//
// No LibTorch types here: the command line includes this header.
#include <cstddef>
#include <iosfwd>
#include <string>

namespace spinlat {

struct ExportSummary {
  std::string source;             ///< the generated TorchScript (forward)
  std::size_t parameters = 0;     ///< weights copied (number of scalars)
  std::size_t buffers = 0;        ///< constant tensors registered (contract buffers included)
  double self_check = 0.0;        ///< max |node energy, native − exported| (eV) on a test cluster
};

/// Reads `model_path` (a file of `spinlat train`), builds the TorchScript module, checks it
/// against the native model on a small random cluster (every species, non-collinear moments),
/// and saves it to `out_path` (written to a temporary file, then renamed). Weights and
/// constants keep the saved float64 values. InputError when the input is not a native model,
/// when the configuration holds something the generator does not know (named in the
/// message), or when the self-check fails; nothing is written then.
ExportSummary export_native_model(const std::string& model_path, const std::string& out_path);

/// The command: exports and prints a one-paragraph summary to `out`. Returns the exit status.
int export_command(const std::string& model_path, const std::string& out_path, std::ostream& out);

}  // namespace spinlat
