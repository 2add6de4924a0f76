// Issue 16, part 1: a sweep run by `mpirun -np K spinlat run` writes the same results as the
// single-process run with the same seed, bit for bit, whatever K (the random streams are keyed
// by point and replica, never by rank or thread), and a stopped K-rank run continues with
// another K. Built only with MPI (SPINLAT_HAVE_MPI); each run takes about a second.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "cli_test_helpers.hpp"
#include "restart_test_helpers.hpp"
#include "spinlat/io/hdf5.hpp"

namespace {

namespace fs = std::filesystem;
using spinlat::test::run_command;
using restart_test::expect_same_datasets;

const std::string kSweep = R"(
title = "mpi test: sc Heisenberg sweep"
seed = 31
threads = 1
[structure]
lattice = "sc"
a = 1.0
cells = [4, 4, 4]
species = ["Fe"]
moment = [2.0]
[[potential]]
type = "heisenberg"
J = [0.01]
[sweep]
temperatures = [150.0, 160.0, 170.0, 180.0]
sizes = [4, 6]
method = "mc"
equilibrate = 100
measure = 400
)";

/// The launcher with the options a 2-core CI running as root needs (Open MPI refuses root and
/// more ranks than cores otherwise).
std::string mpirun(int ranks) {
  setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
  setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
  // Containers (CI) often forbid the cross-memory attach of Open MPI's shared-memory transport
  // for large messages (process_vm_readv without ptrace rights): copy through the buffer.
  setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 0);
  static const bool open_mpi = run_command(std::string(SPINLAT_MPIEXEC) + " --version").output.find("Open") !=
                               std::string::npos;
  return std::string(SPINLAT_MPIEXEC) + (open_mpi ? " --oversubscribe" : "") + " -np " + std::to_string(ranks) + " ";
}

fs::path scratch(const std::string& name) { return restart_test::scratch("mpi_" + name); }

/// `input` with `key = value` added after the [sweep] line.
std::string with_sweep_key(const std::string& input, const std::string& line) {
  std::string s = input;
  s.insert(s.find("[sweep]\n") + 8, line + "\n");
  return s;
}

/// Runs `text` once as one process and once per rank count, each into its own file, and
/// checks every /sweep dataset (both ways) against the single-process file.
void expect_same_for_ranks(const std::string& name, const std::string& text, std::initializer_list<int> rank_counts) {
  const fs::path dir = scratch(name);
  restart_test::write_text(dir / "in.toml", text);
  const std::string one = (dir / "one.h5").string();
  const auto r1 = run_command(std::string(SPINLAT_BINARY) + " run " + (dir / "in.toml").string() + " -o " + one);
  ASSERT_EQ(r1.status, 0) << r1.output;
  for (int k : rank_counts) {
    const std::string out = (dir / ("np" + std::to_string(k) + ".h5")).string();
    const auto r = run_command(mpirun(k) + SPINLAT_BINARY + " run " + (dir / "in.toml").string() + " -o " + out);
    ASSERT_EQ(r.status, 0) << "np " << k << ":\n" << r.output;
    EXPECT_FALSE(fs::exists(out + ".ckpt")) << "a finished run leaves no checkpoint";
    expect_same_datasets(one, out, "/sweep");
    expect_same_datasets(out, one, "/sweep");
    // Every point written once, by rank 0.
    const auto done = spinlat::h5::File::open(out).read_doubles("/sweep/done");
    for (double d : done) EXPECT_EQ(d, 1.0) << "np " << k;
  }
}

TEST(Mpi, AnnealedSweepOverTwoAndThreeRanksEqualsOneProcess) {
  // Annealed points form one chain per size: a size is the unit; 3 ranks for 2 sizes leaves one idle.
  expect_same_for_ranks("annealed", kSweep, {2, 3});
}

TEST(Mpi, IndependentPointsOverThreeRanksEqualOneProcess) {
  // anneal = false: each point is a unit, 8 points round-robin over 3 ranks.
  expect_same_for_ranks("points", with_sweep_key(kSweep, "anneal = false"), {2, 3});
}

TEST(Mpi, MoreRanksThanPoints) {
  std::string text = with_sweep_key(kSweep, "anneal = false");
  const std::string temps = "temperatures = [150.0, 160.0, 170.0, 180.0]", sizes = "sizes = [4, 6]";
  text.replace(text.find(temps), temps.size(), "temperatures = [150.0, 180.0]");
  text.replace(text.find(sizes), sizes.size(), "sizes = [4]");
  expect_same_for_ranks("two_points", text, {3});
}

TEST(Mpi, ParallelTemperingLaddersOverRanksEqualOneProcess) {
  // One ladder per size, the sizes over the ranks (replica exchange stays inside a rank).
  expect_same_for_ranks("pt", with_sweep_key(kSweep, "algorithm = \"parallel-tempering\""), {2});
}

TEST(Mpi, StoppedTwoRankRunContinuesWithThreeRanks) {
  // A 2-rank run stopped (SIGTERM to mpirun) part-way continues with 3 ranks and then ends with
  // the single-process results; the finished points the stop left are not lost.
  std::string text = with_sweep_key(kSweep, "anneal = false");
  text.replace(text.find("measure = 400"), 13, "measure = 60000");
  const fs::path dir = scratch("restart");
  restart_test::write_text(dir / "in.toml", text);
  const std::string in = (dir / "in.toml").string(), one = (dir / "one.h5").string(), out = (dir / "np.h5").string();
  ASSERT_EQ(run_command(std::string(SPINLAT_BINARY) + " run " + in + " -o " + one).status, 0);

  const pid_t pid = fork();
  if (pid == 0) {
    const std::string cmd = "exec " + mpirun(2) + SPINLAT_BINARY + " run " + in + " -o " + out + " >/dev/null 2>&1";
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Rank 0 writes its checkpoint as the sweep starts, and again (a new file, renamed over the
  // old one) after each point it writes: stop the run right after its first point.
  auto identity = [&]() -> long long {
    struct stat st;
    return stat((out + ".ckpt").c_str(), &st) == 0 ? static_cast<long long>(st.st_ino) : -1;
  };
  const auto t0 = std::chrono::steady_clock::now();
  auto waited = [&] { return std::chrono::steady_clock::now() - t0 > std::chrono::seconds(60); };
  long long first = -1;
  while ((first = identity()) < 0 && !waited()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  while (identity() == first && !waited()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(fs::exists(out + ".ckpt")) << "the run finished before the stop: lengthen it";
  const auto done = spinlat::h5::File::open(out).read_doubles("/sweep/done");
  double finished = 0.0;
  for (double d : done) finished += d;
  EXPECT_GE(finished, 1.0) << "the point written before the stop is kept";
  EXPECT_LT(finished, double(done.size())) << "the stop came after the last point";

  const auto r = run_command(mpirun(3) + SPINLAT_BINARY + " run " + in + " -o " + out + " --restart");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_FALSE(fs::exists(out + ".ckpt"));
  expect_same_datasets(one, out, "/sweep");
  expect_same_datasets(out, one, "/sweep");
}

}  // namespace
