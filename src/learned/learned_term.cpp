// The learned potential term: LibTorch's TorchScript runtime behind spinlat's Term interface.
// This is the only translation unit of the engine that includes LibTorch's headers.
#include "spinlat/learned/learned_term.hpp"

#include <dlfcn.h>
#include <malloc.h>

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/jit/runtime/graph_executor.h>
#include <torch/csrc/jit/runtime/jit_exception.h>
#include <torch/script.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <tuple>

#include "spinlat/core/error.hpp"
#include "spinlat/io/paths.hpp"
#include "spinlat/learned/mace_native.hpp"
#include "spinlat/learned/native_fast.hpp"
#include "spinlat/learned/native_model.hpp"
#include "mace_convert.hpp"

namespace spinlat {
namespace {

// The first line of a LibTorch error (its full text carries a C++ and TorchScript backtrace).
// Upstream magnetic MACE files converted on load (LearnedOptions::convert), once per process
// and file version: a sweep builds one Hamiltonian per size and each would otherwise load the
// e3nn-compiled module (seconds) and convert it again.
struct ConvertedOnLoad {
  std::shared_ptr<const MaceArchive> archive;  // null: the file runs through LibTorch
};
struct ConversionKey {
  std::string path, head;
  std::uintmax_t size = 0;
  std::filesystem::file_time_type mtime;
  bool operator<(const ConversionKey& o) const {
    return std::tie(path, head, size, mtime) < std::tie(o.path, o.head, o.size, o.mtime);
  }
};
std::mutex conversions_mutex;
std::map<ConversionKey, ConvertedOnLoad>& conversions() {
  static std::map<ConversionKey, ConvertedOnLoad> done;
  return done;
}
ConversionKey conversion_key(const std::string& path, const std::string& head) {
  ConversionKey k;
  k.path = std::filesystem::absolute(path).lexically_normal().string();
  k.head = head;
  k.size = std::filesystem::file_size(path);
  k.mtime = std::filesystem::last_write_time(path);
  return k;
}

// Converts a loaded upstream magnetic MACE module and checks the conversion against the module
// itself; null, with a note on stderr saying why, when the module stays on LibTorch.
std::shared_ptr<const MaceArchive> convert_on_load(torch::jit::Module& module, const std::string& file) {
  try {
    auto a = std::make_shared<const MaceArchive>(convert_mace_module(module, file));
    const MaceNativeEvaluator ev(*a);  // refuses structures it does not support
    const double error = mace_conversion_error(ev, module);
    if (!(error <= kMaceConversionTolerance)) {
      std::fprintf(stderr,
                   "warning: %s: converted on load, the model differs from the file by %.3g eV in a node energy "
                   "(tolerance %.0e): it runs through LibTorch instead (please report this model)\n",
                   file.c_str(), error, kMaceConversionTolerance);
      return nullptr;
    }
    std::fprintf(stderr,
                 "note: %s: upstream magnetic MACE model converted on load to spinlat's plain C++ evaluator "
                 "(node energies within %.1e eV of the file's on a 16-atom test cell); convert = false runs it "
                 "through LibTorch\n",
                 file.c_str(), error);
    return a;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "note: %s: runs through LibTorch, not converted to the plain C++ evaluator: %s\n", file.c_str(),
                 e.what());
    return nullptr;
  }
}

std::string short_message(const c10::Error& e) {
  std::string m = e.what_without_backtrace();
  const auto nl = m.find('\n');
  return nl == std::string::npos ? m : m.substr(0, nl);
}

// The last non-empty line of a TorchScript exception (its traceback comes first, then
// "AssertionError: ..." or the like).
std::string last_line(const std::string& m) {
  std::string last, line;
  std::istringstream in(m);
  while (std::getline(in, line))
    if (line.find_first_not_of(" \t") != std::string::npos) last = line;
  return last;
}

at::Tensor vec3_tensor(const std::vector<Vec3>& v, at::ScalarType dtype) {
  std::vector<double> flat(3 * v.size());
  for (std::size_t k = 0; k < v.size(); ++k)
    for (int c = 0; c < 3; ++c) flat[3 * k + c] = v[k][c];
  return torch::from_blob(flat.data(), {static_cast<std::int64_t>(v.size()), 3}, at::kDouble)
      .to(dtype)
      .clone();
}

std::vector<Vec3> vec3_vector(const at::Tensor& t, std::size_t n) {
  std::vector<Vec3> out(n, Vec3::Zero());
  if (!t.defined()) return out;
  const at::Tensor d = t.to(at::kDouble).contiguous();
  const double* p = d.data_ptr<double>();
  for (std::size_t k = 0; k < n; ++k) out[k] = Vec3(p[3 * k], p[3 * k + 1], p[3 * k + 2]);
  return out;
}

Mat3 mat3_of(const at::Tensor& t) {
  Mat3 m = Mat3::Zero();
  if (!t.defined()) return m;
  const at::Tensor d = t.to(at::kDouble).contiguous();
  const double* p = d.data_ptr<double>();
  for (int a = 0; a < 3; ++a)
    for (int b = 0; b < 3; ++b) m(a, b) = p[3 * a + b];
  return m;
}

// Σ_k a_k ⊗ b_k for two [K,3] tensors (double precision, fixed order).
Mat3 outer_sum(const std::vector<Vec3>& a, const std::vector<Vec3>& b) {
  Mat3 m = Mat3::Zero();
  for (std::size_t k = 0; k < a.size(); ++k) m.noalias() += a[k] * b[k].transpose();
  return m;
}

// How the model's forward() is called. Two forms are accepted, told apart by the schema:
//   contract: forward(data: Dict[str, Tensor]) -> Dict[str, Tensor]   (docs/learned-potential.md, "The model's interface")
//   mace:     forward(data: Dict[str, Tensor], training: bool, compute_force: bool, ...)
//             -> Dict[str, Optional[Tensor]]
// The second is what `e3nn.util.jit.compile` + `torch.jit.save` give for upstream MACE models
// (ACEsuit/mace `MACE`, `ScaleShiftMACE`) and magnetic MACE (`MagneticScaleShiftMACE`, pull
// request 1244, which adds compute_magforces). Every flag is passed as false, so the model
// runs no autograd of its own and returns node_energy (E0 included) like the contract form;
// spinlat differentiates it as it does every model (one backward pass, and the full,
// non-symmetrised strain derivative that MACE's symmetric displacement cannot give).
struct ForwardForm {
  bool mace = false;
  std::vector<c10::IValue> flags;  // the bool arguments after `data`, in order
};

// MACE's bool arguments that are not compute_* flags (all passed as false too).
bool is_mace_flag(const std::string& name) {
  return name == "training" || name == "lammps_mliap" || name.rfind("compute_", 0) == 0;
}

// The form of `module`'s forward, or an empty optional and `why` when it fits neither.
std::optional<ForwardForm> classify_forward(const torch::jit::Module& module, std::string& why) {
  const c10::FunctionSchema& schema = module.get_method("forward").function().getSchema();
  const auto& args = schema.arguments();  // args[0] is self
  const auto dict_of_tensors = c10::DictType::create(c10::StringType::get(), c10::TensorType::get());
  std::ostringstream got;
  got << schema;
  why = "its forward is " + got.str() +
        "; expected forward(data: Dict[str, Tensor]) -> Dict[str, Tensor] (spinlat's contract) or "
        "MACE's forward(data: Dict[str, Tensor], training: bool, compute_force: bool, ...) -> "
        "Dict[str, Optional[Tensor]] (only bool arguments after data, named training, lammps_mliap "
        "or compute_*)";
  if (args.size() < 2 || *args[1].type() != *dict_of_tensors) return std::nullopt;
  if (schema.returns().size() != 1) return std::nullopt;
  const auto out = schema.returns()[0].type()->cast<c10::DictType>();
  if (!out || *out->getKeyType() != *c10::StringType::get()) return std::nullopt;
  const c10::TypePtr value = out->getValueType();
  const bool tensor_values = *value == *c10::TensorType::get() ||
                             *value == *c10::OptionalType::create(c10::TensorType::get());
  if (!tensor_values) return std::nullopt;
  ForwardForm form;
  for (std::size_t k = 2; k < args.size(); ++k) {
    if (args[k].type()->kind() != c10::TypeKind::BoolType || !is_mace_flag(args[k].name())) return std::nullopt;
    form.flags.emplace_back(false);
  }
  form.mace = !form.flags.empty();
  why.clear();
  return form;
}

// The dtype of the model's first floating-point parameter (else buffer other than the
// contract's r_max, which is float64 whatever the model); float64 when it has none.
at::ScalarType model_dtype(const torch::jit::Module& module) {
  for (const at::Tensor& t : module.parameters(/*recurse=*/true))
    if (t.is_floating_point()) return t.scalar_type();
  for (const auto& b : module.named_buffers(/*recurse=*/true))
    if (b.value.is_floating_point() && b.name != "r_max") return b.value.scalar_type();
  return at::kDouble;
}

// The inputs of one evaluation, node by node (a whole system or a subgraph of it).
struct NodeInputs {
  std::vector<Vec3> position, magmom;
  std::vector<int> column;  // node_attrs column of each node
  Mat3 cell = Mat3::Identity();
  std::vector<std::int64_t> targets;  // nodes whose energies are needed (empty: all; native models only)
};

}  // namespace

struct LearnedPotential::Impl {
  std::string file;
  // Not safe for concurrent calls: the graph and the Monte Carlo cache below are rewritten by
  // const methods (a Hamiltonian evaluates its terms one at a time; replicas own their terms).
  mutable torch::jit::Module module;
  mutable NativeModel native{nullptr};  // set instead of `module` for files of `spinlat train`
  ForwardForm form;                     // how module.forward is called
  std::int64_t head = 0;                // the head index passed to MACE models
  // The model's own total `energy` output of the last TorchScript call (NaN if none): bind()
  // checks once that the node energies sum to it (MACE puts E0 in both).
  mutable double model_energy = std::numeric_limits<double>::quiet_NaN();
  at::ScalarType dtype = at::kDouble;
  std::vector<int> atomic_numbers;
  double r_max = 0.0;
  int interactions = 0;
  std::map<std::string, int> species_map;

  // Filled by bind().
  std::vector<int> columns;  // per species index of the bound system
  // The graph at the positions last seen; rebuilt (from the caller's list, which carries a
  // skin) when atoms moved, e.g. between the MD and Monte Carlo parts of a hybrid run.
  mutable Graph graph;
  mutable std::vector<Vec3> bound_position;
  mutable Mat3 bound_cell = Mat3::Zero();
  bool validated = false;

  // Monte Carlo cache (local_energy_change): node energies of the current moments, so that a
  // trial evaluates only the state after the move. Valid while positions are those bound;
  // an entry e[v] was computed with the moments m[] of v's receptive field. The last call's
  // trials stay pending until the sampler reports which it took (accept_trials); the next
  // call forgets those it did not.
  struct Trial {
    int site = -1;
    Vec3 moment = Vec3::Zero();
    std::vector<int> nodes;      // nodes within L hops of the site
    std::vector<double> energy;  // their energies after the trial move
  };
  struct TrialCache {
    bool valid = false;
    std::vector<double> e;  // node energies
    std::vector<Vec3> m;    // moments they were computed with
    std::vector<Trial> pending;
  };
  mutable TrialCache cache;

  // The plain C++ evaluator of Monte Carlo trials (native models in float64, mc_evaluator =
  // "auto"). It keeps its own caches (per-edge geometry, per-node records and energies) in
  // step with accepted trials in the same way: the trials of the last call stay pending until
  // the sampler reports which ones it took.
  std::unique_ptr<NativeFastEvaluator> fast;
  mutable bool fast_geometry = false;  // set_geometry done for the current graph
  mutable std::vector<NativeFastEvaluator::Trial> fast_trial;
  mutable std::size_t fast_pending = 0;  // fast_trial[0, fast_pending) await commit
  // Set instead of `module` for files of `spinlat convert` (upstream MACE converted to plain
  // C++, mace_native.hpp): it evaluates everything, and runs the Monte Carlo trials like `fast`.
  std::unique_ptr<MaceNativeEvaluator> mace;
  // Full evaluations of native float64 models (force_evaluator = "auto"): the plain C++
  // forward and its reverse pass, an instance of its own so that the Monte Carlo caches of
  // `fast` are untouched. Its geometry is kept while the graph, positions and species are.
  std::unique_ptr<NativeFastEvaluator> full;
  mutable std::vector<Vec3> full_position, full_shift;
  mutable std::vector<int> full_column;
  mutable std::vector<std::int64_t> full_sender, full_receiver;
  mutable std::vector<MaceNativeEvaluator::Trial> mace_trial;
  mutable std::size_t rebuilds = 0;  // full evaluations of the Monte Carlo caches

  [[noreturn]] void fail(const std::string& msg) const { throw InputError(file + ": " + msg); }

  // The graph at the System's positions: the cached one, rebuilt first if atoms moved (which
  // also invalidates the Monte Carlo cache).
  const Graph& graph_for(const System& s, const NeighborList& list) const {
    if (s.cell.h == bound_cell && s.position == bound_position) return graph;
    graph = build_graph(s, list, r_max);
    bound_position = s.position;
    bound_cell = s.cell.h;
    cache = TrialCache();
    fast_geometry = false;
    fast_pending = 0;
    return graph;
  }

  // Brings the plain C++ evaluator in step with `s`: geometry after a (re)bind or a move of
  // the atoms, then the last call's trials not reported as taken are forgotten, then the node
  // caches are rebuilt if a moment they read changed behind their back (or on the first call):
  // around `sites` when given (what the trials read), else everywhere.
  template <class Ev>
  void fast_sync(Ev& f, const System& s, const Graph& g, const std::vector<int>* sites) const {
    if (!fast_geometry) {
      std::vector<int> column(s.size());
      for (std::size_t v = 0; v < s.size(); ++v) column[v] = columns.at(s.species[v]);
      f.set_geometry(g, s.position, column);
      fast_geometry = true;
      fast_pending = 0;
    }
    fast_pending = 0;
    bool fresh = f.built();
    if (sites) {
      for (std::size_t k = 0; fresh && k < sites->size(); ++k) fresh = f.fresh_around(s, (*sites)[k]);
    } else {
      for (std::size_t v = 0; fresh && v < s.size(); ++v) fresh = f.moment(static_cast<int>(v)) == s.moment_vector(v);
    }
    if (!fresh) {
      f.rebuild(s);
      ++rebuilds;
    }
  }

  // The sampler took accepted[k] of the last call's trials: commit them.
  template <class Ev, class Tr>
  void fast_accept(Ev& f, std::vector<Tr>& fast_trial, const std::vector<char>& accepted) const {
    if (f.built())
      for (std::size_t k = 0; k < std::min(fast_pending, accepted.size()); ++k)
        if (accepted[k]) f.commit(fast_trial[k]);
    fast_pending = 0;
  }

  // Monte Carlo trials on the plain C++ evaluator, one after the other (the sites are
  // independent, and serial evaluation keeps the result free of the thread count). The
  // trials stay pending until the next call shows which ones the System took.
  void fast_energy_changes(const System& s, const Graph& g, const std::vector<int>& sites,
                           const std::vector<Vec3>& spins, const std::vector<double>& moments,
                           std::vector<double>& de) const {
    if (mace) fast_energy_changes(*mace, mace_trial, s, g, sites, spins, moments, de);
    else fast_energy_changes(*fast, fast_trial, s, g, sites, spins, moments, de);
  }
  template <class Ev, class Tr>
  void fast_energy_changes(Ev& f, std::vector<Tr>& fast_trial, const System& s, const Graph& g,
                           const std::vector<int>& sites, const std::vector<Vec3>& spins,
                           const std::vector<double>& moments, std::vector<double>& de) const {
    fast_sync(f, s, g, &sites);
    if (fast_trial.size() < sites.size()) fast_trial.resize(sites.size());
    for (std::size_t k = 0; k < sites.size(); ++k) {
      de[k] = f.trial(sites[k], moments[k] * spins[k], fast_trial[k]);
      if (!std::isfinite(de[k])) throw NumericalError(file + ": the model returned a non-finite node energy");
    }
    fast_pending = sites.size();
  }

  // Node energies of `s` from the plain C++ evaluator (energy-only calls: the energies a
  // Monte Carlo run measures cost no LibTorch evaluation).
  const std::vector<double>& fast_node_energies(const System& s, const Graph& g) const {
    if (mace) return fast_node_energies(*mace, s, g);
    return fast_node_energies(*fast, s, g);
  }
  template <class Ev>
  const std::vector<double>& fast_node_energies(Ev& f, const System& s, const Graph& g) const {
    fast_sync(f, s, g, nullptr);
    for (double e : f.node_energy())
      if (!std::isfinite(e)) throw NumericalError(file + ": the model returned a non-finite node energy");
    return f.node_energy();
  }

  NodeInputs inputs_of(const System& s) const {
    NodeInputs in;
    in.position = s.position;
    in.magmom.resize(s.size());
    in.column.resize(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
      in.magmom[i] = s.moment_vector(i);
      in.column[i] = columns.at(s.species[i]);
    }
    in.cell = s.cell.h;
    return in;
  }

  // One forward pass (and one backward pass when derivatives are asked).
  LearnedResult run(const Graph& g, const NodeInputs& in, bool want_force, bool want_mag,
                    bool want_virial) const {
    const auto n = static_cast<std::int64_t>(g.nodes);
    const auto ne = static_cast<std::int64_t>(g.edges());
    const bool grad = want_force || want_mag || want_virial;
    if (mace) return run_mace(g, in, want_force, want_mag, want_virial);
    if (full && in.targets.empty()) return run_full(g, in, want_force, want_mag, want_virial);

    at::Tensor positions = vec3_tensor(in.position, dtype);
    at::Tensor magmom = vec3_tensor(in.magmom, dtype);
    at::Tensor shifts = vec3_tensor(g.shift, dtype);
    at::Tensor cell = torch::empty({3, 3}, at::kDouble);
    {
      auto acc = cell.accessor<double, 2>();
      for (int a = 0; a < 3; ++a)
        for (int b = 0; b < 3; ++b) acc[a][b] = in.cell(a, b);  // rows: lattice vectors
    }
    cell = cell.to(dtype);
    at::Tensor edge_index = torch::empty({2, ne}, at::kLong);
    {
      auto acc = edge_index.accessor<std::int64_t, 2>();
      for (std::int64_t e = 0; e < ne; ++e) {
        acc[0][e] = g.sender[e];
        acc[1][e] = g.receiver[e];
      }
    }
    if (want_force || want_virial) positions.requires_grad_(true);
    if (want_mag) magmom.requires_grad_(true);
    if (want_virial) {
      shifts.requires_grad_(true);
      cell.requires_grad_(true);
    }

    // No autograd tape for energy-only calls (Monte Carlo): the contract's models return
    // energies and leave differentiation to the engine.
    std::optional<c10::InferenceMode> no_grad;
    if (!grad) no_grad.emplace();
    at::Tensor node_energy;
    if (native) {
      std::vector<std::int64_t> column(in.column.begin(), in.column.end());
      ModelInputs mi;
      mi.positions = positions;
      mi.magmom = magmom;
      mi.species = torch::tensor(column, at::kLong);
      mi.sender = edge_index[0];
      mi.receiver = edge_index[1];
      mi.shifts = shifts;
      if (!in.targets.empty()) mi.targets = torch::tensor(in.targets, at::kLong);
      try {
        node_energy = native->node_energy(mi);
      } catch (const c10::Error& e) {
        fail("model evaluation failed: " + short_message(e));
      }
    } else {
      // The rest of the contract's inputs (the native model needs none of them).
      std::vector<Vec3> us(g.edges());
      for (std::size_t e = 0; e < g.edges(); ++e) us[e] = g.unit_shift[e].cast<double>();
      const at::Tensor unit_shifts = vec3_tensor(us, dtype);
      at::Tensor node_attrs = torch::zeros({n, static_cast<std::int64_t>(atomic_numbers.size())}, at::kDouble);
      {
        auto acc = node_attrs.accessor<double, 2>();
        for (std::int64_t i = 0; i < n; ++i) acc[i][in.column[i]] = 1.0;
      }
      node_attrs = node_attrs.to(dtype);
      const at::Tensor batch = torch::zeros({n}, at::kLong);
      const at::Tensor ptr = torch::tensor({std::int64_t{0}, n}, at::kLong);
      node_energy = forward_torchscript(positions, cell, edge_index, shifts, unit_shifts, node_attrs, magmom, batch, ptr);
    }
    if (node_energy.numel() != n)
      fail("'node_energy' has " + std::to_string(node_energy.numel()) + " entries for " +
           std::to_string(n) + " atoms");
    return finish(g, in, node_energy, positions, magmom, shifts, cell, want_force, want_mag, want_virial);
  }

  // A converted upstream MACE model, in plain C++ (mace_native.hpp).
  LearnedResult run_mace(const Graph& g, const NodeInputs& in, bool want_force, bool want_mag, bool want_virial) const {
    const MaceNativeResult x = mace->evaluate(g, in.position, in.magmom, in.column, want_force || want_mag || want_virial);
    LearnedResult r;
    r.node_energy = x.node_energy;
    if (want_force) r.force = x.force;
    if (want_mag) r.magnetic_force = x.magnetic_force;
    if (want_virial) r.virial = x.virial;
    return checked(std::move(r));
  }

  // Every path's last step: E = Σ node energies in double and in node order (the same number
  // whatever threads did the work), and one clear error for a non-finite energy or gradient.
  LearnedResult checked(LearnedResult r) const {
    r.energy = 0.0;
    for (double e : r.node_energy) {
      if (!std::isfinite(e)) throw NumericalError(file + ": the model returned a non-finite node energy");
      r.energy += e;
    }
    for (const auto* v : {&r.force, &r.magnetic_force})
      for (const Vec3& x : *v)
        if (!x.allFinite()) throw NumericalError(file + ": the model's gradient is not finite");
    return r;
  }

  // A native float64 model on the plain C++ evaluator: the same forward as the Monte Carlo
  // path, then NativeFastEvaluator::gradient for the derivatives asked.
  LearnedResult run_full(const Graph& g, const NodeInputs& in, bool want_force, bool want_mag, bool want_virial) const {
    NativeFastEvaluator& f = *full;
    const bool same_geometry = f.has_geometry() && full_position == in.position && full_column == in.column &&
                               full_shift == g.shift &&
                               std::equal(g.sender.begin(), g.sender.end(), full_sender.begin(), full_sender.end()) &&
                               std::equal(g.receiver.begin(), g.receiver.end(), full_receiver.begin(), full_receiver.end());
    if (!same_geometry) {
      f.set_geometry(g, in.position, in.column);
      full_position = in.position;
      full_column = in.column;
      full_shift = g.shift;
      full_sender.assign(g.sender.begin(), g.sender.end());
      full_receiver.assign(g.receiver.begin(), g.receiver.end());
    }
    bool fresh = f.built();
    for (std::size_t v = 0; fresh && v < g.nodes; ++v) fresh = f.moment(static_cast<int>(v)) == in.magmom[v];
    if (!fresh) f.rebuild(in.magmom);
    LearnedResult r;
    r.node_energy = f.node_energy();
    if (!(want_force || want_mag || want_virial)) return checked(std::move(r));
    NativeFastEvaluator::Gradient d;
    f.gradient(want_force || want_virial, d);
    if (want_force) {
      r.force.resize(g.nodes);
      for (std::size_t i = 0; i < g.nodes; ++i) r.force[i] = -d.dE_dposition[i];
    }
    if (want_mag) {
      r.magnetic_force.resize(g.nodes);
      for (std::size_t i = 0; i < g.nodes; ++i) r.magnetic_force[i] = -d.dE_dmoment[i];
    }
    if (want_virial) r.virial = d.virial;
    return checked(std::move(r));
  }

  // The contract's forward(Dict[str, Tensor]) → Dict with node_energy [N].
  at::Tensor forward_torchscript(const at::Tensor& positions, const at::Tensor& cell, const at::Tensor& edge_index,
                                 const at::Tensor& shifts, const at::Tensor& unit_shifts,
                                 const at::Tensor& node_attrs, const at::Tensor& magmom, const at::Tensor& batch,
                                 const at::Tensor& ptr) const {
    c10::Dict<std::string, at::Tensor> data;
    data.insert("positions", positions);
    data.insert("cell", cell);
    data.insert("edge_index", edge_index);
    data.insert("shifts", shifts);
    data.insert("unit_shifts", unit_shifts);
    data.insert("node_attrs", node_attrs);
    data.insert("magmom", magmom);
    data.insert("batch", batch);
    data.insert("ptr", ptr);
    // MACE picks each node's head as head[batch]; one structure, so one entry.
    if (form.mace) data.insert("head", torch::tensor({head}, at::kLong));
    std::vector<c10::IValue> args{c10::IValue(data)};
    args.insert(args.end(), form.flags.begin(), form.flags.end());
    // MACE models run op by op, without TorchScript's graph optimisations (profiling,
    // specialisation, autodiff subgraphs): their backward is then eager PyTorch's, 8–14 % faster
    // for the magnetic MACE fixture at 128–432 atoms (docs/performance.md). The setting is
    // thread-local and the guard scoped to this call; contract-form models keep the defaults.
    std::optional<torch::jit::GraphOptimizerEnabledGuard> eager_like;
    if (form.mace) eager_like.emplace(false);
    c10::IValue out;
    try {
      out = module.forward(args);
    } catch (const c10::Error& e) {
      fail("model evaluation failed: " + short_message(e));
    } catch (const torch::jit::JITException& e) {
      fail("model evaluation failed: " + last_line(e.what()));  // raised in the model's code
    }
    if (!out.isGenericDict()) fail("forward() must return a Dict[str, Tensor]");
    const auto dict = out.toGenericDict();
    model_energy = std::numeric_limits<double>::quiet_NaN();
    const auto e = dict.find(c10::IValue(std::string("energy")));
    if (e != dict.end() && e->value().isTensor() && e->value().toTensor().numel() == 1)
      model_energy = e->value().toTensor().to(at::kDouble).item<double>();
    const auto it = dict.find(c10::IValue(std::string("node_energy")));
    if (it == dict.end() || !it->value().isTensor())
      fail("forward() returned no 'node_energy' tensor (the contract asks for node_energy [N] in eV)");
    return it->value().toTensor();
  }

  // Node energies to double precision, then the derivatives asked for by reverse mode.
  LearnedResult finish(const Graph& g, const NodeInputs& in, const at::Tensor& node_energy,
                       const at::Tensor& positions, const at::Tensor& magmom, const at::Tensor& shifts,
                       const at::Tensor& cell, bool want_force, bool want_mag, bool want_virial) const {
    const auto n = static_cast<std::int64_t>(g.nodes);
    const bool grad = want_force || want_mag || want_virial;
    LearnedResult r;
    {
      const at::Tensor ed = node_energy.detach().to(at::kDouble).contiguous().reshape({n});
      r.node_energy.assign(ed.data_ptr<double>(), ed.data_ptr<double>() + n);
    }
    if (!grad) return checked(std::move(r));

    std::vector<at::Tensor> wrt;
    if (want_force || want_virial) wrt.push_back(positions);
    if (want_mag) wrt.push_back(magmom);
    if (want_virial) {
      wrt.push_back(shifts);
      wrt.push_back(cell);
    }
    std::vector<at::Tensor> grads(wrt.size());
    const at::Tensor total = node_energy.sum();
    if (total.requires_grad()) {
      try {
        grads = torch::autograd::grad({total}, wrt, {}, /*retain_graph=*/false,
                                      /*create_graph=*/false, /*allow_unused=*/true);
      } catch (const c10::Error& e) {
        fail("differentiating the model failed: " + short_message(e));
      }
    }
    std::size_t k = 0;
    std::vector<Vec3> dEdr;
    if (want_force || want_virial) {
      dEdr = vec3_vector(grads[k++], g.nodes);
      if (want_force) {
        r.force.resize(g.nodes);
        for (std::size_t i = 0; i < g.nodes; ++i) r.force[i] = -dEdr[i];
      }
    }
    if (want_mag) {
      r.magnetic_force = vec3_vector(grads[k++], g.nodes);
      for (auto& b : r.magnetic_force) b = -b;
    }
    if (want_virial) {
      const std::vector<Vec3> dEds = vec3_vector(grads[k++], g.edges());
      const Mat3 dEdh = mat3_of(grads[k++]);
      // W = −∂E/∂ε (see the header): every geometric input transforms with the strain.
      r.virial = -(outer_sum(in.position, dEdr) + outer_sum(g.shift, dEds) + in.cell.transpose() * dEdh);
    }
    return checked(std::move(r));
  }
};

LearnedPotential::LearnedPotential(const LearnedOptions& options) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  keep_freed_memory_in_heap();
  m.file = options.model;
  m.species_map = options.species_map;
  if (options.mc_evaluator != "auto" && options.mc_evaluator != "torch")
    throw InputError("mc_evaluator must be \"auto\" or \"torch\", got \"" + options.mc_evaluator + "\"");
  if (options.force_evaluator != "auto" && options.force_evaluator != "torch")
    throw InputError("force_evaluator must be \"auto\" or \"torch\", got \"" + options.force_evaluator + "\"");
  if (options.dtype != "auto" && options.dtype != "float64" && options.dtype != "float32")
    throw InputError("dtype must be \"auto\", \"float64\" or \"float32\", got \"" + options.dtype + "\"");
  m.dtype = options.dtype == "float32" ? at::kFloat : at::kDouble;
  // Custom operators register themselves when their library is loaded, as
  // torch.ops.load_library does in Python; they stay loaded for the life of the process.
  for (const auto& so : options.extensions)
    if (!dlopen(so.c_str(), RTLD_NOW | RTLD_GLOBAL)) {
      const char* why = dlerror();
      throw InputError(so + ": cannot load extension library: " + (why ? why : "unknown error"));
    }

  if (!std::filesystem::exists(m.file)) m.fail("model file not found");
  auto adopt = [&m, &options](std::unique_ptr<MaceNativeEvaluator> ev) {
    m.mace = std::move(ev);
    m.mace->set_threads(options.threads);  // 0: OpenMP's count (the run's `threads`)
    m.atomic_numbers = m.mace->atomic_numbers();
    m.r_max = m.mace->r_max();
    m.interactions = m.mace->interactions();
  };
  if (is_mace_native_file(m.file)) {  // `spinlat convert` output: plain C++, float64 only
    if (m.dtype != at::kDouble) m.fail("converted MACE models evaluate in float64 only");
    adopt(std::make_unique<MaceNativeEvaluator>(m.file));
    return;
  }
  if (is_native_model_file(m.file)) {
    m.native = load_native_model(m.file);
    m.native->eval();
    const NativeModelConfig& c = m.native->config();
    m.atomic_numbers = c.atomic_numbers;
    m.r_max = c.r_max;
    m.interactions = c.interactions;
    if (!options.head.empty()) m.fail("head = \"" + options.head + "\" given, but a native model has no heads");
    // Read the float64 weights before any conversion.
    if (m.dtype == at::kDouble && options.mc_evaluator == "auto") m.fast = std::make_unique<NativeFastEvaluator>(*m.native);
    if (m.dtype == at::kDouble && options.force_evaluator == "auto") m.full = std::make_unique<NativeFastEvaluator>(*m.native);
    if (m.dtype != at::kDouble) m.native->to(m.dtype);
    set_learned_threads(options.threads);
    return;
  }
  // An upstream magnetic MACE file in float64 runs on the plain C++ evaluator, converted on load
  // exactly as `spinlat convert` does and checked against the file (docs/learned-potential.md,
  // "Converted magnetic MACE models"): the file runs as it is, and fast.
  const bool may_convert = options.convert && options.dtype != "float32";
  std::optional<ConversionKey> key;
  if (may_convert) {
    key = conversion_key(m.file, options.head);
    std::lock_guard<std::mutex> lock(conversions_mutex);
    const auto it = conversions().find(*key);
    if (it != conversions().end() && it->second.archive) {
      adopt(std::make_unique<MaceNativeEvaluator>(*it->second.archive));
      return;
    }
  }
  try {
    m.module = torch::jit::load(m.file);
  } catch (const c10::Error& e) {
    m.fail("not a TorchScript archive (torch.jit.save): " + short_message(e));
  } catch (const std::exception& e) {
    m.fail(std::string("not a TorchScript archive (torch.jit.save): ") + e.what());
  }
  m.module.eval();
  if (!m.module.find_method("forward")) m.fail("the TorchScript module has no forward method");
  {
    std::string why;
    const auto form = classify_forward(m.module, why);
    if (!form) m.fail("not a model spinlat can call: " + why);
    m.form = *form;
  }
  if (m.module.hasattr("heads") && m.module.attr("heads").isList()) {
    // Multi-head MACE: `heads` lists the head names; node energies come from head[batch].
    std::vector<std::string> heads;
    for (const c10::IValue& h : m.module.attr("heads").toListRef())
      if (h.isString()) heads.push_back(h.toStringRef());
    if (!options.head.empty()) {
      const auto it = std::find(heads.begin(), heads.end(), options.head);
      if (it == heads.end()) {
        std::string names;
        for (const auto& h : heads) names += (names.empty() ? "\"" : ", \"") + h + "\"";
        m.fail("the model has no head \"" + options.head + "\"; its heads are " + names);
      }
      m.head = it - heads.begin();
    }
  } else if (!options.head.empty()) {
    m.fail("head = \"" + options.head + "\" given, but the model has no `heads` list");
  }
  if (!options.head.empty() && !m.form.mace)
    m.fail("head = \"" + options.head + "\" given, but only MACE's forward takes a head");
  for (const char* name : {"atomic_numbers", "r_max"})
    if (!m.module.hasattr(name) || !m.module.attr(name).isTensor())
      m.fail(std::string("the model lacks the tensor buffer '") + name + "' required by the contract");
  const at::Tensor z = m.module.attr("atomic_numbers").toTensor().to(at::kLong).contiguous().reshape({-1});
  for (std::int64_t k = 0; k < z.numel(); ++k) m.atomic_numbers.push_back(static_cast<int>(z[k].item<std::int64_t>()));
  if (m.atomic_numbers.empty()) m.fail("the model's atomic_numbers buffer is empty");
  const at::Tensor rmax = m.module.attr("r_max").toTensor();
  if (rmax.numel() != 1) m.fail("r_max must be a scalar");
  m.r_max = rmax.to(at::kDouble).item<double>();
  if (!(m.r_max > 0.0) || !std::isfinite(m.r_max)) m.fail("r_max must be a positive number of Å");
  if (m.module.hasattr("num_interactions")) {
    const c10::IValue v = m.module.attr("num_interactions");
    if (v.isTensor()) m.interactions = static_cast<int>(v.toTensor().to(at::kLong).item<std::int64_t>());
    else if (v.isInt()) m.interactions = static_cast<int>(v.toInt());
    if (m.interactions < 0) m.interactions = 0;
  }
  // Read r_max before converting: the conversion turns every floating buffer to dtype.
  const at::ScalarType own = model_dtype(m.module);
  if (options.dtype == "auto") m.dtype = own == at::kFloat ? at::kFloat : at::kDouble;
  if (m.dtype != own) m.module.to(m.dtype);
  if (key && m.form.mace && m.dtype == at::kDouble && is_magnetic_mace_module(m.module)) {
    std::lock_guard<std::mutex> lock(conversions_mutex);
    auto [it, fresh] = conversions().try_emplace(*key);
    if (fresh) it->second.archive = convert_on_load(m.module, m.file);
    if (it->second.archive) {
      adopt(std::make_unique<MaceNativeEvaluator>(*it->second.archive));
      m.module = torch::jit::Module();  // the evaluator holds its own copy of the weights
      return;
    }
  }
  set_learned_threads(options.threads);
}

LearnedPotential::~LearnedPotential() = default;

double LearnedPotential::cutoff() const { return impl_->r_max; }
const std::vector<int>& LearnedPotential::atomic_numbers() const { return impl_->atomic_numbers; }
int LearnedPotential::interactions() const { return impl_->interactions; }
const std::string& LearnedPotential::model_file() const { return impl_->file; }

const std::string& LearnedPotential::forward_form() const {
  static const std::string native = "native", contract = "contract", mace = "mace", converted = "converted";
  return impl_->mace ? converted : impl_->native ? native : impl_->form.mace ? mace : contract;
}

void keep_freed_memory_in_heap() {
#ifdef __GLIBC__
  // LibTorch allocates and frees its large intermediate tensors in every evaluation. glibc
  // serves blocks above its mmap threshold (dynamic, from 128 kB) by mmap and returns them on
  // free, and trims the top of the heap beyond the trim threshold: each evaluation then faults
  // its memory in again, page by page. Measured (fixture `mmace_fe_co_soc.pt` through the
  // TorchScript path, 432 atoms, one thread, idle machine): 361-450 atom-evaluations/s as
  // glibc defaults, 542-574 with both thresholds raised (either one alone: 363 and 183). The
  // memory stays with the process for the next evaluation; its peak is unchanged.
  static const bool done = [] {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest on 64-bit (HEAP_MAX_SIZE / 2)
    mallopt(M_TRIM_THRESHOLD, INT_MAX);
    return true;
  }();
  (void)done;
#endif
}

void set_learned_threads(int n) {
  if (n <= 0) return;
  at::set_num_threads(n);
  // The BLAS LibTorch calls is whatever libblas.so.3 points to (Debian's alternatives); its
  // thread-count setter, where it has one, is found by name.
  for (const char* name : {"openblas_set_num_threads", "MKL_Set_Num_Threads"})
    if (void* f = dlsym(RTLD_DEFAULT, name)) reinterpret_cast<void (*)(int)>(f)(n);
}

std::vector<int> LearnedPotential::species_columns(const System& s) const {
  const Impl& m = *impl_;
  std::set<int> used(s.species.begin(), s.species.end());
  std::vector<int> cols(s.species_name.size(), -1);
  for (std::size_t sp = 0; sp < s.species_name.size(); ++sp) {
    const std::string& name = s.species_name[sp];
    const auto mapped = m.species_map.find(name);
    const int z = mapped != m.species_map.end() ? mapped->second : atomic_number(name);
    for (std::size_t c = 0; c < m.atomic_numbers.size(); ++c)
      if (m.atomic_numbers[c] == z && z > 0) cols[sp] = static_cast<int>(c);
    if (cols[sp] >= 0 || !used.count(static_cast<int>(sp))) continue;
    std::string covered;
    for (int zz : m.atomic_numbers)
      covered += (covered.empty() ? "" : ", ") + (element_symbol(zz).empty() ? std::to_string(zz) : element_symbol(zz));
    if (z == 0)
      m.fail("species '" + name + "' is not an element symbol: map it with species_map = { " + name +
             " = \"Fe\" } (the model covers " + covered + ")");
    m.fail("the model does not cover species '" + name + "' (Z = " + std::to_string(z) +
           "); it covers " + covered);
  }
  return cols;
}

void LearnedPotential::bind(const System& s, const NeighborList& list) {
  Impl& m = *impl_;
  m.cache = Impl::TrialCache();
  m.fast_geometry = false;
  m.fast_pending = 0;
  m.columns = species_columns(s);
  m.graph = build_graph(s, list, m.r_max);
  m.bound_position = s.position;
  m.bound_cell = s.cell.h;
  if (!m.validated) {
    // Check the model's outputs once, on the structure it will run on, so that a model that
    // breaks the contract fails at set-up (and in `spinlat validate`) with a clear message.
    LearnedResult r;
    try {
      r = m.run(m.graph, m.inputs_of(s), false, false, false);
    } catch (const NumericalError& e) {
      throw InputError(std::string(e.what()) + " for the input structure");
    }
    // MACE returns its total energy too; spinlat sums node_energy, so the two must agree
    // (a model whose node energies left out E0 would be off by Σ E0).
    const double tol = (m.dtype == at::kFloat ? 1e-5 : 1e-10) * (1.0 + std::abs(r.energy));
    if (std::isfinite(m.model_energy) && !m.native && std::abs(r.energy - m.model_energy) > tol) {
      std::ostringstream msg;
      msg.precision(12);
      msg << "the model's node_energy sums to " << r.energy << " eV but its energy output is "
          << m.model_energy << " eV; spinlat needs node energies that include every term (E0 too)";
      m.fail(msg.str());
    }
    m.validated = true;
  }
}

LearnedResult LearnedPotential::evaluate(const System& s, const Graph& g, bool forces,
                                         bool magnetic_forces, bool virial) const {
  if (g.nodes != s.size()) throw std::logic_error("LearnedPotential::evaluate: graph and system differ");
  return impl_->run(g, impl_->inputs_of(s), forces, magnetic_forces, virial);
}

double LearnedPotential::compute(const System& s, const NeighborList& list, Derivatives& d) const {
  const Graph& g = impl_->graph_for(s, list);
  if ((impl_->fast || impl_->mace) && !d.force && !d.magnetic_force && !d.virial) {
    // Σ in node order, as for the LibTorch path.
    double e = 0.0;
    for (double x : impl_->fast_node_energies(s, g)) e += x;
    return e;
  }
  const LearnedResult r = evaluate(s, g, d.force != nullptr, d.magnetic_force != nullptr, d.virial != nullptr);
  if (d.force)
    for (std::size_t i = 0; i < s.size(); ++i) (*d.force)[i] += r.force[i];
  if (d.magnetic_force)
    for (std::size_t i = 0; i < s.size(); ++i) (*d.magnetic_force)[i] += r.magnetic_force[i];
  if (d.virial) *d.virial += r.virial;
  return r.energy;
}

void LearnedPotential::add_site_energies(const System& s, const NeighborList& list,
                                         std::vector<double>& e) const {
  const Graph& g = impl_->graph_for(s, list);
  if (impl_->fast || impl_->mace) {
    const std::vector<double>& ne = impl_->fast_node_energies(s, g);
    for (std::size_t i = 0; i < s.size(); ++i) e[i] += ne[i];
    return;
  }
  const LearnedResult r = evaluate(s, g, false, false, false);
  for (std::size_t i = 0; i < s.size(); ++i) e[i] += r.node_energy[i];
}

double LearnedPotential::local_energy_change(const System& s, const NeighborList& list, int i,
                                             const Vec3& spin_new, double moment_new) const {
  const Impl& m = *impl_;
  if (m.interactions > 0) {
    std::vector<double> de;
    local_energy_changes(s, list, {i}, {spin_new}, {moment_new}, de);
    return de[0];
  }
  // A model without num_interactions: the state before and after the move, both evaluated
  // on the whole graph.
  const Graph& g = m.graph_for(s, list);
  NodeInputs in = m.inputs_of(s);
  const LearnedResult before = m.run(g, in, false, false, false);
  in.magmom[i] = moment_new * spin_new;
  const LearnedResult after = m.run(g, in, false, false, false);
  double de = 0.0;
  for (std::size_t a = 0; a < g.nodes; ++a) de += after.node_energy[a] - before.node_energy[a];
  return de;
}

void LearnedPotential::local_energy_changes(const System& s, const NeighborList& list, const std::vector<int>& sites,
                                            const std::vector<Vec3>& spins, const std::vector<double>& moments,
                                            std::vector<double>& de) const {
  const Impl& m = *impl_;
  const int L = m.interactions;
  de.assign(sites.size(), 0.0);
  if (L <= 0) {
    for (std::size_t k = 0; k < sites.size(); ++k) de[k] = local_energy_change(s, list, sites[k], spins[k], moments[k]);
    return;
  }
  const Graph& g = m.graph_for(s, list);  // rebuilt (and the cache dropped) if atoms moved
  if (m.fast || m.mace) {
    m.fast_energy_changes(s, g, sites, spins, moments, de);
    return;
  }
  // Node energies within L hops of a site are the only ones its move changes; evaluating them
  // exactly needs the nodes within 2L hops (graph.hpp). The sites are more than 2L hops apart
  // (trial_range()), so their L-hop balls are disjoint and one evaluation with every trial
  // moment in place gives each trial's node energies after the move.
  const MultiSubgraph ms = extract_subgraph(g, sites, 2 * L);
  const Subgraph& sub = ms.sub;
  NodeInputs in;
  in.cell = s.cell.h;
  for (int v : sub.node) {
    in.position.push_back(s.position[v]);
    in.magmom.push_back(s.moment_vector(v));
    in.column.push_back(m.columns.at(s.species[v]));
  }

  // The energies before the move come from the cache (the last call's trials the sampler
  // took are in it; accept_trials).
  Impl::TrialCache& c = m.cache;
  c.pending.clear();
  bool fresh = c.valid;
  for (std::size_t a = 0; fresh && a < sub.node.size(); ++a) fresh = c.m[sub.node[a]] == in.magmom[a];
  if (!fresh) {  // first trial, or moments changed behind the cache's back (dynamics)
    c.e = m.run(g, m.inputs_of(s), false, false, false).node_energy;
    c.m.resize(s.size());
    for (std::size_t v = 0; v < s.size(); ++v) c.m[v] = s.moment_vector(v);
    c.valid = true;
    ++m.rebuilds;
  }

  std::vector<int> local(sites.size(), -1);
  for (std::size_t a = 0; a < sub.node.size(); ++a)
    if (sub.hops[a] == 0) local[ms.owner[a]] = static_cast<int>(a);
  c.pending.resize(sites.size());
  for (std::size_t k = 0; k < sites.size(); ++k) {
    c.pending[k].site = sites[k];
    c.pending[k].moment = moments[k] * spins[k];
    in.magmom[local[k]] = c.pending[k].moment;
  }
  for (std::size_t a = 0; a < sub.node.size(); ++a)
    if (sub.hops[a] <= L) in.targets.push_back(static_cast<std::int64_t>(a));
  const LearnedResult after = m.run(sub.graph, in, false, false, false);
  for (std::size_t a = 0; a < sub.node.size(); ++a) {
    if (sub.hops[a] > L) continue;
    const int k = ms.owner[a];
    de[k] += after.node_energy[a] - c.e[sub.node[a]];
    c.pending[k].nodes.push_back(sub.node[a]);
    c.pending[k].energy.push_back(after.node_energy[a]);
  }
}

void LearnedPotential::accept_trials(const std::vector<char>& accepted) const {
  const Impl& m = *impl_;
  if (m.mace) m.fast_accept(*m.mace, m.mace_trial, accepted);
  else if (m.fast) m.fast_accept(*m.fast, m.fast_trial, accepted);
  Impl::TrialCache& c = m.cache;
  if (c.valid)
    for (std::size_t k = 0; k < std::min(c.pending.size(), accepted.size()); ++k)
      if (accepted[k]) {
        const Impl::Trial& t = c.pending[k];
        for (std::size_t a = 0; a < t.nodes.size(); ++a) c.e[t.nodes[a]] = t.energy[a];
        c.m[t.site] = t.moment;
      }
  c.pending.clear();
}

std::size_t LearnedPotential::cache_rebuilds() const { return impl_->rebuilds; }

double LearnedPotential::trial_range() const {
  // Two sites more than 2L·r_max apart are more than 2L hops apart in the graph.
  return impl_->interactions > 0 ? 2.0 * impl_->interactions * impl_->r_max
                                 : std::numeric_limits<double>::infinity();
}

bool LearnedPotential::batches_trials() const { return impl_->interactions > 0; }

bool LearnedPotential::fast_trials() const { return impl_->fast != nullptr || impl_->mace != nullptr; }

bool LearnedPotential::fast_forces() const { return impl_->full != nullptr || impl_->mace != nullptr; }

TermPtr make_learned(Params& p, const TermContext& ctx) {
  LearnedOptions o;
  o.model = resolve_input_path(ctx.input_dir, p.string("model"));
  o.dtype = p.choice("dtype", {"auto", "float64", "float32"}, "auto");
  if (p.has("head")) o.head = p.string("head");
  o.mc_evaluator = p.choice("mc_evaluator", {"auto", "torch"}, "auto");
  o.force_evaluator = p.choice("force_evaluator", {"auto", "torch"}, "auto");
  o.convert = p.boolean("convert", true);
  if (p.has("extensions"))
    for (const auto& so : p.strings("extensions")) o.extensions.push_back(resolve_input_path(ctx.input_dir, so));
  if (p.has("species_map")) {
    Params map = p.table("species_map");
    for (const auto& [k, v] : map.table()) {
      const std::string name(k.str());
      int z = 0;
      if (v.is_string()) {
        const std::string sym = map.string(name);
        z = atomic_number(sym);
        map.require(z > 0, name, "expected an element symbol (e.g. \"Fe\"), got \"" + sym + "\"");
      } else {
        const long long zz = map.integer(name);
        map.require(zz >= 1 && zz <= 118, name, "expected an atomic number 1..118 or an element symbol");
        z = static_cast<int>(zz);
      }
      o.species_map[name] = z;
    }
    map.finish();
  }
  o.threads = ctx.threads;
  std::unique_ptr<LearnedPotential> t;
  try {
    t = std::make_unique<LearnedPotential>(o);
    if (ctx.system) t->species_columns(*ctx.system);  // a missing species fails here, at input time
  } catch (const InputError& e) {
    p.fail("model", e.what());
  }
  return t;
}

void add_learned_terms(TermRegistry& registry) { registry.add("learned", make_learned); }

}  // namespace spinlat
