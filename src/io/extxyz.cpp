// Extended XYZ reader and writer, following ASE's ase/io/extxyz.py conventions: the comment
// line holds key=value pairs (values bare, "quoted" with backslash escapes, or {braced});
// a bare key means true; `Lattice` (9 numbers, rows a1 a2 a3), `Properties`
// (name:type:columns triplets) and `pbc` are structural; everything else is data.
#include "spinlat/io/extxyz.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <istream>
#include <ostream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"

namespace spinlat {
namespace {

struct Reader {
  std::istream& in;
  const std::string& name;
  int line = 0;

  bool next(std::string& s) {
    if (!std::getline(in, s)) return false;
    ++line;
    if (!s.empty() && s.back() == '\r') s.pop_back();
    return true;
  }
  [[noreturn]] void fail(const std::string& msg, const std::string& key = "") const {
    throw InputError(name, key, line, msg);
  }
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream is(s);
  std::string t;
  while (is >> t) out.push_back(t);
  return out;
}

bool parse_number(const std::string& t, double& v) {
  const char* b = t.data();
  const char* e = b + t.size();
  if (b != e && *b == '+') ++b;
  if (b == e) return false;
  auto r = std::from_chars(b, e, v);
  return r.ec == std::errc() && r.ptr == e && std::isfinite(v);
}

bool parse_bool(const std::string& t, bool& v) {
  if (t == "T" || t == "True" || t == "true" || t == "TRUE" || t == "1") return v = true, true;
  if (t == "F" || t == "False" || t == "false" || t == "FALSE" || t == "0") return v = false, true;
  return false;
}

/// The comment line's key=value pairs, in order.
std::vector<std::pair<std::string, std::string>> parse_header(const std::string& s, const Reader& r) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t i = 0;
  const std::size_t n = s.size();
  auto skip = [&] {
    while (i < n && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  };
  auto token = [&](bool stop_at_equals) {
    std::string t;
    if (i < n && s[i] == '"') {
      ++i;
      bool closed = false;
      while (i < n) {
        if (s[i] == '\\' && i + 1 < n) {
          t += s[i + 1];
          i += 2;
        } else if (s[i] == '"') {
          ++i;
          closed = true;
          break;
        } else {
          t += s[i++];
        }
      }
      if (!closed) r.fail("unterminated quoted value in the comment line");
    } else if (i < n && s[i] == '{') {
      const std::size_t end = s.find('}', i);
      if (end == std::string::npos) r.fail("unterminated {...} value in the comment line");
      t = s.substr(i + 1, end - i - 1);
      std::replace(t.begin(), t.end(), ',', ' ');
      i = end + 1;
    } else {
      while (i < n && !std::isspace(static_cast<unsigned char>(s[i])) && !(stop_at_equals && s[i] == '=')) t += s[i++];
    }
    return t;
  };
  skip();
  while (i < n) {
    const std::string key = token(true);
    if (key.empty()) r.fail("expected key=value in the comment line near '" + s.substr(i, 20) + "'");
    skip();
    if (i < n && s[i] == '=') {
      ++i;
      skip();
      out.emplace_back(key, token(false));
    } else {
      out.emplace_back(key, "T");  // ASE: a bare key is a true flag
    }
    skip();
  }
  return out;
}

struct Property {
  std::string name;
  char type;
  int columns;
};

std::vector<Property> parse_properties(const std::string& v, const Reader& r) {
  std::vector<std::string> f;
  std::string cur;
  for (char ch : v + ":") {
    if (ch == ':') {
      f.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  if (f.size() % 3 != 0) r.fail("Properties must be name:type:columns triplets, got '" + v + "'", "Properties");
  std::vector<Property> out;
  std::set<std::string> seen;
  for (std::size_t k = 0; k < f.size(); k += 3) {
    const std::string& type = f[k + 1];
    if (f[k].empty()) r.fail("empty column name in Properties", "Properties");
    if (type.size() != 1 || std::string("SRIL").find(type[0]) == std::string::npos)
      r.fail("column '" + f[k] + "' has type '" + type + "'; expected S, R, I or L", "Properties");
    double c = 0;
    if (!parse_number(f[k + 2], c) || c < 1 || c != std::floor(c) || c > 1000)
      r.fail("column '" + f[k] + "' has column count '" + f[k + 2] + "'", "Properties");
    if (!seen.insert(f[k]).second) r.fail("column '" + f[k] + "' appears twice", "Properties");
    out.push_back({f[k], type[0], static_cast<int>(c)});
  }
  return out;
}

std::string shortest(double v) {
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, res.ptr);
}

bool needs_quotes(const std::string& s) {
  if (s.empty()) return true;
  for (char ch : s)
    if (std::isspace(static_cast<unsigned char>(ch)) || ch == '=' || ch == '"' || ch == '\\' || ch == '{' || ch == '}')
      return true;
  return false;
}

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out + "\"";
}

std::string key_text(const std::string& k) { return needs_quotes(k) ? quoted(k) : k; }

/// Reads one frame after its atom-count line; false at a clean end of file.
bool read_frame(Reader& r, Frame& frame) {
  std::string s;
  do {
    if (!r.next(s)) return false;
  } while (s.find_first_not_of(" \t") == std::string::npos);
  frame = Frame();
  frame.line = r.line;
  double count = 0;
  const auto head = split(s);
  if (head.size() != 1 || !parse_number(head[0], count) || count < 0 || count != std::floor(count) || count > 1e9)
    r.fail("expected the number of atoms alone on this line, got '" + s + "'");
  const std::size_t n = static_cast<std::size_t>(count);

  if (!r.next(s)) r.fail("file ends before the comment line of the frame that starts at line " + std::to_string(frame.line));
  const int header_line = r.line;
  std::vector<Property> props = {{"species", 'S', 1}, {"pos", 'R', 3}};
  bool has_lattice = false, has_pbc = false;
  Mat3 h = Mat3::Zero();
  std::array<bool, 3> pbc{false, false, false};
  if (s.find('=') == std::string::npos) {
    frame.info_text["comment"] = s;  // plain XYZ: free comment, species and positions only
  } else {
    for (const auto& [key, value] : parse_header(s, r)) {
      if (key == "Lattice") {
        const auto t = split(value);
        if (t.size() != 9) r.fail("expected 9 numbers (three cell vectors), got " + std::to_string(t.size()), "Lattice");
        for (int k = 0; k < 9; ++k)
          if (!parse_number(t[static_cast<std::size_t>(k)], h(k / 3, k % 3)))
            r.fail("'" + t[static_cast<std::size_t>(k)] + "' is not a number", "Lattice");
        has_lattice = true;
      } else if (key == "Properties") {
        props = parse_properties(value, r);
      } else if (key == "pbc") {
        const auto t = split(value);
        bool ok = t.size() == 3;
        for (std::size_t k = 0; ok && k < 3; ++k) ok = parse_bool(t[k], pbc[k]);
        if (!ok) r.fail("expected three of T/F, got '" + value + "'", "pbc");
        has_pbc = true;
      } else {
        const auto t = split(value);
        std::vector<double> numbers;
        double x = 0;
        bool all = !t.empty();
        for (const auto& w : t) {
          if (!parse_number(w, x)) {
            all = false;
            break;
          }
          numbers.push_back(x);
        }
        if (all && numbers.size() == 1 && t.size() == 1 && value.find_first_of(" \t") == std::string::npos)
          frame.info[key] = numbers[0];
        else if (all)
          frame.info_arrays[key] = numbers;
        else
          frame.info_text[key] = value;
      }
    }
  }
  if (!has_lattice && has_pbc && (pbc[0] || pbc[1] || pbc[2]))
    throw InputError(r.name, "pbc", header_line, "periodic directions need a Lattice");
  if (has_lattice && !has_pbc) pbc = {true, true, true};  // ASE's reading of a Lattice alone
  if (has_lattice && !(std::abs(h.determinant()) > 0.0))
    throw InputError(r.name, "Lattice", header_line, "the cell has zero volume");

  auto find = [&](const std::string& nm) {
    return std::find_if(props.begin(), props.end(), [&](const Property& p) { return p.name == nm; });
  };
  auto species_col = find("species");
  auto z_col = find("Z");
  auto pos_col = find("pos");
  if (pos_col == props.end()) pos_col = find("positions");
  if (species_col == props.end() && z_col == props.end())
    throw InputError(r.name, "Properties", header_line, "no species column (species:S:1 or Z:I:1)");
  if (species_col != props.end() && (species_col->type != 'S' || species_col->columns != 1))
    throw InputError(r.name, "Properties", header_line, "species must be species:S:1");
  if (pos_col == props.end() || pos_col->type != 'R' || pos_col->columns != 3)
    throw InputError(r.name, "Properties", header_line, "no pos:R:3 column");
  const char* moment_names[] = {"magmom", "REF_magmom", "magmoms", "initial_magmoms"};
  auto moment_col = props.end();
  for (const char* m : moment_names)
    if ((moment_col = find(m)) != props.end()) break;
  if (moment_col != props.end() &&
      (moment_col->type == 'S' || moment_col->type == 'L' || (moment_col->columns != 1 && moment_col->columns != 3)))
    throw InputError(r.name, "Properties", header_line,
                     "moment column '" + moment_col->name + "' must be R with 1 (collinear) or 3 columns");
  if (moment_col != props.end()) frame.moment_source = moment_col->name;

  std::size_t width = 0;
  for (const auto& p : props) width += static_cast<std::size_t>(p.columns);

  // Column storage, filled atom by atom (nothing is sized from the header's atom count before
  // the atom lines are read: a corrupt count must not allocate gigabytes).
  std::vector<std::vector<double>> numeric(props.size());
  std::vector<std::vector<std::string>> text(props.size());

  for (std::size_t i = 0; i < n; ++i) {
    if (!r.next(s))
      r.fail("file ends after " + std::to_string(i) + " of the " + std::to_string(n) +
             " atom lines of the frame that starts at line " + std::to_string(frame.line));
    const auto t = split(s);
    if (t.size() != width)
      r.fail("expected " + std::to_string(width) + " columns (Properties), got " + std::to_string(t.size()));
    std::size_t c = 0;
    for (std::size_t k = 0; k < props.size(); ++k) {
      const Property& p = props[k];
      for (int m = 0; m < p.columns; ++m, ++c) {
        const std::string& w = t[c];
        if (p.type == 'S') {
          text[k].push_back(w);
        } else if (p.type == 'L') {
          bool b = false;
          if (!parse_bool(w, b)) r.fail("'" + w + "' is not T or F", p.name);
          numeric[k].push_back(b ? 1.0 : 0.0);
        } else {
          double x = 0;
          if (!parse_number(w, x)) r.fail("'" + w + "' is not a finite number", p.name);
          if (p.type == 'I' && x != std::floor(x)) r.fail("'" + w + "' is not an integer", p.name);
          numeric[k].push_back(x);
        }
      }
    }
  }

  std::vector<std::string> species(n);
  std::vector<Vec3> pos(n);
  std::vector<Vec3> mdir(n, Vec3::Zero());
  std::vector<double> msize(n, 0.0);

  // The System: species by first appearance, positions, moments.
  System& sys = frame.system;
  if (has_lattice) {
    sys.cell.h = h;
  } else {
    // Non-periodic: a box around the atoms, only so that fractional coordinates exist.
    Vec3 lo = Vec3::Zero(), hi = Vec3::Zero();
    const std::size_t pk = static_cast<std::size_t>(pos_col - props.begin());
    for (std::size_t i = 0; i < n; ++i) {
      const Vec3 x(numeric[pk][3 * i], numeric[pk][3 * i + 1], numeric[pk][3 * i + 2]);
      lo = i ? lo.cwiseMin(x) : x;
      hi = i ? hi.cwiseMax(x) : x;
    }
    sys.cell.h = Mat3((hi - lo + Vec3::Constant(1.0)).asDiagonal());
  }
  sys.cell.periodic = pbc;
  for (std::size_t k = 0; k < props.size(); ++k) {
    const Property& p = props[k];
    const auto it = props.begin() + static_cast<std::ptrdiff_t>(k);
    if (it == species_col) {
      species = text[k];
    } else if (it == z_col && species_col == props.end()) {
      for (std::size_t i = 0; i < n; ++i) {
        const double z = numeric[k][i];
        const std::string sym = (z >= 1 && z <= 118) ? element_symbol(static_cast<int>(z)) : std::string();
        if (sym.empty())
          throw InputError(r.name, "Z", header_line + 1 + static_cast<int>(i), "not an atomic number: " + shortest(numeric[k][i]));
        species[i] = sym;
      }
    } else if (it == pos_col) {
      for (std::size_t i = 0; i < n; ++i) pos[i] = Vec3(numeric[k][3 * i], numeric[k][3 * i + 1], numeric[k][3 * i + 2]);
      continue;
    }
    if (it == moment_col) {
      for (std::size_t i = 0; i < n; ++i) {
        if (p.columns == 1) {
          const double m = numeric[k][i];
          msize[i] = std::abs(m);
          mdir[i] = Vec3(0, 0, m < 0 ? -1.0 : 1.0);
        } else {
          const Vec3 m(numeric[k][3 * i], numeric[k][3 * i + 1], numeric[k][3 * i + 2]);
          msize[i] = m.norm();
          mdir[i] = m;
        }
      }
      if (p.name == "magmom") continue;  // owned by the System (written back from it)
    }
    if (it == species_col) continue;
    // Everything else is kept by name.
    if (p.type == 'S') {
      if (p.columns == 1)
        frame.strings[p.name] = text[k];
      else
        throw InputError(r.name, "Properties", header_line, "string column '" + p.name + "' must have 1 column");
    } else if (p.columns == 3 && p.type == 'R') {
      auto& v = frame.vectors[p.name];
      for (std::size_t i = 0; i < n; ++i) v.emplace_back(numeric[k][3 * i], numeric[k][3 * i + 1], numeric[k][3 * i + 2]);
    } else if (p.columns == 1) {
      frame.scalars[p.name] = numeric[k];
      frame.scalar_types[p.name] = p.type;
    } else {
      frame.columns[p.name] = AtomColumn{p.type, p.columns, numeric[k]};
    }
  }
  for (std::size_t i = 0; i < n; ++i) {
    auto sp = std::find(sys.species_name.begin(), sys.species_name.end(), species[i]);
    if (sp == sys.species_name.end()) {
      sys.species_name.push_back(species[i]);
      sys.species_mass.push_back(element_mass(species[i]));
      sp = sys.species_name.end() - 1;
    }
    const int index = static_cast<int>(sp - sys.species_name.begin());
    sys.add_atom(pos[i], index, msize[i], mdir[i], index);
  }
  return true;
}

}  // namespace

std::vector<Frame> parse_extxyz(std::istream& in, const std::string& name) {
  Reader r{in, name};
  std::vector<Frame> frames;
  Frame f;
  while (read_frame(r, f)) frames.push_back(std::move(f));
  if (frames.empty()) throw InputError(name, "", 0, "no frames (an empty extended XYZ file)");
  return frames;
}

std::vector<Frame> read_extxyz(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path, "", 0, "cannot open the extended XYZ file");
  return parse_extxyz(in, path);
}

void write_extxyz(std::ostream& out, const Frame& frame) {
  const System& s = frame.system;
  const std::size_t n = s.size();
  auto check = [&](const std::string& name, std::size_t size) {
    if (size != n)
      throw std::invalid_argument("write_extxyz: per-atom field '" + name + "' has " + std::to_string(size) +
                                  " entries for " + std::to_string(n) + " atoms");
  };
  // Names the writer owns; map entries with these names are not written twice.
  const std::set<std::string> reserved = {"species", "pos", "magmom", "Lattice", "Properties", "pbc"};

  bool magnetic = false, collinear = true;
  for (std::size_t i = 0; i < n; ++i) {
    if (!s.magnetic(i)) continue;
    magnetic = true;
    collinear = collinear && s.spin[i][0] == 0.0 && s.spin[i][1] == 0.0;
  }

  std::string props = "species:S:1:pos:R:3";
  if (magnetic) props += collinear ? ":magmom:R:1" : ":magmom:R:3";
  for (const auto& [k, v] : frame.vectors)
    if (!reserved.count(k)) check(k, v.size()), props += ":" + k + ":R:3";
  for (const auto& [k, v] : frame.scalars) {
    if (reserved.count(k)) continue;
    check(k, v.size());
    auto t = frame.scalar_types.find(k);
    props += ":" + k + ":" + std::string(1, t == frame.scalar_types.end() ? 'R' : t->second) + ":1";
  }
  for (const auto& [k, v] : frame.strings)
    if (!reserved.count(k)) check(k, v.size()), props += ":" + k + ":S:1";
  for (const auto& [k, c] : frame.columns) {
    if (reserved.count(k)) continue;
    check(k, c.values.size() / static_cast<std::size_t>(std::max(c.columns, 1)));
    props += ":" + k + ":" + std::string(1, c.type) + ":" + std::to_string(c.columns);
  }

  std::string head = "Lattice=\"";
  for (int k = 0; k < 9; ++k) head += (k ? " " : "") + shortest(s.cell.h(k / 3, k % 3));
  head += "\" Properties=" + props;
  for (const auto& [k, v] : frame.info)
    if (!reserved.count(k)) head += " " + key_text(k) + "=" + shortest(v);
  for (const auto& [k, v] : frame.info_arrays) {
    if (reserved.count(k)) continue;
    std::string list;
    for (double x : v) list += (list.empty() ? "" : " ") + shortest(x);
    head += " " + key_text(k) + "=" + quoted(list);
  }
  for (const auto& [k, v] : frame.info_text)
    if (!reserved.count(k)) head += " " + key_text(k) + "=" + (needs_quotes(v) ? quoted(v) : v);
  head += " pbc=\"";
  for (int k = 0; k < 3; ++k) head += std::string(k ? " " : "") + (s.cell.periodic[static_cast<std::size_t>(k)] ? "T" : "F");
  head += "\"";

  std::string body;
  for (std::size_t i = 0; i < n; ++i) {
    std::string line = s.species_name[static_cast<std::size_t>(s.species[i])];
    for (int k = 0; k < 3; ++k) line += " " + shortest(s.position[i][k]);
    if (magnetic) {
      const Vec3 m = s.moment_vector(i);
      if (collinear)
        line += " " + shortest(m[2]);
      else
        for (int k = 0; k < 3; ++k) line += " " + shortest(m[k]);
    }
    for (const auto& [k, v] : frame.vectors)
      if (!reserved.count(k))
        for (int c = 0; c < 3; ++c) line += " " + shortest(v[i][c]);
    for (const auto& [k, v] : frame.scalars) {
      if (reserved.count(k)) continue;
      auto t = frame.scalar_types.find(k);
      const char type = t == frame.scalar_types.end() ? 'R' : t->second;
      if (type == 'L')
        line += v[i] != 0.0 ? " T" : " F";
      else
        line += " " + shortest(v[i]);
    }
    for (const auto& [k, v] : frame.strings)
      if (!reserved.count(k)) line += " " + v[i];
    for (const auto& [k, c] : frame.columns) {
      if (reserved.count(k)) continue;
      for (int m = 0; m < c.columns; ++m) {
        const double x = c.values[i * static_cast<std::size_t>(c.columns) + static_cast<std::size_t>(m)];
        line += c.type == 'L' ? (x != 0.0 ? " T" : " F") : " " + shortest(x);
      }
    }
    body += line + "\n";
  }
  out << n << "\n" << head << "\n" << body;
}

void write_extxyz(const std::string& path, const std::vector<Frame>& frames) {
  std::ofstream out(path);
  if (!out) throw InputError(path, "", 0, "cannot write the extended XYZ file");
  for (const auto& f : frames) write_extxyz(out, f);
  if (!out) throw InputError(path, "", 0, "writing the extended XYZ file failed");
}

}  // namespace spinlat
