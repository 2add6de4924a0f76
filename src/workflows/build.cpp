// From a validated Config to the objects a run needs.
#include <sstream>

#include "spinlat/core/units.hpp"
#include "spinlat/workflows/run.hpp"

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
    h.add(registry.make(p, ctx));
  }
  // Lattice dynamics needs a skin so the list survives small displacements.
  if (h.depends_on_positions()) h.set_skin(0.5);
  h.bind(s);
  return h;
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
  const Hamiltonian h = build_hamiltonian(c, s, registry);
  std::ostringstream os;
  os << "structure: " << s.size() << " atoms (" << s.magnetic_sites().size() << " magnetic), cell volume "
     << s.cell.volume() << " Å³\n";
  os << "potential:";
  for (const auto& t : h.terms()) os << " " << t->type();
  os << " (cutoff " << h.cutoff() << " Å, " << h.neighbors().pairs() / 2 << " pairs"
     << (h.spin_kernel() ? ", compiled spin kernel" : "") << ")\n";
  os << "energy of the initial configuration: " << h.energy(s) / double(s.size()) << " eV/atom\n";
  // Each driver's settings as read (defaults included).
  auto settings = [&os](const DriverSpec& d) {
    const char* sep = " (";
    for (const auto& [key, value] : d.settings()) {
      os << sep << key << " = " << value;
      sep = ", ";
    }
    os << (d.settings().empty() ? "" : ")") << "\n";
  };
  for (std::size_t k = 0; k < c.stages.size(); ++k) {
    os << "stage " << k << ": " << c.stages[k].type;
    settings(*c.stages[k].driver);
  }
  if (c.sweep.enabled) {
    os << "sweep: " << c.sweep.temperatures.size() << " temperatures × " << std::max<std::size_t>(1, c.sweep.sizes.size())
       << " sizes, method " << c.sweep.method;
    settings(*c.sweep.driver);
  }
  return os.str();
}

}  // namespace spinlat
