#pragma once
// Runs the `spinlat` binary (SPINLAT_BINARY, set by CMake) with arguments and captures its
// exit status and combined stdout/stderr: the command line as a user meets it.
#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace spinlat::test {

struct CliResult {
  int status;
  std::string output;
};

/// Any shell command (stderr merged into the output).
inline CliResult run_command(const std::string& command) {
  const std::string cmd = command + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

inline CliResult run_cli(const std::string& args) { return run_command(std::string(SPINLAT_BINARY) + " " + args); }

}  // namespace spinlat::test
