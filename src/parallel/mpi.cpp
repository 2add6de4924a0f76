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
constexpr int kResultTag = 1, kCloseTag = 2, kSwapTag = 3;
/// The ladder's collectives and swaps: a duplicate of MPI_COMM_WORLD, so that rank 0's probes
/// for results (any tag) never match them.
MPI_Comm g_peers = MPI_COMM_NULL;

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
  MPI_Comm_dup(MPI_COMM_WORLD, &g_peers);
  g_open = g_size - 1;
}

void finish() {
  if (!g_started) return;
  for (Pending& p : g_pending) MPI_Wait(&p.request, MPI_STATUS_IGNORE);
  g_pending.clear();
  MPI_Comm_free(&g_peers);
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

namespace {
/// The counts of every rank and their offsets (MPI_Allgatherv's displacements).
std::vector<int> gather_counts(int mine, std::vector<int>& offsets) {
  std::vector<int> counts(static_cast<std::size_t>(g_size), 0);
  check(MPI_Allgather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, g_peers), "MPI_Allgather");
  offsets.assign(counts.size(), 0);
  for (std::size_t r = 1; r < counts.size(); ++r) offsets[r] = offsets[r - 1] + counts[r - 1];
  return counts;
}
}  // namespace

std::vector<double> all_gather(const std::vector<double>& mine, const std::vector<int>& known) {
  if (g_size == 1) return mine;
  std::vector<int> offsets(known.size(), 0);
  for (std::size_t r = 1; r < known.size(); ++r) offsets[r] = offsets[r - 1] + known[r - 1];
  const std::vector<int> counts = known.empty() ? gather_counts(static_cast<int>(mine.size()), offsets) : known;
  if (counts.size() != static_cast<std::size_t>(g_size) || counts[static_cast<std::size_t>(g_rank)] != static_cast<int>(mine.size()))
    throw std::logic_error("parallel::all_gather: counts do not match the ranks");
  std::vector<double> all(static_cast<std::size_t>(offsets.back() + counts.back()));
  check(MPI_Allgatherv(mine.data(), static_cast<int>(mine.size()), MPI_DOUBLE, all.data(), counts.data(),
                       offsets.data(), MPI_DOUBLE, g_peers), "MPI_Allgatherv");
  return all;
}

std::vector<std::string> all_gather(const std::string& mine) {
  if (g_size == 1) return {mine};
  std::vector<int> offsets;
  const std::vector<int> counts = gather_counts(static_cast<int>(mine.size()), offsets);
  std::string all(static_cast<std::size_t>(offsets.back() + counts.back()), '\0');
  check(MPI_Allgatherv(mine.data(), static_cast<int>(mine.size()), MPI_CHAR, all.data(), counts.data(),
                       offsets.data(), MPI_CHAR, g_peers), "MPI_Allgatherv");
  std::vector<std::string> by_rank;
  for (std::size_t r = 0; r < counts.size(); ++r)
    by_rank.push_back(all.substr(static_cast<std::size_t>(offsets[r]), static_cast<std::size_t>(counts[r])));
  return by_rank;
}

bool any(bool flag) {
  if (g_size == 1) return flag;
  int in = flag ? 1 : 0, out = 0;
  check(MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_LOR, g_peers), "MPI_Allreduce");
  return out != 0;
}

std::string swap_with(int peer, const std::string& out) {
  // One message each way: the receiver learns the length from the probe.
  MPI_Request sent;
  check(MPI_Isend(out.data(), static_cast<int>(out.size()), MPI_CHAR, peer, kSwapTag, g_peers, &sent), "MPI_Isend");
  MPI_Status st;
  check(MPI_Probe(peer, kSwapTag, g_peers, &st), "MPI_Probe");
  int n = 0;
  MPI_Get_count(&st, MPI_CHAR, &n);
  std::string in(static_cast<std::size_t>(n), '\0');
  check(MPI_Recv(in.data(), n, MPI_CHAR, peer, kSwapTag, g_peers, MPI_STATUS_IGNORE), "MPI_Recv");
  check(MPI_Wait(&sent, MPI_STATUS_IGNORE), "MPI_Wait");
  return in;
}

}  // namespace spinlat::parallel
