// Registers pair_style spin/spinlat and fix spinlat/sld with LAMMPS's PLUGIN package (`plugin load spinlat_lammps.so`).
#include "lammpsplugin.h"
#include "version.h"

#include "fix_spinlat_sld.h"
#include "pair_spin_spinlat.h"

using namespace LAMMPS_NS;

static Pair *spinlat_creator(LAMMPS *lmp)
{
  return new PairSpinSpinlat(lmp);
}

static Fix *sld_creator(LAMMPS *lmp, int narg, char **arg)
{
  return new FixSpinlatSld(lmp, narg, arg);
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

  plugin.style = "fix";
  plugin.name = "spinlat/sld";
  plugin.info = "spinlat's spin-lattice dynamics (all spins at once) for pair_style spin/spinlat";
  plugin.creator.v2 = (lammpsplugin_factory2 *) &sld_creator;
  (*register_plugin)(&plugin, lmp);
}
