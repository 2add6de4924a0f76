/* fix ID all spinlat/sld [temp T] [alpha A] [lattice_damping G] [seed S] [integrator NAME]:
   advances positions, velocities and all spins together with spinlat's own spin-lattice dynamics
   (stochastic LLG and Langevin baths) for the Hamiltonian of pair_style spin/spinlat, instead of
   fix nve/spin's one-spin-at-a-time sweeps (docs/lammps.md). NAME:
   - explicit-midpoint: every moment at once (dynamics/sld.hpp's whole-lattice update) on
     LAMMPS's own arrays, over any number of MPI ranks; two evaluations per step (the midpoint
     fields here, LAMMPS's own force evaluation at the end of the step);
   - suzuki-trotter: spinlat's symmetric splitting by colours, one MPI rank only (the colour
     sweep needs every atom); a learned model pays evaluations per colour;
   - auto (the default): explicit-midpoint on several ranks or for a Hamiltonian with a
     learned (generic) term, suzuki-trotter otherwise. */
#ifndef SPINLAT_FIX_SPINLAT_SLD_H
#define SPINLAT_FIX_SPINLAT_SLD_H

#include <memory>
#include <string>
#include <vector>

#include "fix.h"

namespace spinlat_lammps { class Dynamics; }

namespace LAMMPS_NS {

class FixSpinlatSld : public Fix {
 public:
  FixSpinlatSld(class LAMMPS *, int, char **);
  ~FixSpinlatSld() override;
  int setmask() override;
  void init() override;
  void initial_integrate(int) override;
  void final_integrate() override;

 private:
  double temperature = 0.0, alpha = 0.0, lattice_damping = 0.0;
  int seed = 1;
  std::string integrator = "auto";
  bool announced = false;
  // explicit-midpoint, on LAMMPS's arrays
  bool whole_lattice = false;
  bool transverse = false;         // drop ω's part along ŝ (spinlat's generic field path)
  class PairSpinSpinlat *pair = nullptr;
  std::vector<double> start, noise;  // ŝ(t) and the thermal field (T) of this step, 3 per atom
  double **w_mid = nullptr;          // ω at the midpoint (rad/ps)
  int nmax = 0;
  void kick(double h);
  void drift(double h);
  void step_midpoint();
  // suzuki-trotter: spinlat's integrator on a copy of this rank's atoms
  std::unique_ptr<spinlat_lammps::Dynamics> dynamics;
};

}    // namespace LAMMPS_NS

#endif
