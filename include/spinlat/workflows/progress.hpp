#pragma once
// Progress reporting: a bar with ETA on a terminal, plain periodic log lines otherwise (batch
// jobs, CI logs), nothing when quiet.
#include <chrono>
#include <cstdio>
#include <string>

namespace spinlat {

class Progress {
 public:
  /// `total` work units (sweeps, steps); `label` names the task.
  Progress(std::string label, long long total, bool quiet = false);
  ~Progress();
  void update(long long done, const std::string& status = "");
  void finish(const std::string& status = "");
  static bool stderr_is_terminal();

 private:
  std::string label_;
  long long total_;
  bool quiet_, tty_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

/// "1 h 02 min", "3 min 05 s", "12.3 s".
std::string format_duration(double seconds);

}  // namespace spinlat
