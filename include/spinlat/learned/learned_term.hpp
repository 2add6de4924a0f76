#pragma once
// The learned magnetic potential (TOML `type = "learned"`): a TorchScript model following the
// interface of docs/learned-potential.md (modelled on MACE's LAMMPS export, with moment
// vectors added), or an upstream MACE / magnetic MACE export as it is (forward(data, training,
// compute_force, ...) -> Dict[str, Optional[Tensor]], called with every flag false), or a
// native model of `spinlat train`, evaluated on spinlat's periodic graph
// (spinlat/learned/graph.hpp).
//
//   E = Σ_i node_energy_i,  F_i = −∂E/∂r_i,  B_i = −∂E/∂m_i (eV/μB),
//   W = −[Σ_i r_i ⊗ ∂E/∂r_i + Σ_e s_e ⊗ ∂E/∂s_e + hᵀ ∂E/∂h]  (= −Σ_e r_e ⊗ ∂E/∂r_e)
// all by reverse-mode automatic differentiation (torch::autograd::grad) through the model.
// The virial is the derivative of the energy with respect to a homogeneous deformation
// (Nielsen & Martin, PRB 32, 3780 (1985)); differentiating with respect to the model's inputs
// (positions, edge shifts s_e and cell h) gives it whether the model builds its edge vectors
// from `shifts` or from `unit_shifts` and `cell`, as MACE's displacement trick does.
//
// No LibTorch types appear here: the model lives behind a pointer, so the command line and
// other code include this header without LibTorch's (slow) headers.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "spinlat/learned/graph.hpp"
#include "spinlat/terms/registry.hpp"
#include "spinlat/terms/term.hpp"

namespace spinlat {

struct LearnedOptions {
  std::string model;                        ///< TorchScript file (absolute or relative to the cwd)
  /// The evaluation precision: "auto" (the model's own: the dtype of its first floating-point
  /// parameter, float64 for native models), "float64" or "float32" (the model is converted).
  std::string dtype = "auto";
  /// Head of a multi-head MACE model (an entry of its `heads` list); empty: the first head.
  std::string head;
  std::vector<std::string> extensions;      ///< shared libraries of custom ops, dlopen'ed first
  std::map<std::string, int> species_map;   ///< structure species name → atomic number
  int threads = 0;                          ///< LibTorch intra-op threads (0 = LibTorch's default: all cores);
                                            ///< converted MACE models: their threads (0 = OpenMP's count, at most the free cores)
  /// Monte Carlo trials and energy-only evaluations of native float64 models: "auto" = the
  /// plain C++ evaluator (spinlat/learned/native_fast.hpp), "torch" = LibTorch.
  std::string mc_evaluator = "auto";
  /// Full evaluations (energy, forces, magnetic forces, virial: dynamics and `spinlat eval`)
  /// of native float64 models: "auto" = the plain C++ forward and hand-written reverse pass
  /// (NativeFastEvaluator::gradient), "torch" = LibTorch autograd, the reference path.
  std::string force_evaluator = "auto";
  /// Upstream magnetic MACE TorchScript files in float64: convert on load to the plain C++
  /// evaluator of `spinlat convert` (checked against the file; the one path for every
  /// evaluation). false: LibTorch for everything, the reference path.
  bool convert = true;
};

/// What one evaluation of the model produced (all in double precision).
struct LearnedResult {
  double energy = 0.0;              ///< eV
  std::vector<double> node_energy;  ///< eV per node
  std::vector<Vec3> force;          ///< −∂E/∂r (eV/Å), empty unless asked
  std::vector<Vec3> magnetic_force; ///< −∂E/∂m (eV/μB), empty unless asked
  Mat3 virial = Mat3::Zero();       ///< eV, zero unless asked
};

class LearnedPotential : public Term {
 public:
  /// Loads the model; throws InputError when the file is missing, is not a TorchScript
  /// archive, lacks the buffers `atomic_numbers` / `r_max` or a forward method, its forward
  /// fits neither accepted signature (the contract's forward(Dict[str, Tensor]) or MACE's
  /// forward(data, training, compute_force, ...) -> Dict[str, Optional[Tensor]]), the head is
  /// not one of the model's, or an extension cannot be loaded.
  explicit LearnedPotential(const LearnedOptions& options);
  ~LearnedPotential() override;
  LearnedPotential(const LearnedPotential&) = delete;
  LearnedPotential& operator=(const LearnedPotential&) = delete;

  std::string type() const override { return "learned"; }
  double cutoff() const override;  ///< the model's r_max (Å)
  bool depends_on_positions() const override { return true; }
  bool depends_on_moment_size() const override { return true; }

  /// Maps species and caches the graph at the bound positions. The first bind also
  /// evaluates the model once: InputError if it lacks `node_energy` or returns NaN there.
  void bind(const System& s, const NeighborList& list) override;
  double compute(const System& s, const NeighborList& list, Derivatives& d) const override;
  void add_site_energies(const System& s, const NeighborList& list, std::vector<double>& e) const override;
  /// Exact ΔE. With a `num_interactions` buffer L > 0 in the model (native models have it),
  /// only the subgraph within 2L hops of i is evaluated and ΔE sums the node energies within
  /// L hops. The energies before the move come from a cache of node energies kept in step
  /// with accepted trials (the sampler reports them through accept_trials()), so a
  /// trial costs one subgraph evaluation; the cache is rebuilt (one full evaluation) after
  /// bind() or when moments changed otherwise. Without L, the whole graph is evaluated twice.
  /// Native models in float64 (mc_evaluator "auto") run this, and energy-only compute() and
  /// add_site_energies(), on the plain C++ evaluator instead (spinlat/learned/native_fast.hpp),
  /// whose caches follow accepted trials in the same way and equal a fresh evaluation bit for bit.
  double local_energy_change(const System& s, const NeighborList& list, int i, const Vec3& spin_new,
                             double moment_new) const override;
  /// Several trials, more than trial_range() apart, in one evaluation of the union of their
  /// subgraphs (the cache above holds the energies before); the Metropolis sampler batches a
  /// colour's trials this way (mc/metropolis.hpp).
  void local_energy_changes(const System& s, const NeighborList& list, const std::vector<int>& sites,
                            const std::vector<Vec3>& spins, const std::vector<double>& moments,
                            std::vector<double>& de) const override;
  /// Commits the node energies of the last call's accepted trials to the cache above (the
  /// Monte Carlo trial protocol, Term::accept_trials).
  void accept_trials(const std::vector<char>& accepted) const override;
  /// How many times the Monte Carlo cache was rebuilt by a full evaluation (after bind(), a
  /// move of the atoms, or moments changed without a reported trial): a diagnostic for tests
  /// that a sampler reports every trial it takes.
  std::size_t cache_rebuilds() const;
  /// 2L·r_max with L the model's layers (without num_interactions: everything interacts).
  double trial_range() const override;
  bool batches_trials() const override;
  /// True when Monte Carlo trials run on the plain C++ evaluator (native model, float64,
  /// mc_evaluator = "auto"); false for the LibTorch path.
  bool fast_trials() const;
  /// True when full evaluations (forces, magnetic forces, virial) run on the plain C++
  /// evaluator (native model, float64, force_evaluator = "auto"); false for LibTorch autograd.
  bool fast_forces() const;

  /// Column of node_attrs for each species index of `s`; InputError naming the first species
  /// the model does not cover.
  std::vector<int> species_columns(const System& s) const;
  /// The model's elements, in node_attrs column order.
  const std::vector<int>& atomic_numbers() const;
  /// Message-passing layers (the model's `num_interactions` buffer), 0 if it has none.
  int interactions() const;
  /// How forward() is called: "native" (a file of `spinlat train`), "contract"
  /// (forward(Dict[str, Tensor])) or "mace" (upstream MACE / magnetic MACE, bool flags off).
  const std::string& forward_form() const;
  const std::string& model_file() const;

  /// Evaluates the model on `g` for the atoms of `s` (graph nodes = atoms) with their current
  /// positions and moments; derivatives as asked. Graph and positions must agree.
  LearnedResult evaluate(const System& s, const Graph& g, bool forces, bool magnetic_forces,
                         bool virial) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// LibTorch's intra-op threads and the BLAS library's own thread pool (OpenBLAS or MKL,
/// found at run time; LibTorch's at::set_num_threads does not reach a BLAS it was not built
/// with, and OpenBLAS's idle threads then spin on the cores a 1-thread run leaves to others).
/// n <= 0 leaves both as they are.
void set_learned_threads(int n);

/// Factory for `[[potential]] type = "learned"`: keys `model` (file, relative to the input's
/// directory), `dtype` ("auto" | "float64" | "float32"), `head` (a head of a multi-head MACE
/// model), `extensions` (list of .so files, relative to the
/// input's directory), `species_map` (table: structure species → element symbol or atomic
/// number, for species not named by their element), `mc_evaluator` ("auto" | "torch"),
/// `force_evaluator` ("auto" | "torch").
TermPtr make_learned(Params& p, const TermContext& ctx);

/// Keeps memory that LibTorch frees in the process's heap (glibc: mmap threshold 32 MB, no
/// trimming) instead of returning it to the kernel after every evaluation, which made each
/// evaluation fault its pages in again (up to 1.6x slower; learned_term.cpp). Process-wide,
/// idempotent; called when a learned potential is constructed. No effect outside glibc.
void keep_freed_memory_in_heap();

/// Registers "learned" (the lead wires this into the command line).
void add_learned_terms(TermRegistry& registry);

}  // namespace spinlat
