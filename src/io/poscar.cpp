// VASP POSCAR reader and writer (format: https://www.vasp.at/wiki/index.php/POSCAR).
// MAGMOM is not part of a POSCAR; spinlat reads it from a `MAGMOM = ...` comment (as INCAR
// writes it, with `n*value` repeats), which is also how write_poscar stores moments.
#include "spinlat/io/poscar.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <istream>
#include <map>
#include <ostream>
#include <sstream>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"

namespace spinlat {
namespace {

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream is(s);
  std::string t;
  while (is >> t) out.push_back(t);
  return out;
}

/// Text before an inline comment (# or !).
std::string strip_comment(const std::string& s) { return s.substr(0, s.find_first_of("#!")); }

bool parse_number(std::string t, double& v) {
  // Fortran writes exponents as D.
  for (char& ch : t)
    if (ch == 'd' || ch == 'D') ch = 'e';
  const char* b = t.data();
  const char* e = b + t.size();
  if (b != e && *b == '+') ++b;
  if (b == e) return false;
  auto r = std::from_chars(b, e, v);
  return r.ec == std::errc() && r.ptr == e && std::isfinite(v);
}

bool parse_count(const std::string& t, long long& v) {
  auto r = std::from_chars(t.data(), t.data() + t.size(), v);
  return r.ec == std::errc() && r.ptr == t.data() + t.size();
}

/// "Fe", "Fe_pv", "Fe/f0b3a9..." (VASP 6 POTCAR hashes) → "Fe".
std::string species_label(const std::string& t) {
  std::string s = t.substr(0, t.find('/'));
  const auto u = s.find('_');
  if (u != std::string::npos && atomic_number(s.substr(0, u)) > 0) s = s.substr(0, u);
  return s;
}

bool is_flag(const std::string& t) { return t == "T" || t == "F" || t == "t" || t == "f"; }

struct Lines {
  std::vector<std::string> text;
  const std::string& name;
  [[noreturn]] void fail(int line, const std::string& msg) const { throw InputError(name, "", line, msg); }
  const std::string& at(std::size_t k, const std::string& what) const {
    if (k >= text.size())
      fail(static_cast<int>(text.size()), "file ends where " + what + " should be (line " + std::to_string(k + 1) + ")");
    return text[k];
  }
};

/// The MAGMOM list of a line, if it has one ("... MAGMOM = 2*2.2 -2.2").
bool find_magmom(const std::string& line, std::string& list) {
  std::string up = line;
  for (char& ch : up) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  const auto k = up.find("MAGMOM");
  if (k == std::string::npos) return false;
  const auto eq = line.find('=', k);
  if (eq == std::string::npos) return false;
  list = line.substr(eq + 1);
  list = list.substr(0, list.find_first_of("#!"));
  return true;
}

}  // namespace

std::vector<double> expand_vasp_list(const std::string& text, const std::string& name, int line) {
  std::vector<double> out;
  for (const auto& t : split(text)) {
    const auto star = t.find('*');
    double v = 0;
    if (star == std::string::npos) {
      if (!parse_number(t, v)) throw InputError(name, "MAGMOM", line, "'" + t + "' is not a number");
      out.push_back(v);
      continue;
    }
    long long n = 0;
    if (!parse_count(t.substr(0, star), n) || n < 1 || n > 100000000 || !parse_number(t.substr(star + 1), v))
      throw InputError(name, "MAGMOM", line, "'" + t + "' is not of the form count*value");
    // A MAGMOM list never needs more entries than a POSCAR can hold atoms.
    if (out.size() + static_cast<std::size_t>(n) > 10000000u)
      throw InputError(name, "MAGMOM", line, "the list expands to more than 10^7 entries");
    out.insert(out.end(), static_cast<std::size_t>(n), v);
  }
  return out;
}

Frame parse_poscar(std::istream& in, const std::string& name, const std::vector<std::string>& species_hint) {
  Lines L{{}, name};
  for (std::string s; std::getline(in, s);) {
    if (!s.empty() && s.back() == '\r') s.pop_back();
    L.text.push_back(s);
  }
  if (L.text.empty()) L.fail(0, "empty POSCAR");

  // Line 2: scale (one factor, a negative volume, or three factors).
  const auto scale_t = split(strip_comment(L.at(1, "the scale factor")));
  std::vector<double> scale;
  for (const auto& t : scale_t) {
    double v = 0;
    if (!parse_number(t, v)) L.fail(2, "expected the scale factor, got '" + t + "'");
    scale.push_back(v);
  }
  if (scale.size() != 1 && scale.size() != 3) L.fail(2, "expected one scale factor (or three), got " + std::to_string(scale.size()));
  if (scale.size() == 1 && scale[0] == 0.0) L.fail(2, "the scale factor must not be zero");
  if (scale.size() == 3 && !(scale[0] > 0 && scale[1] > 0 && scale[2] > 0)) L.fail(2, "three scale factors must all be > 0");

  // Lines 3-5: cell vectors.
  Mat3 h;
  for (int r = 0; r < 3; ++r) {
    const auto t = split(strip_comment(L.at(static_cast<std::size_t>(2 + r), "a cell vector")));
    if (t.size() < 3) L.fail(3 + r, "expected a cell vector of 3 numbers");
    for (int k = 0; k < 3; ++k)
      if (!parse_number(t[static_cast<std::size_t>(k)], h(r, k)))
        L.fail(3 + r, "'" + t[static_cast<std::size_t>(k)] + "' is not a number");
  }
  if (!(std::abs(h.determinant()) > 0)) L.fail(3, "the cell has zero volume");
  Vec3 factor = Vec3::Ones();
  if (scale.size() == 3) {
    factor = Vec3(scale[0], scale[1], scale[2]);
  } else if (scale[0] > 0) {
    factor.setConstant(scale[0]);
  } else {
    factor.setConstant(std::cbrt(-scale[0] / std::abs(h.determinant())));  // negative: target volume
  }
  for (int r = 0; r < 3; ++r)
    for (int k = 0; k < 3; ++k) h(r, k) *= factor[k];

  // Line 6: species (VASP 5) or counts (VASP 4).
  std::size_t k = 5;
  std::vector<std::string> names;
  auto first = split(strip_comment(L.at(k, "the species or counts line")));
  if (first.empty()) L.fail(6, "expected species symbols or atom counts");
  long long probe = 0;
  if (!parse_count(first[0], probe)) {
    for (const auto& t : first) names.push_back(species_label(t));
    ++k;
  }
  std::vector<long long> counts;
  for (const auto& t : split(strip_comment(L.at(k, "the atom counts")))) {
    long long c = 0;
    if (!parse_count(t, c) || c < 1) L.fail(static_cast<int>(k + 1), "expected positive atom counts, got '" + t + "'");
    counts.push_back(c);
  }
  const int counts_line = static_cast<int>(k + 1);
  if (counts.empty()) L.fail(counts_line, "expected atom counts");
  if (!names.empty() && names.size() != counts.size())
    L.fail(counts_line, std::to_string(names.size()) + " species but " + std::to_string(counts.size()) + " counts");
  if (names.empty()) {
    if (!species_hint.empty()) {
      names = species_hint;
    } else {
      // ASE writes VASP 4 files with the symbols as the comment line.
      const auto t = split(strip_comment(L.text[0]));
      const bool symbols = t.size() == counts.size() &&
                           std::all_of(t.begin(), t.end(), [](const std::string& x) { return atomic_number(x) > 0; });
      if (!symbols)
        L.fail(6, "no species line (VASP 4 format): give the species in the input, e.g. species = [\"Fe\"]");
      names = t;
    }
    if (names.size() != counts.size())
      L.fail(counts_line, "the input gives " + std::to_string(names.size()) + " species but the file has " +
                              std::to_string(counts.size()) + " counts");
  } else if (!species_hint.empty()) {
    if (species_hint != names) {
      std::string a, b;
      for (const auto& x : names) a += (a.empty() ? "" : " ") + x;
      for (const auto& x : species_hint) b += (b.empty() ? "" : " ") + x;
      L.fail(6, "the species line says '" + a + "' but the input's species are '" + b + "'");
    }
  }
  ++k;

  // Optional Selective dynamics, then the coordinate mode.
  bool selective = false;
  auto mode_line = [&](const std::string& s) {
    const auto p = s.find_first_not_of(" \t");
    return p == std::string::npos ? '\0' : s[p];
  };
  char m = mode_line(L.at(k, "the coordinate mode (Direct or Cartesian)"));
  if (m == 'S' || m == 's') {
    selective = true;
    ++k;
    m = mode_line(L.at(k, "the coordinate mode (Direct or Cartesian)"));
  }
  if (m == '\0' || std::isdigit(static_cast<unsigned char>(m)) || m == '-' || m == '+' || m == '.')
    L.fail(static_cast<int>(k + 1), "expected 'Direct' or 'Cartesian', got '" + L.text[k] + "'");
  const bool cartesian = m == 'C' || m == 'c' || m == 'K' || m == 'k';
  ++k;

  // Bound every count by the lines left before adding (no overflow, no huge allocation).
  const long long lines_left = static_cast<long long>(L.text.size()) - static_cast<long long>(k);
  long long total = 0;
  for (long long c : counts) {
    if (c < 0 || c > lines_left || total + c > lines_left) {
      const long long have = std::max(0LL, lines_left);
      L.fail(static_cast<int>(L.text.size()), "file ends after " + std::to_string(have) + " of the " +
                                                  (c > (1LL << 60) ? "more than " + std::to_string(have) : std::to_string(total + c)) +
                                                  " atom positions");
    }
    total += c;
  }
  Frame frame;
  frame.line = 1;
  System& sys = frame.system;
  sys.cell.h = h;
  std::vector<int> species_of;
  for (std::size_t g = 0; g < counts.size(); ++g) {
    auto it = std::find(sys.species_name.begin(), sys.species_name.end(), names[g]);
    if (it == sys.species_name.end()) {
      sys.species_name.push_back(names[g]);
      sys.species_mass.push_back(element_mass(names[g]));
      it = sys.species_name.end() - 1;
    }
    species_of.insert(species_of.end(), static_cast<std::size_t>(counts[g]), static_cast<int>(it - sys.species_name.begin()));
  }
  std::vector<Vec3> pos;
  std::vector<Vec3> flags;
  for (long long i = 0; i < total; ++i, ++k) {
    if (k >= L.text.size())
      L.fail(static_cast<int>(L.text.size()), "file ends after " + std::to_string(i) + " of the " +
                                                  std::to_string(total) + " atom positions");
    const auto t = split(strip_comment(L.text[k]));
    const int line = static_cast<int>(k + 1);
    if (t.size() < (selective ? 6u : 3u))
      L.fail(line, std::string("expected 3 coordinates") + (selective ? " and 3 T/F flags" : "") + ", got '" + L.text[k] + "'");
    Vec3 x;
    for (int c = 0; c < 3; ++c)
      if (!parse_number(t[static_cast<std::size_t>(c)], x[c])) L.fail(line, "'" + t[static_cast<std::size_t>(c)] + "' is not a number");
    if (selective) {
      Vec3 f;
      for (int c = 0; c < 3; ++c) {
        const std::string& w = t[static_cast<std::size_t>(3 + c)];
        if (!is_flag(w)) L.fail(line, "expected a selective-dynamics flag T or F, got '" + w + "'");
        f[c] = (w == "T" || w == "t") ? 1.0 : 0.0;
      }
      flags.push_back(f);
    }
    pos.push_back(cartesian ? Vec3(x.cwiseProduct(factor)) : Vec3(h.transpose() * x));
  }
  if (selective) frame.vectors["selective_dynamics"] = flags;

  // MAGMOM: the comment line, or a comment line after the positions.
  std::string list;
  int magmom_line = 0;
  if (find_magmom(L.text[0], list)) magmom_line = 1;
  for (std::size_t j = k; !magmom_line && j < L.text.size(); ++j) {
    const auto p = L.text[j].find_first_not_of(" \t");
    if (p != std::string::npos && (L.text[j][p] == '#' || L.text[j][p] == '!') && find_magmom(L.text[j].substr(p + 1), list))
      magmom_line = static_cast<int>(j + 1);
  }
  std::vector<Vec3> moment(static_cast<std::size_t>(total), Vec3::Zero());
  if (magmom_line) {
    const auto v = expand_vasp_list(list, name, magmom_line);
    if (v.size() == static_cast<std::size_t>(total)) {
      for (std::size_t i = 0; i < v.size(); ++i) moment[i] = Vec3(0, 0, v[i]);
    } else if (v.size() == 3 * static_cast<std::size_t>(total)) {
      for (std::size_t i = 0; i < moment.size(); ++i) moment[i] = Vec3(v[3 * i], v[3 * i + 1], v[3 * i + 2]);
    } else {
      throw InputError(name, "MAGMOM", magmom_line,
                       "has " + std::to_string(v.size()) + " values; expected one per atom (" + std::to_string(total) +
                           ") or three per atom (" + std::to_string(3 * total) + ")");
    }
    frame.moment_source = "MAGMOM";
  }
  for (std::size_t i = 0; i < pos.size(); ++i) {
    const double size = moment[i].norm();
    sys.add_atom(pos[i], species_of[i], size, size > 0 ? moment[i] : Vec3::UnitZ(), species_of[i]);
  }
  return frame;
}

Frame read_poscar(const std::string& path, const std::vector<std::string>& species) {
  std::ifstream in(path);
  if (!in) throw InputError(path, "", 0, "cannot open the POSCAR file");
  return parse_poscar(in, path, species);
}

void write_poscar(std::ostream& out, const System& s, const std::string& comment) {
  auto fmt = [](double v) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof(buf), v);
    return std::string(buf, r.ptr);
  };
  // VASP groups atoms by species: write them in species order.
  std::vector<std::size_t> order;
  std::vector<long long> counts(s.species_name.size(), 0);
  for (std::size_t sp = 0; sp < s.species_name.size(); ++sp)
    for (std::size_t i = 0; i < s.size(); ++i)
      if (static_cast<std::size_t>(s.species[i]) == sp) order.push_back(i), ++counts[sp];
  bool magnetic = false, collinear = true;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (s.magnetic(i)) magnetic = true, collinear = collinear && s.spin[i][0] == 0.0 && s.spin[i][1] == 0.0;

  std::string head = comment;
  if (magnetic) {
    head += " # MAGMOM =";
    for (std::size_t i : order) {
      const Vec3 m = s.moment_vector(i);
      if (collinear)
        head += " " + fmt(m[2]);
      else
        head += " " + fmt(m[0]) + " " + fmt(m[1]) + " " + fmt(m[2]);
    }
  }
  out << head << "\n1.0\n";
  for (int r = 0; r < 3; ++r) out << "  " << fmt(s.cell.h(r, 0)) << " " << fmt(s.cell.h(r, 1)) << " " << fmt(s.cell.h(r, 2)) << "\n";
  std::string names, nums;
  for (std::size_t sp = 0; sp < s.species_name.size(); ++sp) {
    if (!counts[sp]) continue;
    names += " " + s.species_name[sp];
    nums += " " + std::to_string(counts[sp]);
  }
  out << names << "\n" << nums << "\nDirect\n";
  for (std::size_t i : order) {
    const Vec3 f = s.cell.fractional(s.position[i]);
    out << "  " << fmt(f[0]) << " " << fmt(f[1]) << " " << fmt(f[2]) << "\n";
  }
}

}  // namespace spinlat
