#include "spinlat/workflows/progress.hpp"

#include <unistd.h>

#include <cmath>

namespace spinlat {

std::string format_duration(double s) {
  char buf[64];
  if (!std::isfinite(s) || s < 0) return "?";
  if (s < 60) std::snprintf(buf, sizeof buf, "%.1f s", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%d min %02d s", int(s / 60), int(s) % 60);
  else std::snprintf(buf, sizeof buf, "%d h %02d min", int(s / 3600), int(s / 60) % 60);
  return buf;
}

bool Progress::stderr_is_terminal() { return isatty(STDERR_FILENO) != 0; }

Progress::Progress(std::string label, long long total, bool quiet)
    : label_(std::move(label)), total_(total > 0 ? total : 1), quiet_(quiet), tty_(stderr_is_terminal()),
      start_(std::chrono::steady_clock::now()), last_(start_) {}

Progress::~Progress() {
  if (!finished_ && tty_ && !quiet_) std::fputc('\n', stderr);
}

void Progress::update(long long done, const std::string& status) {
  if (quiet_) return;
  const auto now = std::chrono::steady_clock::now();
  const double since_last = std::chrono::duration<double>(now - last_).count();
  // Terminal: redraw at most 10 times a second. Log: one line every 30 s.
  if (since_last < (tty_ ? 0.1 : 30.0) && done < total_) return;
  last_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double frac = std::min(1.0, double(done) / double(total_));
  const double eta = frac > 0 ? elapsed * (1 - frac) / frac : NAN;
  if (tty_) {
    const int width = 30, filled = int(frac * width);
    std::string bar(filled, '#');
    bar += std::string(width - filled, '.');
    std::fprintf(stderr, "\r%s [%s] %5.1f%%  ETA %s  %s\033[K", label_.c_str(), bar.c_str(), 100 * frac,
                 format_duration(eta).c_str(), status.c_str());
  } else {
    std::fprintf(stderr, "%s: %5.1f%% (%lld/%lld), elapsed %s, ETA %s %s\n", label_.c_str(), 100 * frac, done,
                 total_, format_duration(elapsed).c_str(), format_duration(eta).c_str(), status.c_str());
  }
  std::fflush(stderr);
}

void Progress::finish(const std::string& status) {
  if (quiet_ || finished_) return;
  finished_ = true;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (tty_) std::fprintf(stderr, "\r\033[K");
  std::fprintf(stderr, "%s: done in %s %s\n", label_.c_str(), format_duration(elapsed).c_str(), status.c_str());
}

}  // namespace spinlat
