#pragma once
// Training spinlat's native magnetic potential (spinlat/learned/native_model.hpp) on energies,
// forces and magnetic forces: `spinlat train CONFIG.toml` (docs/training.md).
//
// Loss (magnetic MACE's weighted MSE; van der Oord et al. 2026, after MACE, Batatia et al.
// NeurIPS 2022):
//   L = w_E ⟨((E − E_ref)/N)²⟩_frames + w_F ⟨(F_ia − F_ref,ia)²⟩ + w_M ⟨(B_ia − B_ref,ia)²⟩
// with F = −∂E/∂r and B = −∂E/∂m by automatic differentiation (create_graph, so the loss can
// be differentiated again with respect to the weights), B averaged over magnetic atoms only
// (|m| > 0: a non-magnetic atom has no moment to differentiate by). Optimiser: Adam (Kingma &
// Ba, ICLR 2015) with ReduceLROnPlateau on the validation loss and early stopping.
//
// Every random choice (split, subset, per-epoch shuffle, initial weights through
// torch::manual_seed) derives from `seed`, so a seed fixes the result, whatever `threads` is.
// The pieces are functions so tests and learning-curve scripts can call them.
//
// This header includes LibTorch; the command line uses spinlat/learned/tools/train_command.hpp.
#include <torch/torch.h>

#include <atomic>
#include <iosfwd>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "spinlat/learned/tools/dataset.hpp"
#include "spinlat/learned/native_model.hpp"

namespace spinlat {

struct LossWeights {
  double energy = 1.0;      ///< per (eV/atom)²
  double forces = 10.0;     ///< per (eV/Å)²
  double magforces = 100.0; ///< per (eV/μB)² (magnetic MACE's default)
};

/// Everything a training config holds (docs/training.md); paths already resolved against the
/// config's directory.
struct TrainOptions {
  std::string file;          ///< the config (for messages)
  std::uint64_t seed = 1;
  /// Threads that evaluate validation/training batches side by side (one batch each, sums
  /// reduced in batch order, so the result does not depend on it). Every tensor operation runs
  /// on one thread: at this model size OpenMP fork-join per operation costs more than it saves,
  /// and on a loaded machine spin-waiting made threads = 2 17x slower (docs/training.md).
  int threads = 0;           ///< 0 = 1
  std::vector<std::string> overrides;  ///< the --set assignments (repeated in the resume command)
  /// Set (e.g. from SIGINT/SIGTERM) to stop after the current epoch with a checkpoint.
  const std::atomic<bool>* stop = nullptr;

  NativeModelConfig model;
  bool elements_given = false;       ///< [model] named the elements (else: the training data's)
  bool m_max_given = false;          ///< else 1.2 × the largest |m| of each element in the data
  bool fit_e0 = true;                ///< e0 = "fit" (least squares on the training energies)
  std::map<std::string, int> model_keys;  ///< [model] keys given → line (checked against `init`)

  std::vector<std::string> train, valid;  ///< extended XYZ files or deepmd directories
  double valid_fraction = 0.1;
  std::size_t max_frames = 0;             ///< 0 = all
  LabelKeys keys;

  int epochs = 200;
  int batch_size = 4;
  double lr = 5e-3, lr_factor = 0.5;
  int lr_patience = 10;
  int patience = 30;
  LossWeights weights;
  std::string init;                  ///< native model to fine-tune ("" = fresh)
  std::vector<std::string> freeze;   ///< NativeModelImpl::parts() kept fixed
  std::string output = "model.spl";
  std::string checkpoint = "train.ckpt";
  int checkpoint_every = 1;
  std::string log = "train.csv";
  std::string dtype = "float64";
  int print_every = 1;               ///< console line every k epochs
};

/// Reads a training config strictly (unknown keys → InputError with "did you mean");
/// `overrides` are --set KEY=VALUE assignments applied first.
TrainOptions read_train_config(const std::string& path, const std::vector<std::string>& overrides = {});
TrainOptions parse_train_config(const std::string& text, const std::string& name,
                                const std::vector<std::string>& overrides = {});

/// Several samples as one graph: nodes concatenated, edge indices offset per sample.
struct Batch {
  ModelInputs inputs;      ///< positions, magmom without grad (predict() makes leaves)
  at::Tensor graph;        ///< [N] int64: sample of each node
  at::Tensor atoms;        ///< [B] atoms per sample (dtype)
  at::Tensor energy;       ///< [B] eV
  at::Tensor forces;       ///< [N,3] (zeros where a sample has none)
  at::Tensor magforces;    ///< [N,3]
  at::Tensor force_mask;   ///< [N] 1 where the node's forces are labelled
  at::Tensor mag_mask;     ///< [N] 1 where labelled and |m| > 0
  std::int64_t graphs = 0;
};

/// The samples `index` of `samples` as one batch in `dtype`.
Batch make_batch(const std::vector<Sample>& samples, const std::vector<std::size_t>& index,
                 at::ScalarType dtype);
/// Consecutive batches of at most `batch_size` samples, in the order of `index`.
std::vector<Batch> make_batches(const std::vector<Sample>& samples, const std::vector<std::size_t>& index,
                                int batch_size, at::ScalarType dtype);

struct Prediction {
  at::Tensor energy;     ///< [B] eV
  at::Tensor forces;     ///< [N,3] −∂E/∂r
  at::Tensor magforces;  ///< [N,3] −∂E/∂m
};
/// Energies and both derivatives; `create_graph` keeps them differentiable for training.
Prediction predict(NativeModel& model, const Batch& b, bool create_graph);

/// Sums of errors over a data set (double precision), and the figures derived from them.
struct Metrics {
  double energy_abs = 0, energy_sq = 0; std::size_t energy_n = 0;   ///< per atom, eV
  double force_abs = 0, force_sq = 0; std::size_t force_n = 0;      ///< components, eV/Å
  double mag_abs = 0, mag_sq = 0; std::size_t mag_n = 0;            ///< components, eV/μB

  void add(const Prediction& p, const Batch& b);
  double energy_mae() const, energy_rmse() const;
  double force_mae() const, force_rmse() const;
  double mag_mae() const, mag_rmse() const;
  /// The weighted loss over the whole set (same definition as batch_loss).
  double loss(const LossWeights& w) const;
};

/// The weighted MSE of one batch (differentiable).
at::Tensor batch_loss(const Prediction& p, const Batch& b, const LossWeights& w);

/// Errors of `model` on a set of batches (no parameter update); `threads` > 1 evaluates
/// batches side by side and adds their sums in batch order (the same figures bit for bit).
Metrics evaluate(NativeModel& model, const std::vector<Batch>& batches, int threads = 1);

/// Errors of the trivial models, the floor a trained model must beat: energy Σ_i e0[species_i]
/// (per-element mean energies `e0`, from fit_e0 on the training set; the mean energy per atom
/// for one element), zero forces and zero magnetic forces.
Metrics baseline_metrics(const std::vector<Batch>& batches, const std::vector<double>& e0);

/// One pass over `batches` with an optimiser step per batch; returns the running errors
/// (with the parameters as they were when each batch was seen).
Metrics train_epoch(NativeModel& model, torch::optim::Optimizer& optimizer, const std::vector<Batch>& batches,
                    const LossWeights& w);

/// The whole training run, step by step: data, model, optimiser, schedule, checkpoints.
class Trainer {
 public:
  /// Loads data, builds (or loads and checks) the model, freezes parts. InputError for bad
  /// data, species, keys that change a fine-tuned model's architecture, unknown parts.
  explicit Trainer(TrainOptions options);

  NativeModel& model() { return model_; }
  const TrainOptions& options() const { return o_; }
  const std::vector<Sample>& train_samples() const { return train_; }
  const std::vector<Sample>& valid_samples() const { return valid_; }
  at::ScalarType dtype() const { return dtype_; }
  int epoch() const { return epoch_; }          ///< epochs completed
  double lr() const { return lr_; }
  double best_valid_loss() const { return best_; }
  int best_epoch() const { return best_epoch_; }
  bool finished() const { return stopped_ || epoch_ >= o_.epochs; }

  /// Runs one epoch and its validation; updates schedule, best model and early stopping.
  /// Returns the validation metrics.
  Metrics step(std::ostream* out = nullptr);
  /// Metrics of the current or the best model on the training / validation set.
  Metrics evaluate_train(bool best = false);
  Metrics evaluate_valid(bool best = false);
  /// baseline_metrics of the validation set with e0 fitted on the training set.
  const Metrics& baseline_valid() const { return baseline_valid_; }
  const std::vector<double>& baseline_e0() const { return baseline_e0_; }
  /// Copies the best-validation parameters into the model.
  void restore_best();

  /// Model, best model, Adam state, epoch, schedule (atomic write: tmp + rename).
  void save_checkpoint(const std::string& path) const;
  /// InputError when the file is not a checkpoint of this configuration.
  void load_checkpoint(const std::string& path);

  /// The checkpoint file: [train] checkpoint, or <output>.ckpt when that is "" (a stop
  /// request still leaves something to resume from).
  std::string checkpoint_path() const;

  /// Everything `spinlat train` does: epochs with log, checkpoints, the best model to
  /// `output`, the final table and summary. `restart` continues from the checkpoint.
  /// Returns 0 when finished, 3 when options().stop was set: the epoch under way completes,
  /// its checkpoint is written and one line names it and the command that resumes.
  int run(bool restart, std::ostream& out);

 private:
  void log_row(const Metrics& train, const Metrics& valid, double seconds);
  std::vector<at::Tensor> trainable() const;

  TrainOptions o_;
  at::ScalarType dtype_ = at::kDouble;
  std::vector<Sample> train_, valid_;
  std::vector<Batch> valid_batches_;
  std::vector<double> baseline_e0_;
  Metrics baseline_valid_;
  NativeModel model_{nullptr};
  std::unique_ptr<torch::optim::Adam> optimizer_;
  std::vector<at::Tensor> best_params_;
  int epoch_ = 0, best_epoch_ = 0, bad_lr_ = 0, bad_stop_ = 0;
  double lr_ = 0, best_ = 0, plateau_best_ = 0;
  bool stopped_ = false;
};

/// Writes a native model atomically (temporary file, then rename).
void save_native_model_atomic(NativeModel& model, const std::string& path);

}  // namespace spinlat
