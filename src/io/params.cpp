#include "spinlat/io/params.hpp"

#include "spinlat/io/toml_overrides.hpp"

#include <sstream>

#include <algorithm>
#include <cmath>

namespace spinlat {

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string closest_match(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_d = std::max<std::size_t>(2, word.size() / 3) + 1;
  for (const auto& c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_d) { best_d = d; best = c; }
  }
  return best;
}

std::string number_text(double x) {
  std::ostringstream os;
  os << x;
  return os.str();
}

double non_negative(Params& p, const std::string& key, double fallback, const std::string& unit) {
  const double v = p.real(key, fallback);
  p.require(v >= 0.0, key, "must be >= 0" + unit + ", got " + number_text(v));
  return v;
}

double positive(Params& p, const std::string& key, const std::string& unit) {
  const double v = p.real(key);
  p.require(v > 0.0, key, "must be > 0" + unit + ", got " + number_text(v));
  return v;
}

long long count_at_least(Params& p, const std::string& key, long long minimum, long long fallback, bool required) {
  const long long v = required ? p.integer(key) : p.integer(key, fallback);
  p.require(v >= minimum, key, "must be an integer >= " + std::to_string(minimum) + ", got " + std::to_string(v));
  return v;
}

Params::Params(const toml::table& table, std::string file, std::string path)
    : table_(&table), file_(std::move(file)), path_(std::move(path)) {}

int Params::line(const std::string& key) const {
  if (!key.empty())
    if (const toml::node* n = table_->get(key)) return static_cast<int>(n->source().begin.line);
  return static_cast<int>(table_->source().begin.line);
}

bool Params::has(const std::string& key) const { return table_->contains(key); }

void Params::fail(const std::string& key, const std::string& msg) const {
  // A value given by --set: name the argument, not a line of the file.
  if (const toml::node* n = key.empty() ? nullptr : table_->get(key))
    if (std::string set = override_source(*n); !set.empty()) throw InputError(set, key_path(key), 0, msg);
  throw InputError(file_, key_path(key), line(key), msg);
}

void Params::require(bool ok, const std::string& key, const std::string& expectation) const {
  if (!ok) fail(key, expectation);
}

const toml::node* Params::node(const std::string& key) {
  used_.insert(key);
  return table_->get(key);
}

static std::string type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    default: return "a date or time";
  }
}

double Params::as_real(const toml::node& n, const std::string& key) const {
  if (auto v = n.value_exact<double>()) {
    if (!std::isfinite(*v)) fail(key, "expected a finite number, got " + std::to_string(*v));
    return *v;
  }
  if (auto v = n.value_exact<int64_t>()) return static_cast<double>(*v);
  fail(key, "expected a number, got " + type_name(n));
}

double Params::real(const std::string& key) {
  const toml::node* n = node(key);
  if (!n) fail(key, "missing required number");
  return as_real(*n, key);
}

double Params::real(const std::string& key, double fallback) {
  const toml::node* n = node(key);
  return n ? as_real(*n, key) : fallback;
}

long long Params::integer(const std::string& key) {
  const toml::node* n = node(key);
  if (!n) fail(key, "missing required integer");
  if (auto v = n->value_exact<int64_t>()) return *v;
  fail(key, "expected an integer, got " + type_name(*n));
}

long long Params::integer(const std::string& key, long long fallback) {
  return has(key) ? integer(key) : (used_.insert(key), fallback);
}

std::string Params::string(const std::string& key) {
  const toml::node* n = node(key);
  if (!n) fail(key, "missing required string");
  if (auto v = n->value_exact<std::string>()) return *v;
  fail(key, "expected a string, got " + type_name(*n));
}

std::string Params::string(const std::string& key, const std::string& fallback) {
  return has(key) ? string(key) : (used_.insert(key), fallback);
}

bool Params::boolean(const std::string& key) {
  const toml::node* n = node(key);
  if (!n) fail(key, "missing required boolean");
  if (auto v = n->value_exact<bool>()) return *v;
  fail(key, "expected true or false, got " + type_name(*n));
}

bool Params::boolean(const std::string& key, bool fallback) {
  return has(key) ? boolean(key) : (used_.insert(key), fallback);
}

std::vector<double> Params::reals(const std::string& key) {
  const toml::node* n = node(key);
  if (!n) fail(key, "missing required number or list of numbers");
  std::vector<double> out;
  if (const toml::array* a = n->as_array()) {
    for (const auto& e : *a) out.push_back(as_real(e, key));
  } else {
    out.push_back(as_real(*n, key));
  }
  return out;
}

std::vector<long long> Params::integers(const std::string& key) {
  const toml::node* n = node(key);
  if (!n) fail(key, "missing required integer or list of integers");
  std::vector<long long> out;
  auto one = [&](const toml::node& e) {
    if (auto v = e.value_exact<int64_t>()) return static_cast<long long>(*v);
    fail(key, "expected integers, got " + type_name(e));
  };
  if (const toml::array* a = n->as_array()) {
    for (const auto& e : *a) out.push_back(one(e));
  } else {
    out.push_back(one(*n));
  }
  return out;
}

std::vector<std::string> Params::strings(const std::string& key) {
  const toml::node* n = node(key);
  if (!n) fail(key, "missing required string or list of strings");
  std::vector<std::string> out;
  auto one = [&](const toml::node& e) {
    if (auto v = e.value_exact<std::string>()) return *v;
    fail(key, "expected strings, got " + type_name(e));
  };
  if (const toml::array* a = n->as_array()) {
    for (const auto& e : *a) out.push_back(one(e));
  } else {
    out.push_back(one(*n));
  }
  return out;
}

Vec3 Params::vec3(const std::string& key) {
  const std::vector<double> v = reals(key);
  if (v.size() != 3) fail(key, "expected a list of 3 numbers [x, y, z], got " + std::to_string(v.size()));
  return Vec3(v[0], v[1], v[2]);
}

std::string Params::choice(const std::string& key, const std::vector<std::string>& allowed) {
  const std::string v = string(key);
  if (std::find(allowed.begin(), allowed.end(), v) == allowed.end()) {
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + ("'" + a + "'");
    const std::string guess = closest_match(v, allowed);
    fail(key, "unknown value '" + v + "'" + (guess.empty() ? "" : " (did you mean '" + guess + "'?)") +
                  "; expected one of " + list);
  }
  return v;
}

std::string Params::choice(const std::string& key, const std::vector<std::string>& allowed,
                           const std::string& fallback) {
  return has(key) ? choice(key, allowed) : (used_.insert(key), fallback);
}

Params Params::table(const std::string& key) {
  const toml::node* n = node(key);
  if (!n) fail(key, "missing required table [" + key_path(key) + "]");
  const toml::table* t = n->as_table();
  if (!t) fail(key, "expected a table, got " + type_name(*n));
  return Params(*t, file_, key_path(key));
}

std::vector<Params> Params::tables(const std::string& key) {
  std::vector<Params> out;
  const toml::node* n = node(key);
  if (!n) return out;
  if (const toml::table* t = n->as_table()) {
    out.emplace_back(*t, file_, key_path(key));
    return out;
  }
  const toml::array* a = n->as_array();
  if (!a) fail(key, "expected an array of tables [[" + key_path(key) + "]], got " + type_name(*n));
  for (std::size_t k = 0; k < a->size(); ++k) {
    const toml::table* t = (*a)[k].as_table();
    if (!t) fail(key, "entry " + std::to_string(k) + " is not a table");
    out.emplace_back(*t, file_, key_path(key) + "." + std::to_string(k));
  }
  return out;
}

void Params::finish(const std::vector<std::string>& also_known) const {
  std::vector<std::string> known(used_.begin(), used_.end());
  known.insert(known.end(), also_known.begin(), also_known.end());
  for (const auto& [k, v] : *table_) {
    const std::string key(k.str());
    if (used_.count(key) || std::find(also_known.begin(), also_known.end(), key) != also_known.end())
      continue;
    const std::string guess = closest_match(key, known);
    const std::string set = override_source(v);
    throw InputError(set.empty() ? file_ : set, key_path(key), set.empty() ? static_cast<int>(v.source().begin.line) : 0,
                     "unknown key" + (guess.empty() ? std::string() : " (did you mean '" + guess + "'?)"));
  }
}

}  // namespace spinlat
