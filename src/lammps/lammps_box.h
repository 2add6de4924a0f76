/* The LAMMPS box as the bridge's Box (bridge.hpp), for the pair style and the fix. */
#ifndef SPINLAT_LAMMPS_BOX_H
#define SPINLAT_LAMMPS_BOX_H

#include "bridge.hpp"
#include "domain.h"

namespace spinlat_lammps {

/// `procgrid` (comm->procgrid, may be null): which directions the ranks divide.
inline Box lammps_box(const LAMMPS_NS::Domain *d, const int *procgrid = nullptr)
{
  Box box;
  if (procgrid)
    for (int k = 0; k < 3; k++) box.whole[k] = procgrid[k] == 1;
  for (int k = 0; k < 3; k++) {
    box.lo[k] = d->boxlo[k];
    box.periodic[k] = d->periodicity[k] != 0;
  }
  box.a[0] = d->xprd;
  box.b[0] = d->xy;
  box.b[1] = d->yprd;
  box.c[0] = d->xz;
  box.c[1] = d->yz;
  box.c[2] = d->zprd;
  return box;
}

}    // namespace spinlat_lammps

#endif
