// From a validated Config to the objects a run needs.
#include <cstdio>
#include <cstring>
#include <sstream>

#include "spinlat/core/units.hpp"
#include "spinlat/drivers/driver.hpp"
#include "spinlat/mc/parallel_tempering.hpp"
#include "spinlat/workflows/run.hpp"
#include "spinlat/workflows/sanity.hpp"

namespace spinlat {

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
      throw InputError(c.path, "potential." + std::to_string(k), k < c.potential_lines.size() ? c.potential_lines[k] : 0, e.what());
    }
  }
  // Lattice dynamics needs a skin so the list survives small displacements.
  if (h.depends_on_positions()) h.set_skin(0.5);
  h.bind(s);
  return h;
}

int line_of_key(const Config& c, const std::string& table, const std::string& key) {
  std::istringstream in(c.text);
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

InputError driver_input_error(const Config& c, const std::string& where, const std::string& message) {
  // The stage's table line, or in [sweep] the line of the key that chose the sampler.
  if (where.rfind("stage.", 0) == 0) {
    const std::size_t k = std::stoul(where.substr(6));
    return InputError(c.path, where, k < c.stages.size() ? c.stages[k].line : 0, message);
  }
  for (const char* key : {"algorithm", "method"})
    if (const int n = line_of_key(c, where, key)) return InputError(c.path, where + "." + key, n, message);
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
  os << " (cutoff " << h.cutoff() << " Å, " << h.neighbors().pairs() / 2 << " pairs"
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
