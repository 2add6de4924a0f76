#pragma once
// File names given in inputs and training configurations: a relative name is relative to the
// directory of the file that names it (as in LAMMPS include files and VAMPIRE material files),
// so an input runs the same from any working directory.
#include <string>

namespace spinlat {

/// The directory of an input file, absolute and normalised (the current directory for a bare
/// file name).
std::string input_directory(const std::string& input_file);

/// `file` relative to `dir` (as given when `file` is absolute or `dir` is empty), normalised;
/// "" stays "" (an optional file left out).
std::string resolve_input_path(const std::string& dir, const std::string& file);

}  // namespace spinlat
