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
#include <utility>
#include <vector>

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
/// `files`: other files the input reads (name, text); `said`: words every K-rank run must print.
void expect_same_for_ranks(const std::string& name, const std::string& text, std::initializer_list<int> rank_counts,
                           const std::vector<std::pair<std::string, std::string>>& files = {},
                           const std::string& said = "") {
  const fs::path dir = scratch(name);
  restart_test::write_text(dir / "in.toml", text);
  for (const auto& [file, content] : files) restart_test::write_text(dir / file, content);
  const std::string one = (dir / "one.h5").string();
  const auto r1 = run_command(std::string(SPINLAT_BINARY) + " run " + (dir / "in.toml").string() + " -o " + one);
  ASSERT_EQ(r1.status, 0) << r1.output;
  for (int k : rank_counts) {
    const std::string out = (dir / ("np" + std::to_string(k) + ".h5")).string();
    const auto r = run_command(mpirun(k) + SPINLAT_BINARY + " run " + (dir / "in.toml").string() + " -o " + out);
    ASSERT_EQ(r.status, 0) << "np " << k << ":\n" << r.output;
    if (!said.empty()) {
      EXPECT_NE(r.output.find(said), std::string::npos) << "np " << k << ":\n" << r.output;
    }
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

/// kSweep as a parallel-tempering sweep with `temperatures` and `sizes` (TOML lists).
std::string ladder_sweep(const std::string& temperatures, const std::string& sizes) {
  std::string text = with_sweep_key(kSweep, "algorithm = \"parallel-tempering\"");
  const std::string temps = "temperatures = [150.0, 160.0, 170.0, 180.0]", sz = "sizes = [4, 6]";
  text.replace(text.find(temps), temps.size(), "temperatures = " + temperatures);
  text.replace(text.find(sz), sz.size(), "sizes = " + sizes);
  return text;
}

TEST(Mpi, ParallelTemperingLaddersOverRanksEqualOneProcess) {
  // Whole ladders, the sizes over the ranks (replica exchange inside a rank): 3 replicas of
  // sizes 4, 5, 6 (cells 64, 125, 216) over 2 ranks take 648 replica-cells by longest-first,
  // 810 spread (blocks of 2 and 1 replicas).
  expect_same_for_ranks("pt", ladder_sweep("[150.0, 165.0, 180.0]", "[4, 5, 6]"), {2}, {}, "whole ladders over the ranks");
}

TEST(Mpi, LadderSpreadOverRanksEqualsOneProcess) {
  // Each ladder over every rank in turn: 4 replicas in blocks of 2 + 2 (2 ranks) or 2 + 1 + 1
  // (3 ranks); energies and temperature labels travel, configurations stay. Sizes 4 and 6:
  // spread 2 × 280 against 864 replica-cells for whole ladders.
  expect_same_for_ranks("pt_spread", ladder_sweep("[150.0, 160.0, 170.0, 180.0]", "[4, 6]"), {2, 3}, {},
                        "each ladder spread over every rank");
}

TEST(Mpi, SurrogateLadderSpreadOverRanksEqualsOneProcess) {
  // Replicas moved by surrogate-driven sweeps: those samplers travel with their temperature,
  // and each point's outer and inner acceptances reach rank 0 (gather_samplers).
  std::string text = with_sweep_key(ladder_sweep("[150.0, 165.0, 180.0]", "[4]"),
                                    "surrogate = \"surrogate.toml\"\nsurrogate_steps = 3");
  text.replace(text.find("[sweep]"), 7, "[[potential]]\ntype = \"anisotropy\"\nK = 0.003\naxis = [0.0, 0.0, 1.0]\n[sweep]");
  const std::string surrogate = "title = \"surrogate\"\n[structure]\nlattice = \"sc\"\na = 1.0\ncells = [4, 4, 4]\n"
                                "species = [\"Fe\"]\nmoment = [2.0]\n[[potential]]\ntype = \"heisenberg\"\nJ = [0.011]\n";
  expect_same_for_ranks("pt_surrogate", text, {2}, {{"surrogate.toml", surrogate}}, "each ladder spread over every rank");
}

TEST(Mpi, TwoReplicaLadderOverThreeRanks) {
  // More ranks than replicas: blocks of 1, 1 and 0; the third rank only takes part in the
  // collectives.
  expect_same_for_ranks("pt_edge", ladder_sweep("[150.0, 180.0]", "[4]"), {3}, {}, "each ladder spread over every rank");
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
