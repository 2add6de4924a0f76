#include "spinlat/bench/md.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/dynamics/md.hpp"
#include "spinlat/lattice/eam.hpp"

namespace spinlat {

double benchmark_md(int atoms, int threads, int steps, const std::string& eam_file) {
  if (!std::filesystem::exists(eam_file))
    throw InputError(eam_file, "", 0, "EAM file for the MD benchmark not found (Debian package lammps-examples)");
  const int n = std::max(2, static_cast<int>(std::lround(std::cbrt(std::max(atoms, 1) / 2.0))));
  System s = build_supercell(standard_lattice("bcc", 2.8553, 0.0, {"Fe"}, {0.0}), Int3(n, n, n));
  s.species_mass.assign(s.species_name.size(), element_mass("Fe"));
  set_velocities(s, 300.0, 1);
  Hamiltonian h;
  h.add(std::make_unique<EamPotential>(read_eam_file(eam_file), s));
  h.set_skin(0.5);

  const int saved = omp_get_max_threads();
  if (threads > 0) omp_set_num_threads(threads);
  MdOptions o;
  o.dt = 1e-3;
  LatticeIntegrator md(s, h, o);
  md.run(std::min(steps, 10));  // warm-up: first neighbour-list rebuilds, caches
  const auto t0 = std::chrono::steady_clock::now();
  md.run(steps);
  const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  omp_set_num_threads(saved);
  return static_cast<double>(s.size()) * steps / std::max(sec, 1e-12);
}

}  // namespace spinlat
