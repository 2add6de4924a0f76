// fix spinlat/sld (fix_spinlat_sld.h, docs/lammps.md).
#include "fix_spinlat_sld.h"

#include <cmath>
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
#include "update.h"

#include "bridge.hpp"
#include "lammps_box.h"
#include "pair_spin_spinlat.h"

using namespace LAMMPS_NS;
using namespace FixConst;
namespace wl = spinlat_lammps::whole_lattice;

namespace {
// Noise streams of the whole-lattice path (tagged_normals' `purpose`).
constexpr unsigned long long kSpinNoise = 1, kLatticeNoise = 2;
}    // namespace

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
    else if (key == "integrator") integrator = arg[i + 1];
    else error->all(FLERR, "fix spinlat/sld: unknown keyword '" + key + "' (temp, alpha, lattice_damping, seed, integrator)");
  }
  if (temperature < 0.0 || alpha < 0.0 || lattice_damping < 0.0 || seed <= 0)
    error->all(FLERR, "fix spinlat/sld: temp, alpha and lattice_damping must be >= 0 and seed > 0");
  if (integrator != "auto" && integrator != "explicit-midpoint" && integrator != "suzuki-trotter")
    error->all(FLERR, "fix spinlat/sld: integrator '" + integrator + "' (expected auto, explicit-midpoint or suzuki-trotter)");
}

FixSpinlatSld::~FixSpinlatSld()
{
  memory->destroy(w_mid);
}

int FixSpinlatSld::setmask()
{
  return INITIAL_INTEGRATE | FINAL_INTEGRATE;
}

void FixSpinlatSld::init()
{
  if (atom->rmass) error->all(FLERR, "fix spinlat/sld needs per-type masses (mass command)");
  pair = dynamic_cast<PairSpinSpinlat *>(force->pair_match("spin/spinlat", 1));
  if (!pair) error->all(FLERR, "fix spinlat/sld needs pair_style spin/spinlat (not as a hybrid sub-style)");
  if (integrator == "suzuki-trotter" && comm->nprocs > 1)
    error->all(FLERR, "fix spinlat/sld: integrator suzuki-trotter runs on one MPI rank only (its colour sweep needs "
                      "every atom); integrator explicit-midpoint runs on any number");
  whole_lattice = integrator == "explicit-midpoint" ||
                  (integrator == "auto" && (comm->nprocs > 1 || pair->generic_spin_field()));
  transverse = pair->generic_spin_field();
  announced = false;
  dynamics.reset();
  if (whole_lattice) return;
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

void FixSpinlatSld::kick(double h)
{
  double **v = atom->v, **f = atom->f;
  const int *type = atom->type;
  for (int i = 0; i < atom->nlocal; i++) {
    const double c = wl::kick_factor(h, atom->mass[type[i]]);
    for (int k = 0; k < 3; k++) v[i][k] += c * f[i][k];
  }
}

void FixSpinlatSld::drift(double h)
{
  double **x = atom->x, **v = atom->v;
  for (int i = 0; i < atom->nlocal; i++)
    for (int k = 0; k < 3; k++) x[i][k] += h * v[i][k];
}

// B(Δt/2) · ŝ' = R(ŝ; ω, Δt/2) · A(Δt/2) · ŝ ← R(ŝ; ω(x_½, ŝ'), Δt) · O(Δt) · A(Δt/2), then LAMMPS
// evaluates the forces and ω at the new positions and spins, and final_integrate() kicks: the
// whole-lattice step of dynamics/sld.hpp. ω at the start is LAMMPS's own evaluation at the end
// of the last step (atom->fm).
void FixSpinlatSld::step_midpoint()
{
  const int n = atom->nlocal;
  const double dt = update->dt;
  const double hbar = force->hplanck / (2.0 * M_PI);    // PairSpin's ħ
  const long long step = update->ntimestep;
  double **sp = atom->sp, **fm = atom->fm, **v = atom->v;
  const tagint *tag = atom->tag;
  if (atom->nmax > nmax) {
    nmax = atom->nmax;
    memory->destroy(w_mid);
    memory->create(w_mid, nmax, 3, "spinlat/sld:w_mid");
  }
  start.resize(3 * n);
  noise.assign(3 * n, 0.0);
  kick(0.5 * dt);
  const bool bath = alpha > 0.0 && temperature > 0.0;
  for (int i = 0; i < n; i++) {
    for (int k = 0; k < 3; k++) start[3 * i + k] = sp[i][k];
    if (!(sp[i][3] > 0.0)) continue;
    if (bath) {
      const double sigma = wl::spin_noise_sigma(alpha, temperature, sp[i][3], dt);
      wl::tagged_normals(seed, kSpinNoise, tag[i], step, &noise[3 * i]);
      for (int k = 0; k < 3; k++) noise[3 * i + k] *= sigma;
    }
    wl::move_spin(&start[3 * i], fm[i], &noise[3 * i], sp[i][3], hbar, alpha, 0.5 * dt,
                  transverse ? &start[3 * i] : nullptr, sp[i]);
  }
  drift(0.5 * dt);
  comm->forward_comm();    // ghosts' positions and spins at the midpoint
  for (int i = 0; i < n; i++)
    for (int k = 0; k < 3; k++) w_mid[i][k] = 0.0;
  pair->precession_frequencies(w_mid);
  for (int i = 0; i < n; i++) {
    if (!(sp[i][3] > 0.0)) continue;
    const double mid[3] = {sp[i][0], sp[i][1], sp[i][2]};    // ŝ', where ω was evaluated
    wl::move_spin(&start[3 * i], w_mid[i], &noise[3 * i], sp[i][3], hbar, alpha, dt, transverse ? mid : nullptr, sp[i]);
  }
  if (lattice_damping > 0.0) {
    for (int i = 0; i < n; i++) {
      double c, a, xi[3];
      wl::lattice_bath(lattice_damping, dt, temperature, atom->mass[atom->type[i]], c, a);
      wl::tagged_normals(seed, kLatticeNoise, tag[i], step, xi);
      for (int k = 0; k < 3; k++) v[i][k] = c * v[i][k] + a * xi[k];
    }
  }
  drift(0.5 * dt);
}

void FixSpinlatSld::initial_integrate(int)
{
  if (whole_lattice) {
    step_midpoint();
  } else {
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
  if (!announced && comm->me == 0)
    utils::logmesg(lmp, std::string("fix spinlat/sld: spin update ") +
                            (whole_lattice ? "explicit-midpoint" : "suzuki-trotter") + "\n");
  announced = true;
}

void FixSpinlatSld::final_integrate()
{
  if (whole_lattice) kick(0.5 * update->dt);
}
