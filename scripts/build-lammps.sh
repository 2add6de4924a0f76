#!/usr/bin/env bash
# Builds LAMMPS from Debian 12's source package (20220106) with the SPIN, PLUGIN, MANYBODY and
# OPENMP packages (Debian's binary package has neither SPIN nor PLUGIN and liblammps-dev lacks
# the headers a plugin needs), then spinlat's LAMMPS plugin against it (docs/lammps.md).
#   scripts/build-lammps.sh [BUILD]        (BUILD defaults to build)
# Produces BUILD/lammps/lmp, BUILD/lammps/liblammps.so, BUILD/spinlat_lammps.so and the
# plugin tests (ctest -L lammps).
# Downloads are cached in BUILD/lammps-cache and checked against the .dsc's SHA-256 sums.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath -m "${1:-$here/build}")
jobs=${JOBS:-2}
base=http://deb.debian.org/debian/pool/main/l/lammps
ver=20220106.git7586adbb6a+ds1
dsc=lammps_${ver}-2.dsc
cache=$build/lammps-cache
src=$build/lammps-src
lmp=$build/lammps
mkdir -p "$cache"

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)

if [ ! -f "$src/cmake/CMakeLists.txt" ]; then
  cd "$cache"
  [ -f "$dsc" ] || curl -sSfLO "$base/$dsc"
  # The two files the .dsc lists, each checked against its Checksums-Sha256 line.
  awk '/^Checksums-Sha256:/{f=1;next} /^[^ ]/{f=0} f{print $1, $3}' "$dsc" | while read -r sum name; do
    if [ ! -f "$name" ] || ! echo "$sum  $name" | sha256sum -c --quiet - 2>/dev/null; then
      rm -f "$name"; curl -sSfLO "$base/$name"
    fi
    echo "$sum  $name" | sha256sum -c --quiet - || { echo "build-lammps: $name: SHA-256 differs from $dsc" >&2; exit 1; }
  done
  rm -rf "$src.tmp"
  if command -v dpkg-source >/dev/null; then
    dpkg-source --no-check -x "$dsc" "$src.tmp" >/dev/null
  else
    mkdir -p "$src.tmp" && tar -C "$src.tmp" --strip-components=1 -xJf lammps_${ver}.orig.tar.xz
  fi
  mv "$src.tmp" "$src"
fi

if [ ! -x "$lmp/lmp" ]; then
  cmake -S "$src/cmake" -B "$lmp" -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" \
    -DBUILD_SHARED_LIBS=on -DLAMMPS_EXCEPTIONS=on -DBUILD_MPI=on -DBUILD_OMP=on \
    -DPKG_SPIN=on -DPKG_PLUGIN=on -DPKG_MANYBODY=on -DPKG_OPENMP=on \
    -DWITH_JPEG=off -DWITH_PNG=off -DWITH_FFMPEG=off -DWITH_GZIP=off \
    -DBUILD_TOOLS=off -DBUILD_DOC=off -DDOWNLOAD_POTENTIALS=off >/dev/null
  cmake --build "$lmp" -j "$jobs"
fi

# The plugin and its tests: spinlat's own build, which configures src/lammps once it finds
# LAMMPS in BUILD/lammps (CMakeLists.txt).
cmake -S "$here" -B "$build" >/dev/null
cmake --build "$build" -j "$jobs" --target spinlat spinlat_lammps test_lammps_plugin
echo "build-lammps: $lmp/lmp and $build/spinlat_lammps.so"
