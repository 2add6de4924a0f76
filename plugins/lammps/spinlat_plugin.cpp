// Registers pair_style spin/spinlat with LAMMPS's PLUGIN package (`plugin load spinlat_lammps.so`).
#include "lammpsplugin.h"
#include "version.h"

#include "pair_spin_spinlat.h"

using namespace LAMMPS_NS;

static Pair *spinlat_creator(LAMMPS *lmp)
{
  return new PairSpinSpinlat(lmp);
}

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  lammpsplugin_t plugin;
  auto register_plugin = (lammpsplugin_regfunc) regfunc;
  plugin.version = LAMMPS_VERSION;
  plugin.style = "pair";
  plugin.name = "spin/spinlat";
  plugin.info = "spinlat Hamiltonians (analytic, EAM, learned) as a SPIN pair style";
  plugin.author = "spinlat";
  plugin.creator.v1 = (lammpsplugin_factory1 *) &spinlat_creator;
  plugin.handle = handle;
  (*register_plugin)(&plugin, lmp);
}
