// The one encoding of saved object states; see include/spinlat/core/state_io.hpp.
#include "spinlat/core/state_io.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "spinlat/core/error.hpp"

namespace spinlat::state_io {

namespace {

void append_hex(std::string& out, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", v);
  out += buf;
}

// "#<n>" at p; returns n and leaves p after it.
bool parse_count(const char*& p, std::size_t& n) {
  if (*p != '#') return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long long x = std::strtoull(p + 1, &end, 10);
  if (end == p + 1 || errno != 0) return false;
  n = static_cast<std::size_t>(x);
  p = end;
  return true;
}

}  // namespace

Writer::Writer(const std::string& magic, int version) {
  out_ = magic + " " + std::to_string(version) + "\n";
}

void Writer::real(const std::string& key, double v) {
  out_ += key + " ";
  append_hex(out_, v);
  out_ += "\n";
}

void Writer::integer(const std::string& key, std::uint64_t v) {
  out_ += key + " " + std::to_string(v) + "\n";
}

void Writer::signed_integer(const std::string& key, std::int64_t v) {
  out_ += key + " " + std::to_string(v) + "\n";
}

void Writer::reals(const std::string& key, const double* v, std::size_t n) {
  out_ += key + " #" + std::to_string(n);
  for (std::size_t i = 0; i < n; ++i) {
    out_ += ' ';
    append_hex(out_, v[i]);
  }
  out_ += "\n";
}

void Writer::integers(const std::string& key, const std::vector<std::int64_t>& v) {
  out_ += key + " #" + std::to_string(v.size());
  for (std::int64_t x : v) out_ += ' ' + std::to_string(x);
  out_ += "\n";
}

void Writer::vectors(const std::string& key, const std::vector<Vec3>& v) {
  std::vector<double> flat;
  flat.reserve(3 * v.size());
  for (const Vec3& x : v) flat.insert(flat.end(), {x[0], x[1], x[2]});
  reals(key, flat);
}

void Writer::matrix(const std::string& key, const Mat3& m) {
  double rows[9];
  for (int k = 0; k < 9; ++k) rows[k] = m(k / 3, k % 3);
  reals(key, rows, 9);
}

void Writer::text(const std::string& key, const std::string& v) {
  out_ += key + " @" + std::to_string(v.size()) + "\n" + v + "\n";
}

void Writer::engine(const std::string& key, const Engine& e) {
  std::ostringstream os;
  os << e << '\n';  // Boost reads each word followed by white space
  text(key, os.str());
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
    throw InputError("checkpoint: expected a '" + magic + "' state of version " + std::to_string(version) +
                     (line.empty() ? std::string() : ", found '" + line.substr(0, 60) + "'"));
  while (next_line(line)) {
    if (line.empty()) continue;
    const std::size_t sp = line.find(' ');
    if (sp == std::string::npos) throw InputError("checkpoint (" + magic + "): malformed line '" + line.substr(0, 60) + "'");
    const std::string key = line.substr(0, sp), value = line.substr(sp + 1);
    if (!value.empty() && value[0] == '@') {
      char* end = nullptr;
      const unsigned long long n = std::strtoull(value.c_str() + 1, &end, 10);
      if (*end != '\0' || n > state.size() || pos + n > state.size())
        throw InputError("checkpoint (" + magic + "): truncated entry '" + key + "'");
      entries_[key] = state.substr(pos, n);
      pos += n + 1;  // the bytes and their closing newline
    } else {
      entries_[key] = value;
    }
  }
}

void Reader::bad(const std::string& key, const std::string& what) const {
  throw InputError("checkpoint (" + magic_ + "): " + what + " for '" + key + "'");
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
  if (v.empty() || *end != '\0') bad(key, "bad number");
  return x;
}

std::uint64_t Reader::integer(const std::string& key) const {
  const std::string& v = get(key);
  char* end = nullptr;
  errno = 0;
  const unsigned long long x = std::strtoull(v.c_str(), &end, 10);
  if (v.empty() || v[0] == '-' || *end != '\0' || errno != 0) bad(key, "bad integer");
  return x;
}

std::int64_t Reader::signed_integer(const std::string& key) const {
  const std::string& v = get(key);
  char* end = nullptr;
  errno = 0;
  const long long x = std::strtoll(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || errno != 0) bad(key, "bad integer");
  return x;
}

std::vector<double> Reader::reals(const std::string& key) const {
  const char* p = get(key).c_str();
  std::size_t n = 0;
  if (!parse_count(p, n)) bad(key, "no count (#n) in the list");
  std::vector<double> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (*p != ' ') bad(key, "list shorter than its count");
    char* end = nullptr;
    const double x = std::strtod(p + 1, &end);
    if (end == p + 1) bad(key, "bad number in the list");
    out.push_back(x);
    p = end;
  }
  if (*p != '\0') bad(key, "list longer than its count");
  return out;
}

std::vector<double> Reader::reals(const std::string& key, std::size_t expected) const {
  std::vector<double> v = reals(key);
  if (v.size() != expected)
    bad(key, std::to_string(v.size()) + " numbers where " + std::to_string(expected) + " were expected");
  return v;
}

std::vector<std::int64_t> Reader::integers(const std::string& key) const {
  const char* p = get(key).c_str();
  std::size_t n = 0;
  if (!parse_count(p, n)) bad(key, "no count (#n) in the list");
  std::vector<std::int64_t> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (*p != ' ') bad(key, "list shorter than its count");
    char* end = nullptr;
    errno = 0;
    const long long x = std::strtoll(p + 1, &end, 10);
    if (end == p + 1 || errno != 0) bad(key, "bad integer in the list");
    out.push_back(x);
    p = end;
  }
  if (*p != '\0') bad(key, "list longer than its count");
  return out;
}

std::vector<Vec3> Reader::vectors(const std::string& key, std::size_t expected) const {
  const std::vector<double> flat = reals(key, 3 * expected);
  std::vector<Vec3> v(expected);
  for (std::size_t i = 0; i < expected; ++i) v[i] = Vec3(flat[3 * i], flat[3 * i + 1], flat[3 * i + 2]);
  return v;
}

Mat3 Reader::matrix(const std::string& key) const {
  const std::vector<double> rows = reals(key, 9);
  Mat3 m;
  for (int k = 0; k < 9; ++k) m(k / 3, k % 3) = rows[k];
  return m;
}

const std::string& Reader::text(const std::string& key) const { return get(key); }

Engine Reader::engine(const std::string& key) const {
  Engine e;
  std::istringstream is(get(key) + "\n");
  if (!(is >> e)) bad(key, "bad random-engine state");
  return e;
}

}  // namespace spinlat::state_io
