#pragma once
// Thread count and OpenMP wait policy (docs/performance.md, "Threads on a shared machine").
//
// Results never depend on the thread count (random streams are keyed by block, sums run in a
// fixed order); only the speed does. Two things make extra threads *slower* than one on a
// machine shared with other jobs: threads that spin at a barrier while the thread they wait
// for is descheduled (libgomp spins for up to 300 000 iterations before sleeping), and taking
// every core when some are busy. So:
//   - the wait policy: unless the user set OMP_WAIT_POLICY or GOMP_SPINCOUNT, a short spin
//     (GOMP_SPINCOUNT = kSpinCount) then sleep. libgomp reads these once, in its own
//     constructor before main(), and has no call to change them later; a constructor of our
//     own cannot run first (libraries deep in LibTorch's dependencies pull libgomp in and get
//     initialised before anything of ours), so main() sets the variable and re-executes the
//     program, for the commands that run parallel work on a machine with 2+ cores;
//   - threads = 0 means the cores this process may use (its CPU affinity) less those busy
//     with other runnable tasks when the run starts (/proc/loadavg), at least one; under
//     mpirun, ranks of the run that share a node's cores divide them (automatic_threads).
#include <string>

namespace spinlat {

/// libgomp spin iterations before a waiting thread sleeps: libgomp's own value for an
/// oversubscribed machine (its default otherwise is 300 000, ~0.1–1 ms of spinning).
inline constexpr const char* kSpinCount = "1000";

/// If neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT is set and more than one core is available,
/// sets GOMP_SPINCOUNT = kSpinCount and re-executes /proc/self/exe with the same arguments
/// (costs one more program start-up). Returns when nothing was to be done or exec failed.
void reexec_with_wait_policy(char** argv);

/// Cores this process may run on (sched_getaffinity; omp_get_num_procs() elsewhere).
int available_cores();
/// Runnable tasks on the machine other than this process (from /proc/loadavg; 0 if unknown).
int busy_cores();

/// Cores online on this node (sysconf; available_cores() when unknown).
int node_cores();

/// The rule of threads = 0 for one of `local_ranks` ranks of a run on a node (1 without MPI):
/// `available` cores in this process's affinity mask, `node` cores on the node, `busy` runnable
/// tasks besides this process (busy_cores). This run's other ranks are not other jobs: the
/// others are busy − (local_ranks − 1). When the mask is the whole node (no binding: mpirun
/// --oversubscribe or --bind-to none) the ranks share it and each takes 1/local_ranks of the
/// free cores; a narrower mask is this rank's own (mpirun --map-by slot:PE=n, srun
/// --cpus-per-task), all its free cores. At least 1, at most the rank's share of the mask.
int automatic_threads(int available, int node, int busy, int local_ranks);

/// The thread count for `requested`: itself when > 0; for 0, OMP_NUM_THREADS when the user set
/// it, else automatic_threads(available_cores(), node_cores(), busy_cores(),
/// parallel::local_size()) — with one process, available − busy clamped to [1, available].
int resolve_threads(int requested);

/// resolve_threads(), then applied to OpenMP, to LibTorch's intra-op pool (through
/// OMP_NUM_THREADS, which it reads when it first sizes the pool) and to OpenBLAS's own pool
/// when the process has one. Returns the count.
int apply_threads(int requested);

/// One line for logs: "N threads (M cores available, K busy; wait policy ...)".
std::string threads_summary(int threads);

}  // namespace spinlat
