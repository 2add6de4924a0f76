// Issue 5/6: a Monte Carlo sweep with the bundled learned model (inputs/models/fe_bcc.spl),
// killed with SIGKILL at random instants and continued with --restart, ends with the same
// HDF5 results as an uninterrupted run, bit for bit. The learned term keeps caches of node
// energies and features between trials; a checkpoint holds only spins, moments and random
// streams, so this passes only if every cached value equals what a fresh rebuild after the
// restart computes (docs/learned-potential.md, Monte Carlo).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "restart_test_helpers.hpp"

using namespace restart_test;

TEST(LearnedRestart, KilledLearnedSweepEqualsUninterruptedSweep) {
  const fs::path dir = scratch("learned");
  const fs::path input = dir / "learned.toml";
  write_text(input, std::string(R"(
title = "restart test: learned-model Metropolis sweep"
seed = 5
threads = 1
[structure]
lattice = "bcc"
a = 2.83
cells = [3, 3, 3]
species = ["Fe"]
moment = [2.2]
spins = "ferro"
[[potential]]
type = "learned"
model = ")") + SPINLAT_SOURCE_DIR + R"(/inputs/models/fe_bcc.spl"
[sweep]
temperatures = [650.0, 700.0, 750.0, 800.0]
sizes = [3, 4]
method = "mc"
algorithm = "metropolis"
equilibrate = 50
measure = 400
order = "ferro"
[output]
checkpoint_every = 20
)");
  const fs::path ref = dir / "ref.h5", killed = dir / "killed.h5";
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(run_to_end({SPINLAT_BINARY, "run", input.string(), "-o", ref.string()}), 0);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const int landed = run_with_kills(input, killed, 4, 31, seconds);
  EXPECT_GE(landed, 2) << "the kills should land while the run is going";
  expect_same_datasets(ref.string(), killed.string(), "/sweep");
  fs::remove_all(dir);
}
