#pragma once
// Kill-and-restart helpers shared by the restart tests (tests/physics/test_restart.cpp,
// test_learned_restart.cpp): spawn the spinlat binary, SIGKILL it at random instants, continue
// with --restart, and compare HDF5 results bit for bit.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/random/mersenne_twister.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "scratch_dir.hpp"
#include "spinlat/io/hdf5.hpp"

namespace restart_test {

namespace fs = std::filesystem;
using spinlat::h5::File;

struct Child {
  pid_t pid = -1;
};

inline Child spawn(const std::vector<std::string>& args) {
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

inline int wait_exit(const Child& c) {
  int status = 0;
  waitpid(c.pid, &status, 0);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

inline int run_to_end(const std::vector<std::string>& args) { return wait_exit(spawn(args)); }

inline fs::path scratch(const std::string& name) {
  static const test_scratch::ScratchRoot root("restart");
  return root.dir(name);
}

inline void write_text(const fs::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

// Every dataset under `group` must be identical (NaN equals NaN).
inline void expect_same_datasets(const std::string& a, const std::string& b, const std::string& group) {
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

// Runs `input` to completion, killing it with SIGKILL after random delays `kills` times and
// continuing with --restart. Returns the number of kills that landed while it was running.
inline int run_with_kills(const fs::path& input, const fs::path& out, int kills, std::uint64_t seed, double max_delay) {
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

}  // namespace restart_test
