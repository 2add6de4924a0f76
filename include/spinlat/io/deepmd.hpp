#pragma once
// Training data in the deepmd/npy layout (deepmd-kit's "system" directories), including its
// spin extension (spin.npy, force_mag.npy), read into the same Frames the extended XYZ reader
// makes, with the magnetic MACE names (docs/training.md).
//
// A system directory holds type.raw (one integer type per atom), type_map.raw (one species
// name per type) and one or more set.* directories with per-frame arrays, one row per frame:
//   box.npy       9 numbers: the cell vectors as rows (Å)                 required
//   coord.npy     3N: Cartesian positions (Å)                             required
//   energy.npy    1: total energy (eV)                                    required
//   force.npy     3N: −∂E/∂r (eV/Å)                                       optional
//   spin.npy      3N: moment vectors m_i (μB)                             optional
//   force_mag.npy 3N: −∂E/∂m_i (eV/μB); needs spin.npy                   optional
//   virial.npy    9: virial (eV), row-major                               optional
// Sets are read in name order and must all carry the same optional files.
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "spinlat/io/extxyz.hpp"

namespace spinlat {

/// Reads a deepmd/npy system directory (type.raw, type_map.raw, set.*/{box,coord,energy,force,
/// spin,force_mag,virial}.npy) into frames in the magnetic MACE naming used by the extended XYZ
/// reader: system (cell from box rows, positions, species names from type_map, moments from
/// spin.npy (μB)), info["REF_energy"] (eV), vectors["REF_forces"], vectors["REF_magforces"]
/// (−∂E/∂m, eV/μB, from force_mag.npy), vectors["REF_magmom"], info_arrays["REF_virial"] (9) when
/// present. Periodic in 3D. InputError naming the file and what is wrong for anything malformed
/// (shape mismatch, wrong dtype, missing required file, ragged sets).
std::vector<Frame> read_deepmd(const std::string& dir);

/// Minimal .npy (format 1.0/2.0/3.0) reader: little-endian float64, float32, int32, int64,
/// C order; returns values as double and the shape.
struct NpyArray {
  std::vector<std::size_t> shape;
  std::vector<double> data;
  /// Number of values the shape describes (1 for a 0-d array).
  std::size_t size() const;
};
NpyArray read_npy(const std::string& path);
/// The same from the file's bytes; `name` stands for the file in messages.
NpyArray parse_npy(const std::string& bytes, const std::string& name);
/// The arrays of a .npz archive as numpy.savez writes it (entries stored uncompressed), keyed
/// by entry name without ".npy". InputError naming the file for anything else (compressed
/// entries included).
std::map<std::string, NpyArray> read_npz(const std::string& path);

}  // namespace spinlat
