#pragma once
// The processes of one run (docs/parallel.md): MPI ranks when spinlat was started by mpirun or
// srun and built with MPI (SPINLAT_HAVE_MPI), else one process. Everything MPI lives behind
// this interface (src/parallel/mpi.cpp; src/parallel/serial.cpp without MPI), so the workflows
// see only ranks and opaque messages.
//
// Rank 0 owns the results file and the checkpoint; the other ranks compute sweep points and
// send each finished point to rank 0 as a message (a string), which rank 0 writes. A message
// carries only results (never random state), so where a point ran cannot change the output.
//
// A parallel-tempering ladder spread over the ranks (mc/parallel_tempering.hpp) uses the
// collectives below, on a communicator of their own (they never meet the result messages):
// every rank calls each of them in the same order.
#include <string>
#include <vector>

namespace spinlat::parallel {

/// Starts MPI when this process was launched by an MPI launcher (mpirun, srun with PMI/PMIx);
/// otherwise, or without MPI support, does nothing and the run has one rank. Call once, first.
void start(int* argc, char*** argv);
/// Ends MPI (after every message was delivered); nothing when start() did not start it.
void finish();
/// Ends every rank with `code` after an error on one of them (MPI_Abort), so that none waits
/// for a message that will not come; nothing with one rank.
void abort_all(int code);

/// True in a build with MPI support (SPINLAT_HAVE_MPI), whether or not MPI was started.
bool built_with_mpi();

int rank();        ///< this process's rank, 0 with one process
int size();        ///< the number of ranks, 1 without MPI
int local_size();  ///< ranks on this node (they share its cores), 1 without MPI

/// Rank 0's `values` on every rank (the others' are replaced).
void broadcast(std::vector<long long>& values);

/// Non-root ranks: hands `message` to rank 0 (asynchronous; delivered by close_results at the
/// latest). Rank 0 must not call it.
void send_result(const std::string& message);
/// Non-root ranks: tells rank 0 that no more results follow and waits until every message was
/// delivered.
void close_results();
/// Rank 0: the next result message from any rank, if one has arrived (`wait`: blocks until one
/// arrives or every other rank has closed). False when there is none (every rank closed, or
/// none waiting and !wait).
bool receive_result(std::string& message, bool wait);

/// Every rank's `mine`, concatenated in rank order, on every rank (collective). `counts`, when
/// every rank knows them (the size of each rank's `mine`), saves a collective.
std::vector<double> all_gather(const std::vector<double>& mine, const std::vector<int>& counts = {});
/// Every rank's `mine`, by rank, on every rank (collective).
std::vector<std::string> all_gather(const std::string& mine);
/// True on every rank when `flag` is true on any (collective).
bool any(bool flag);
/// Sends `out` to rank `peer`, which calls swap_with(this rank, ...) at the same time, and
/// returns what `peer` sent. Pairs of one pass must be called in the same order on every rank
/// (e.g. ascending ladder pair) so that none waits on another.
std::string swap_with(int peer, const std::string& out);

}  // namespace spinlat::parallel
