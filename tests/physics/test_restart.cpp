// Issue 6 acceptance: a run killed (SIGKILL) at random instants and continued with --restart
// ends with the same HDF5 results as an uninterrupted run, bit for bit (same thread count).
// Also: SIGTERM writes a checkpoint and exits with status 3; a changed input is refused.
#include <gtest/gtest.h>

#include <cmath>

#include <filesystem>
#include <string>

#include "restart_test_helpers.hpp"

using namespace restart_test;

namespace {

const std::string kSweepInput = R"(
title = "restart test: sc Heisenberg sweep"
seed = 77
threads = 1
[structure]
lattice = "sc"
a = 1.0
cells = [8, 8, 8]
species = ["Fe"]
moment = [2.0]
[[potential]]
type = "heisenberg"
J = [0.01]
[sweep]
temperatures = [150.0, 160.0, 170.0, 180.0]
sizes = [8, 12]
method = "mc"
equilibrate = 300
measure = 900
[output]
checkpoint_every = 40
)";

const std::string kStagesInput = R"(
title = "restart test: stages"
seed = 5
threads = 1
[structure]
lattice = "bcc"
a = 2.8665
cells = [6, 6, 6]
species = ["Fe"]
moment = [2.2]
spins = "random"
[[potential]]
type = "heisenberg"
J = [0.02, 0.01]
[[potential]]
type = "zeeman"
field = [0.0, 0.0, 2.0]
[[stage]]
type = "mc"
temperature = 300.0
sweeps = 1500
[[stage]]
type = "llg"
temperature = 300.0
steps = 6000
dt = 1e-4
damping = 0.1
integrator = "heun"
[output]
observables_every = 20
trajectory_every = 500
checkpoint_every = 100
)";

}  // namespace

TEST(Restart, KilledSweepEqualsUninterruptedSweep) {
  const fs::path dir = scratch("sweep");
  const fs::path input = dir / "sweep.toml";
  write_text(input, kSweepInput);
  const fs::path ref = dir / "ref.h5", killed = dir / "killed.h5";
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(run_to_end({SPINLAT_BINARY, "run", input.string(), "-o", ref.string()}), 0);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_FALSE(fs::exists(ref.string() + ".ckpt")) << "a finished run leaves no checkpoint";
  const int landed = run_with_kills(input, killed, 4, 11, seconds);
  EXPECT_GE(landed, 2) << "the kills should land while the run is going";
  expect_same_datasets(ref.string(), killed.string(), "/sweep");
  File a = File::open(ref.string()), b = File::open(killed.string());
  // NaN (method "none") compares unequal: compare the bits, and the method and note as text.
  const double ta = a.attr_double("/sweep", "critical_temperature"), tb = b.attr_double("/sweep", "critical_temperature");
  EXPECT_TRUE(ta == tb || (std::isnan(ta) && std::isnan(tb))) << ta << " vs " << tb;
  EXPECT_EQ(a.attr_string("/sweep", "critical_temperature_method"), b.attr_string("/sweep", "critical_temperature_method"));
  EXPECT_EQ(a.attr_string("/sweep", "critical_temperature_note"), b.attr_string("/sweep", "critical_temperature_note"));
  fs::remove_all(dir);
}

// The antiferromagnet's per-sublattice magnetisation series travel in the checkpoint too.
TEST(Restart, KilledAntiferromagnetSweepKeepsTheSublatticeSeries) {
  const fs::path dir = scratch("sweep_afm");
  const fs::path input = dir / "sweep.toml";
  std::string text = kSweepInput;
  text.replace(text.find("J = [0.01]"), 10, "J = [-0.01]");
  text.replace(text.find("measure = 900"), 13, "measure = 900\norder = \"antiferro\"");
  write_text(input, text);
  const fs::path ref = dir / "ref.h5", killed = dir / "killed.h5";
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(run_to_end({SPINLAT_BINARY, "run", input.string(), "-o", ref.string()}), 0);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int landed = run_with_kills(input, killed, 4, 13, seconds);
  EXPECT_GE(landed, 2) << "the kills should land while the run is going";
  ASSERT_TRUE(File::open(ref.string()).exists("/sweep/sublattice_magnetization_1"));
  expect_same_datasets(ref.string(), killed.string(), "/sweep");
  fs::remove_all(dir);
}

TEST(Restart, KilledStagesEqualUninterruptedStages) {
  const fs::path dir = scratch("stages");
  const fs::path input = dir / "stages.toml";
  write_text(input, kStagesInput);
  const fs::path ref = dir / "ref.h5", killed = dir / "killed.h5";
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(run_to_end({SPINLAT_BINARY, "run", input.string(), "-o", ref.string()}), 0);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int landed = run_with_kills(input, killed, 4, 23, seconds);
  EXPECT_GE(landed, 2);
  expect_same_datasets(ref.string(), killed.string(), "/observables");
  expect_same_datasets(ref.string(), killed.string(), "/particles");
  fs::remove_all(dir);
}

TEST(Restart, SigtermCheckpointsAndChangedInputIsRefused) {
  const fs::path dir = scratch("term");
  const fs::path input = dir / "long.toml";
  write_text(input, R"(seed = 8
threads = 1
[structure]
lattice = "sc"
a = 1.0
cells = [8, 8, 8]
species = ["Fe"]
moment = [2.0]
[[potential]]
type = "heisenberg"
J = [0.01]
[[stage]]
type = "mc"
temperature = 150.0
sweeps = 60000
[output]
observables_every = 100
checkpoint_every = 100
)");
  const fs::path out = dir / "out.h5";
  const std::string ckpt = out.string() + ".ckpt";
  Child c = spawn({SPINLAT_BINARY, "run", input.string(), "-o", out.string()});
  // Stop it once it is demonstrably running (its first periodic checkpoint exists).
  for (int k = 0; k < 600 && !fs::exists(ckpt); ++k) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(fs::exists(ckpt)) << "the run never wrote a checkpoint";
  kill(c.pid, SIGTERM);
  const int rc = wait_exit(c);
  ASSERT_EQ(rc, 3) << "SIGTERM: checkpoint, then exit status 3";
  ASSERT_TRUE(fs::exists(ckpt));
  // A fresh run refuses to overwrite an interrupted one.
  EXPECT_EQ(run_to_end({SPINLAT_BINARY, "run", input.string(), "-o", out.string()}), 2);
  // A changed physical key is refused on restart.
  EXPECT_EQ(run_to_end({SPINLAT_BINARY, "run", input.string(), "-o", out.string(), "--restart", "--set",
                        "potential.0.J=[0.02]"}),
            2);
  // The thread count may change (results do not depend on it), and so may the length of a stage.
  EXPECT_EQ(run_to_end({SPINLAT_BINARY, "run", input.string(), "-o", out.string(), "--restart", "--set", "threads=2",
                        "--set", "stage.0.sweeps=200"}),
            0);
  EXPECT_FALSE(fs::exists(ckpt));
  fs::remove_all(dir);
}
