// pair_style spin/spinlat (pair_spin_spinlat.h, docs/lammps.md).
#include "pair_spin_spinlat.h"

#include <cstring>
#include <mpi.h>
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
#include "lammps_box.h"

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
  // One rank: spinlat sees the whole periodic box and builds its own neighbour list. Several
  // (LAMMPS's domain decomposition): each rank evaluates the open cluster of its owned and
  // ghost atoms, the ghosts reaching twice the range of a site energy (Engine::ghost_reach),
  // and keeps the owned atoms' energies, forces and fields; the virial comes from one
  // evaluation of the whole box, gathered on rank 0 (whole_box_virial).
  if (comm->nprocs > 1) {
    const std::string why = engine->decomposition_refusal();
    if (!why.empty()) error->all(FLERR, "pair_style spin/spinlat cannot run on more than one MPI rank: " + why);
  }
  cut_spin = engine->spin_reach();
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
  // LAMMPS's ghost cutoff follows the pair cutoff (no LAMMPS neighbour list is requested).
  return comm->nprocs > 1 ? engine->ghost_reach() : engine->cutoff();
}

void *PairSpinSpinlat::extract(const char *name, int &dim)
{
  dim = 0;
  if (strcmp(name, "cut") == 0) return (void *) &cut_spin;
  return nullptr;
}

int PairSpinSpinlat::ghosts() const
{
  return comm->nprocs > 1 ? atom->nghost : 0;
}

// Several ranks: the virial of the whole box, from all atoms gathered on rank 0 (one more
// evaluation, on the steps that need the pressure); the other ranks add nothing.
void PairSpinSpinlat::whole_box_virial()
{
  const int nlocal = atom->nlocal, nprocs = comm->nprocs;
  std::vector<double> mine(8 * nlocal);
  for (int i = 0; i < nlocal; i++) {
    for (int k = 0; k < 3; k++) mine[8 * i + k] = atom->x[i][k];
    for (int k = 0; k < 4; k++) mine[8 * i + 3 + k] = atom->sp[i][k];
    mine[8 * i + 7] = atom->type[i];
  }
  std::vector<int> counts(nprocs), offsets(nprocs, 0);
  const int count = 8 * nlocal;
  MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, world);
  int total = 0;
  for (int r = 0; r < nprocs; r++) {
    offsets[r] = total;
    total += counts[r];
  }
  std::vector<double> all(comm->me == 0 ? total : 0);
  MPI_Gatherv(mine.data(), count, MPI_DOUBLE, all.data(), counts.data(), offsets.data(), MPI_DOUBLE, 0, world);
  if (comm->me != 0) return;
  const int n = total / 8;
  std::vector<double *> x(n), sp(n);
  std::vector<int> type(n);
  for (int i = 0; i < n; i++) {
    x[i] = &all[8 * i];
    sp[i] = &all[8 * i + 3];
    type[i] = static_cast<int>(all[8 * i + 7]);
  }
  spinlat_lammps::Atoms a;
  a.n = n;
  a.x = x.data();
  a.sp = sp.data();
  a.type = type.data();
  const spinlat_lammps::Box box = spinlat_lammps::lammps_box(domain);
  double w[6];
  engine->whole_box_virial(a, box, w);
  for (int k = 0; k < 6; k++) virial[k] += w[k];
}

spinlat_lammps::Atoms PairSpinSpinlat::owned_and_ghosts() const
{
  spinlat_lammps::Atoms a;
  a.n = atom->nlocal;
  a.ghosts = ghosts();
  a.x = atom->x;
  a.sp = atom->sp;
  a.type = atom->type;
  if (a.ghosts > 0) {
    tags.assign(atom->tag, atom->tag + a.n + a.ghosts);
    a.tag = tags.data();
  }
  return a;
}

void PairSpinSpinlat::load()
{
  engine->load(owned_and_ghosts(), spinlat_lammps::lammps_box(domain, comm->procgrid));
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
    out.virial = vflag_global && comm->nprocs == 1 ? virial : nullptr;
    out.energy = eflag_global != 0;
    out.eatom = eflag_atom ? eatom : nullptr;
    out.emag = eflag_either ? emag : nullptr;
    const double e = engine->evaluate(out);
    if (eflag_global) eng_vdwl += e;
    if (vflag_global && comm->nprocs > 1) whole_box_virial();
  } catch (const std::exception &ex) {
    error->one(FLERR, std::string("pair_style spin/spinlat: ") + ex.what());
  }
}

void PairSpinSpinlat::compute_single_pair(int i, double fmi[3])
{
  const spinlat_lammps::Atoms a = owned_and_ghosts();
  try {
    engine->single_field(a, i, fmi);
  } catch (const std::exception &ex) {
    error->one(FLERR, std::string("pair_style spin/spinlat: ") + ex.what());
  }
}

void PairSpinSpinlat::precession_frequencies(double **fm)
{
  try {
    load();
    spinlat_lammps::Outputs out;
    out.fm = fm;
    out.energy = false;
    engine->evaluate(out);
  } catch (const std::exception &ex) {
    error->one(FLERR, std::string("pair_style spin/spinlat: ") + ex.what());
  }
}

bool PairSpinSpinlat::generic_spin_field() const
{
  return engine->generic_spin_field();
}

bool PairSpinSpinlat::local_single_field() const
{
  return engine->local_single_field();
}
