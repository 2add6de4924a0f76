/* fix ID all spinlat/sld [temp T] [alpha A] [lattice_damping G] [seed S]: advances positions,
   velocities and all spins together with spinlat's own spin-lattice dynamics (symmetric
   Suzuki-Trotter splitting by colours, stochastic LLG and Langevin baths) for the Hamiltonian of
   pair_style spin/spinlat, instead of fix nve/spin's one-spin-at-a-time sweeps (docs/lammps.md). */
#ifndef SPINLAT_FIX_SPINLAT_SLD_H
#define SPINLAT_FIX_SPINLAT_SLD_H

#include <memory>

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

 private:
  double temperature = 0.0, alpha = 0.0, lattice_damping = 0.0;
  int seed = 1;
  std::unique_ptr<spinlat_lammps::Dynamics> dynamics;
};

}    // namespace LAMMPS_NS

#endif
