#pragma once
// The converter's LibTorch side (src/learned only: LibTorch headers stay behind the build's
// boundary). The path-taking forms are declared in spinlat/learned/mace_native.hpp.
#include <torch/script.h>

#include <string>

#include "spinlat/learned/mace_native.hpp"

namespace spinlat {

/// The largest node-energy difference (eV) a conversion may show against its TorchScript file:
/// float64 round-off of a few hundred operations is ~1e-14, a wrong piece ≳ 1e-3.
constexpr double kMaceConversionTolerance = 1e-9;

/// torch::jit::load in eval mode; InputError naming the file when it is not a TorchScript archive.
torch::jit::Module load_torchscript(const std::string& path);

/// True for an upstream magnetic MACE module (it carries the moments' solid harmonics).
bool is_magnetic_mace_module(const torch::jit::Module& root);

/// The archive of an already loaded module; InputError naming `path` for an unsupported piece.
MaceArchive convert_mace_module(torch::jit::Module root, const std::string& path);

/// mace_torch_reference on an already loaded module.
MaceTorchResult mace_torch_reference(torch::jit::Module& m, const Graph& g, const std::vector<Vec3>& position,
                                     const Mat3& cell, const std::vector<Vec3>& moment, const std::vector<int>& column,
                                     int species, bool derivatives);

/// Largest |node energy, converted − TorchScript| (eV) on a 16-atom bcc cell of the model's
/// elements with random moments: the check `spinlat convert` prints and the learned term runs
/// before it trusts a conversion made on load.
double mace_conversion_error(const MaceNativeEvaluator& converted, torch::jit::Module& torchscript);

}  // namespace spinlat
