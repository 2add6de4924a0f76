#pragma once
// Strict, typed reading of one TOML table: every error names the file, the dotted key and
// the line, and says what was expected. `finish()` rejects keys nobody asked for, with a
// "did you mean" suggestion, so a typo never becomes a silent default.
#include <array>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "spinlat/core/error.hpp"
#include "spinlat/core/types.hpp"

namespace spinlat {

/// Levenshtein distance (for suggestions).
std::size_t edit_distance(const std::string& a, const std::string& b);
/// The closest candidate within a small edit distance, or "".
std::string closest_match(const std::string& word, const std::vector<std::string>& candidates);

class Params {
 public:
  /// `path` is the dotted location of this table in the input (e.g. "potential.0").
  Params(const toml::table& table, std::string file, std::string path);

  const std::string& file() const { return file_; }
  const std::string& path() const { return path_; }
  const toml::table& table() const { return *table_; }
  /// Line of this table (or of key `key` when given and present).
  int line(const std::string& key = "") const;
  std::string key_path(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

  bool has(const std::string& key) const;

  // Required values: throw InputError naming file, key and line if missing or mistyped.
  double real(const std::string& key);
  long long integer(const std::string& key);
  std::string string(const std::string& key);
  bool boolean(const std::string& key);
  Vec3 vec3(const std::string& key);
  std::vector<double> reals(const std::string& key);  ///< a number or a list of numbers
  std::vector<long long> integers(const std::string& key);
  std::vector<std::string> strings(const std::string& key);  ///< a string or a list of them

  // Optional values with defaults.
  double real(const std::string& key, double fallback);
  long long integer(const std::string& key, long long fallback);
  std::string string(const std::string& key, const std::string& fallback);
  bool boolean(const std::string& key, bool fallback);

  /// A string that must be one of `allowed`.
  std::string choice(const std::string& key, const std::vector<std::string>& allowed);
  std::string choice(const std::string& key, const std::vector<std::string>& allowed,
                     const std::string& fallback);

  /// Sub-table or array of sub-tables.
  Params table(const std::string& key);
  std::vector<Params> tables(const std::string& key);

  /// Range checks that name the key: value must satisfy the predicate.
  void require(bool ok, const std::string& key, const std::string& expectation) const;

  /// Marks a key as known without reading it (read elsewhere).
  void touch(const std::string& key) { used_.insert(key); }
  /// Throws InputError for the first key that was never read, suggesting the closest one of
  /// `also_known` plus the keys read so far.
  void finish(const std::vector<std::string>& also_known = {}) const;

  [[noreturn]] void fail(const std::string& key, const std::string& msg) const;

 private:
  const toml::node* node(const std::string& key);
  double as_real(const toml::node& n, const std::string& key) const;

  const toml::table* table_;
  std::string file_, path_;
  std::set<std::string> used_;
};

/// A number >= 0 (`unit` in the message, e.g. " K"), `fallback` when absent.
double non_negative(Params& p, const std::string& key, double fallback, const std::string& unit);
/// A required number > 0.
double positive(Params& p, const std::string& key, const std::string& unit);
/// An integer >= minimum; `fallback` when absent unless `required`.
long long count_at_least(Params& p, const std::string& key, long long minimum, long long fallback, bool required);
/// Shortest text of a number, for messages.
std::string number_text(double x);

}  // namespace spinlat
