#!/usr/bin/env bash
# Installs spinlat's build and analysis dependencies from Debian 12 packages (only the ones
# missing). Run as root or with sudo available. libopenblas0-pthread replaces the reference
# BLAS that libtorch links by default (Debian's alternatives): the learned potential's dense
# layers run several times faster on it (docs/performance.md). python3-dev and pybind11-dev build
# the `spinlat` Python module (pybind11's CMake files come with pybind11-dev; python3-pybind11,
# the pip-style package, is not needed), python3-ase is its ASE calculator's host (docs/python.md).
# libopenmpi-dev and openmpi-bin (mpirun) build and run sweeps over MPI ranks (docs/parallel.md).
# curl, xz-utils and dpkg-dev fetch, unpack and patch Debian's LAMMPS sources for `make lammps`
# (docs/lammps.md).
set -euo pipefail
packages=(build-essential cmake pkg-config git
          libeigen3-dev libboost-random-dev libhdf5-dev libtomlplusplus-dev libgtest-dev
          libtorch-dev
          libopenblas0-pthread
          python3 python3-numpy python3-h5py python3-matplotlib python3-scipy
          python3-dev pybind11-dev python3-ase
          libopenmpi-dev openmpi-bin
          lammps-examples
          curl xz-utils dpkg-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
