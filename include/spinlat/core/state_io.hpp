#pragma once
// The one encoding of saved object states (checkpoints of samplers, integrators, accumulators
// and recorders): a header line "<magic> <version>", then one "key value" line per entry.
//
//   real       key 0x1.8p+1              C99 hexadecimal float (%a): exact, inf/nan/-0.0 too
//   integer    key 42                    unsigned or signed decimal
//   reals      key #3 0x1p+0 -0x0p+0 inf a count, then the values as hexadecimal floats
//   integers   key #2 7 -1               a count, then decimal values
//   text/blob  key @<length>\n<bytes>\n  exactly <length> arbitrary bytes (nested states,
//                                        engine states, file lists)
//   engine     a blob: Boost's text form of one mt19937_64 (StreamSet::save for sets)
//
// Every real reads back bit for bit (a NaN keeps its sign, not its payload), so a run
// continued from a checkpoint repeats the uninterrupted one exactly. Records nest: a state
// stores the states of its parts as blobs. Readers throw InputError naming the record's magic
// and the entry for a wrong magic or version, a missing entry or a malformed value.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "spinlat/core/rng.hpp"
#include "spinlat/core/types.hpp"

namespace spinlat::state_io {

class Writer {
 public:
  Writer(const std::string& magic, int version);
  void real(const std::string& key, double v);
  void integer(const std::string& key, std::uint64_t v);
  void signed_integer(const std::string& key, std::int64_t v);
  void reals(const std::string& key, const double* v, std::size_t n);
  void reals(const std::string& key, const std::vector<double>& v) { reals(key, v.data(), v.size()); }
  void integers(const std::string& key, const std::vector<std::int64_t>& v);
  /// 3-vectors (positions, forces, spins) as a reals list x0 y0 z0 x1 ...; a 3×3 matrix by rows.
  void vectors(const std::string& key, const std::vector<Vec3>& v);
  void matrix(const std::string& key, const Mat3& m);
  /// Any bytes (a nested state, an engine state, a list); `blob` and `text` are one thing.
  void text(const std::string& key, const std::string& v);
  void blob(const std::string& key, const std::string& v) { text(key, v); }
  /// One engine's state (Boost's text form, exact).
  void engine(const std::string& key, const Engine& e);
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
  std::int64_t signed_integer(const std::string& key) const;
  std::vector<double> reals(const std::string& key) const;
  /// As reals(key), and InputError unless it holds exactly `expected` values.
  std::vector<double> reals(const std::string& key, std::size_t expected) const;
  std::vector<std::int64_t> integers(const std::string& key) const;
  std::vector<Vec3> vectors(const std::string& key, std::size_t expected) const;
  Mat3 matrix(const std::string& key) const;
  const std::string& text(const std::string& key) const;
  const std::string& blob(const std::string& key) const { return text(key); }
  Engine engine(const std::string& key) const;
  bool has(const std::string& key) const { return entries_.count(key) > 0; }

 private:
  const std::string& get(const std::string& key) const;
  [[noreturn]] void bad(const std::string& key, const std::string& what) const;
  std::string magic_;
  std::map<std::string, std::string> entries_;
};

}  // namespace spinlat::state_io
