// One process (a build without MPI): the interface of parallel/ranks.hpp with one rank.
#include "spinlat/parallel/ranks.hpp"

#include <stdexcept>

namespace spinlat::parallel {

void start(int*, char***) {}
void finish() {}
void abort_all(int) {}
bool built_with_mpi() { return false; }
int rank() { return 0; }
int size() { return 1; }
int local_size() { return 1; }
void broadcast(std::vector<long long>&) {}
void send_result(const std::string&) { throw std::logic_error("parallel::send_result without other ranks"); }
void close_results() {}
bool receive_result(std::string&, bool) { return false; }
std::vector<double> all_gather(const std::vector<double>& mine, const std::vector<int>&) { return mine; }
std::vector<std::string> all_gather(const std::string& mine) { return {mine}; }
bool any(bool flag) { return flag; }
std::string swap_with(int, const std::string&) { throw std::logic_error("parallel::swap_with without other ranks"); }

}  // namespace spinlat::parallel
