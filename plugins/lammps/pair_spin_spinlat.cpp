// pair_style spin/spinlat (pair_spin_spinlat.h, docs/lammps.md).
#include "pair_spin_spinlat.h"

#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "modify.h"
#include "update.h"

#include "bridge.hpp"

using namespace LAMMPS_NS;

PairSpinSpinlat::PairSpinSpinlat(LAMMPS *lmp) : PairSpin(lmp)
{
  // spinlat computes the virial itself (W = −Σ r_ij ⊗ ∂E/∂r_ij, periodic images included);
  // no per-atom virial.
  no_virial_fdotr_compute = 1;
  manybody_flag = 1;
  one_coeff = 1;
}

PairSpinSpinlat::~PairSpinSpinlat()
{
  if (allocated) {
    memory->destroy(setflag);
    memory->destroy(cutsq);
  }
  memory->destroy(emag);
}

void PairSpinSpinlat::allocate()
{
  allocated = 1;
  const int n = atom->ntypes;
  memory->create(setflag, n + 1, n + 1, "pair:setflag");
  memory->create(cutsq, n + 1, n + 1, "pair:cutsq");
  for (int i = 1; i <= n; i++)
    for (int j = i; j <= n; j++) setflag[i][j] = 0;
}

// pair_style spin/spinlat INPUT.toml
void PairSpinSpinlat::settings(int narg, char **arg)
{
  if (narg != 1) error->all(FLERR, "Illegal pair_style spin/spinlat command: expected one spinlat input file");
  PairSpin::settings(narg, arg);    // metal units
  try {
    engine.reset(new spinlat_lammps::Engine(arg[0], hbar));
    input = arg[0];
  } catch (const std::exception &e) {
    error->all(FLERR, std::string("pair_style spin/spinlat: ") + e.what());
  }
}

// pair_coeff * * NAME1 NAME2 ... : the spinlat species of each LAMMPS type, in type order (as
// eam/alloy lists its elements).
void PairSpinSpinlat::coeff(int narg, char **arg)
{
  if (!allocated) allocate();
  const int n = atom->ntypes;
  if (narg != 2 + n || strcmp(arg[0], "*") != 0 || strcmp(arg[1], "*") != 0)
    error->all(FLERR, "Incorrect args for pair_coeff spin/spinlat: expected '* *' and one species name per atom type ("
                          + std::to_string(n) + ")");
  std::vector<std::string> names(arg + 2, arg + 2 + n);
  try {
    engine->map_types(names);
    species.assign(1, "");
    species.insert(species.end(), names.begin(), names.end());
  } catch (const std::exception &e) {
    error->all(FLERR, std::string(e.what()));
  }
  for (int i = 1; i <= n; i++)
    for (int j = i; j <= n; j++) setflag[i][j] = 1;
}

void PairSpinSpinlat::init_style()
{
  // One process: spinlat sees the whole periodic box and builds its own neighbour list.
  if (comm->nprocs > 1)
    error->all(FLERR, "pair_style spin/spinlat runs on one MPI rank only (use spinlat's OpenMP threads "
                      "within the rank); domain decomposition is not implemented");
  // PairSpin::init_style()'s checks without its neighbour-list request: spinlat builds its own
  // list (forces are always computed, so fix nve/spin's lattice flag is not needed).
  if (!atom->sp_flag) error->all(FLERR, "pair_style spin/spinlat requires atom_style spin");
  if (force->newton_pair == 0) error->all(FLERR, "pair_style spin/spinlat requires newton pair on");
  if (modify->find_fix_by_style("^nve/spin") == -1 && modify->find_fix_by_style("^neb/spin") == -1 &&
      modify->find_fix_by_style("^spinlat/sld") == -1 && comm->me == 0)
    error->warning(FLERR, "Using spin pair style without nve/spin or neb/spin");
  nlocal_max = atom->nlocal;
  memory->grow(emag, nlocal_max, "pair/spin:emag");
}

double PairSpinSpinlat::init_one(int, int)
{
  return engine->cutoff();
}

void PairSpinSpinlat::load()
{
  spinlat_lammps::Atoms a;
  a.n = atom->nlocal;
  a.x = atom->x;
  a.sp = atom->sp;
  a.type = atom->type;
  spinlat_lammps::Box box;
  for (int k = 0; k < 3; k++) {
    box.lo[k] = domain->boxlo[k];
    box.periodic[k] = domain->periodicity[k] != 0;
  }
  box.a[0] = domain->xprd;
  box.b[0] = domain->xy;
  box.b[1] = domain->yprd;
  box.c[0] = domain->xz;
  box.c[1] = domain->yz;
  box.c[2] = domain->zprd;
  engine->load(a, box);
}

void PairSpinSpinlat::compute(int eflag, int vflag)
{
  ev_init(eflag, vflag);
  if (vflag_atom) error->all(FLERR, "pair_style spin/spinlat: per-atom virial not implemented");
  const int nlocal = atom->nlocal;
  if (nlocal_max < nlocal) {
    nlocal_max = nlocal;
    memory->grow(emag, nlocal_max, "pair/spin:emag");
  }
  try {
    load();
    spinlat_lammps::Outputs out;
    out.f = atom->f;
    out.fm = atom->fm;
    out.virial = vflag_global ? virial : nullptr;
    out.eatom = eflag_atom ? eatom : nullptr;
    out.emag = eflag_either ? emag : nullptr;
    const double e = engine->evaluate(out);
    if (eflag_global) eng_vdwl += e;
  } catch (const std::exception &ex) {
    error->one(FLERR, std::string("pair_style spin/spinlat: ") + ex.what());
  }
}

void PairSpinSpinlat::compute_single_pair(int i, double fmi[3])
{
  spinlat_lammps::Atoms a;
  a.n = atom->nlocal;
  a.x = atom->x;
  a.sp = atom->sp;
  a.type = atom->type;
  try {
    engine->single_field(a, i, fmi);
  } catch (const std::exception &ex) {
    error->one(FLERR, std::string("pair_style spin/spinlat: ") + ex.what());
  }
}
