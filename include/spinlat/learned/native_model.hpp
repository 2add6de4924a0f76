#pragma once
// spinlat's native magnetic message-passing potential, written with LibTorch (C++), after the
// design of magnetic MACE (van der Oord, Ho, Ortner, Csányi et al., 2026; arXiv 2604.08143)
// and of MACE (Batatia et al., NeurIPS 2022). See docs/learned-potential.md for the equations.
//
// In one sentence: node features are built from species and a Chebyshev basis of |m|; each
// interaction layer sums, over the edges into a node, radial functions × spherical harmonics
// of the edge direction × neighbour features, with the neighbour's moment vector coupled in
// (solid harmonics of m through real Clebsch-Gordan coefficients with spin-orbit coupling;
// as a separate spin-space vector without it); a product basis of correlation order ≤ 3
// contracts those to invariants, and an MLP reads out a node energy.
//
// Symmetries, exact by construction (no symmetrizing wrapper):
//  - translations and permutations (edge vectors only, sums over edges);
//  - spin_orbit = true: E(R r, det(R) R m) = E(r, m) for every R in O(3) (m is an axial
//    vector: under inversion positions flip, moments do not);
//  - spin_orbit = false: additionally E(r, R' m) = E(r, m) for a separate rotation R' of
//    all moments (no anisotropy or DMI can be learned);
//  - time reversal E(r, −m) = E(r, m): every feature carries its parity under m → −m and
//    only even invariants reach the readout.
//
// This header includes LibTorch: only src/learned and the trainer include it.
#include <torch/torch.h>

#include <string>
#include <vector>

namespace spinlat {

struct NativeModelConfig {
  std::vector<int> atomic_numbers;   ///< elements, in node_attrs column order
  std::vector<double> m_max;         ///< per element: |m| scale (μB) of the moment basis; 0 = non-magnetic
  std::vector<double> e0;            ///< per element reference energy (eV); empty = zeros
  double r_max = 5.0;                ///< Å
  int radial_basis = 8;              ///< Bessel functions sin(nπr/r_max)/r
  int envelope_p = 6;                ///< exponent of the polynomial cutoff envelope
  int channels = 16;                 ///< feature channels
  int l_max = 2;                     ///< spherical harmonics of edge directions (0..3)
  int moment_l_max = 1;              ///< solid harmonics of the moment vector (spin_orbit mode; 1..3)
  int moment_basis = 4;              ///< Chebyshev polynomials T_k(x), x = 1 − 2(|m|/m_max)², k < moment_basis
  int correlation = 3;               ///< body order of the product basis (1..3)
  int interactions = 1;              ///< message-passing layers (1 or 2)
  bool spin_orbit = false;           ///< true: joint rotations only; false: spin rotations separately too
  std::vector<int> readout_hidden = {16};  ///< hidden widths of the node-energy MLP (SiLU)
  bool one_body = true;              ///< per-element polynomial in |m| added to the node energy
  double avg_neighbors = 10.0;       ///< edge sums are divided by this (set it from the training data)
};

class Params;
/// Reads a `[model]` table (every field above by its name; `elements = ["Fe", "O"]` may stand
/// for atomic_numbers). Strict: unknown keys are an InputError with file:line.
NativeModelConfig parse_native_model_config(Params& p);
/// Reads the architecture keys of a `[model]` table (r_max … avg_neighbors, not the
/// per-element lists) into `c`; absent keys keep c's values. Range errors name the key.
/// Shared by parse_native_model_config and `spinlat train`.
void read_architecture(Params& p, NativeModelConfig& c);
/// The configuration as a TOML table body (the inverse of parse_native_model_config).
std::string to_toml(const NativeModelConfig& c);

/// One batched evaluation: several graphs concatenated (node indices offset per graph).
/// Edge convention as spinlat/learned/graph.hpp: vector_e = pos[receiver] − pos[sender] + shift_e.
struct ModelInputs {
  at::Tensor positions;  ///< [N,3] Å (may require grad)
  at::Tensor magmom;     ///< [N,3] μB (may require grad)
  at::Tensor species;    ///< [N] int64: column of atomic_numbers
  at::Tensor sender;     ///< [E] int64
  at::Tensor receiver;   ///< [E] int64
  at::Tensor shifts;     ///< [E,3] Å (may require grad, for the virial)
  /// Optional [T] int64: the nodes whose energies the caller needs. The last layer's product
  /// basis and readout then run on those only (Monte Carlo trials need a few nodes of a
  /// subgraph); the other entries of node_energy() are not those nodes' energies.
  at::Tensor targets;
};

/// The fixed structure of one interaction layer, as node_energy() uses it (read by the
/// TorchScript export, spinlat/learned/tools/export.hpp, so that both follow one enumeration).
struct NativeLayerStructure {
  struct Block {
    int l = 0, parity = 1, time = 1, spin = 0;  ///< labels (docs/learned-potential.md)
    bool own = false;                           ///< the receiver's own moment (no channels)
    int own_l = 0;                              ///< own block: l' of the solid harmonic (0: the spin vector)
  };
  struct EdgePath {
    int l = 0;         ///< degree of Y_l(r̂)
    int moment_l = 0;  ///< 0: Y_l alone; > 0: [Y_l ⊗ Y_l'(m_s)]_L by CG; −1: Y_l ⊗ m_s (spin vector)
    int L = 0;         ///< degree of the result
    int block = 0;     ///< the block it adds to
  };
  std::vector<Block> block;
  std::vector<EdgePath> edge_path;           ///< in the order of the radial network's outputs
  std::vector<std::vector<int>> product;     ///< factors (block indices) of each invariant, in mix order
};

class NativeModelImpl : public torch::nn::Module {
 public:
  explicit NativeModelImpl(NativeModelConfig config);

  /// Node energies [N] in eV, differentiable in positions, magmom and shifts (twice, for
  /// force training). Runs in the dtype of the parameters.
  at::Tensor node_energy(const ModelInputs& in);

  const NativeModelConfig& config() const { return config_; }

  /// Parameters by part, for fine-tuning with frozen parts: "embedding" (species and |m|
  /// node features), "interaction" (radial networks and linear mixings of every layer),
  /// "product" (product-basis weights), "readout" (node-energy MLP), "one_body" (the |m|
  /// polynomial and e0). InputError for another name.
  std::vector<at::Tensor> parameters_of(const std::string& part);
  static const std::vector<std::string>& parts();

  /// Sets the per-element reference energies (eV; the trainer fits them).
  void set_e0(const std::vector<double>& e0);
  /// Number of invariants of each layer's product basis (for reports and tests).
  std::vector<int> product_sizes() const;
  /// Blocks, edge paths and product paths of every layer.
  std::vector<NativeLayerStructure> structure() const;

  struct Layer;  ///< one interaction layer (defined in native_model.cpp)

 private:
  NativeModelConfig config_;
  std::vector<std::shared_ptr<Layer>> layers_;
  // (members defined in native_model.cpp)
  torch::nn::Linear embed_{nullptr};
  torch::nn::Sequential readout_{nullptr};
  at::Tensor one_body_;  ///< [S, moment_basis]
  at::Tensor e0_;        ///< [S]
};
TORCH_MODULE(NativeModel);

/// Validates a configuration (sizes, ranges); InputError naming the first bad field.
void check_config(const NativeModelConfig& c);

/// Saves parameters and configuration in one file (a torch::serialize archive with the key
/// "spinlat_native_model"). Parameters are saved in float64.
void save_native_model(NativeModel& model, const std::string& path);
/// Loads a file written by save_native_model; InputError when it is not one.
NativeModel load_native_model(const std::string& path);
/// True when `path` is a file written by save_native_model (not a TorchScript archive).
bool is_native_model_file(const std::string& path);

}  // namespace spinlat
