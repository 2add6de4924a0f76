#pragma once
// Shared pieces of the libFuzzer harnesses (docs/reliability.md).
//
// The contract under test: a reader turns ANY byte string into a valid result or an
// InputError (a std::runtime_error documented as an input error). Anything else that escapes
// (std::bad_alloc, std::out_of_range, std::length_error, a bare std::exception, a crash, a
// hang, or a sanitizer report) is a bug. libFuzzer treats an uncaught exception as a crash
// (abort), so the harnesses catch only the documented error types.
#include <cstdint>
#include <cstdio>
#include <string>
#include <unistd.h>

#include "spinlat/core/error.hpp"

namespace spinlat_fuzz {

/// Writes the input to a per-process tmpfs file (readers that take only a path) and removes
/// it on scope exit. /dev/shm keeps the many small writes off the disk.
class TempFile {
 public:
  TempFile(const uint8_t* data, size_t size, const char* suffix) {
    const char* dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    path_ = std::string(dir) + "/spinlat_fuzz_" + std::to_string(getpid()) + suffix;
    if (FILE* f = std::fopen(path_.c_str(), "wb")) {
      if (size) std::fwrite(data, 1, size, f);
      std::fclose(f);
    }
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace spinlat_fuzz
