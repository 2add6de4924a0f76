#pragma once
// Plain-text state records for checkpoints of the Monte Carlo samplers: a header line
// "<magic> <version>", then one "key value" line per entry; reals are written as C99
// hexadecimal floats (%a) so they read back bit for bit, and text entries (engine states)
// as "key @<length>" followed by exactly <length> characters.
#include <cstdint>
#include <map>
#include <string>

namespace spinlat::state_io {

class Writer {
 public:
  Writer(const std::string& magic, int version);
  void real(const std::string& key, double v);
  void integer(const std::string& key, std::uint64_t v);
  void text(const std::string& key, const std::string& v);
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

/// Parses a record; throws InputError on a wrong magic, version or malformed entry.
class Reader {
 public:
  Reader(const std::string& state, const std::string& magic, int version);
  double real(const std::string& key) const;
  std::uint64_t integer(const std::string& key) const;
  const std::string& text(const std::string& key) const;
  bool has(const std::string& key) const { return entries_.count(key) > 0; }

 private:
  const std::string& get(const std::string& key) const;
  std::string magic_;
  std::map<std::string, std::string> entries_;
};

}  // namespace spinlat::state_io
