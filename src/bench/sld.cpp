#include "spinlat/bench/sld.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/lattice/eam.hpp"
#include "spinlat/terms/radial_exchange.hpp"

namespace spinlat {

System sld_iron_system(int n, double lattice_temperature, std::uint64_t seed) {
  System s = build_supercell(standard_lattice("bcc", 2.8665, 0.0, {"Fe"}, {2.2}), Int3(n, n, n));
  s.species_mass.assign(s.species_name.size(), 55.845);
  set_spins_random(s, seed);
  set_velocities(s, lattice_temperature, seed);
  return s;
}

Hamiltonian sld_iron_hamiltonian(const System& s, double skin, const std::string& eam_file) {
  if (!std::filesystem::exists(eam_file))
    throw InputError(eam_file, "", 0, "EAM file of the iron model not found (Debian package lammps-examples)");
  Hamiltonian h;
  h.add(std::make_unique<EamPotential>(read_eam_file(eam_file), s));
  h.add(std::make_unique<RadialExchange>("bethe-slater", RadialFunction::bethe_slater(0.02726, 0.2171, 1.841, 3.4)));
  h.set_skin(skin);
  return h;
}

SldBenchResult benchmark_sld_detail(int atoms, int threads, int steps, const std::string& eam_file) {
  const int n = std::max(2, static_cast<int>(std::lround(std::cbrt(std::max(atoms, 1) / 2.0))));
  System s = sld_iron_system(n, 100.0, 1);
  Hamiltonian h = sld_iron_hamiltonian(s, 0.5, eam_file);
  const int saved = omp_get_max_threads();
  if (threads > 0) omp_set_num_threads(threads);
  SldOptions o;
  o.dt = 1e-4;
  SpinLatticeIntegrator sld(s, h, o, 1);
  sld.run(std::min(steps, 10));  // warm-up
  const SldTimers before = sld.timers();
  const auto t0 = std::chrono::steady_clock::now();
  sld.run(steps);
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  omp_set_num_threads(saved);
  SldBenchResult r;
  r.atoms = static_cast<int>(s.size());
  r.steps = steps;
  r.atom_steps_per_second = static_cast<double>(s.size()) * steps / std::max(sec, 1e-12);
  const SldTimers& after = sld.timers();
  r.seconds.lattice = after.lattice - before.lattice;
  r.seconds.couplings = after.couplings - before.couplings;
  r.seconds.spins = after.spins - before.spins;
  r.seconds.forces = after.forces - before.forces;
  r.seconds.radial = after.radial - before.radial;
  return r;
}

double benchmark_sld(int atoms, int threads, int steps) {
  return benchmark_sld_detail(atoms, threads, steps).atom_steps_per_second;
}

}  // namespace spinlat
