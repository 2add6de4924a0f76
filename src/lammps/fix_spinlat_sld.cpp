// fix spinlat/sld (fix_spinlat_sld.h, docs/lammps.md).
#include "fix_spinlat_sld.h"

#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "update.h"

#include "bridge.hpp"
#include "lammps_box.h"
#include "pair_spin_spinlat.h"

using namespace LAMMPS_NS;
using namespace FixConst;

FixSpinlatSld::FixSpinlatSld(LAMMPS *lmp, int narg, char **arg) : Fix(lmp, narg, arg)
{
  if (strcmp(arg[1], "all") != 0) error->all(FLERR, "fix spinlat/sld acts on group all only");
  time_integrate = 1;
  for (int i = 3; i < narg; i += 2) {
    if (i + 1 >= narg) error->all(FLERR, std::string("fix spinlat/sld: keyword '") + arg[i] + "' needs a value");
    const std::string key = arg[i];
    if (key == "temp") temperature = utils::numeric(FLERR, arg[i + 1], false, lmp);
    else if (key == "alpha") alpha = utils::numeric(FLERR, arg[i + 1], false, lmp);
    else if (key == "lattice_damping") lattice_damping = utils::numeric(FLERR, arg[i + 1], false, lmp);
    else if (key == "seed") seed = utils::inumeric(FLERR, arg[i + 1], false, lmp);
    else error->all(FLERR, "fix spinlat/sld: unknown keyword '" + key + "' (temp, alpha, lattice_damping, seed)");
  }
  if (temperature < 0.0 || alpha < 0.0 || lattice_damping < 0.0 || seed <= 0)
    error->all(FLERR, "fix spinlat/sld: temp, alpha and lattice_damping must be >= 0 and seed > 0");
}

FixSpinlatSld::~FixSpinlatSld() = default;

int FixSpinlatSld::setmask()
{
  return INITIAL_INTEGRATE;
}

void FixSpinlatSld::init()
{
  if (comm->nprocs > 1) error->all(FLERR, "fix spinlat/sld runs on one MPI rank only");
  if (atom->rmass) error->all(FLERR, "fix spinlat/sld needs per-type masses (mass command)");
  auto *pair = dynamic_cast<PairSpinSpinlat *>(force->pair_match("spin/spinlat", 1));
  if (!pair) error->all(FLERR, "fix spinlat/sld needs pair_style spin/spinlat (not as a hybrid sub-style)");
  std::vector<double> mass(atom->ntypes + 1, 0.0);
  for (int t = 1; t <= atom->ntypes; t++) mass[t] = atom->mass[t];
  spinlat_lammps::Dynamics::Options o;
  o.dt = update->dt;
  o.temperature = temperature;
  o.damping = alpha;
  o.lattice_damping = lattice_damping;
  o.seed = static_cast<unsigned long long>(seed);
  // A fresh integrator each run: velocities, spins or the time step may have changed.
  try {
    dynamics.reset(new spinlat_lammps::Dynamics(pair->input_file(), pair->type_species(), mass, o));
  } catch (const std::exception &e) {
    error->all(FLERR, std::string("fix spinlat/sld: ") + e.what());
  }
}

void FixSpinlatSld::initial_integrate(int)
{
  spinlat_lammps::Atoms a;
  a.n = atom->nlocal;
  a.x = atom->x;
  a.sp = atom->sp;
  a.type = atom->type;
  const spinlat_lammps::Box box = spinlat_lammps::lammps_box(domain);
  std::vector<long long> tags(atom->tag, atom->tag + atom->nlocal);
  try {
    dynamics->step(a, atom->v, tags.data(), box);
  } catch (const std::exception &e) {
    error->one(FLERR, std::string("fix spinlat/sld: ") + e.what());
  }
}
