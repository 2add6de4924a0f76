// From a validated Config to the objects a run needs: the System (build_system) and the
// Hamiltonian (build_hamiltonian); see include/spinlat/workflows/build.hpp.
#include "spinlat/workflows/build.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "spinlat/core/error.hpp"
#include "spinlat/core/units.hpp"
#include "spinlat/drivers/driver.hpp"
#include "spinlat/mc/parallel_tempering.hpp"
#include "spinlat/io/structure_file.hpp"
#include "spinlat/io/text.hpp"
#include "spinlat/workflows/run.hpp"
#include "spinlat/workflows/sanity.hpp"

namespace spinlat {
namespace {

// ---- build_system helpers ------------------------------------------------------------------

[[noreturn]] void structure_error(const Config& c, const std::string& key, const std::string& msg) {
  if (auto set = c.structure.set_by.find(key); set != c.structure.set_by.end())
    throw InputError(set->second, "structure." + key, 0, msg);
  auto it = c.structure.lines.find(key);
  const int line = it != c.structure.lines.end() ? it->second : c.structure.line;
  throw InputError(c.path, "structure." + key, line, msg);
}

/// The species list that `moment` and `mass` lists are aligned with.
std::vector<std::string> species_entries(const Config& c, const System& s) {
  const StructureConfig& st = c.structure;
  if (st.lattice == "custom") {
    std::vector<std::string> names;
    for (const auto& b : st.basis) names.push_back(b.species);
    return distinct(names);
  }
  if (!st.species.empty()) return st.species;
  return s.species_name;
}

void assign_masses(const Config& c, System& s) {
  const StructureConfig& st = c.structure;
  const std::vector<std::string> entries = species_entries(c, s);
  if (!st.mass.empty() && st.mass.size() != entries.size())
    structure_error(c, "mass", "needs one mass per species (" + join(entries) + "), got " + std::to_string(st.mass.size()));
  for (const auto& [name, m] : st.mass_by_species)
    if (std::find(s.species_name.begin(), s.species_name.end(), name) == s.species_name.end())
      structure_error(c, "mass", "no species '" + name + "' in the structure (species: " + join(s.species_name) + ")");
  const bool needed = needs_masses(c);
  for (std::size_t k = 0; k < s.species_name.size(); ++k) {
    const std::string& name = s.species_name[k];
    double m = element_mass(name);
    for (std::size_t e = 0; e < entries.size() && e < st.mass.size(); ++e)
      if (entries[e] == name) m = st.mass[e];
    if (auto it = st.mass_by_species.find(name); it != st.mass_by_species.end()) m = it->second;
    if (m <= 0.0 && needed)
      structure_error(c, st.lines.count("species") ? "species" : "mass",
                      "species '" + name + "' is not an element with a standard mass, and this input moves atoms: "
                      "give its mass, e.g. mass = { " + name + " = 55.845 } (amu)");
    s.species_mass[k] = m;
  }
}

/// lattice = "file": the chosen frame, repeated `cells` times, with the input's moments.
BuiltStructure build_from_file(const Config& c, const Int3& cells) {
  const StructureConfig& st = c.structure;
  std::vector<Frame> frames = read_structure_file(st.file, st.format, st.species);
  const long long nf = static_cast<long long>(frames.size());
  if (nf == 0) structure_error(c, "file", "'" + st.file + "' holds no structure");
  const long long index = st.frame < 0 ? nf + st.frame : st.frame;
  if (index < 0 || index >= nf)
    structure_error(c, "frame", "frame " + std::to_string(st.frame) + " does not exist: '" + st.file + "' has " +
                                    std::to_string(nf) + " frame" + (nf == 1 ? "" : "s"));
  const System& f = frames[static_cast<std::size_t>(index)].system;
  const std::size_t n = f.size();

  if (!st.species.empty()) {
    const auto want = distinct(st.species);
    const bool same = want.size() == f.species_name.size() &&
                      std::all_of(want.begin(), want.end(), [&](const std::string& x) {
                        return std::find(f.species_name.begin(), f.species_name.end(), x) != f.species_name.end();
                      });
    if (!same)
      structure_error(c, "species", "lists " + join(st.species) + " but '" + st.file + "' holds " + join(f.species_name));
  }

  // Moment sizes: from the input if given (per species entry, or per atom as VASP's MAGMOM),
  // else from the file. Directions stay the file's (or +z).
  std::vector<double> size(n);
  std::vector<Vec3> dir(n);
  for (std::size_t i = 0; i < n; ++i) {
    size[i] = f.moment[i];
    dir[i] = f.moment[i] > 0 ? f.spin[i] : Vec3::UnitZ();
  }
  if (!st.moment.empty()) {
    const std::vector<std::string> entries = species_entries(c, f);
    if (st.moment.size() == entries.size()) {
      for (std::size_t i = 0; i < n; ++i)
        for (std::size_t e = 0; e < entries.size(); ++e)
          if (entries[e] == f.species_name[static_cast<std::size_t>(f.species[i])]) size[i] = st.moment[e];
    } else if (st.moment.size() == n) {
      size = st.moment;
    } else {
      structure_error(c, "moment", "needs one moment per species (" + join(entries) + ") or one per atom (" +
                                       std::to_string(n) + "), got " + std::to_string(st.moment.size()));
    }
  }

  // The file's collinear pattern: signs relative to the first magnetic atom.
  std::vector<int> sign(n, +1);
  Vec3 ref = Vec3::Zero();
  for (std::size_t i = 0; i < n && ref.isZero(); ++i)
    if (f.moment[i] > 0) ref = f.spin[i];
  for (std::size_t i = 0; i < n; ++i)
    if (f.moment[i] > 0 && f.spin[i].dot(ref) < 0) sign[i] = -1;

  for (int k = 0; k < 3; ++k)
    if (cells[k] > 1 && !f.cell.periodic[static_cast<std::size_t>(k)])
      structure_error(c, "cells", "cannot repeat '" + st.file + "' along its non-periodic direction " + std::to_string(k));

  BuiltStructure b;
  System& s = b.system;
  s.cell = f.cell;
  for (int k = 0; k < 3; ++k) s.cell.h.row(k) *= cells[k];
  s.species_name = f.species_name;
  s.species_mass = f.species_mass;
  const Mat3 ht = f.cell.h.transpose();
  for (int z = 0; z < cells[2]; ++z)
    for (int y = 0; y < cells[1]; ++y)
      for (int x = 0; x < cells[0]; ++x)
        for (std::size_t i = 0; i < n; ++i) {
          s.add_atom(f.position[i] + ht * Vec3(x, y, z), f.species[i], size[i], dir[i], f.sublattice[i]);
          b.af_sign.push_back(sign[i]);
        }
  return b;
}

}  // namespace

BuiltStructure build_structure(const Config& c) { return build_structure(c, c.structure.cells); }

BuiltStructure build_structure(const Config& c, const Int3& cells) {
  const StructureConfig& st = c.structure;
  for (int k = 0; k < 3; ++k)
    if (cells[k] < 1) structure_error(c, "cells", "cell counts must be >= 1, got " + std::to_string(cells[k]));
  BuiltStructure b;
  if (st.lattice == "file") {
    b = build_from_file(c, cells);
  } else {
    Lattice L;
    try {
      L = st.lattice == "custom" ? custom_lattice(st.custom_cell, st.basis)
                                 : standard_lattice(st.lattice, st.a, st.c, st.species, st.moment);
    } catch (const InputError& e) {
      structure_error(c, "lattice", e.what());
    }
    b.system = build_supercell(L, cells, false);
    b.af_sign = antiferro_signs(L, cells);
    if (st.lattice == "sc" && st.spins == "antiferro")
      for (int k = 0; k < 3; ++k)
        if (cells[k] % 2) structure_error(c, "spins", "the sc antiferromagnet (G-type) needs an even number of cells along each axis");
  }
  System& s = b.system;
  if (st.periodic_given || st.lattice != "file") {
    s.cell.periodic = st.periodic;
    for (int k = 0; k < 3; ++k)
      if (!st.periodic[static_cast<std::size_t>(k)] && cells[k] > 1)
        structure_error(c, "periodic", "cannot repeat the cell along a non-periodic direction (cells must be 1 there)");
  }
  assign_masses(c, s);

  if (st.spins == "ferro") {
    set_spins_along(s, Vec3::UnitZ());
  } else if (st.spins == "vector") {
    set_spins_along(s, st.spin_direction);
  } else if (st.spins == "random") {
    set_spins_random(s, c.seed);
  } else if (st.spins == "antiferro") {
    bool up = false, down = false;
    for (std::size_t i = 0; i < s.size(); ++i)
      if (s.magnetic(i)) (b.af_sign[i] > 0 ? up : down) = true;
    if (!(up && down))
      structure_error(c, "spins", st.lattice == "file"
                                      ? "'antiferro' takes the pattern from the file's moments, but they are all parallel"
                                      : "'antiferro': this structure has no magnetic atoms on both sublattices of its pattern");
    set_spins_along(s, Vec3::UnitZ(), b.af_sign);
  }  // "file": the file's directions, already set

  if (st.lattice_temperature > 0.0) {
    for (std::size_t k = 0; k < s.species_mass.size(); ++k)
      if (!(s.species_mass[k] > 0.0))
        structure_error(c, "lattice_temperature", "needs a mass for species '" + s.species_name[k] + "'");
    set_velocities(s, st.lattice_temperature, c.seed);
  }
  s.check_consistent();
  return b;
}

System build_system(const Config& c) { return build_structure(c).system; }
System build_system(const Config& c, const Int3& cells) { return build_structure(c, cells).system; }



Hamiltonian build_hamiltonian(const Config& c, const System& s, const TermRegistry& registry) {
  if (c.potentials.empty())
    throw InputError(c.path, "potential", 0, "no [[potential]] given: the Hamiltonian would be zero");
  Hamiltonian h;
  TermContext ctx;
  ctx.system = &s;
  ctx.input_dir = c.directory;
  ctx.threads = c.threads;
  for (std::size_t k = 0; k < c.potentials.size(); ++k) {
    const toml::table* t = c.potentials[k].as_table();
    if (!t) throw InputError(c.path, "potential." + std::to_string(k), 0, "expected a table [[potential]]");
    Params p(*t, c.path, "potential." + std::to_string(k));
    try {
      h.add(registry.make(p, ctx));
    } catch (const InputError& e) {
      if (!e.file().empty()) throw;
      // A term that refuses the structure (no moments, a missing species) without saying
      // where: name the [[potential]] table, or [structure] when no atom has a moment.
      const std::string what = "potential." + std::to_string(k) + " (" + p.string("type", "?") + "): " + e.what();
      if (s.magnetic_sites().empty())
        throw InputError(c.path, "structure.moment", c.structure.line,
                         "no atom carries a moment, and " + what +
                             ": give [structure] moment (a POSCAR without MAGMOM, or an XYZ file without magnetic "
                             "moments, has none)");
      throw key_input_error(c, "potential." + std::to_string(k), k < c.potential_lines.size() ? c.potential_lines[k] : 0, e.what());
    }
  }
  // Lattice dynamics needs a skin so the list survives small displacements.
  if (h.depends_on_positions()) h.set_skin(0.5);
  h.bind(s);
  return h;
}

int line_of_key(const Config& c, const std::string& table, const std::string& key) {
  // The file's own lines: with --set, c.text is the re-serialised document, numbered otherwise.
  std::istringstream in(c.file_text.empty() ? c.text : c.file_text);
  std::string line;
  bool inside = false;
  for (int n = 1; std::getline(in, line); ++n) {
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos) continue;
    if (line[first] == '[') {
      inside = line.compare(first, table.size() + 2, "[" + table + "]") == 0;
    } else if (inside && line.compare(first, key.size(), key) == 0) {
      const auto eq = line.find_first_not_of(" \t", first + key.size());
      if (eq != std::string::npos && line[eq] == '=') return n;
    }
  }
  return 0;
}

InputError key_input_error(const Config& c, const std::string& dotted, int line, const std::string& message) {
  for (auto o = c.overrides.rbegin(); o != c.overrides.rend(); ++o) {  // the last one wins
    const std::string set = trim(o->substr(0, o->find('=')));
    if (dotted == set || dotted.compare(0, set.size() + 1, set + ".") == 0) return InputError("--set " + *o, dotted, 0, message);
  }
  return InputError(c.path, dotted, line, message);
}

InputError key_input_error(const Config& c, const std::string& table, const std::string& key, const std::string& message) {
  return key_input_error(c, table + "." + key, line_of_key(c, table, key), message);
}

InputError driver_input_error(const Config& c, const std::string& where, const std::string& message) {
  // The stage's table line, or in [sweep] the line of the key that chose the sampler.
  if (where.rfind("stage.", 0) == 0) {
    const std::size_t k = std::stoul(where.substr(6));
    return InputError(c.path, where, k < c.stages.size() ? c.stages[k].line : 0, message);
  }
  for (const char* key : {"algorithm", "method"}) {
    const InputError e = key_input_error(c, where, key, message);
    if (e.line() > 0 || e.file() != c.path) return e;
  }
  return InputError(c.path, where, 0, message);
}

void require_something_to_run(const Config& c) {
  if (c.stages.empty() && !c.sweep.enabled)
    throw InputError(c.path, "stage", 1, "nothing to run: add at least one [[stage]] or a [sweep]");
}

std::string validate_input(const std::string& path, const std::vector<std::string>& overrides,
                           const TermRegistry& registry) {
  const Config c = read_config(path, overrides);
  require_something_to_run(c);
  const System s = build_system(c);
  Hamiltonian h = build_hamiltonian(c, s, registry);
  std::ostringstream os;
  os << "structure: " << s.size() << " atoms (" << s.magnetic_sites().size() << " magnetic), cell volume "
     << s.cell.volume() << " Å³\n";
  os << "potential:";
  for (const auto& t : h.terms()) os << " " << t->type();
  const NeighborList& nl = h.neighbors();
  os << " (cutoff " << h.cutoff() << " Å, " << (nl.full ? nl.pairs() / 2 : nl.half.pairs()) << " pairs"
     << (h.spin_kernel() ? ", compiled spin kernel" : "") << ")\n";
  os << "energy of the initial configuration: " << h.energy(s) / double(s.size()) << " eV/atom\n";
  // The numbers a magnetism user checks first: shells and their exchange, the mean-field
  // ordering temperature, and warnings for values that look like a unit mistake.
  const PhysicsChecks checks = check_physics(c, s, h, true);
  if (!checks.shells.empty()) {
    os << "neighbour shells of atom " << s.magnetic_sites().front()
       << " (four-state exchange, E = -J e_i.e_j per pair):\n";
    for (std::size_t k = 0; k < checks.shells.size(); ++k) {
      const ExchangeShell& sh = checks.shells[k];
      char line[128];
      std::snprintf(line, sizeof line, "  shell %zu: %.4f Å, %d magnetic neighbours, J = %.4f meV\n", k + 1,
                    sh.distance, sh.count, sh.J * 1e3);
      os << line;
    }
  }
  if (!s.magnetic_sites().empty()) {
    char line[160];
    std::snprintf(line, sizeof line,
                  "ordering energy %.4f meV per magnetic atom: mean-field ordering temperature %.0f K\n",
                  checks.ordering_energy * 1e3, checks.tc_mean_field);
    os << line;
  }
  for (const std::string& w : checks.warnings) os << "warning: " << w << "\n";
  // Each driver's settings as read (defaults included).
  auto settings = [&os](const DriverSpec& d) {
    const char* sep = " (";
    for (const auto& [key, value] : d.settings()) {
      os << sep << key << " = " << value;
      sep = ", ";
    }
    os << (d.settings().empty() ? "" : ")") << "\n";
  };
  // Build every driver as the run would (on a copy of the system): a sampler that refuses the
  // Hamiltonian is an error here, not after the run started.
  for (std::size_t k = 0; k < c.stages.size(); ++k) {
    const DriverSpec& spec = *c.stages[k].driver;
    System copy = s;
    with_input_location(c, "stage." + std::to_string(k), [&] { return spec.build({copy, h, stage_key(c.seed, k), spec.temperature}); });
    os << "stage " << k << ": " << c.stages[k].type;
    settings(spec);
  }
  if (c.sweep.enabled) {
    const DriverSpec& spec = *c.sweep.driver;
    System copy = s;
    const std::vector<double>& T = c.sweep.temperatures;
    if (spec.replica_exchange())
      with_input_location(c, "sweep", [&] { return spec.ensemble(h, copy, T, sweep_point_key(c.seed, 0, 0, T.size())); });
    else
      with_input_location(c, "sweep", [&] { return spec.build({copy, h, sweep_point_key(c.seed, 0, 0, T.size()), T.front()}); });
  }
  if (c.sweep.enabled) {
    os << "sweep: " << c.sweep.temperatures.size() << " temperatures × " << std::max<std::size_t>(1, c.sweep.sizes.size())
       << " sizes, method " << c.sweep.method;
    settings(*c.sweep.driver);
  }
  return os.str();
}

}  // namespace spinlat
