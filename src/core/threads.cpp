#include "spinlat/core/threads.hpp"

#include <dlfcn.h>
#include <omp.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "spinlat/parallel/ranks.hpp"

namespace spinlat {

void reexec_with_wait_policy(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;
  if (available_cores() < 2) return;  // one core: no thread ever waits for another
  if (setenv("GOMP_SPINCOUNT", kSpinCount, 1) != 0) return;
  execv("/proc/self/exe", argv);
  unsetenv("GOMP_SPINCOUNT");  // exec failed (no /proc): run on with libgomp's defaults
}

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1, omp_get_num_procs());
}

int busy_cores() {
  // Fourth field: runnable tasks / all tasks, an instantaneous count that includes this
  // process's running thread.
  std::ifstream in("/proc/loadavg");
  double l1, l5, l15;
  std::string running;
  if (!(in >> l1 >> l5 >> l15 >> running)) return 0;
  const auto slash = running.find('/');
  if (slash == std::string::npos) return 0;
  const int r = std::atoi(running.substr(0, slash).c_str());
  return std::max(0, r - 1);
}

int resolve_threads(int requested) {
  if (requested > 0) return requested;
  if (const char* env = std::getenv("OMP_NUM_THREADS")) {  // the user's choice wins
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  return automatic_threads(available_cores(), node_cores(), busy_cores(), parallel::local_size());
}

int node_cores() {
  const long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? static_cast<int>(n) : available_cores();
}

int automatic_threads(int available, int node, int busy, int local_ranks) {
  const int ranks = std::max(1, local_ranks);
  const int others = std::max(0, busy - (ranks - 1));  // runnable tasks not of this run
  const bool shared = ranks > 1 && available >= node;  // every rank sees the whole node
  const int share = shared ? available / ranks : available;
  const int free = shared ? (available - others) / ranks : available - others;
  return std::clamp(free, 1, std::max(1, share));
}

int apply_threads(int requested) {
  const int n = resolve_threads(requested);
  omp_set_num_threads(n);
  // LibTorch sizes its pool lazily, on its first parallel call, from OMP_NUM_THREADS (else all
  // cores) unless at::set_num_threads was called: it must see the same count.
  setenv("OMP_NUM_THREADS", std::to_string(n).c_str(), 1);
  // OpenBLAS (LibTorch's BLAS on Debian) keeps its own pool, sized to all cores by default.
  using SetThreads = void (*)(int);
  if (auto f = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) f(n);
  return n;
}

std::string threads_summary(int threads) {
  std::ostringstream s;
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  const char* spin = std::getenv("GOMP_SPINCOUNT");
  s << threads << (threads == 1 ? " thread" : " threads") << " (" << available_cores() << " cores available, "
    << busy_cores() << " busy; wait policy "
    << (policy ? std::string("OMP_WAIT_POLICY=") + policy : spin ? std::string("GOMP_SPINCOUNT=") + spin : "default")
    << ")";
  return s.str();
}

}  // namespace spinlat
