// Thread count and OpenMP wait policy (core/threads.hpp, src/app/omp_env).
#include <gtest/gtest.h>

#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "spinlat/core/threads.hpp"

using namespace spinlat;

namespace {
std::string capture(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) out += buf;
  pclose(p);
  return out;
}
}  // namespace

TEST(Threads, ExplicitCountsAreKeptAndZeroMeansFreeCores) {
  EXPECT_EQ(resolve_threads(3), 3);
  EXPECT_EQ(resolve_threads(1), 1);
  const int cores = available_cores();
  EXPECT_GE(cores, 1);
  const char* saved = std::getenv("OMP_NUM_THREADS");  // a user's value would be the choice
  const std::string keep = saved ? saved : "";
  unsetenv("OMP_NUM_THREADS");
  const int automatic = resolve_threads(0);
  if (saved) setenv("OMP_NUM_THREADS", keep.c_str(), 1);
  EXPECT_GE(automatic, 1);
  EXPECT_LE(automatic, cores);
  EXPECT_GE(busy_cores(), 0);
  EXPECT_NE(threads_summary(2).find("2 threads"), std::string::npos);
}

TEST(Threads, SpinlatSetsTheWaitPolicyBeforeLibgompReadsIt) {
  // libgomp prints the settings it read at load time with OMP_DISPLAY_ENV=verbose: after the
  // re-execution, the program's short spin count must be among them, and a user's own setting
  // must win (no re-execution then).
  if (available_cores() < 2) GTEST_SKIP() << "one core: the wait policy is left alone";
  const std::string bin = SPINLAT_BINARY;
  const std::string env = "env -u GOMP_SPINCOUNT -u OMP_WAIT_POLICY OMP_DISPLAY_ENV=verbose ";
  const std::string ours = capture(env + bin + " bench none");
  EXPECT_NE(ours.find(std::string("GOMP_SPINCOUNT = '") + kSpinCount + "'"), std::string::npos) << ours;
  EXPECT_NE(ours.find("unknown benchmark"), std::string::npos) << ours;
  const std::string user = capture("env -u OMP_WAIT_POLICY GOMP_SPINCOUNT=1234 OMP_DISPLAY_ENV=verbose " + bin + " bench none");
  EXPECT_NE(user.find("GOMP_SPINCOUNT = '1234'"), std::string::npos) << user;
  EXPECT_EQ(user.find(std::string("GOMP_SPINCOUNT = '") + kSpinCount + "'"), std::string::npos) << user;
}

TEST(Threads, ZeroTakesTheUsersOmpNumThreadsAndExportsTheChoice) {
  // LibTorch sizes its pool from OMP_NUM_THREADS when it first runs in parallel: apply_threads
  // must leave the chosen count there, and a user's own value must be the choice for 0.
  const char* saved = std::getenv("OMP_NUM_THREADS");
  const std::string keep = saved ? saved : "";
  setenv("OMP_NUM_THREADS", "3", 1);
  EXPECT_EQ(resolve_threads(0), 3);
  EXPECT_EQ(resolve_threads(2), 2);
  unsetenv("OMP_NUM_THREADS");
  const int n = apply_threads(0);
  ASSERT_NE(std::getenv("OMP_NUM_THREADS"), nullptr);
  EXPECT_EQ(std::string(std::getenv("OMP_NUM_THREADS")), std::to_string(n));
  EXPECT_EQ(omp_get_max_threads(), n);
  if (saved) setenv("OMP_NUM_THREADS", keep.c_str(), 1);
  else unsetenv("OMP_NUM_THREADS");
}

TEST(Threads, ZeroUnderMpiDividesASharedNodeAmongItsRanks) {
  // One process: the free cores of its mask, as always.
  EXPECT_EQ(automatic_threads(16, 16, 0, 1), 16);
  EXPECT_EQ(automatic_threads(16, 16, 3, 1), 13);
  EXPECT_EQ(automatic_threads(2, 2, 9, 1), 1);
  // 4 ranks, no binding (each mask the whole node): the other 3 ranks are not other jobs.
  EXPECT_EQ(automatic_threads(16, 16, 3, 4), 4);
  // ... with 4 other jobs running: 12 free cores, 3 each.
  EXPECT_EQ(automatic_threads(16, 16, 7, 4), 3);
  // 3 ranks oversubscribing 2 cores: one thread each.
  EXPECT_EQ(automatic_threads(2, 2, 2, 3), 1);
  // Bound ranks (mpirun --map-by slot:PE=4): the mask is the rank's own.
  EXPECT_EQ(automatic_threads(4, 16, 3, 4), 4);
  EXPECT_EQ(automatic_threads(4, 16, 5, 4), 2);
  // Never more than the rank's share, never less than one.
  for (int busy = 0; busy < 40; ++busy)
    for (int ranks = 1; ranks <= 8; ++ranks) {
      const int n = automatic_threads(16, 16, busy, ranks);
      EXPECT_GE(n, 1);
      EXPECT_LE(n, std::max(1, 16 / ranks)) << busy << " busy, " << ranks << " ranks";
    }
}
