#pragma once
// `spinlat eval`: a Hamiltonian evaluated on the frames of an extended XYZ file.
// (No LibTorch here: any Hamiltonian works, learned or analytic.)
#include <string>
#include <vector>

#include "spinlat/io/extxyz.hpp"
#include "spinlat/terms/hamiltonian.hpp"

namespace spinlat {

/// Evaluates `h` on every frame of `in` and writes the frames, with their results, to `out`
/// (resized to in.size(); other per-frame and per-atom data, REF_* included, are kept):
///   info "energy" (eV), vectors "forces" (−∂E/∂r, eV/Å) and "magforces" (−∂E/∂m, eV/μB),
///   and, for frames periodic along all three axes, info_arrays "stress" (9 numbers, row
///   major, eV/Å³) in ASE's convention σ = (1/V) ∂E/∂ε = −Wᵀ/V (static: no kinetic part).
/// `h` is re-bound to each frame (so it ends bound to the last one). When `species_order` is
/// given (the input structure's species_name), each frame's species are renumbered to it so
/// that species-indexed terms see the input's numbering; a species missing from it is an
/// InputError naming the frame. Errors in a frame name the frame (index and line).
void evaluate_frames(Hamiltonian& h, const std::vector<Frame>& in, std::vector<Frame>& out,
                     const std::vector<std::string>& species_order = {});

/// The same for one structure: energy (eV), forces, magnetic forces and the virial W (eV).
struct Evaluation {
  double energy = 0.0;
  std::vector<Vec3> forces, magnetic_forces;
  Mat3 virial = Mat3::Zero();
};
Evaluation evaluate_structure(Hamiltonian& h, const System& s);

}  // namespace spinlat
