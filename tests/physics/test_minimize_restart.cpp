// A minimize stage (moments and positions) killed with SIGKILL at random instants and continued
// with --restart ends with the same results as an uninterrupted run, bit for bit: the
// minimiser's velocities, step sizes and neighbour-list history travel in the checkpoint.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "restart_test_helpers.hpp"

using namespace restart_test;

namespace {

const std::string kEam = "/usr/share/lammps/examples/SPIN/iron/Fe_Mishin2006.eam.alloy";

const std::string kInput = R"(
title = "restart test: minimize moments and positions"
seed = 5
threads = 1
[structure]
lattice = "bcc"
a = 2.8665
cells = [8, 8, 8]
species = ["Fe"]
moment = [2.2]
spins = "random"
[[potential]]
type = "eam"
file = ")" + kEam + R"("
[[potential]]
type = "bethe-slater"
a = 0.02726
b = 0.2171
d = 1.841
cutoff = 3.4
[[stage]]
type = "minimize"
relax_positions = true
torque_tolerance = 1e-9
force_tolerance = 1e-7
[output]
observables_every = 10
checkpoint_every = 25
trajectory_every = 100
)";

}  // namespace

TEST(Restart, KilledMinimizeEqualsUninterruptedMinimize) {
  if (!fs::exists(kEam)) GTEST_SKIP() << "needs Debian's lammps-examples (" << kEam << ")";
  const fs::path dir = scratch("minimize");
  const fs::path input = dir / "minimize.toml";
  write_text(input, kInput);
  const fs::path ref = dir / "ref.h5", killed = dir / "killed.h5";
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(run_to_end({SPINLAT_BINARY, "run", input.string(), "-o", ref.string()}), 0);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int landed = run_with_kills(input, killed, 4, 29, seconds);
  EXPECT_GE(landed, 2);
  expect_same_datasets(ref.string(), killed.string(), "/observables");
  expect_same_datasets(ref.string(), killed.string(), "/particles");
  File a = File::open(ref.string()), b = File::open(killed.string());
  EXPECT_EQ(a.attr_string("/stages/0", "status"), "converged");
  for (const char* name : {"steps", "energy", "max_torque", "max_force"})
    EXPECT_EQ(a.attr_double("/stages/0", name), b.attr_double("/stages/0", name)) << name;
  fs::remove_all(dir);
}
