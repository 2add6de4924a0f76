// The `spinlat` Python module's compiled part (docs/python.md).
#include <pybind11/pybind11.h>

#include "spinlat/version.hpp"

PYBIND11_MODULE(_spinlat, m) {
  m.doc() = "spinlat engine bindings (use the `spinlat` package)";
  m.attr("__version__") = spinlat::kVersion;
}
