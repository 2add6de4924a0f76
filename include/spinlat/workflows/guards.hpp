#pragma once
// Numerical-fault checks run during a simulation: a NaN/Inf, a collapsed moment or atoms on
// top of each other stop the run with a message naming the step, the atom and the quantity.
#include <string>

#include "spinlat/core/system.hpp"

namespace spinlat {

/// Throws NumericalError naming `step`, the first bad atom and quantity: a non-finite
/// position, velocity, spin or moment; a magnetic moment below `min_moment` μB; a spin that is
/// no longer a unit vector (|1 − |ê|| > 1e-6).
void check_state(const System& s, long long step, double min_moment = 1e-6);

/// Throws NumericalError if two atoms are closer than `min_distance` Å (only when the
/// neighbour list of `cutoff` is cheap to build: called at observation steps of lattice runs).
void check_overlaps(const System& s, long long step, double min_distance = 0.5);

}  // namespace spinlat
