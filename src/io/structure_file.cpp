// Structure files named by an input; see include/spinlat/io/structure_file.hpp.
#include "spinlat/io/structure_file.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "spinlat/core/error.hpp"
#include "spinlat/io/poscar.hpp"
#include "spinlat/io/text.hpp"

namespace fs = std::filesystem;

namespace spinlat {

std::vector<Frame> read_structure_file(const std::string& path, const std::string& format,
                                       const std::vector<std::string>& species) {
  std::string fmt = format;
  if (fmt == "auto") {
    const fs::path p(path);
    const std::string ext = lower(p.extension().string()), stem = lower(p.filename().string());
    if (ext == ".xyz" || ext == ".extxyz") {
      fmt = "extxyz";
    } else if (ext == ".vasp" || ext == ".poscar" || stem.rfind("poscar", 0) == 0 || stem.rfind("contcar", 0) == 0) {
      fmt = "poscar";
    } else {
      // By content: extended XYZ starts with the atom count alone on its line.
      std::ifstream in(path);
      if (!in) throw InputError(path, "", 0, "cannot open the structure file");
      std::string first;
      std::getline(in, first);
      first = trim(first);
      const bool count = !first.empty() && std::all_of(first.begin(), first.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
      fmt = count ? "extxyz" : "poscar";
    }
  }
  if (fmt == "extxyz") return read_extxyz(path);
  if (fmt == "poscar") return {read_poscar(path, species)};
  throw InputError(path, "", 0, "unknown structure format '" + format + "' (expected auto, extxyz or poscar)");
}

}  // namespace spinlat
