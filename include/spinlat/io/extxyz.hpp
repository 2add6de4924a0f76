#pragma once
// Extended XYZ files (the ASE / QUIP convention), read strictly and written losslessly.
//
// A frame is two header lines and one line per atom:
//   N
//   Lattice="ax ay az bx by bz cx cy cz" Properties=species:S:1:pos:R:3:magmom:R:3 energy=-8.1 pbc="T T T"
//   Fe 0.0 0.0 0.0 0.0 0.0 2.2
// `Lattice` rows are the cell vectors (Å); `Properties` lists name:type:columns with type
// S (string), R (real), I (integer) or L (logical, T/F). Per-atom moments (μB) come from the
// first of `magmom`, `REF_magmom`, `magmoms`, `initial_magmoms` present, with 1 column
// (collinear, along ±z) or 3 (the vector). Without `Lattice` the frame is non-periodic.
// Every other per-frame value and per-atom column is kept (energies, forces, magnetic forces,
// stresses, labels), so `spinlat eval` and training see REF_energy, REF_forces, REF_magforces,
// energy, forces and magforces by name.
#include <iosfwd>
#include <map>
#include <string>
#include <vector>

#include "spinlat/core/system.hpp"

namespace spinlat {

/// A per-atom column that is neither a 3-vector nor a scalar (e.g. R:9 stresses, I:3).
struct AtomColumn {
  char type = 'R';  ///< R, I or L
  int columns = 1;
  std::vector<double> values;  ///< atom-major: values[i * columns + k]
};

/// One structure with its per-frame and per-atom data.
struct Frame {
  System system;  ///< cell, pbc, species, positions, moments (velocities zero)
  std::map<std::string, double> info;                     ///< per-frame numbers (energy, REF_energy)
  std::map<std::string, std::vector<double>> info_arrays; ///< per-frame lists (stress, virial)
  std::map<std::string, std::string> info_text;           ///< per-frame strings and booleans
  std::map<std::string, std::vector<Vec3>> vectors;       ///< per-atom R:3 (forces, REF_magforces)
  std::map<std::string, std::vector<double>> scalars;     ///< per-atom R:1, I:1, L:1 (L as 0/1)
  std::map<std::string, char> scalar_types;               ///< R, I or L for each scalars entry
  std::map<std::string, std::vector<std::string>> strings;///< per-atom S:1 columns but species
  std::map<std::string, AtomColumn> columns;              ///< every other per-atom column
  /// The column the moments came from ("" if none): magmom, REF_magmom, magmoms or
  /// initial_magmoms. Columns other than `magmom` are also kept in vectors/scalars.
  std::string moment_source;
  int line = 0;  ///< line of the frame's atom count in its file

  Frame() = default;
  explicit Frame(System s) : system(std::move(s)) {}
};

/// Reads every frame of an extended XYZ file. Malformed input → InputError naming the file
/// and line. `path` is also the name used in messages.
std::vector<Frame> read_extxyz(const std::string& path);
/// The same from a stream; `name` stands for the file in messages.
std::vector<Frame> parse_extxyz(std::istream& in, const std::string& name);

/// Writes one frame: Lattice, Properties (species, pos, magmom when any atom carries a
/// moment: 1 column when every moment is along ±z, else 3), then every stored per-frame and
/// per-atom field, and pbc. Numbers are written in the shortest form that reads back exactly.
void write_extxyz(std::ostream& out, const Frame& frame);
/// Writes frames to a file (replacing it); InputError if it cannot be written.
void write_extxyz(const std::string& path, const std::vector<Frame>& frames);

}  // namespace spinlat
