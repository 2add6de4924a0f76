// MPI ranks (Open MPI, MPICH): the only file that includes mpi.h (parallel/ranks.hpp).
#include <mpi.h>

#include <cstdlib>
#include <list>
#include <stdexcept>

#include "spinlat/parallel/ranks.hpp"

namespace spinlat::parallel {
namespace {

bool g_started = false;
int g_rank = 0, g_size = 1, g_local = 1;
int g_open = 0;  // rank 0: ranks that have not closed their results yet
constexpr int kResultTag = 1, kCloseTag = 2;

/// Sends in flight (non-root): each buffer lives until its MPI_Isend completes.
struct Pending {
  std::string data;
  MPI_Request request = MPI_REQUEST_NULL;
};
std::list<Pending> g_pending;

/// Launched by mpirun (Open MPI), srun or an MPICH/Hydra launcher: without one of these, MPI
/// is not started at all (a plain `spinlat run` stays a plain process).
bool launched_by_mpi() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
    if (std::getenv(v)) return true;
  return false;
}

void check(int rc, const char* what) {
  if (rc != MPI_SUCCESS) throw std::runtime_error(std::string("MPI: ") + what + " failed");
}

}  // namespace

void start(int* argc, char*** argv) {
  if (g_started || !launched_by_mpi()) return;
  // FUNNELED: only the main thread calls MPI; OpenMP threads inside a rank never do.
  int provided = 0;
  check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  g_started = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  MPI_Comm node;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_rank, MPI_INFO_NULL, &node);
  MPI_Comm_size(node, &g_local);
  MPI_Comm_free(&node);
  g_open = g_size - 1;
}

void finish() {
  if (!g_started) return;
  for (Pending& p : g_pending) MPI_Wait(&p.request, MPI_STATUS_IGNORE);
  g_pending.clear();
  MPI_Finalize();
  g_started = false;
}

void abort_all(int code) {
  if (g_started && g_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

bool built_with_mpi() { return true; }
int rank() { return g_rank; }
int size() { return g_size; }
int local_size() { return g_local; }

void broadcast(std::vector<long long>& values) {
  if (g_size == 1) return;
  long long n = static_cast<long long>(values.size());
  MPI_Bcast(&n, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
  values.resize(static_cast<std::size_t>(n));
  MPI_Bcast(values.data(), static_cast<int>(n), MPI_LONG_LONG, 0, MPI_COMM_WORLD);
}

void send_result(const std::string& message) {
  if (g_rank == 0) throw std::logic_error("parallel::send_result on rank 0");
  g_pending.push_back({message, MPI_REQUEST_NULL});
  Pending& p = g_pending.back();
  check(MPI_Isend(p.data.data(), static_cast<int>(p.data.size()), MPI_CHAR, 0, kResultTag, MPI_COMM_WORLD, &p.request),
        "MPI_Isend");
  // Free the buffers of sends already delivered.
  for (auto it = g_pending.begin(); it != g_pending.end();) {
    int done = 0;
    MPI_Test(&it->request, &done, MPI_STATUS_IGNORE);
    it = done ? g_pending.erase(it) : std::next(it);
  }
}

void close_results() {
  if (g_rank == 0 || g_size == 1) return;
  for (Pending& p : g_pending) MPI_Wait(&p.request, MPI_STATUS_IGNORE);
  g_pending.clear();
  // Sent after the results, on the same (ordered) channel: rank 0 has them all when it sees it.
  check(MPI_Send(nullptr, 0, MPI_CHAR, 0, kCloseTag, MPI_COMM_WORLD), "MPI_Send");
}

bool receive_result(std::string& message, bool wait) {
  if (g_rank != 0) throw std::logic_error("parallel::receive_result on a rank other than 0");
  while (g_open > 0) {
    MPI_Status st;
    int any = 0;
    if (wait) check(MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &st), "MPI_Probe");
    else check(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &any, &st), "MPI_Iprobe");
    if (!wait && !any) return false;
    int n = 0;
    MPI_Get_count(&st, MPI_CHAR, &n);
    message.assign(static_cast<std::size_t>(n), '\0');
    check(MPI_Recv(message.data(), n, MPI_CHAR, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
    if (st.MPI_TAG == kCloseTag) { --g_open; continue; }
    return true;
  }
  return false;
}

}  // namespace spinlat::parallel
