// The `spinlat` command line (placeholder while the CLI is being written).
#include <iostream>

#include "spinlat/version.hpp"

int main(int argc, char** argv) {
  std::cout << "spinlat " << spinlat::kVersion << "\n";
  return 0;
}
