#pragma once
// Structure files an input may name ([structure] lattice = "file"): extended XYZ or POSCAR,
// chosen by name or content.
#include <string>
#include <vector>

#include "spinlat/io/extxyz.hpp"

namespace spinlat {

/// Reads a structure file: `format` is extxyz, poscar or auto (by name: .xyz/.extxyz, or
/// POSCAR*/CONTCAR*/.vasp/.poscar; else by content). `species` names a VASP 4 POSCAR's species.
std::vector<Frame> read_structure_file(const std::string& path, const std::string& format = "auto",
                                       const std::vector<std::string>& species = {});

}  // namespace spinlat
