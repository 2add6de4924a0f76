#pragma once
// VASP POSCAR / CONTCAR structures (https://www.vasp.at/wiki/index.php/POSCAR).
//
//   line 1   comment; may hold `# MAGMOM = 8*2.2` (or a later line starting with # or !)
//   line 2   scale: > 0 multiplies the cell (and Cartesian positions), < 0 is the cell
//            volume (Å³), or three factors for x, y, z
//   3-5      cell vectors (rows, Å before scaling)
//   6        species symbols (VASP 5; absent in VASP 4: give them in the input's `species`,
//            or as the comment line, as ASE writes it)
//   7        counts per species
//   [Selective dynamics]
//   Direct | Cartesian, then one line per atom (x y z [T T F] [label])
// MAGMOM lists N values (collinear, along ±z) or 3N (vectors), μB, with VASP's `n*value`
// shorthand. Anything after the positions (velocities, predictor) is ignored.
#include <iosfwd>
#include <string>
#include <vector>

#include "spinlat/io/extxyz.hpp"

namespace spinlat {

/// Reads a POSCAR. `species` names the species groups when the file has no species line
/// (and, when it has one, must agree with it). Selective-dynamics flags, when present, are
/// kept as Frame::vectors["selective_dynamics"] (1 = free, 0 = fixed, per component).
/// Malformed input → InputError naming the file and line.
Frame read_poscar(const std::string& path, const std::vector<std::string>& species = {});
/// The same from a stream; `name` stands for the file in messages.
Frame parse_poscar(std::istream& in, const std::string& name,
                   const std::vector<std::string>& species = {});

/// Writes a VASP 5 POSCAR (Direct coordinates, species grouped in species order, atoms
/// reordered accordingly) with the moments as `# MAGMOM = ...` on the comment line.
void write_poscar(std::ostream& out, const System& s, const std::string& comment = "spinlat");

/// Expands VASP's list shorthand ("2*2.2 -1.0" → 2.2 2.2 -1.0). Throws InputError with `name`
/// and `line` for a malformed entry.
std::vector<double> expand_vasp_list(const std::string& text, const std::string& name, int line);

}  // namespace spinlat
