#pragma once
// `spinlat convert`: an upstream magnetic MACE TorchScript file to spinlat's plain C++
// evaluator (spinlat/learned/mace_native.hpp). No LibTorch types here.
#include <iosfwd>
#include <string>

namespace spinlat {

/// `spinlat convert MODEL.pt -o OUT`: reads the TorchScript file with LibTorch, writes the
/// converted file, then evaluates both on a test cell and prints the largest difference.
/// Returns the exit status. Defined in src/learned/tools/convert.cpp.
int convert_command(const std::string& model_path, const std::string& out_path, std::ostream& out);

}  // namespace spinlat
