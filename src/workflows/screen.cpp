// `spinlat screen` (include/spinlat/workflows/screen.hpp, docs/screen.md).
#include "spinlat/workflows/screen.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include <Eigen/Eigenvalues>
#include <Eigen/Geometry>
#include <toml++/toml.h>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/core/rng.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/dynamics/minimize.hpp"
#include "spinlat/io/extxyz.hpp"
#include "spinlat/io/hdf5.hpp"
#include "spinlat/io/structure_file.hpp"
#include "spinlat/io/text.hpp"
#include "spinlat/workflows/build.hpp"
#include "spinlat/workflows/input.hpp"
#include "spinlat/workflows/run.hpp"
#include "spinlat/workflows/spin_map.hpp"

namespace spinlat {
namespace fs = std::filesystem;
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Magnetic atoms of the two Monte Carlo sizes (at least): the Binder crossing of two sizes.
constexpr double kMcAtomsSmall = 128.0, kMcAtomsLarge = 432.0;
// Temperatures of the Monte Carlo scan, as fractions of the mean-field value: the classical
// Heisenberg ratio Tc/T_MF is 0.72 (sc), 0.77 (bcc), 0.80 (fcc) (Chen, Ferrenberg & Landau,
// PRB 48, 3249 (1993); Peczak, Ferrenberg & Landau, PRB 43, 6087 (1991)); frustration lowers it.
constexpr double kMcFrom = 0.55, kMcTo = 1.0, kMcStep = 0.05;
// eV/μB: the relaxed ground state's largest torque (anisotropy energies of 1 μeV resolved).
constexpr double kRelaxTorque = 1e-9;
// meV per magnetic atom: anisotropy energies all below this mean an isotropic model.
constexpr double kIsotropic_meV = 1e-6;

std::string fmt(double x) {
  if (!std::isfinite(x)) return "nan";
  char b[40];
  std::snprintf(b, sizeof b, "%.10g", x);
  return b;
}

std::string fixed(double x) {
  char b[40];
  std::snprintf(b, sizeof b, "%.1f", x);
  return b;
}

std::string quoted(const std::string& s) {
  std::ostringstream o;
  o << toml::value<std::string>(s);
  return o.str();
}

/// An axis from "001", "110", "-111", "x", "y", "z" (normalised).
Vec3 parse_axis(const std::string& a) {
  if (a == "x") return Vec3::UnitX();
  if (a == "y") return Vec3::UnitY();
  if (a == "z") return Vec3::UnitZ();
  Vec3 v = Vec3::Zero();
  int k = 0, sign = 1;
  for (char ch : a) {
    if (ch == '-') { sign = -1; continue; }
    if (ch < '0' || ch > '9' || k > 2) throw InputError("option --axes: '" + a + "' is not an axis (expected e.g. 001, 110, -111, x, y or z)");
    v[k++] = sign * (ch - '0');
    sign = 1;
  }
  if (k != 3 || v.norm() == 0.0) throw InputError("option --axes: '" + a + "' is not an axis (expected three digits, e.g. 001)");
  return v.normalized();
}

/// The structure files a LIST_OR_FOLDER names: one structure file itself, a folder's *.xyz, *.extxyz, POSCAR* and
/// *.vasp files (sorted), or a text file of paths (one per line, # comments), relative to it.
bool is_structure_file(const fs::path& p) {
  const std::string name = p.filename().string(), ext = p.extension().string();
  return ext == ".xyz" || ext == ".extxyz" || ext == ".vasp" || name.rfind("POSCAR", 0) == 0 || name.rfind("CONTCAR", 0) == 0;
}

std::vector<std::string> list_structures(const std::string& where) {
  std::vector<std::string> files;
  std::error_code ec;
  if (fs::is_regular_file(where, ec) && is_structure_file(where)) return {where};
  if (fs::is_directory(where, ec)) {
    for (const auto& e : fs::directory_iterator(where)) {
      if (e.is_regular_file() && is_structure_file(e.path())) files.push_back(e.path().string());
    }
    std::sort(files.begin(), files.end());
    if (files.empty()) throw InputError(where + ": the folder holds no structure file (*.xyz, *.extxyz, *.vasp, POSCAR*)");
    return files;
  }
  std::ifstream in(where);
  if (!in) throw InputError(where + ": no such folder or list file");
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    const auto hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    line.erase(0, line.find_first_not_of(" \t\r"));
    line.erase(line.find_last_not_of(" \t\r") + 1);
    if (line.empty()) continue;
    fs::path p(line);
    if (p.is_relative()) p = fs::path(where).parent_path() / p;
    if (!fs::is_regular_file(p, ec))
      throw InputError(where, "", n, "no structure file '" + p.string() + "'");
    files.push_back(p.string());
  }
  if (files.empty()) throw InputError(where + ": the list names no structure file");
  return files;
}

/// The [[potential]] tables of the model: a learned model file, or the tables of a TOML file
/// (relative file names made absolute, since the screen's inputs live elsewhere).
std::string potential_tables(const std::string& model) {
  if (fs::path(model).extension() != ".toml") {
    if (!fs::is_regular_file(model)) throw InputError(model + ": no such model file");
    return "[[potential]]\ntype = \"learned\"\nmodel = " + quoted(fs::absolute(model).string()) + "\n";
  }
  toml::table doc;
  try {
    doc = toml::parse_file(model);
  } catch (const toml::parse_error& e) {
    throw InputError(model, "", static_cast<int>(e.source().begin.line), std::string(e.description()));
  }
  const toml::array* pots = doc.get_as<toml::array>("potential");
  if (!pots || pots->empty()) throw InputError(model, "potential", 0, "the model file has no [[potential]] tables");
  const fs::path dir = fs::absolute(model).parent_path();
  std::ostringstream o;
  for (const auto& node : *pots) {
    const toml::table* t = node.as_table();
    if (!t) throw InputError(model, "potential", 0, "expected [[potential]] tables");
    toml::table copy = *t;
    for (const char* key : {"model", "file"})
      if (const auto* v = copy.get_as<std::string>(key)) {
        fs::path p(**v);
        if (p.is_relative()) copy.insert_or_assign(key, (dir / p).lexically_normal().string());
      }
    if (auto* ext = copy.get_as<toml::array>("extensions"))
      for (auto& e : *ext)
        if (auto* s = e.as_string()) {
          fs::path p(s->get());
          if (p.is_relative()) *s = (dir / p).lexically_normal().string();
        }
    o << "[[potential]]\n" << copy << "\n\n";
  }
  return o.str();
}

/// The settings a screen's table depends on: a continued screen must use the same.
std::string settings_line(const ScreenOptions& o) {
  std::ostringstream s;
  s << "# spinlat screen: model=" << fs::absolute(o.model).lexically_normal().string() << " cells=" << o.cells
    << " shells=" << o.shells << " terms=" << o.terms << " axes=";
  for (std::size_t k = 0; k < o.axes.size(); ++k) s << (k ? "," : "") << o.axes[k];
  s << " moments=";
  for (std::size_t k = 0; k < o.moments.size(); ++k) s << (k ? "," : "") << o.moments[k].first << "=" << fmt(o.moments[k].second);
  s << " mc=" << (o.monte_carlo ? std::to_string(o.mc_sweeps) : std::string("off")) << " relax=" << o.relax_starts << "x"
    << o.relax_steps << " seed=" << o.seed;
  return s.str();
}

std::vector<std::string> csv_header(const ScreenOptions& o) {
  std::vector<std::string> h = {"structure", "file", "atoms", "magnetic_atoms", "energy_per_atom_eV", "moment_muB",
                                "magnetisation_muB", "order", "max_torque_eV_per_muB"};
  for (const auto& a : o.axes) h.push_back("anisotropy_" + a + "_meV");
  h.push_back("easy_axis");
  for (int k = 0; k < o.shells; ++k) h.push_back("J" + std::to_string(k + 1) + "_meV");
  for (const char* c : {"fit_energy_rmse_meV", "tc_mean_field_K", "tc_monte_carlo_K", "tc_monte_carlo_err_K",
                        "tc_method", "tc_note"})
    h.emplace_back(c);
  return h;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c == '\n' ? ' ' : c);
  return q + "\"";
}

std::vector<std::string> csv_split(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quote = false;
  for (std::size_t k = 0; k < line.size(); ++k) {
    const char c = line[k];
    if (quote) {
      if (c == '"' && k + 1 < line.size() && line[k + 1] == '"') { cur += '"'; ++k; }
      else if (c == '"') quote = false;
      else cur += c;
    } else if (c == '"') quote = true;
    else if (c == ',') { out.push_back(cur); cur.clear(); }
    else cur += c;
  }
  out.push_back(cur);
  return out;
}

double number(const std::string& s) { return s == "nan" ? kNaN : std::stod(s); }

std::vector<std::string> row_fields(const ScreenRow& r) {
  std::vector<std::string> f = {r.structure, r.file, std::to_string(r.atoms), std::to_string(r.magnetic),
                                fmt(r.energy_per_atom), fmt(r.moment), fmt(r.magnetisation), r.order, fmt(r.torque)};
  for (double a : r.anisotropy) f.push_back(fmt(a));
  f.push_back(r.easy_axis);
  for (double j : r.exchange) f.push_back(fmt(j));
  for (double x : {r.fit_energy_rmse, r.tc_mean_field, r.tc_monte_carlo, r.tc_monte_carlo_err}) f.push_back(fmt(x));
  f.push_back(r.tc_method);
  f.push_back(r.tc_note);
  return f;
}

ScreenRow row_from_fields(const std::vector<std::string>& f, const ScreenOptions& o, const std::string& where) {
  const std::size_t axes = o.axes.size(), shells = static_cast<std::size_t>(o.shells);
  if (f.size() != csv_header(o).size()) throw InputError(where + ": a row has " + std::to_string(f.size()) + " fields, expected " + std::to_string(csv_header(o).size()));
  ScreenRow r;
  std::size_t k = 0;
  r.structure = f[k++];
  r.file = f[k++];
  r.atoms = std::stoll(f[k++]);
  r.magnetic = std::stoll(f[k++]);
  r.energy_per_atom = number(f[k++]);
  r.moment = number(f[k++]);
  r.magnetisation = number(f[k++]);
  r.order = f[k++];
  r.torque = number(f[k++]);
  for (std::size_t a = 0; a < axes; ++a) r.anisotropy.push_back(number(f[k++]));
  r.easy_axis = f[k++];
  for (std::size_t s = 0; s < shells; ++s) r.exchange.push_back(number(f[k++]));
  r.fit_energy_rmse = number(f[k++]);
  r.tc_mean_field = number(f[k++]);
  r.tc_monte_carlo = number(f[k++]);
  r.tc_monte_carlo_err = number(f[k++]);
  r.tc_method = f[k++];
  r.tc_note = f[k++];
  return r;
}

/// Rows of an earlier screen into the same folder; InputError when its settings differ.
std::vector<ScreenRow> read_done(const fs::path& csv, const ScreenOptions& o) {
  std::vector<ScreenRow> rows;
  std::ifstream in(csv);
  if (!in) return rows;
  std::string line;
  std::getline(in, line);
  if (line != settings_line(o))
    throw InputError(csv.string() + ": this folder holds a screen with other settings (" + line.substr(line.find(':') + 2) +
                     "); give another -o, or remove the folder to start over");
  std::getline(in, line);  // header
  while (std::getline(in, line))
    if (!line.empty()) rows.push_back(row_from_fields(csv_split(line), o, csv.string()));
  return rows;
}

/// The table as CSV and HDF5, each written to a new file then renamed over the old one, so a
/// kill never leaves a half-written table.
void write_tables(const fs::path& dir, const std::vector<ScreenRow>& rows, const ScreenOptions& o) {
  const fs::path csv = dir / "screen.csv", tmp = dir / "screen.csv.tmp";
  {
    std::ofstream f(tmp);
    f << settings_line(o) << "\n";
    const auto h = csv_header(o);
    for (std::size_t k = 0; k < h.size(); ++k) f << (k ? "," : "") << h[k];
    f << "\n";
    for (const auto& r : rows) {
      const auto fields = row_fields(r);
      for (std::size_t k = 0; k < fields.size(); ++k) f << (k ? "," : "") << csv_field(fields[k]);
      f << "\n";
    }
    if (!f) throw InputError("cannot write " + tmp.string());
  }
  fs::rename(tmp, csv);

  const fs::path h5 = dir / "screen.h5", h5tmp = dir / "screen.h5.tmp";
  {
    h5::File f = h5::File::create(h5tmp.string());
    f.create_group("/screen");
    f.set_attr("/screen", "settings", settings_line(o));
    f.set_attr("/screen", "axes", o.axes);
    auto column = [&](const std::string& name, const std::string& unit, auto get) {
      std::vector<double> v;
      for (const auto& r : rows) v.push_back(get(r));
      f.write("/screen/" + name, v);
      f.set_attr("/screen/" + name, "unit", unit);
    };
    auto text = [&](const std::string& name, auto get) {
      std::vector<std::string> v;
      for (const auto& r : rows) v.push_back(get(r));
      f.write_strings("/screen/" + name, v);
    };
    text("structure", [](const ScreenRow& r) { return r.structure; });
    text("file", [](const ScreenRow& r) { return r.file; });
    column("atoms", "1", [](const ScreenRow& r) { return double(r.atoms); });
    column("magnetic_atoms", "1", [](const ScreenRow& r) { return double(r.magnetic); });
    column("energy_per_atom", "eV", [](const ScreenRow& r) { return r.energy_per_atom; });
    column("moment", "muB", [](const ScreenRow& r) { return r.moment; });
    column("magnetisation", "muB", [](const ScreenRow& r) { return r.magnetisation; });
    text("order", [](const ScreenRow& r) { return r.order; });
    column("max_torque", "eV/muB", [](const ScreenRow& r) { return r.torque; });
    std::vector<double> mae, j;
    for (const auto& r : rows) {
      mae.insert(mae.end(), r.anisotropy.begin(), r.anisotropy.end());
      j.insert(j.end(), r.exchange.begin(), r.exchange.end());
    }
    f.write("/screen/anisotropy", mae, {rows.size(), o.axes.size()});
    f.set_attr("/screen/anisotropy", "unit", "meV per magnetic atom, relative to the lowest axis");
    text("easy_axis", [](const ScreenRow& r) { return r.easy_axis; });
    f.write("/screen/exchange", j, {rows.size(), static_cast<std::size_t>(o.shells)});
    f.set_attr("/screen/exchange", "unit", "meV per shell (first species pair), E = -sum_{i<j} J e_i.e_j");
    column("fit_energy_rmse", "meV/atom", [](const ScreenRow& r) { return r.fit_energy_rmse; });
    column("tc_mean_field", "K", [](const ScreenRow& r) { return r.tc_mean_field; });
    column("tc_monte_carlo", "K", [](const ScreenRow& r) { return r.tc_monte_carlo; });
    column("tc_monte_carlo_err", "K", [](const ScreenRow& r) { return r.tc_monte_carlo_err; });
    text("tc_method", [](const ScreenRow& r) { return r.tc_method; });
    text("tc_note", [](const ScreenRow& r) { return r.tc_note; });
    f.close();
  }
  fs::rename(h5tmp, h5);
}

/// Repeats of a cell so that each perpendicular width is at least `width` Å.
int repeats_for(const System& s, double width) {
  const Mat3& h = s.cell.h;  // rows: cell vectors
  const double v = std::abs(h.determinant());
  int n = 1;
  for (int k = 0; k < 3; ++k) {
    const Vec3 a = h.row((k + 1) % 3), b = h.row((k + 2) % 3);
    const double perpendicular = v / a.cross(b).norm();
    n = std::max(n, static_cast<int>(std::ceil(width / perpendicular - 1e-9)));
  }
  return n;
}

std::string structure_table(const std::string& file, int cells, const std::vector<std::string>& species,
                            const std::vector<double>& moments, bool random_spins) {
  std::ostringstream o;
  o << "[structure]\nlattice = \"file\"\nfile = " << quoted(fs::absolute(file).string()) << "\ncells = [" << cells << ", "
    << cells << ", " << cells << "]\n";
  if (!moments.empty()) {
    o << "species = [";
    for (std::size_t k = 0; k < species.size(); ++k) o << (k ? ", " : "") << quoted(species[k]);
    o << "]\nmoment = [";
    for (std::size_t k = 0; k < moments.size(); ++k) o << (k ? ", " : "") << fmt(moments[k]);
    o << "]\n";
  }
  if (random_spins) o << "spins = \"random\"\n";
  return o.str();
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream f(p);
  f << text;
  if (!f) throw InputError("cannot write " + p.string());
}

/// The relaxed magnetic state: the lowest of FIRE relaxations from the file's moments (tilted
/// by 0.05 rad, so that a collinear saddle point such as a ferromagnet under antiferromagnetic
/// exchange cannot hold it) and from random directions.
System relax_moments(Hamiltonian& h, const System& start, const ScreenOptions& o, double* torque) {
  System best;
  double best_energy = std::numeric_limits<double>::infinity();
  for (int k = 0; k < std::max(1, o.relax_starts); ++k) {
    System s = start;
    Engine rng(o.seed * 1000003u + static_cast<std::uint64_t>(k));
    if (k == 0) {
      for (int i : s.magnetic_sites()) {
        Vec3& e = s.spin[static_cast<std::size_t>(i)];
        const Vec3 t(2 * uniform01(rng) - 1, 2 * uniform01(rng) - 1, 2 * uniform01(rng) - 1);
        e = (e + 0.05 * (t - t.dot(e) * e)).normalized();
      }
    } else {
      set_spins_random(s, o.seed * 7919u + static_cast<std::uint64_t>(k));
    }
    MinimizeOptions mo;
    mo.directions = true;
    // Anisotropy is soft: at a torque τ the angle from the easy axis is ~ τ|m|/2K, and the
    // anisotropy energy of the screen is K-sized, so the torque must be far below K/|m|.
    mo.torque_tolerance = kRelaxTorque;
    Minimizer m(h, s, mo);
    for (long long n = 0; n < o.relax_steps && !m.converged(); ++n) m.step();
    if (m.energy() < best_energy - 1e-12) {
      best_energy = m.energy();
      best = s;
      *torque = m.residuals().torque;
    }
  }
  return best;
}

/// Principal axis of Σ m_i m_iᵀ over magnetic atoms, with the sign of the magnetisation (or
/// of the first magnetic moment when there is none).
Vec3 principal_axis(const System& s) {
  Mat3 t = Mat3::Zero();
  Vec3 total = Vec3::Zero();
  for (int i : s.magnetic_sites()) {
    const Vec3 e = s.spin[static_cast<std::size_t>(i)];
    t += e * e.transpose();
    total += e;
  }
  Eigen::SelfAdjointEigenSolver<Mat3> eig(t);
  Vec3 axis = eig.eigenvectors().col(2);
  const Vec3 ref = total.norm() > 1e-8 ? total : s.spin[static_cast<std::size_t>(s.magnetic_sites().front())];
  if (axis.dot(ref) < 0) axis = -axis;
  return axis;
}

std::string order_of(const System& s) {
  const Vec3 axis = principal_axis(s);
  int up = 0, down = 0, n = 0;
  Vec3 total = Vec3::Zero();
  for (int i : s.magnetic_sites()) {
    const Vec3 e = s.spin[static_cast<std::size_t>(i)];
    total += e;
    ++n;
    const double c = e.dot(axis);
    if (c > 0.99) ++up;
    else if (c < -0.99) ++down;
  }
  if (up == n) return "ferro";
  if (up + down == n) return total.norm() / n > 0.05 ? "ferri" : "antiferro";
  return "noncollinear";
}

ScreenRow screen_one(const std::string& file, const fs::path& dir, const ScreenOptions& o,
                     const std::string& potentials, const TermRegistry& registry) {
  ScreenRow r;
  r.file = file;
  r.structure = fs::path(file).stem().string();
  fs::create_directories(dir);

  // The structure as the file gives it, to know its species and the cell.
  const std::vector<Frame> frames = read_structure_file(file);
  if (frames.empty()) throw InputError(file + ": holds no structure");
  const System& cell = frames.back().system;
  std::vector<std::string> species = cell.species_name;
  std::vector<double> moments;
  if (!o.moments.empty()) {
    for (const std::string& sp : species) {
      double m = -1.0;
      for (const auto& [name, value] : o.moments)
        if (name == sp || name == "*") m = value;
      if (m < 0) throw InputError("option --moment: no moment for species " + sp + " of " + file + " (give " + sp + "=VALUE)");
      moments.push_back(m);
    }
  }
  const std::string head = "title = " + quoted("screen: " + r.structure) + "\nseed = " + std::to_string(o.seed) +
                           "\nthreads = " + std::to_string(o.threads) + "\n\n";

  // The model's reach sets the cell: each side at least twice max(cutoff, 4 Å), so that no
  // atom sees its own image within the interactions the mapping fits.
  int cells = o.cells;
  if (cells <= 0) {
    const std::string probe_text = head + structure_table(file, 1, species, moments, false) + "\n" + potentials;
    write_text(dir / "input.toml", probe_text);
    const Config probe = read_config((dir / "input.toml").string());
    const System s1 = build_system(probe);
    const Hamiltonian h1 = build_hamiltonian(probe, s1, registry);
    cells = repeats_for(s1, 2.0 * std::max(h1.cutoff(), 4.0));
  }
  const std::string input = head + structure_table(file, cells, species, moments, false) + "\n" + potentials;
  write_text(dir / "input.toml", input);
  const Config c = read_config((dir / "input.toml").string());
  const System start = build_system(c);
  if (start.magnetic_sites().empty())
    throw InputError(file + ": no atom carries a moment (give --moment, e.g. --moment Fe=2.2)");
  Hamiltonian h = build_hamiltonian(c, start, registry);  // bound to `start`'s positions
  r.atoms = static_cast<long long>(start.size());
  r.magnetic = static_cast<long long>(start.magnetic_sites().size());

  // 1. Ground state.
  const System ground = relax_moments(h, start, o, &r.torque);
  r.energy_per_atom = h.energy(ground) / double(ground.size());
  Vec3 total = Vec3::Zero();
  for (int i : ground.magnetic_sites()) {
    total += ground.moment_vector(static_cast<std::size_t>(i));
    r.moment += ground.moment[static_cast<std::size_t>(i)] / double(r.magnetic);
  }
  r.magnetisation = total.norm() / double(r.magnetic);
  r.order = order_of(ground);
  {
    write_extxyz((dir / "relaxed.xyz").string(), std::vector<Frame>{Frame(ground)});
  }

  // 2. Anisotropy: the relaxed configuration turned rigidly onto each axis.
  const Vec3 axis0 = principal_axis(ground);
  std::vector<double> e_axis;
  for (const std::string& a : o.axes) {
    System t = ground;
    const Mat3 rot = Eigen::Quaterniond::FromTwoVectors(axis0, parse_axis(a)).toRotationMatrix();
    for (int i : t.magnetic_sites()) t.spin[static_cast<std::size_t>(i)] = (rot * t.spin[static_cast<std::size_t>(i)]).normalized();
    e_axis.push_back(h.energy(t) / double(r.magnetic));
  }
  const auto lowest = std::min_element(e_axis.begin(), e_axis.end());
  r.easy_axis = o.axes[static_cast<std::size_t>(lowest - e_axis.begin())];
  for (double e : e_axis) r.anisotropy.push_back(1e3 * (e - *lowest));
  // A model without spin-orbit coupling is isotropic: no easy axis to name.
  if (*std::max_element(r.anisotropy.begin(), r.anisotropy.end()) < kIsotropic_meV) r.easy_axis = "none";

  // 3. The mapped spin model at the ground state.
  MapOptions mo;
  mo.shells = o.shells;
  mo.seed = o.seed;
  add_map_terms(o.terms, "option --terms", mo);
  const SpinMap m = map_spin_model(ground, h, mo);
  write_text(dir / "map.txt", map_summary(m));
  r.exchange.assign(static_cast<std::size_t>(o.shells), kNaN);
  {
    // The first species pair's shells, nearest first.
    std::size_t k = 0;
    for (const PairCoupling& p : m.exchange) {
      if (p.a != m.exchange.front().a || p.b != m.exchange.front().b) continue;
      if (k < r.exchange.size()) r.exchange[k++] = 1e3 * p.J;
    }
  }
  r.fit_energy_rmse = 1e3 * m.held_out.energy_rmse;
  r.tc_mean_field = m.tc_mean_field;

  // 4. Monte Carlo of the mapped model: a `spinlat run` sweep on the relaxed structure.
  r.tc_monte_carlo = r.tc_monte_carlo_err = kNaN;
  r.tc_method = "none";
  if (!o.monte_carlo) {
    r.tc_note = "not run (--no-mc)";
  } else if (!(r.tc_mean_field > 1.0)) {
    r.tc_note = "the mapped model has no ordering (mean-field Tc " + fmt(r.tc_mean_field) + " K)";
  } else {
    const double n_mag = double(r.magnetic);
    const int small = std::max(1, static_cast<int>(std::ceil(std::cbrt(kMcAtomsSmall / n_mag) - 1e-9)));
    const int large = std::max(small + 1, static_cast<int>(std::ceil(std::cbrt(kMcAtomsLarge / n_mag) - 1e-9)));
    std::ostringstream run;
    run << head << "[structure]\nlattice = \"file\"\nfile = " << quoted((dir / "relaxed.xyz").string()) << "\n\n"
        << potentials << "\n[sweep]\nmethod = \"mc\"\nalgorithm = \"metropolis\"\nsizes = [" << small << ", " << large
        << "]\ntemperatures = { from = " << fmt(kMcFrom * r.tc_mean_field) << ", to = " << fmt(kMcTo * r.tc_mean_field + 1e-9)
        << ", step = " << fmt(kMcStep * r.tc_mean_field) << " }\nequilibrate = " << std::max(1LL, o.mc_sweeps / 4)
        << "\nmeasure = " << o.mc_sweeps << "\norder = \"auto\"\n";
    write_text(dir / "mc_source.toml", run.str());
    const Config mc = read_config((dir / "mc_source.toml").string());
    write_text(dir / "mapped.toml", spin_model_toml(mc, m, (dir / "mc_source.toml").string()));
    fs::remove(dir / "mc_source.toml");
    const fs::path h5 = dir / "mc.h5";
    for (const fs::path& stale : {h5, fs::path(h5.string() + ".ckpt")}) fs::remove(stale);
    RunOptions ro;
    ro.input = (dir / "mapped.toml").string();
    ro.output = h5.string();
    ro.quiet = true;
    run_input(ro, registry);
    const h5::File f = h5::File::open(h5.string());
    r.tc_monte_carlo = f.attr_double("/sweep", "critical_temperature");
    r.tc_monte_carlo_err = f.attr_double("/sweep", "critical_temperature_err");
    r.tc_method = f.attr_string("/sweep", "critical_temperature_method");
    r.tc_note = f.attr_string("/sweep", "critical_temperature_note");
  }
  return r;
}

}  // namespace

std::vector<ScreenRow> run_screen(const ScreenOptions& o, const TermRegistry& registry, std::ostream& out) {
  if (o.structures.empty()) throw InputError("spinlat screen: no structure to screen");
  if (o.shells < 1) throw InputError("option --shells: expected an integer >= 1");
  if (o.axes.empty()) throw InputError("option --axes: expected at least one axis (e.g. 001,100)");
  for (const auto& a : o.axes) parse_axis(a);
  {
    MapOptions check;
    add_map_terms(o.terms, "option --terms", check);  // a bad list fails before any work
  }
  {
    std::set<std::string> stems;
    for (const auto& f : o.structures)
      if (!stems.insert(fs::path(f).stem().string()).second)
        throw InputError(f + ": two structures share the name '" + fs::path(f).stem().string() +
                         "' (the screen's rows and folders are named by the file's stem)");
  }
  const std::string potentials = potential_tables(o.model);
  const fs::path dir(o.output);
  fs::create_directories(dir);
  std::vector<ScreenRow> rows = read_done(dir / "screen.csv", o);
  std::map<std::string, ScreenRow> done;
  for (const auto& r : rows) done[r.structure] = r;
  std::vector<ScreenRow> table;
  const std::size_t n = o.structures.size();
  for (std::size_t k = 0; k < n; ++k) {
    const std::string& file = o.structures[k];
    const std::string stem = fs::path(file).stem().string();
    char head[64];
    std::snprintf(head, sizeof head, "[%zu/%zu] ", k + 1, n);
    if (auto it = done.find(stem); it != done.end()) {
      table.push_back(it->second);
      if (!o.quiet) out << head << stem << ": done in an earlier run (kept)\n" << std::flush;
      continue;
    }
    const fs::path sub = dir / stem;
    fs::remove_all(sub);  // a structure a killed screen left unfinished starts over
    ScreenRow r = screen_one(file, sub, o, potentials, registry);
    table.push_back(r);
    // Rows of structures no longer listed stay in the table.
    std::vector<ScreenRow> all = table;
    for (const auto& [name, old] : done)
      if (std::none_of(o.structures.begin(), o.structures.end(),
                       [&](const std::string& f) { return fs::path(f).stem().string() == name; }))
        all.push_back(old);
    write_tables(dir, all, o);
    if (!o.quiet) {
      char line[512];
      std::snprintf(line, sizeof line,
                    "%s%s: %lld atoms, E = %.6f eV/atom, |m| = %.3f muB, %s, easy axis %s, J1 = %.3f meV, "
                    "Tc mean field %.0f K, Monte Carlo %s\n",
                    head, stem.c_str(), r.atoms, r.energy_per_atom, r.moment, r.order.c_str(), r.easy_axis.c_str(),
                    r.exchange.empty() ? kNaN : r.exchange.front(), r.tc_mean_field,
                    std::isfinite(r.tc_monte_carlo)
                        ? (fixed(r.tc_monte_carlo) + " +- " + fixed(r.tc_monte_carlo_err) + " K (" + r.tc_method + ")").c_str()
                        : ("none: " + r.tc_note).c_str());
      out << line << std::flush;
    }
  }
  if (!o.quiet) out << "table: " << (dir / "screen.csv").string() << " and " << (dir / "screen.h5").string() << "\n";
  return table;
}

int screen_command(const std::vector<std::string>& args, const TermRegistry& registry, std::ostream& out) {
  const char* usage =
      "usage: spinlat screen LIST_OR_FOLDER --model MODEL -o OUT [--moment M | --moment Fe=2.2,Co=1.7] "
      "[--axes 001,100,110,111] [--cells N] [--shells N] [--terms dmi,anisotropy,biquadratic,landau] "
      "[--mc-sweeps N | --no-mc] [--relax-starts N] [--relax-steps N] [--seed S] [--threads N] [--quiet]";
  ScreenOptions o;
  std::vector<std::string> positional;
  for (std::size_t k = 0; k < args.size(); ++k) {
    const std::string& a = args[k];
    auto value = [&]() -> std::string {
      if (k + 1 >= args.size()) throw InputError("option " + a + " needs a value (" + usage + ")");
      return args[++k];
    };
    auto integer = [&](const std::string& v, long long lo) {
      long long n = 0;
      try {
        std::size_t used = 0;
        n = std::stoll(v, &used);
        if (used != v.size()) throw std::invalid_argument(v);
      } catch (const std::exception&) {
        throw InputError("option " + a + ": expected an integer, got '" + v + "'");
      }
      if (n < lo) throw InputError("option " + a + ": expected an integer >= " + std::to_string(lo) + ", got " + v);
      return n;
    };
    auto list = [](const std::string& v) {
      std::vector<std::string> items;
      std::istringstream is(v);
      for (std::string x; std::getline(is, x, ',');)
        if (!x.empty()) items.push_back(x);
      return items;
    };
    if (a == "-o" || a == "--output") o.output = value();
    else if (a == "--model") o.model = value();
    else if (a == "--axes") o.axes = list(value());
    else if (a == "--cells") o.cells = static_cast<int>(integer(value(), 1));
    else if (a == "--shells") o.shells = static_cast<int>(integer(value(), 1));
    else if (a == "--terms") o.terms = value();
    else if (a == "--mc-sweeps") o.mc_sweeps = integer(value(), 10);
    else if (a == "--no-mc") o.monte_carlo = false;
    else if (a == "--relax-starts") o.relax_starts = static_cast<int>(integer(value(), 1));
    else if (a == "--relax-steps") o.relax_steps = integer(value(), 1);
    else if (a == "--seed") o.seed = static_cast<std::uint64_t>(integer(value(), 0));
    else if (a == "--threads") o.threads = static_cast<int>(integer(value(), 0));
    else if (a == "--quiet") o.quiet = true;
    else if (a == "--moment") {
      for (const std::string& item : list(value())) {
        const auto eq = item.find('=');
        const std::string name = eq == std::string::npos ? "*" : item.substr(0, eq);
        const std::string v = eq == std::string::npos ? item : item.substr(eq + 1);
        double m = -1.0;
        try {
          m = std::stod(v);
        } catch (const std::exception&) {
        }
        if (!(m >= 0.0)) throw InputError("option --moment: expected a moment >= 0 μB (e.g. 2.2 or Fe=2.2,Co=1.7), got '" + item + "'");
        o.moments.emplace_back(name, m);
      }
    } else if (!a.empty() && a[0] == '-') throw InputError("unknown option '" + a + "' (" + usage + ")");
    else positional.push_back(a);
  }
  if (positional.size() != 1 || o.output.empty() || o.model.empty()) throw InputError(usage);
  o.structures = list_structures(positional[0]);
  if (o.threads > 0) omp_set_num_threads(o.threads);
  run_screen(o, registry, out);
  return 0;
}

}  // namespace spinlat
