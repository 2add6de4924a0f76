// Readers for other codes' exchange files; see include/spinlat/io/exchange_files.hpp and
// docs/hamiltonian.md ("Exchange from files") for each code's convention.
#include "spinlat/io/exchange_files.hpp"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "spinlat/core/error.hpp"
#include "spinlat/core/units.hpp"

namespace spinlat {
namespace {

struct Line {
  int number;
  std::string text;
};

std::vector<Line> read_lines(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path, "", 0, "cannot open the exchange file");
  std::vector<Line> out;
  std::string s;
  for (int n = 1; std::getline(in, s); ++n) {
    if (!s.empty() && s.back() == '\r') s.pop_back();
    out.push_back({n, s});
  }
  return out;
}

std::vector<std::string> tokens(const std::string& s) {
  std::istringstream is(s);
  std::vector<std::string> t;
  for (std::string w; is >> w;) t.push_back(w);
  return t;
}

/// The line without a comment (from '#' or '!') and surrounding blanks.
std::string content(const std::string& s) {
  std::string t = s.substr(0, s.find_first_of("#!"));
  const auto b = t.find_first_not_of(" \t"), e = t.find_last_not_of(" \t");
  return b == std::string::npos ? std::string() : t.substr(b, e - b + 1);
}

double number(const std::string& path, int line, const std::string& word, const std::string& what) {
  try {
    std::size_t used = 0;
    const double x = std::stod(word, &used);
    if (used == word.size() && std::isfinite(x)) return x;
  } catch (const std::exception&) {
  }
  throw InputError(path, "", line, "expected " + what + ", got '" + word + "'");
}

int integer(const std::string& path, int line, const std::string& word, const std::string& what) {
  const double x = number(path, line, word, what);
  if (x != std::round(x)) throw InputError(path, "", line, "expected " + what + " (an integer), got '" + word + "'");
  return static_cast<int>(x);
}

/// The antisymmetric A(D) with ê_i·A·ê_j = −D·(ê_i × ê_j).
Mat3 dmi_matrix(const Vec3& D) {
  Mat3 A = Mat3::Zero();
  A(0, 1) = -D.z(); A(1, 0) = D.z();
  A(0, 2) = D.y();  A(2, 0) = -D.y();
  A(1, 2) = -D.x(); A(2, 1) = D.x();
  return A;
}

std::string sibling(const std::string& of, const std::string& name) {
  const std::filesystem::path p(name);
  if (p.is_absolute()) return name;
  return (std::filesystem::path(of).parent_path() / p).lexically_normal().string();
}

}  // namespace

int site_at(const ExchangeFile& f, const Vec3& r, double tolerance) {
  const Mat3 inv = f.cell.transpose().inverse();  // Cartesian → fractional
  for (std::size_t s = 0; s < f.site.size(); ++s) {
    const Vec3 frac = inv * (r - f.site[s]);
    const Vec3 rest = f.cell.transpose() * (frac - frac.array().round().matrix());
    if (rest.norm() < tolerance) return static_cast<int>(s);
  }
  return -1;
}

ExchangeFile read_vampire_ucf(const std::string& path) {
  // VAMPIRE's unit cell file (richard-evans/vampire, src/unitcell/read.cpp): cell sizes,
  // three unit cell vectors, "N_atoms N_materials" and one line per atom "id cx cy cz mat ...",
  // "N_interactions type" and one line per interaction "id i j dx dy dz J..." (J in joules;
  // type isotropic: J, vectorial: Jxx Jyy Jzz, tensorial: nine components row by row).
  // VAMPIRE's total counts each listed interaction with ½ and lists both directions:
  // E = −Σ_{i<j} S_i·J_ij·S_j, spinlat's convention (docs/mapping.md).
  ExchangeFile f;
  f.path = path;
  f.format = "vampire";
  std::vector<Line> lines;
  for (const Line& l : read_lines(path))
    if (!content(l.text).empty()) lines.push_back({l.number, content(l.text)});
  std::size_t at = 0;
  auto next = [&](const std::string& what) -> const Line& {
    if (at >= lines.size())
      throw InputError(path, "", lines.empty() ? 0 : lines.back().number, "ended early: expected " + what);
    return lines[at++];
  };
  auto numbers = [&](const Line& l, std::size_t n, const std::string& what) {
    const auto t = tokens(l.text);
    if (t.size() < n) throw InputError(path, "", l.number, "expected " + what);
    std::vector<double> x;
    for (std::size_t k = 0; k < n; ++k) x.push_back(number(path, l.number, t[k], what));
    return x;
  };
  const Line& size_line = next("the unit cell size (three lengths in Å)");
  const auto size = numbers(size_line, 3, "the unit cell size (three lengths in Å)");
  for (int a = 0; a < 3; ++a) {
    const Line& l = next("three unit cell vectors");
    const auto v = numbers(l, 3, "a unit cell vector (three numbers)");
    const Vec3 u(v[0], v[1], v[2]);
    if (!(u.norm() > 0.0)) throw InputError(path, "", l.number, "a unit cell vector is zero");
    f.cell.row(a) = (size[a] * u.normalized()).transpose();
  }
  const Line& atoms_line = next("'N_atoms N_materials'");
  const int n_atoms = integer(path, atoms_line.number, tokens(atoms_line.text).at(0), "the number of atoms");
  for (int q = 0; q < n_atoms; ++q) {
    const Line& l = next("an atom line 'id cx cy cz material'");
    const auto t = tokens(l.text);
    if (t.size() < 5) throw InputError(path, "", l.number, "expected an atom line 'id cx cy cz material ...'");
    if (integer(path, l.number, t[0], "the atom id") != q)
      throw InputError(path, "", l.number, "atom ids must run 0, 1, ... in order; expected " + std::to_string(q));
    const Vec3 frac(number(path, l.number, t[1], "cx"), number(path, l.number, t[2], "cy"), number(path, l.number, t[3], "cz"));
    f.site.push_back(f.cell.transpose() * frac);
    f.label.push_back("material " + t[4]);
  }
  const Line& int_line = next("'N_interactions type'");
  const auto ti = tokens(int_line.text);
  if (ti.size() < 2) throw InputError(path, "", int_line.number, "expected 'N_interactions isotropic|vectorial|tensorial'");
  const int n_int = integer(path, int_line.number, ti[0], "the number of interactions");
  std::string type = ti[1];
  if (type == "0") type = "isotropic";
  if (type == "1") type = "vectorial";
  if (type == "2") type = "tensorial";
  const std::size_t ncomp = type == "isotropic" ? 1 : type == "vectorial" ? 3 : type == "tensorial" ? 9 : 0;
  if (ncomp == 0)
    throw InputError(path, "", int_line.number, "unknown exchange type '" + ti[1] + "' (expected isotropic, vectorial or tensorial)");
  for (int k = 0; k < n_int; ++k) {
    const Line& l = next("an interaction line 'id i j dx dy dz J'");
    const auto t = tokens(l.text);
    if (t.size() < 6 + ncomp)
      throw InputError(path, "", l.number, "expected 'id i j dx dy dz' and " + std::to_string(ncomp) + " exchange value(s) (" + type + ")");
    ExchangeBond b;
    b.line = l.number;
    b.from = integer(path, l.number, t[1], "atom i");
    b.to = integer(path, l.number, t[2], "atom j");
    if (b.from < 0 || b.from >= n_atoms || b.to < 0 || b.to >= n_atoms)
      throw InputError(path, "", l.number, "atom index out of 0.." + std::to_string(n_atoms - 1));
    const Vec3 d(integer(path, l.number, t[3], "dx"), integer(path, l.number, t[4], "dy"), integer(path, l.number, t[5], "dz"));
    b.vector = f.site[b.to] + f.cell.transpose() * d - f.site[b.from];
    std::vector<double> J;
    for (std::size_t c = 0; c < ncomp; ++c) J.push_back(number(path, l.number, t[6 + c], "an exchange value (J)") / units::joule_per_eV);
    if (ncomp == 1) b.T = J[0] * Mat3::Identity();
    else if (ncomp == 3) b.T = Vec3(J[0], J[1], J[2]).asDiagonal();
    else
      for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 3; ++c) b.T(r, c) = J[3 * r + c];
    f.bonds.push_back(b);
  }
  return f;
}

ExchangeFile read_uppasd(const std::string& path) {
  // UppASD (Skubic et al., J. Phys.: Condens. Matter 20, 315203 (2008); its manual):
  // H = −Σ_{i≠j} J_ij e_i·e_j − Σ_{i≠j} D_ij·(e_i × e_j), J and D in mRy, every ordered pair
  // listed. Each unordered pair appears twice: spinlat's J = 2 J_UppASD, D = −2 D_UppASD.
  ExchangeFile f;
  f.path = path;
  f.format = "uppasd";
  Mat3 cell = Mat3::Identity();
  double alat = 0.0;
  std::string posfile, jfile, dmfile, posfiletype = "D";
  int maptype = 1, cell_line = 0;
  const std::vector<Line> lines = read_lines(path);
  std::vector<std::pair<int, std::string>> words;  // (line, word)
  for (const Line& l : lines)
    for (const auto& w : tokens(content(l.text))) words.push_back({l.number, w});
  for (std::size_t k = 0; k < words.size(); ++k) {
    const std::string& w = words[k].second;
    auto value = [&](const std::string& what) -> const std::pair<int, std::string>& {
      if (k + 1 >= words.size()) throw InputError(path, w, words[k].first, "expected " + what);
      return words[++k];
    };
    if (w == "cell") {
      cell_line = words[k].first;
      for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 3; ++c) {
          const auto& v = value("nine numbers (the cell vectors in units of alat)");
          cell(r, c) = number(path, v.first, v.second, "a cell component");
        }
    } else if (w == "alat") {
      const auto& v = value("the lattice constant (m)");
      alat = number(path, v.first, v.second, "the lattice constant alat (m)");
    } else if (w == "posfile") {
      posfile = value("a file name").second;
    } else if (w == "exchange") {
      jfile = value("a file name").second;
    } else if (w == "dm") {
      dmfile = value("a file name").second;
    } else if (w == "posfiletype") {
      posfiletype = value("C or D").second;
    } else if (w == "maptype") {
      const auto& v = value("1 or 2");
      maptype = integer(path, v.first, v.second, "maptype (1 or 2)");
    }
  }
  if (cell_line == 0) throw InputError(path, "cell", 0, "no 'cell' block (three cell vectors in units of alat)");
  if (!(alat > 0.0)) throw InputError(path, "alat", 0, "no positive 'alat' (the lattice constant in m)");
  if (posfile.empty() || jfile.empty())
    throw InputError(path, posfile.empty() ? "posfile" : "exchange", 0, "not given: the reader needs posfile and exchange");
  if (maptype != 1 && maptype != 2) throw InputError(path, "maptype", 0, "expected 1 or 2");
  if (posfiletype != "C" && posfiletype != "D") throw InputError(path, "posfiletype", 0, "expected C or D");
  // alat in m (UppASD's unit); a value of order 1 was given in Å by mistake.
  const double a = alat < 1e-6 ? alat * 1e10 : alat;
  f.cell = a * cell;

  const std::string pos_path = sibling(path, posfile);
  for (const Line& l : read_lines(pos_path)) {
    const auto t = tokens(content(l.text));
    if (t.empty()) continue;
    if (t.size() < 5) throw InputError(pos_path, "", l.number, "expected 'site type x y z'");
    const int id = integer(pos_path, l.number, t[0], "the site number");
    if (id != static_cast<int>(f.site.size()) + 1)
      throw InputError(pos_path, "", l.number, "sites must be numbered 1, 2, ... in order; expected " + std::to_string(f.site.size() + 1));
    const Vec3 x(number(pos_path, l.number, t[2], "x"), number(pos_path, l.number, t[3], "y"), number(pos_path, l.number, t[4], "z"));
    f.site.push_back(posfiletype == "D" ? Vec3(f.cell.transpose() * x) : Vec3(a * x));
    f.label.push_back("type " + t[1]);
  }
  if (f.site.empty()) throw InputError(pos_path, "", 0, "no sites");
  const double mry = 1e-3 * units::rydberg_eV;
  const int nsite = static_cast<int>(f.site.size());
  // maptype 2: "i j n1 n2 n3 value": site i to site j in the cell shifted by n (basis
  // coordinates); maptype 1: "i j rx ry rz value": the bond vector in units of alat
  // (Cartesian), the partner found at the end of it.
  auto read_pairs = [&](const std::string& file, std::size_t ncomp, auto&& add) {
    const std::string p = sibling(path, file);
    for (const Line& l : read_lines(p)) {
      const auto t = tokens(content(l.text));
      if (t.empty()) continue;
      if (t.size() < 5 + ncomp) throw InputError(p, "", l.number, "expected 'i j x y z' and " + std::to_string(ncomp) + " value(s)");
      ExchangeBond b;
      b.line = l.number;
      b.from = integer(p, l.number, t[0], "site i") - 1;
      if (b.from < 0 || b.from >= nsite) throw InputError(p, "", l.number, "site i out of 1.." + std::to_string(nsite));
      if (maptype == 2) {
        b.to = integer(p, l.number, t[1], "site j") - 1;
        if (b.to < 0 || b.to >= nsite) throw InputError(p, "", l.number, "site j out of 1.." + std::to_string(nsite));
        const Vec3 n(integer(p, l.number, t[2], "n1"), integer(p, l.number, t[3], "n2"), integer(p, l.number, t[4], "n3"));
        b.vector = f.site[b.to] + f.cell.transpose() * n - f.site[b.from];
      } else {
        b.vector = a * Vec3(number(p, l.number, t[2], "rx"), number(p, l.number, t[3], "ry"), number(p, l.number, t[4], "rz"));
        b.to = site_at(f, f.site[b.from] + b.vector);
        if (b.to < 0) throw InputError(p, "", l.number, "no site at the end of this bond vector (maptype 1: Cartesian, units of alat)");
      }
      std::vector<double> v;
      for (std::size_t c = 0; c < ncomp; ++c) v.push_back(number(p, l.number, t[5 + c], "a value (mRy)") * mry);
      add(b, v);
    }
  };
  read_pairs(jfile, 1, [&](ExchangeBond b, const std::vector<double>& v) {
    b.T = 2.0 * v[0] * Mat3::Identity();
    f.bonds.push_back(b);
  });
  if (!dmfile.empty())
    read_pairs(dmfile, 3, [&](ExchangeBond b, const std::vector<double>& v) {
      b.T = dmi_matrix(-2.0 * Vec3(v[0], v[1], v[2]));
      f.bonds.push_back(b);  // a bond in both files becomes two entries; the term sums them
    });
  return f;
}

ExchangeFile read_tb2j(const std::string& path) {
  // TB2J (He et al., Comput. Phys. Commun. 264, 107938 (2021); tb2j.readthedocs.io,
  // "Conventions of Heisenberg Model"): E = −Σ_{i≠j} [J_ij S_i·S_j + S_i·J^ani_ij·S_j +
  // D_ij·(S_i × S_j)] with unit S, meV, every ordered pair (i, j, R) listed: spinlat's
  // J = 2 J_iso, S = 2 J_ani, D = −2 D.
  ExchangeFile f;
  f.path = path;
  f.format = "tb2j";
  const std::vector<Line> lines = read_lines(path);
  const double meV = 1e-3;
  std::size_t k = 0;
  bool have_cell = false, have_exchange = false;
  auto starts = [](const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; };
  const std::regex label_re("[A-Za-z]+[0-9]+");
  const std::regex entry_re(
      R"(^\s*([A-Za-z]+[0-9]+)\s+([A-Za-z]+[0-9]+)\s+\(\s*(-?\d+)\s*,\s*(-?\d+)\s*,\s*(-?\d+)\s*\)\s+(\S+)\s+\(\s*(\S+?)\s*,\s*(\S+?)\s*,\s*(\S+?)\s*\)\s+(\S+))");
  const std::regex vec_re(R"(\(\s*(\S+)[\s,]+(\S+)[\s,]+([^\s\)]+)\s*\))");
  while (k < lines.size()) {
    const std::string& s = lines[k].text;
    const std::string c = content(s);
    if (starts(c, "Cell (Angstrom)")) {
      for (int r = 0; r < 3; ++r) {
        if (++k >= lines.size()) throw InputError(path, "", lines.back().number, "the cell ended early");
        const auto t = tokens(lines[k].text);
        if (t.size() < 3) throw InputError(path, "", lines[k].number, "expected a cell vector (three numbers, Å)");
        for (int a = 0; a < 3; ++a) f.cell(r, a) = number(path, lines[k].number, t[a], "a cell component (Å)");
      }
      have_cell = true;
      ++k;
    } else if (starts(c, "Atoms:")) {
      for (++k; k < lines.size(); ++k) {
        const auto t = tokens(lines[k].text);
        if (t.empty() || starts(t[0], "==") || starts(t[0], "--")) break;
        if (!std::regex_match(t[0], label_re) || t.size() < 4) continue;  // note, header, Total lines
        f.label.push_back(t[0]);
        f.site.push_back(Vec3(number(path, lines[k].number, t[1], "x (Å)"), number(path, lines[k].number, t[2], "y (Å)"),
                              number(path, lines[k].number, t[3], "z (Å)")));
      }
    } else if (starts(c, "Exchange:")) {
      have_exchange = true;
      ++k;
    } else if (std::smatch m; have_exchange && std::regex_search(s, m, entry_re)) {
      auto site = [&](const std::string& name) {
        for (std::size_t q = 0; q < f.label.size(); ++q)
          if (f.label[q] == name) return static_cast<int>(q);
        throw InputError(path, "", lines[k].number, "atom '" + name + "' is not in the Atoms section");
      };
      ExchangeBond b;
      b.line = lines[k].number;
      b.from = site(m[1]);
      b.to = site(m[2]);
      const Vec3 R(integer(path, b.line, m[3], "R"), integer(path, b.line, m[4], "R"), integer(path, b.line, m[5], "R"));
      b.vector = f.site[b.to] + f.cell.transpose() * R - f.site[b.from];
      const Vec3 printed(number(path, b.line, m[7], "the bond vector"), number(path, b.line, m[8], "the bond vector"),
                         number(path, b.line, m[9], "the bond vector"));
      if ((printed - b.vector).norm() > 2e-3)
        throw InputError(path, "", b.line, "the bond vector does not match the cell and the atoms' positions (the Cell or Atoms section disagrees)");
      const double J = number(path, b.line, m[6], "J_iso (meV)") * meV;
      b.T = 2.0 * J * Mat3::Identity();
      // The lines that belong to this bond: DMI and the anisotropic exchange.
      for (++k; k < lines.size(); ++k) {
        const std::string& t = lines[k].text;
        if (std::regex_search(t, entry_re) || starts(content(t), "==")) break;
        std::smatch v;
        if (t.find("DMI:") != std::string::npos && t.find("DMI2") == std::string::npos &&
            t.find("NJt") == std::string::npos && std::regex_search(t, v, vec_re)) {
          const Vec3 D(number(path, lines[k].number, v[1], "D (meV)"), number(path, lines[k].number, v[2], "D (meV)"),
                       number(path, lines[k].number, v[3], "D (meV)"));
          b.T += dmi_matrix(-2.0 * meV * D);
        } else if (t.find("J_ani:") != std::string::npos && t.find("NJt") == std::string::npos) {
          Mat3 A;
          for (int r = 0; r < 3; ++r) {
            if (++k >= lines.size()) throw InputError(path, "", lines.back().number, "J_ani ended early");
            std::string row = lines[k].text;
            for (char& ch : row)
              if (ch == '[' || ch == ']' || ch == ',') ch = ' ';
            const auto w = tokens(row);
            if (w.size() != 3) throw InputError(path, "", lines[k].number, "expected a row of J_ani (three numbers, meV)");
            for (int cc = 0; cc < 3; ++cc) A(r, cc) = number(path, lines[k].number, w[cc], "J_ani (meV)");
          }
          b.T += 2.0 * meV * A;
        }
      }
      f.bonds.push_back(b);
    } else {
      ++k;
    }
  }
  if (!have_cell) throw InputError(path, "", 0, "no 'Cell (Angstrom):' section (is this TB2J's exchange.out?)");
  if (f.site.empty()) throw InputError(path, "", 0, "no atoms in the 'Atoms:' section");
  if (f.bonds.empty()) throw InputError(path, "", 0, "no exchange entries after 'Exchange:'");
  return f;
}

ExchangeFile read_exchange_file(const std::string& path, const std::string& format) {
  std::string fmt = format;
  if (fmt == "auto") {
    const std::string name = std::filesystem::path(path).filename().string();
    if (std::filesystem::path(path).extension() == ".ucf") fmt = "vampire";
    else if (name.find("inpsd") != std::string::npos) fmt = "uppasd";
    else {
      for (const Line& l : read_lines(path))
        if (l.text.rfind("Exchange:", 0) == 0) { fmt = "tb2j"; break; }
    }
    if (fmt == "auto")
      throw InputError(path, "", 0, "cannot tell the format: give format = \"vampire\" (.ucf), \"uppasd\" (inpsd.dat) or \"tb2j\" (exchange.out)");
  }
  ExchangeFile f;
  if (fmt == "vampire") f = read_vampire_ucf(path);
  else if (fmt == "uppasd") f = read_uppasd(path);
  else if (fmt == "tb2j") f = read_tb2j(path);
  else throw InputError(path, "format", 0, "unknown format '" + format + "' (expected vampire, uppasd, tb2j or auto)");
  complete_reverse_bonds(f);
  return f;
}

void complete_reverse_bonds(ExchangeFile& f, double tolerance) {
  // Several lines may describe one bond (UppASD's jfile and dmfile): sum them first.
  std::vector<ExchangeBond> merged;
  for (const ExchangeBond& b : f.bonds) {
    bool found = false;
    for (ExchangeBond& m : merged)
      if (m.from == b.from && m.to == b.to && (m.vector - b.vector).norm() < 1e-6) {
        m.T += b.T;
        found = true;
        break;
      }
    if (!found) merged.push_back(b);
  }
  const std::size_t n = merged.size();
  for (std::size_t a = 0; a < n; ++a) {
    const ExchangeBond& b = merged[a];
    const ExchangeBond* rev = nullptr;
    for (std::size_t c = 0; c < n; ++c)
      if (merged[c].from == b.to && merged[c].to == b.from && (merged[c].vector + b.vector).norm() < 1e-6) rev = &merged[c];
    if (rev == nullptr) {
      ExchangeBond r = b;
      std::swap(r.from, r.to);
      r.vector = -b.vector;
      r.T = b.T.transpose();
      merged.push_back(r);
    } else if ((rev->T - b.T.transpose()).cwiseAbs().maxCoeff() > tolerance + 1e-3 * b.T.cwiseAbs().maxCoeff()) {
      throw InputError(f.path, "", b.line,
                       "this bond and its reverse (line " + std::to_string(rev->line) +
                           ") disagree: the exchange of j→i must be the transpose of i→j's");
    }
  }
  f.bonds = std::move(merged);
}

}  // namespace spinlat
