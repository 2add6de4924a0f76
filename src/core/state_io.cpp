#include "spinlat/core/state_io.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "spinlat/core/error.hpp"

namespace spinlat::state_io {

Writer::Writer(const std::string& magic, int version) {
  out_ = magic + " " + std::to_string(version) + "\n";
}

void Writer::real(const std::string& key, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", v);
  out_ += key + " " + buf + "\n";
}

void Writer::integer(const std::string& key, std::uint64_t v) {
  out_ += key + " " + std::to_string(v) + "\n";
}

void Writer::text(const std::string& key, const std::string& v) {
  out_ += key + " @" + std::to_string(v.size()) + "\n" + v + "\n";
}

Reader::Reader(const std::string& state, const std::string& magic, int version) : magic_(magic) {
  std::size_t pos = 0;
  auto next_line = [&](std::string& line) {
    if (pos >= state.size()) return false;
    std::size_t e = state.find('\n', pos);
    if (e == std::string::npos) e = state.size();
    line = state.substr(pos, e - pos);
    pos = e + 1;
    return true;
  };
  std::string line;
  if (!next_line(line) || line != magic + " " + std::to_string(version))
    throw InputError("checkpoint: expected a '" + magic + "' state of version " +
                     std::to_string(version));
  while (next_line(line)) {
    if (line.empty()) continue;
    const std::size_t sp = line.find(' ');
    if (sp == std::string::npos) throw InputError("checkpoint (" + magic + "): malformed line '" + line + "'");
    const std::string key = line.substr(0, sp), value = line.substr(sp + 1);
    if (!value.empty() && value[0] == '@') {
      char* end = nullptr;
      const unsigned long long n = std::strtoull(value.c_str() + 1, &end, 10);
      if (*end != '\0' || pos + n > state.size())
        throw InputError("checkpoint (" + magic + "): truncated entry '" + key + "'");
      entries_[key] = state.substr(pos, n);
      pos += n + 1;  // the text and its closing newline
    } else {
      entries_[key] = value;
    }
  }
}

const std::string& Reader::get(const std::string& key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) throw InputError("checkpoint (" + magic_ + "): missing entry '" + key + "'");
  return it->second;
}

double Reader::real(const std::string& key) const {
  const std::string& v = get(key);
  char* end = nullptr;
  const double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0') throw InputError("checkpoint (" + magic_ + "): bad number for '" + key + "'");
  return x;
}

std::uint64_t Reader::integer(const std::string& key) const {
  const std::string& v = get(key);
  char* end = nullptr;
  errno = 0;
  const unsigned long long x = std::strtoull(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0)
    throw InputError("checkpoint (" + magic_ + "): bad integer for '" + key + "'");
  return x;
}

const std::string& Reader::text(const std::string& key) const { return get(key); }

}  // namespace spinlat::state_io
