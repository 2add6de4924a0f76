#pragma once
// Scratch folders for tests that write files. ctest runs test programs side by side, so each
// program gets its own <tmp>/spinlat_<tag>_<pid>, removed when the program exits.
#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace test_scratch {

class ScratchRoot {
 public:
  explicit ScratchRoot(const std::string& tag)
      : root_(std::filesystem::temp_directory_path() / ("spinlat_" + tag + "_" + std::to_string(::getpid()))) {}
  ~ScratchRoot() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  ScratchRoot(const ScratchRoot&) = delete;
  ScratchRoot& operator=(const ScratchRoot&) = delete;

  /// An empty folder `name` below the root (emptied if a previous test left it).
  std::filesystem::path dir(const std::string& name) const {
    const std::filesystem::path d = root_ / name;
    std::filesystem::remove_all(d);
    std::filesystem::create_directories(d);
    return d;
  }

 private:
  std::filesystem::path root_;
};

}  // namespace test_scratch
