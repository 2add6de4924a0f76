// Issue 6 acceptance: a run killed (SIGKILL) at random instants and continued with --restart
// ends with the same HDF5 results as an uninterrupted run, bit for bit (same thread count).
// Also: SIGTERM writes a checkpoint and exits with status 3; a changed input is refused.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/random/mersenne_twister.hpp>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "spinlat/io/hdf5.hpp"

namespace fs = std::filesystem;
using spinlat::h5::File;

namespace {

struct Child {
  pid_t pid = -1;
};

Child spawn(const std::vector<std::string>& args) {
  Child c;
  c.pid = fork();
  if (c.pid == 0) {
    // Quiet child: results go to files; stderr to /dev/null keeps the test log short.
    FILE* devnull = std::fopen("/dev/null", "w");
    dup2(fileno(devnull), 2);
    dup2(fileno(devnull), 1);
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return c;
}

int wait_exit(const Child& c) {
  int status = 0;
  waitpid(c.pid, &status, 0);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

int run_to_end(const std::vector<std::string>& args) { return wait_exit(spawn(args)); }

fs::path scratch(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("spinlat_restart_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

// Every dataset under `group` must be identical (NaN equals NaN).
void expect_same_datasets(const std::string& a, const std::string& b, const std::string& group) {
  File fa = File::open(a), fb = File::open(b);
  const auto names = fa.datasets_below(group);
  ASSERT_FALSE(names.empty()) << group;
  for (const auto& rel : names) {
    const std::string n = spinlat::h5::join_path(group, rel);
    ASSERT_TRUE(fb.is_dataset(n)) << n;
    ASSERT_EQ(fa.shape(n), fb.shape(n)) << n;
    std::vector<double> x, y;
    try {
      x = fa.read_doubles(n);
      y = fb.read_doubles(n);
    } catch (const std::exception&) {
      continue;  // string datasets (labels) are not results
    }
    ASSERT_EQ(x.size(), y.size()) << n;
    for (std::size_t k = 0; k < x.size(); ++k) {
      if (std::isnan(x[k]) && std::isnan(y[k])) continue;
      ASSERT_EQ(x[k], y[k]) << n << "[" << k << "]";
    }
  }
}

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

// Runs `input` to completion, killing it with SIGKILL after random delays `kills` times and
// continuing with --restart. Returns the number of kills that landed while it was running.
int run_with_kills(const fs::path& input, const fs::path& out, int kills, std::uint64_t seed, double max_delay) {
  boost::random::mt19937_64 rng(seed);
  int landed = 0;
  for (int attempt = 0; attempt < kills + 20; ++attempt) {
    std::vector<std::string> args = {SPINLAT_BINARY, "run", input.string(), "-o", out.string()};
    if (fs::exists(out.string() + ".ckpt")) args.push_back("--restart");
    Child c = spawn(args);
    if (landed < kills) {
      const double delay = max_delay * (0.2 + 0.8 * double(rng() >> 11) * 0x1.0p-53);
      std::this_thread::sleep_for(std::chrono::duration<double>(delay));
      if (waitpid(c.pid, nullptr, WNOHANG) == 0) {
        kill(c.pid, SIGKILL);
        ++landed;
      }
      wait_exit(c);
      continue;
    }
    const int rc = wait_exit(c);
    EXPECT_EQ(rc, 0) << "the final continuation failed";
    return landed;
  }
  ADD_FAILURE() << "run did not finish";
  return landed;
}

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
  EXPECT_EQ(a.attr_double("/sweep", "critical_temperature"), b.attr_double("/sweep", "critical_temperature"));
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
