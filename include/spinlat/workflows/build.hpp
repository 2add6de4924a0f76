#pragma once
// From a validated input (workflows/input.hpp) to the objects a run needs: the System and the
// Hamiltonian. The input schema says what was asked; these build it.
#include <vector>

#include "spinlat/core/system.hpp"
#include "spinlat/terms/hamiltonian.hpp"
#include "spinlat/terms/registry.hpp"
#include "spinlat/workflows/input.hpp"

namespace spinlat {

/// Builds the System an input describes (lattice or file, spins, masses, velocities).
System build_system(const Config& c);
/// Same, with cells overridden (sweep sizes).
System build_system(const Config& c, const Int3& cells);

/// A built structure with its antiferromagnetic reference pattern: af_sign[i] = ±1 per atom
/// (the lattice's pattern for sc/bcc/fcc/hcp/rocksalt, the basis' af_sign for custom cells,
/// the sign of each moment relative to the first magnetic atom's for files).
struct BuiltStructure {
  System system;
  std::vector<int> af_sign;
};
BuiltStructure build_structure(const Config& c);
BuiltStructure build_structure(const Config& c, const Int3& cells);

/// Builds the Hamiltonian an input describes, for the given system.
Hamiltonian build_hamiltonian(const Config& c, const System& s, const TermRegistry& registry);

}  // namespace spinlat
