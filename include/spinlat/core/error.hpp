#pragma once
// Errors a user can act on: each names the file, the key or line, and what was expected.
#include <stdexcept>
#include <string>

namespace spinlat {

/// Bad input (TOML, structure file, potential file, model, checkpoint). The CLI prints
/// what() on one line and exits non-zero.
class InputError : public std::runtime_error {
 public:
  InputError(const std::string& file, const std::string& key, int line, const std::string& msg)
      : std::runtime_error(format(file, key, line, msg)), file_(file), key_(key), line_(line) {}
  explicit InputError(const std::string& msg) : std::runtime_error(msg), line_(0) {}
  const std::string& file() const { return file_; }
  const std::string& key() const { return key_; }
  int line() const { return line_; }

  static std::string format(const std::string& file, const std::string& key, int line,
                            const std::string& msg) {
    std::string s = file.empty() ? std::string("input") : file;
    if (line > 0) s += ":" + std::to_string(line);
    s += ": ";
    if (!key.empty()) s += "'" + key + "': ";
    return s + msg;
  }

 private:
  std::string file_, key_;
  int line_;
};

/// A numerical fault found while running (NaN, collapsed moment, overlapping atoms, drift).
class NumericalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace spinlat
