// Strict reading of a spinlat input (docs/input.md).
//
// Every value goes through Params, so an error names the file, the dotted key and its line;
// every table ends with Params::finish(), so an unknown or misspelt key is an error with a
// "did you mean". Keys that exist but do not apply (dt in a Monte Carlo stage, c for a cubic
// lattice) are errors too: a key that is silently ignored is a typo waiting to happen.
#include "spinlat/workflows/input.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "spinlat/core/error.hpp"
#include "spinlat/io/params.hpp"
#include "spinlat/io/structure_file.hpp"
#include "spinlat/io/text.hpp"
#include "spinlat/io/paths.hpp"
#include "spinlat/io/poscar.hpp"

namespace fs = std::filesystem;

namespace spinlat {
namespace {

// ---- small helpers -----------------------------------------------------------------------

std::string num(double x) {
  std::ostringstream os;
  os << x;
  return os.str();
}

bool is_standard(const std::string& lattice) {
  return lattice == "sc" || lattice == "bcc" || lattice == "fcc" || lattice == "hcp" || lattice == "rocksalt";
}

/// Entries a species/moment list may have for a standard lattice: 1 or one per group.
std::size_t lattice_groups(const std::string& lattice) {
  if (lattice == "sc") return 1;
  if (lattice == "bcc") return 2;
  if (lattice == "fcc") return 4;
  return 2;  // hcp (two sublattices), rocksalt (cation, anion)
}

struct KeyUse {
  const char* key;
  bool applies;
  const char* where;  // who uses it, for the message
};

/// Rejects keys that exist in the schema but do not apply here.
void reject_inapplicable(Params& p, const std::vector<KeyUse>& uses, const std::string& context) {
  for (const auto& u : uses)
    if (!u.applies && p.has(u.key))
      p.fail(u.key, "not used by " + context + " (it applies to " + u.where + ")");
}

std::vector<std::string> keys_of(const std::vector<KeyUse>& uses) {
  std::vector<std::string> out;
  for (const auto& u : uses) out.push_back(u.key);
  return out;
}

/// Unknown keys first: a misspelt required key must say "unknown key 'temprature' (did you
/// mean 'temperature'?)", not "missing 'temperature'". Params::finish with the table's whole
/// schema, before anything is read, is exactly that check.
void reject_unknown(const Params& p, const std::vector<std::string>& schema) { p.finish(schema); }

// ---- [structure] ---------------------------------------------------------------------------

Mat3 read_cell(Params& p, const std::string& key) {
  p.touch(key);
  const toml::node* n = p.table().get(key);
  if (!n) p.fail(key, "missing required cell: [[ax, ay, az], [bx, by, bz], [cx, cy, cz]] (Å) or [Lx, Ly, Lz]");
  const toml::array* a = n->as_array();
  if (!a || a->size() != 3)
    p.fail(key, "expected three cell vectors [[ax, ay, az], [bx, by, bz], [cx, cy, cz]] or three lengths [Lx, Ly, Lz]");
  auto number = [&](const toml::node& e) {
    double v = 0.0;
    if (auto d = e.value_exact<double>()) v = *d;
    else if (auto i = e.value_exact<int64_t>()) v = static_cast<double>(*i);
    else p.fail(key, "expected numbers in the cell");
    if (!std::isfinite(v)) p.fail(key, "expected finite numbers in the cell");
    return v;
  };
  Mat3 h = Mat3::Zero();
  if ((*a)[0].is_array()) {
    for (int r = 0; r < 3; ++r) {
      const toml::array* row = (*a)[static_cast<std::size_t>(r)].as_array();
      if (!row || row->size() != 3) p.fail(key, "cell vector " + std::to_string(r) + " must be a list of 3 numbers");
      for (int k = 0; k < 3; ++k) h(r, k) = number((*row)[static_cast<std::size_t>(k)]);
    }
  } else {
    for (int k = 0; k < 3; ++k) h(k, k) = number((*a)[static_cast<std::size_t>(k)]);
  }
  return h;
}

void read_mass(Params& p, StructureConfig& s) {
  p.touch("mass");
  const toml::node* n = p.table().get("mass");
  if (!n) return;
  if (const toml::table* t = n->as_table()) {
    Params m(*t, p.file(), p.key_path("mass"));
    for (const auto& [k, v] : *t) {
      const std::string name(k.str());
      const double x = m.real(name);
      m.require(x > 0.0, name, "a mass must be > 0 amu, got " + num(x));
      s.mass_by_species[name] = x;
    }
    return;
  }
  s.mass = p.reals("mass");
  for (double x : s.mass) p.require(x > 0.0, "mass", "masses must be > 0 amu, got " + num(x));
}

std::vector<BasisSite> read_basis(Params& p, StructureConfig& s) {
  std::vector<BasisSite> basis;
  std::vector<Params> sites = p.tables("basis");
  if (sites.empty()) p.fail("basis", "lattice = 'custom' needs at least one [[structure.basis]] site");
  for (Params& b : sites) {
    reject_unknown(b, {"position", "species", "moment", "af_sign", "mass"});
    BasisSite site;
    site.fractional = b.vec3("position");
    site.species = b.string("species");
    b.require(!site.species.empty(), "species", "must not be empty");
    site.moment = b.real("moment");
    b.require(site.moment >= 0.0, "moment", "must be >= 0 μB, got " + num(site.moment));
    const long long sign = b.integer("af_sign", 1);
    b.require(sign == 1 || sign == -1, "af_sign", "must be +1 or -1, got " + std::to_string(sign));
    site.af_sign = static_cast<int>(sign);
    if (b.has("mass")) {
      const double m = b.real("mass");
      b.require(m > 0.0, "mass", "must be > 0 amu, got " + num(m));
      auto it = s.mass_by_species.find(site.species);
      b.require(it == s.mass_by_species.end() || it->second == m, "mass",
                "species '" + site.species + "' already has mass " + (it == s.mass_by_species.end() ? "" : num(it->second)));
      s.mass_by_species[site.species] = m;
    }
    b.finish();
    // Two sites on the same spot (modulo a lattice vector) would overlap in every cell.
    for (std::size_t k = 0; k < basis.size(); ++k) {
      Vec3 d = site.fractional - basis[k].fractional;
      for (int c = 0; c < 3; ++c) d[c] -= std::round(d[c]);
      b.require(d.norm() > 1e-8, "position",
                "coincides with basis site " + std::to_string(k) + " (modulo a cell vector)");
    }
    basis.push_back(site);
  }
  return basis;
}

StructureConfig read_structure(Params& p, const std::string& directory) {
  StructureConfig s;
  s.line = p.line();
  for (const auto& [k, v] : p.table()) {
    s.lines[std::string(k.str())] = static_cast<int>(v.source().begin.line);
    if (std::string set = override_source(v); !set.empty()) s.set_by[std::string(k.str())] = set;
  }

  reject_unknown(p, {"lattice", "a", "c", "cells", "species", "moment", "mass", "basis", "cell", "file", "format",
                     "frame", "spins", "lattice_temperature", "periodic"});
  s.lattice = p.choice("lattice", {"sc", "bcc", "fcc", "hcp", "rocksalt", "custom", "file"});
  const std::string& L = s.lattice;
  const bool standard = is_standard(L), custom = L == "custom", file = L == "file";
  const std::vector<KeyUse> uses = {
      {"lattice", true, ""},
      {"a", !file, "sc, bcc, fcc, hcp, rocksalt and custom lattices"},
      {"c", L == "hcp", "hcp"},
      {"cells", true, ""},
      {"species", !custom, "standard lattices and files; a custom cell names species in [[structure.basis]]"},
      {"moment", !custom, "standard lattices and files; a custom cell gives moments in [[structure.basis]]"},
      {"mass", true, ""},
      {"basis", custom, "lattice = 'custom'"},
      {"cell", custom, "lattice = 'custom'"},
      {"file", file, "lattice = 'file'"},
      {"format", file, "lattice = 'file'"},
      {"frame", file, "lattice = 'file'"},
      {"spins", true, ""},
      {"lattice_temperature", true, ""},
      {"periodic", true, ""},
  };
  reject_inapplicable(p, uses, "lattice '" + L + "'");

  if (standard) {
    s.a = positive(p, "a", " Å");
    if (L == "hcp" && p.has("c")) s.c = positive(p, "c", " Å");
  } else if (custom && p.has("a")) {
    s.a = positive(p, "a", " Å");
  }

  if (p.has("cells")) {
    const auto v = p.integers("cells");
    p.require(v.size() == 1 || v.size() == 3, "cells", "expected [nx, ny, nz] (or one number for all three)");
    for (long long n : v)
      p.require(n >= 1 && n <= 100000, "cells", "cell counts must be integers from 1 to 100000, got " + std::to_string(n));
    s.cells = v.size() == 1 ? Int3(int(v[0]), int(v[0]), int(v[0])) : Int3(int(v[0]), int(v[1]), int(v[2]));
  } else {
    p.touch("cells");
  }

  if (!custom) {
    if (p.has("species")) {
      s.species = p.strings("species");
      p.require(!s.species.empty(), "species", "must list at least one species");
      for (const auto& x : s.species) p.require(!x.empty(), "species", "species names must not be empty");
    } else {
      p.touch("species");
      if (standard) s.species = {"X"};  // a dummy element (ASE's convention): spins only
    }
    if (standard || p.has("moment")) {
      s.moment = p.reals("moment");
      p.require(!s.moment.empty(), "moment", "must list at least one moment");
      for (double m : s.moment) p.require(m >= 0.0, "moment", "moments must be >= 0 μB, got " + num(m));
    } else {
      p.touch("moment");
    }
  }
  if (standard) {
    const std::size_t n = lattice_groups(L);
    const std::string what = (L == "hcp" || L == "rocksalt") ? " (one per sublattice" + std::string(L == "rocksalt" ? ": cation, anion)" : ")")
                                                             : " (one per site of the conventional cell)";
    p.require(s.species.size() == 1 || s.species.size() == n, "species",
              "lattice '" + L + "' takes 1 or " + std::to_string(n) + " entries" + what + ", got " + std::to_string(s.species.size()));
    p.require(s.moment.size() == 1 || s.moment.size() == n, "moment",
              "lattice '" + L + "' takes 1 or " + std::to_string(n) + " entries" + what + ", got " + std::to_string(s.moment.size()));
  }

  if (custom) {
    s.custom_cell = read_cell(p, "cell");
    if (s.a > 0) s.custom_cell *= s.a;
    const Mat3& h = s.custom_cell;
    const double scale = h.row(0).norm() * h.row(1).norm() * h.row(2).norm();
    p.require(scale > 0 && std::abs(h.determinant()) > 1e-10 * scale, "cell",
              "the cell has zero volume: its three vectors must be linearly independent");
    s.basis = read_basis(p, s);
  }

  if (file) {
    const std::string given = p.string("file");
    p.require(!given.empty(), "file", "must name a structure file");
    const fs::path path(resolve_input_path(directory, given));
    std::error_code ec;
    p.require(fs::is_regular_file(path, ec), "file", "no such file '" + path.string() + "'");
    s.file = path.string();
    s.format = p.choice("format", {"auto", "extxyz", "poscar"}, "auto");
    s.frame = p.integer("frame", -1);
  }

  read_mass(p, s);
  if (!s.mass.empty()) {
    std::vector<std::string> entries = s.species;
    if (custom) {
      std::vector<std::string> names;
      for (const auto& b : s.basis) names.push_back(b.species);
      entries = distinct(names);
    }
    if (!entries.empty())
      p.require(s.mass.size() == entries.size(), "mass",
                "needs one mass per species entry (" + join(entries) + "), got " + std::to_string(s.mass.size()));
    // One element listed twice (e.g. two bcc sites) must not get two masses.
    for (std::size_t i = 0; i < entries.size() && i < s.mass.size(); ++i)
      for (std::size_t j = 0; j < i; ++j)
        p.require(entries[i] != entries[j] || s.mass[i] == s.mass[j], "mass",
                  "species '" + entries[i] + "' is given two different masses");
  }
  if (standard || custom) {
    std::vector<std::string> names = s.species;
    for (const auto& b : s.basis) names.push_back(b.species);
    for (const auto& [name, m] : s.mass_by_species)
      if (std::find(names.begin(), names.end(), name) == names.end())
        p.fail("mass", "no species '" + name + "' in the structure (species: " + join(distinct(names)) + ")");
  }

  // spins: a mode or a direction.
  p.touch("spins");
  if (const toml::node* n = p.table().get("spins")) {
    if (n->is_array()) {
      s.spin_direction = p.vec3("spins");
      p.require(s.spin_direction.norm() > 1e-12, "spins", "the spin direction must not be the zero vector");
      s.spins = "vector";
    } else {
      std::vector<std::string> modes = {"ferro", "random", "antiferro"};
      if (file) modes.push_back("file");
      s.spins = p.choice("spins", modes);
    }
  } else {
    s.spins = file ? "file" : "ferro";
  }
  if (s.spins == "antiferro" && custom) {
    bool down = false;
    for (const auto& b : s.basis) down = down || (b.af_sign < 0 && b.moment > 0);
    p.require(down, "spins", "'antiferro' needs a magnetic basis site with af_sign = -1");
  }

  s.lattice_temperature = non_negative(p, "lattice_temperature", 0.0, " K");

  p.touch("periodic");
  if (const toml::node* n = p.table().get("periodic")) {
    s.periodic_given = true;
    if (auto b = n->value_exact<bool>()) {
      s.periodic = {*b, *b, *b};
    } else if (const toml::array* a = n->as_array(); a && a->size() == 3) {
      for (std::size_t k = 0; k < 3; ++k) {
        auto v = (*a)[k].value_exact<bool>();
        if (!v) p.fail("periodic", "expected true/false or a list of three of them");
        s.periodic[k] = *v;
      }
    } else {
      p.fail("periodic", "expected true/false or a list of three of them, e.g. [true, true, false]");
    }
    for (int k = 0; k < 3; ++k)
      p.require(s.periodic[static_cast<std::size_t>(k)] || s.cells[k] == 1 || file, "periodic",
                "cannot repeat the cell along a non-periodic direction (cells must be 1 there)");
  }

  p.finish(keys_of(uses));
  return s;
}

// ---- [[stage]] -----------------------------------------------------------------------------

/// The stage's driver type reads its own keys (src/drivers); `dataset` and `dataset_every`
/// belong to every stage.
StageConfig read_stage(Params& p) {
  StageConfig s;
  s.line = p.line();
  s.driver = builtin_drivers().read(p, DriverRole::stage, {"dataset", "dataset_every"});
  s.type = s.driver->type;
  // Labelled frames for training (docs/input.md "Training data"): both keys or neither.
  if (p.has("dataset") || p.has("dataset_every")) {
    s.dataset = p.string("dataset");
    p.require(!s.dataset.empty(), "dataset", "must name an extended XYZ file");
    if (!p.has("dataset_every")) p.fail("dataset", "needs dataset_every (a frame every N sweeps or steps)");
    s.dataset_every = count_at_least(p, "dataset_every", 1, 0, true);
  }
  return s;
}

// ---- [sweep] -------------------------------------------------------------------------------

std::vector<double> read_temperatures(Params& p) {
  p.touch("temperatures");
  const toml::node* n = p.table().get("temperatures");
  if (!n) p.fail("temperatures", "missing: give a list [T1, T2, ...] or { from = ..., to = ..., step = ... } (K)");
  std::vector<double> out;
  if (const toml::table* t = n->as_table()) {
    Params r(*t, p.file(), p.key_path("temperatures"));
    reject_unknown(r, {"from", "to", "step"});
    const double from = r.real("from"), to = r.real("to"), step = r.real("step");
    r.finish();
    r.require(step != 0.0, "step", "must not be zero");
    r.require(from == to || (to - from) * step > 0.0, "step",
              "goes from " + num(from) + " away from " + num(to) + ": no temperatures (use a " +
                  std::string(to < from ? "negative" : "positive") + " step)");
    // Inclusive of `to` within step/1e6, so 100..200 step 25 gives 5 points despite rounding.
    const double span = (to - from) / step;
    r.require(span < 1e6, "step", "gives more than a million temperatures");
    const long long n_points = static_cast<long long>(std::floor(span + 1e-6)) + 1;
    for (long long k = 0; k < n_points; ++k) out.push_back(from + static_cast<double>(k) * step);
    for (double T : out) r.require(T > 0.0, "from", "temperatures must be > 0 K, the range reaches " + num(T));
    return out;
  }
  if (!n->is_array() && !n->is_number())
    p.fail("temperatures", "expected a list [T1, T2, ...] or { from = ..., to = ..., step = ... } (K)");
  out = p.reals("temperatures");
  p.require(!out.empty(), "temperatures", "the list is empty: give at least one temperature (K)");
  for (double T : out) p.require(T > 0.0, "temperatures", "temperatures must be > 0 K, got " + num(T));
  return out;
}

SweepConfig read_sweep(Params& p) {
  SweepConfig s;
  s.enabled = true;
  // The method's driver type reads its own keys (src/drivers); these are the sweep's.
  s.driver = builtin_drivers().read(
      p, DriverRole::sweep, {"temperatures", "sizes", "equilibrate", "measure", "sample_every", "reweight_samples", "order", "anneal"});
  s.method = s.driver->type;
  s.temperatures = read_temperatures(p);
  if (p.has("sizes")) {
    for (long long L : p.integers("sizes")) {
      p.require(L >= 1 && L <= 100000, "sizes", "sizes must be integers from 1 to 100000 (cells per side), got " + std::to_string(L));
      s.sizes.push_back(static_cast<int>(L));
    }
    p.require(!s.sizes.empty(), "sizes", "the list is empty (leave it out to use structure.cells)");
  }
  s.equilibrate = count_at_least(p, "equilibrate", 0, s.equilibrate, false);
  s.measure = count_at_least(p, "measure", 1, s.measure, false);
  s.sample_every = count_at_least(p, "sample_every", 1, s.sample_every, false);
  p.require(s.sample_every <= s.measure, "sample_every", "is larger than measure (" + std::to_string(s.measure) + "): no samples");
  s.reweight_samples = count_at_least(p, "reweight_samples", 0, s.reweight_samples, false);
  p.require(s.reweight_samples == 0 || (s.reweight_samples >= 64 && s.reweight_samples % 2 == 0), "reweight_samples",
            "must be 0 (no reweighting) or an even number >= 64, got " + std::to_string(s.reweight_samples));
  s.order = p.choice("order", {"auto", "ferro", "antiferro"}, "auto");
  s.anneal = p.boolean("anneal", true);
  return s;
}

OutputConfig read_output(Params& p) {
  OutputConfig o;
  reject_unknown(p, {"file", "trajectory_every", "observables_every", "checkpoint_every"});
  o.file = p.string("file", o.file);
  p.require(!o.file.empty(), "file", "must name an output file");
  o.trajectory_every = count_at_least(p, "trajectory_every", 0, o.trajectory_every, false);
  o.observables_every = count_at_least(p, "observables_every", 0, o.observables_every, false);
  o.checkpoint_every = count_at_least(p, "checkpoint_every", 0, o.checkpoint_every, false);
  p.finish();
  return o;
}

}  // namespace

// ---- public --------------------------------------------------------------------------------

Config parse_config(const std::string& text, const std::string& name, const std::vector<std::string>& overrides) {
  toml::table doc = parse_toml_with_overrides(text, name, overrides);

  Config c;
  c.path = name;
  c.directory = input_directory(name);
  c.file_text = text;
  c.overrides = overrides;
  if (overrides.empty()) {
    c.text = text;
  } else {
    std::ostringstream os;
    os << doc;
    c.text = os.str() + "\n";
  }

  Params top(doc, name, "");
  reject_unknown(top, {"title", "seed", "threads", "structure", "potential", "stage", "sweep", "output", "spectrum", "phonons"});
  c.title = top.string("title", "");
  const long long seed = top.integer("seed", 1);
  top.require(seed >= 0, "seed", "must be a non-negative integer, got " + std::to_string(seed));
  c.seed = static_cast<std::uint64_t>(seed);
  const long long threads = top.integer("threads", 0);
  top.require(threads >= 0 && threads <= 4096, "threads", "must be >= 0 (0 = the free cores at start), got " + std::to_string(threads));
  c.threads = static_cast<int>(threads);

  Params structure = top.table("structure");
  c.structure = read_structure(structure, c.directory);

  // [[potential]]: only the shape is checked here; the term registry reads each table.
  top.touch("potential");
  if (const toml::node* n = doc.get("potential")) {
    if (const toml::array* a = n->as_array()) {
      for (std::size_t k = 0; k < a->size(); ++k)
        if (!(*a)[k].is_table()) {
          const std::string set = override_source((*a)[k]);
          throw InputError(set.empty() ? name : set, "potential." + std::to_string(k),
                           set.empty() ? static_cast<int>((*a)[k].source().begin.line) : 0,
                           "each [[potential]] entry must be a table with a `type`");
        }
    } else if (!n->is_table()) {
      top.fail("potential", "expected [[potential]] tables (an array of tables)");
    }
  }

  for (Params& s : top.tables("stage")) c.stages.push_back(read_stage(s));
  if (top.has("sweep")) {
    Params s = top.table("sweep");
    c.sweep = read_sweep(s);
  } else {
    top.touch("sweep");
  }
  if (top.has("output")) {
    Params o = top.table("output");
    c.output = read_output(o);
  } else {
    top.touch("output");
  }
  if (top.has("spectrum")) {
    Params sp = top.table("spectrum");
    SpectrumOptions so = read_spectrum_options(sp);
    int stage = so.stage;
    // Spin dynamics with a frozen (llg) or moving (sld) lattice.
    auto spin_dynamics = [&](int k) { return c.stages[k].driver->spin_dynamics(); };
    if (stage < 0)
      for (int k = 0; k < static_cast<int>(c.stages.size()); ++k)
        if (spin_dynamics(k)) stage = k;
    if (stage < 0 || stage >= static_cast<int>(c.stages.size()) || !spin_dynamics(stage))
      sp.fail("stage", "[spectrum] records an llg or sld stage: give the index of an [[stage]] with type = \"llg\" or \"sld\"");
    so.stage = stage;
    so.lattice = c.structure.lattice;
    so.cells = c.structure.cells;
    so.lswt_damping = c.stages[stage].driver->spin_damping();
    c.spectrum = so;
  } else {
    top.touch("spectrum");
  }
  if (top.has("phonons")) {
    Params ph = top.table("phonons");
    PhononOptions po = read_phonon_options(ph);
    auto moves_atoms = [&](int k) { return c.stages[k].driver->moves_atoms(); };
    int stage = po.stage;
    if (stage < 0)
      for (int k = 0; k < static_cast<int>(c.stages.size()); ++k)
        if (moves_atoms(k)) stage = k;
    if (stage < 0 || stage >= static_cast<int>(c.stages.size()) || !moves_atoms(stage))
      ph.fail("stage", "[phonons] records the velocities of an md, sld or hybrid stage: give the index of such an [[stage]]");
    po.stage = stage;
    c.phonons = po;
  } else {
    top.touch("phonons");
  }
  top.finish();

  // Checks that need several sections.
  const StructureConfig& st = c.structure;
  if (st.lattice == "sc" && st.spins == "antiferro") {
    for (int k = 0; k < 3; ++k)
      if (st.cells[k] % 2)
        structure.fail("spins", "the sc antiferromagnet (G-type) needs an even number of cells along each axis, got cells = [" +
                                    std::to_string(st.cells[0]) + ", " + std::to_string(st.cells[1]) + ", " +
                                    std::to_string(st.cells[2]) + "]");
    for (int L : c.sweep.sizes)
      if (L % 2)
        structure.fail("spins", "the sc antiferromagnet (G-type) needs even sweep sizes, got " + std::to_string(L));
  }
  if (st.lattice != "file" && needs_masses(c)) {
    std::vector<std::string> names = st.species;
    for (const auto& b : st.basis) names.push_back(b.species);
    for (std::size_t k = 0; k < names.size(); ++k) {
      const bool listed = !st.mass.empty() || st.mass_by_species.count(names[k]);
      if (!listed && element_mass(names[k]) <= 0.0)
        structure.fail(st.lattice == "custom" ? "basis" : "species",
                       "species '" + names[k] + "' is not an element with a standard mass, and this input moves atoms: "
                       "give its mass, e.g. mass = { " + names[k] + " = 55.845 } (amu)");
    }
  }

  // Moved, not copied: toml++ keeps source lines only on moves.
  if (toml::node* n = doc.get("potential")) {
    if (toml::array* a = n->as_array()) {
      for (const auto& e : *a)  // 0 for a table given by --set (messages name the argument)
        c.potential_lines.push_back(override_source(e).empty() ? static_cast<int>(e.source().begin.line) : 0);
      c.potentials = std::move(*a);
    } else if (toml::table* t = n->as_table()) {
      c.potential_lines.push_back(static_cast<int>(t->source().begin.line));
      c.potentials.push_back(std::move(*t));
    }
  }
  return c;
}

Config read_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "", 0, "cannot open the input file");
  std::ostringstream os;
  os << in.rdbuf();
  return parse_config(os.str(), path, overrides);
}

bool needs_masses(const Config& c) {
  for (const auto& s : c.stages)
    if (s.driver->moves_atoms()) return true;
  if (c.sweep.enabled && c.sweep.driver->moves_atoms()) return true;
  return c.structure.lattice_temperature > 0.0;
}

}  // namespace spinlat
