#include "spinlat/io/paths.hpp"

#include <filesystem>
#include <system_error>

namespace spinlat {

namespace fs = std::filesystem;

std::string input_directory(const std::string& input_file) {
  std::error_code ec;
  fs::path dir = fs::path(input_file).parent_path();
  if (dir.empty()) dir = fs::current_path(ec);
  const fs::path abs = fs::absolute(dir, ec);
  return (ec ? dir : abs).lexically_normal().string();
}

std::string resolve_input_path(const std::string& dir, const std::string& file) {
  if (file.empty()) return file;
  const fs::path p(file);
  return (p.is_absolute() || dir.empty() ? p : fs::path(dir) / p).lexically_normal().string();
}

}  // namespace spinlat
