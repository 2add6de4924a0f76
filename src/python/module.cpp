// The `spinlat` Python module's compiled part (docs/python.md): pybind11 bindings of the
// engine's public functions (read_config, build_system, build_hamiltonian,
// Hamiltonian::compute, run_input, validate_input). The ASE calculator and the results
// reader are pure Python (python/spinlat/). Errors keep the command line's text: an
// InputError becomes spinlat.InputError (a ValueError) whose message is the line
// `spinlat: error: ` prints, a NumericalError spinlat.NumericalError (an ArithmeticError).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <fstream>
#include <sstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/workflows/input.hpp"
#include "spinlat/io/params.hpp"
#include "spinlat/io/paths.hpp"
#include "spinlat/version.hpp"
#include "spinlat/workflows/all_terms.hpp"
#include "spinlat/workflows/run.hpp"

namespace py = pybind11;
using spinlat::InputError;

namespace {

using Array = py::array_t<double, py::array::c_style | py::array::forcecast>;

// An N×3 (or 3×3) array, checked; `what` names it in the message.
std::vector<spinlat::Vec3> rows3(const Array& a, const std::string& what, py::ssize_t n) {
  if (a.ndim() != 2 || a.shape(1) != 3 || (n >= 0 && a.shape(0) != n))
    throw InputError(what + ": expected an array of shape (" + (n >= 0 ? std::to_string(n) : std::string("N")) +
                     ", 3), got " + std::to_string(a.ndim()) + " dimensions" +
                     (a.ndim() == 2 ? " (" + std::to_string(a.shape(0)) + ", " + std::to_string(a.shape(1)) + ")" : ""));
  std::vector<spinlat::Vec3> v(static_cast<std::size_t>(a.shape(0)));
  auto r = a.unchecked<2>();
  for (py::ssize_t i = 0; i < a.shape(0); ++i) {
    v[i] = spinlat::Vec3(r(i, 0), r(i, 1), r(i, 2));
    if (!v[i].allFinite()) throw InputError(what + ": row " + std::to_string(i) + " is not finite");
  }
  return v;
}

Array to_array(const std::vector<spinlat::Vec3>& v) {
  Array a({static_cast<py::ssize_t>(v.size()), py::ssize_t{3}});
  auto w = a.mutable_unchecked<2>();
  for (std::size_t i = 0; i < v.size(); ++i)
    for (int k = 0; k < 3; ++k) w(i, k) = v[i][k];
  return a;
}

Array to_array(const spinlat::Mat3& m) {
  Array a({py::ssize_t{3}, py::ssize_t{3}});
  auto w = a.mutable_unchecked<2>();
  for (int i = 0; i < 3; ++i)
    for (int k = 0; k < 3; ++k) w(i, k) = m(i, k);
  return a;
}

// An input for a calculator may be [[potential]] tables alone (docs/python.md: its
// [structure] optional). Such a document is read by the same rules as a full input's top
// level, and the terms are then built for each structure given (see Model::hamiltonian_for).
spinlat::Config read_potentials_only(const std::string& text, const std::string& name,
                                     const std::vector<std::string>& overrides) {
  toml::table doc = spinlat::parse_toml_with_overrides(text, name, overrides);
  spinlat::Config c;
  c.path = name;
  c.directory = spinlat::input_directory(name);
  c.text = text;
  spinlat::Params top(doc, name, "");
  c.title = top.string("title", "");
  const long long threads = top.integer("threads", 0);
  top.require(threads >= 0 && threads <= 4096, "threads", "must be >= 0, got " + std::to_string(threads));
  c.threads = static_cast<int>(threads);
  top.integer("seed", 1);  // allowed (a calculator draws no random numbers)
  for (const char* key : {"stage", "sweep", "output", "spectrum", "phonons"})
    if (top.has(key)) top.fail(key, "needs a [structure] to run on (without one, an input only gives its [[potential]] terms to a calculator)");
  top.touch("potential");
  top.finish({"structure"});
  toml::node* n = doc.get("potential");
  toml::array* a = n ? n->as_array() : nullptr;
  if (!a) top.fail("potential", "expected [[potential]] tables (an array of tables)");
  for (std::size_t k = 0; k < a->size(); ++k) {
    const int line = static_cast<int>((*a)[k].source().begin.line);
    if (!(*a)[k].is_table())
      throw InputError(name, "potential." + std::to_string(k), line, "each [[potential]] entry must be a table with a `type`");
    c.potential_lines.push_back(line);
  }
  c.potentials = std::move(*a);  // moved, not copied: toml++ keeps source lines only then
  return c;
}

/// A Hamiltonian of an input, evaluated on structures given as arrays (the calculator).
class Model {
 public:
  /// `directory`: where relative file names of a text input resolve ("" = its name's folder).
  Model(const std::optional<std::string>& path, const std::optional<std::string>& text, const std::string& name,
        const std::vector<std::string>& overrides, const std::string& directory)
      : registry_(spinlat::all_terms()) {
    if (path.has_value() == text.has_value()) throw InputError("give either an input file or the input's text");
    const std::string body = path ? read_text(*path) : *text;
    const std::string file = path ? *path : name;
    // As read_config(path) does: parse_config of the file's text, named by the path.
    structure_ = spinlat::parse_toml_with_overrides(body, file, overrides).contains("structure");
    config_ = structure_ ? spinlat::parse_config(body, file, overrides) : read_potentials_only(body, file, overrides);
    if (!path && !directory.empty()) config_.directory = directory;
    if (structure_) {
      // Built now so that every input error surfaces when the calculator is made.
      input_system_ = spinlat::build_system(config_);
      species_ = input_system_.species_name;
      hamiltonian_ = std::make_unique<spinlat::Hamiltonian>(spinlat::build_hamiltonian(config_, input_system_, registry_));
    } else if (config_.potentials.empty()) {
      throw InputError(config_.path, "potential", 0, "no [[potential]] given: the Hamiltonian would be zero");
    }
  }

  bool has_structure_table() const { return structure_; }
  const std::vector<std::string>& species() const { return species_; }
  std::string text() const { return config_.text; }

  /// The input's structure as arrays (cell rows, pbc, positions, symbols, moment vectors).
  py::dict structure() const {
    if (!structure_) throw InputError(config_.path, "structure", 0, "the input has no [structure]");
    const spinlat::System& s = input_system_;
    std::vector<spinlat::Vec3> m(s.size());
    std::vector<std::string> symbols(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
      m[i] = s.moment_vector(i);
      symbols[i] = s.species_name[s.species[i]];
    }
    py::dict d;
    d["cell"] = to_array(s.cell.h);
    d["pbc"] = std::vector<bool>(s.cell.periodic.begin(), s.cell.periodic.end());
    d["positions"] = to_array(s.position);
    d["symbols"] = symbols;
    d["magmoms"] = to_array(m);
    return d;
  }

  /// Energy (eV), forces (eV/Å), magnetic forces −∂E/∂m (eV/μB) and the virial W (eV) of
  /// one structure: the same call as `spinlat eval` (learned/tools/evaluate.cpp's evaluate_structure:
  /// bind, then compute).
  /// `magmoms` None: no moments given (zero moments, allowed only when no term's energy
  /// depends on them, e.g. EAM alone).
  py::tuple evaluate(const Array& cell, const std::vector<bool>& pbc, const Array& positions,
                     const std::vector<std::string>& symbols, const std::optional<Array>& magmoms) {
    spinlat::System s = make_system(cell, pbc, positions, symbols, magmoms ? &*magmoms : nullptr);
    spinlat::Hamiltonian& h = hamiltonian_for(s);
    if (!magmoms)
      for (const auto& t : h.terms())
        if (t->energy_kind() == spinlat::TermKind::magnetic)
          throw InputError("no magnetic moments given, but the potential's '" + t->type() +
                           "' term depends on them: set atoms.arrays['magmom'] (N x 3, muB), "
                           "atoms.set_initial_magnetic_moments(...) or Calculator(magmoms=...)");
    std::vector<spinlat::Vec3> f, mf;
    spinlat::Mat3 w = spinlat::Mat3::Zero();
    spinlat::Derivatives d;
    d.force = &f;
    d.magnetic_force = &mf;
    d.virial = &w;
    double e = 0.0;
    {
      py::gil_scoped_release release;
      h.bind(s);
      e = h.compute(s, d);
    }
    return py::make_tuple(e, to_array(f), to_array(mf), to_array(w));
  }

 private:
  static std::string read_text(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(path, "", 0, "cannot open the input file");  // read_config's message
    std::ostringstream os;
    os << in.rdbuf();
    return os.str();
  }

  spinlat::System make_system(const Array& cell, const std::vector<bool>& pbc, const Array& positions,
                              const std::vector<std::string>& symbols, const Array* magmoms) const {
    spinlat::System s;
    s.position = rows3(positions, "positions", -1);
    const std::size_t n = s.position.size();
    if (symbols.size() != n)
      throw InputError("symbols: expected " + std::to_string(n) + " chemical symbols, got " + std::to_string(symbols.size()));
    const auto m = magmoms ? rows3(*magmoms, "magmoms", static_cast<py::ssize_t>(n))
                           : std::vector<spinlat::Vec3>(n, spinlat::Vec3::Zero());
    if (pbc.size() != 3) throw InputError("pbc: expected 3 booleans");
    const auto h = rows3(cell, "cell", 3);
    for (int k = 0; k < 3; ++k) {
      s.cell.h.row(k) = h[k].transpose();
      s.cell.periodic[k] = pbc[k];
    }
    if (s.cell.volume() < 1e-12) {
      if (pbc[0] || pbc[1] || pbc[2])
        throw InputError("cell: a periodic structure needs three linearly independent cell vectors");
      // Non-periodic: a box around the atoms, only so that fractional coordinates exist
      // (as for an extended XYZ frame without Lattice).
      spinlat::Vec3 lo = spinlat::Vec3::Zero(), hi = spinlat::Vec3::Zero();
      for (std::size_t i = 0; i < n; ++i) {
        lo = i ? lo.cwiseMin(s.position[i]) : s.position[i];
        hi = i ? hi.cwiseMax(s.position[i]) : s.position[i];
      }
      s.cell.h = spinlat::Mat3((hi - lo + spinlat::Vec3::Constant(1.0)).asDiagonal());
    }
    // Species: the input structure's order when it has one (species-indexed terms were
    // built for it), else the order of first appearance.
    std::vector<std::string> order = species_;
    if (!structure_) {
      order.clear();
      for (const auto& x : symbols)
        if (std::find(order.begin(), order.end(), x) == order.end()) order.push_back(x);
    }
    s.species_name = order;
    for (const auto& x : order) {
      const auto it = std::find(species_.begin(), species_.end(), x);
      s.species_mass.push_back(structure_ && it != species_.end()
                                   ? input_system_.species_mass[static_cast<std::size_t>(it - species_.begin())]
                                   : spinlat::element_mass(x));
    }
    s.velocity.assign(n, spinlat::Vec3::Zero());
    s.sublattice.assign(n, 0);
    for (std::size_t i = 0; i < n; ++i) {
      const auto it = std::find(order.begin(), order.end(), symbols[i]);
      if (it == order.end()) {
        std::string known;
        for (const auto& x : order) known += (known.empty() ? "" : ", ") + x;
        throw InputError("atom " + std::to_string(i) + ": species '" + symbols[i] +
                         "' is not one of the input structure's species (" + known + ")");
      }
      s.species.push_back(static_cast<int>(it - order.begin()));
      const double size = m[i].norm();
      s.moment.push_back(size);
      s.spin.push_back(size > 0.0 ? spinlat::Vec3(m[i] / size) : spinlat::Vec3::Zero());
    }
    return s;
  }

  // The Hamiltonian for `s`: the input's, or (potentials alone) one built for s's species,
  // rebuilt when they change.
  spinlat::Hamiltonian& hamiltonian_for(const spinlat::System& s) {
    if (!structure_ && (!hamiltonian_ || s.species_name != species_)) {
      hamiltonian_.reset();
      hamiltonian_ = std::make_unique<spinlat::Hamiltonian>(spinlat::build_hamiltonian(config_, s, registry_));
      species_ = s.species_name;
    }
    return *hamiltonian_;
  }

  spinlat::TermRegistry registry_;
  spinlat::Config config_;
  bool structure_ = false;
  spinlat::System input_system_;
  std::vector<std::string> species_;
  std::unique_ptr<spinlat::Hamiltonian> hamiltonian_;
};

// SIGINT/SIGTERM during spinlat.run: as on the command line, a checkpoint is written and the
// run stops (Python's own handlers are put back afterwards).
std::atomic<bool> g_stop{false};
extern "C" void on_signal(int) { g_stop.store(true); }

int run(const std::string& input, const std::string& output, const std::vector<std::string>& overrides,
        bool restart, bool quiet) {
  spinlat::RunOptions o;
  o.input = input;
  o.output = output;
  o.overrides = overrides;
  o.restart = restart;
  o.quiet = quiet;
  o.stop = &g_stop;
  const spinlat::TermRegistry registry = spinlat::all_terms();
  g_stop.store(false);
  int status = 0;
  {
    py::gil_scoped_release release;
    auto old_int = std::signal(SIGINT, on_signal);
    auto old_term = std::signal(SIGTERM, on_signal);
    try {
      status = spinlat::run_input(o, registry);
    } catch (...) {
      std::signal(SIGINT, old_int);
      std::signal(SIGTERM, old_term);
      throw;
    }
    std::signal(SIGINT, old_int);
    std::signal(SIGTERM, old_term);
  }
  return status;
}

}  // namespace

PYBIND11_MODULE(_spinlat, m) {
  m.doc() = "spinlat engine bindings (use the `spinlat` package)";
  m.attr("__version__") = spinlat::kVersion;
#ifdef SPINLAT_HAVE_TORCH
  m.attr("with_torch") = true;
#else
  m.attr("with_torch") = false;
#endif
  static py::exception<InputError> input_error(m, "InputError", PyExc_ValueError);
  static py::exception<spinlat::NumericalError> numerical_error(m, "NumericalError", PyExc_ArithmeticError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const InputError& e) {
      input_error(e.what());
    } catch (const spinlat::NumericalError& e) {
      numerical_error(e.what());
    }
  });

  py::class_<Model>(m, "Model")
      .def(py::init<const std::optional<std::string>&, const std::optional<std::string>&, const std::string&,
                    const std::vector<std::string>&, const std::string&>(),
           py::arg("path") = py::none(), py::arg("text") = py::none(), py::arg("name") = "input",
           py::arg("overrides") = std::vector<std::string>{}, py::arg("directory") = "")
      .def_property_readonly("has_structure", &Model::has_structure_table)
      .def_property_readonly("species", &Model::species)
      .def_property_readonly("text", &Model::text)
      .def("structure", &Model::structure)
      .def("evaluate", &Model::evaluate, py::arg("cell"), py::arg("pbc"), py::arg("positions"), py::arg("symbols"),
           py::arg("magmoms"));

  m.def("run", &run, py::arg("input"), py::arg("output") = "", py::arg("overrides") = std::vector<std::string>{},
        py::arg("restart") = false, py::arg("quiet") = false,
        "Runs an input (spinlat run); returns 0 when finished, 3 when stopped by a signal.");
  m.def(
      "output_file",
      [](const std::string& input, const std::vector<std::string>& overrides) {
        return spinlat::read_config(input, overrides).output.file;
      },
      py::arg("input"), py::arg("overrides") = std::vector<std::string>{},
      "The results file an input writes when no output is given ([output] file).");
  m.def(
      "validate",
      [](const std::string& input, const std::vector<std::string>& overrides) {
        return spinlat::validate_input(input, overrides, spinlat::all_terms());
      },
      py::arg("input"), py::arg("overrides") = std::vector<std::string>{},
      "Checks an input without running it (spinlat validate); returns its summary.");
}
