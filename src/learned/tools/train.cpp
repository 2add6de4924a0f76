// `spinlat train`: fitting the native magnetic potential (spinlat/learned/tools/train.hpp).
#include "spinlat/learned/tools/train.hpp"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <torch/csrc/autograd/autograd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <limits>
#include <set>
#include <sstream>
#include <thread>

#include "spinlat/core/crystal.hpp"
#include "spinlat/core/error.hpp"
#include "spinlat/io/toml_overrides.hpp"  // apply_override (--set)
#include "spinlat/io/params.hpp"
#include "spinlat/io/paths.hpp"
#include "spinlat/learned/tools/train_command.hpp"

namespace spinlat {
namespace {

namespace fs = std::filesystem;

// Stream indices of the `training` purpose (index 0 is the train/valid split).
constexpr std::uint64_t kSubsetStream = 1;
constexpr std::uint64_t kEpochStream = 1000;  // + epoch number

const std::vector<std::string> kModelKeys = {
    "elements", "atomic_numbers", "m_max", "e0", "r_max", "radial_basis", "envelope_p", "channels",
    "l_max", "moment_l_max", "moment_basis", "correlation", "interactions", "spin_orbit",
    "readout_hidden", "one_body", "avg_neighbors"};

int to_int(Params& p, const std::string& key, int fallback, int lo, int hi) {
  const long long v = p.integer(key, fallback);
  p.require(v >= lo && v <= hi, key,
            "must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + std::to_string(v));
  return static_cast<int>(v);
}

void read_model(Params& m, TrainOptions& o) {
  NativeModelConfig& c = o.model;
  for (const auto& k : kModelKeys)
    if (m.has(k)) o.model_keys[k] = m.line(k);
  if (m.has("elements") && m.has("atomic_numbers"))
    m.fail("atomic_numbers", "give either elements (symbols) or atomic_numbers, not both");
  if (m.has("elements")) {
    for (const auto& sym : m.strings("elements")) {
      const int z = atomic_number(sym);
      m.require(z > 0, "elements", "'" + sym + "' is not an element symbol");
      c.atomic_numbers.push_back(z);
    }
  } else if (m.has("atomic_numbers")) {
    for (long long z : m.integers("atomic_numbers")) {
      m.require(z >= 1 && z <= 118, "atomic_numbers", "must be atomic numbers 1..118, got " + std::to_string(z));
      c.atomic_numbers.push_back(static_cast<int>(z));
    }
  }
  o.elements_given = !c.atomic_numbers.empty();
  std::set<int> seen(c.atomic_numbers.begin(), c.atomic_numbers.end());
  m.require(seen.size() == c.atomic_numbers.size(), m.has("elements") ? "elements" : "atomic_numbers",
            "lists an element twice");
  if (m.has("m_max")) {
    m.require(o.elements_given, "m_max", "needs [model] elements (m_max is one value per element)");
    c.m_max = m.reals("m_max");
    m.require(c.m_max.size() == c.atomic_numbers.size(), "m_max",
              "needs one value per element (" + std::to_string(c.atomic_numbers.size()) + "), got " +
                  std::to_string(c.m_max.size()));
    for (double v : c.m_max) m.require(v >= 0.0 && std::isfinite(v), "m_max", "must be >= 0 (μB; 0 = non-magnetic)");
    o.m_max_given = true;
  }
  if (m.has("e0")) {
    if (m.table().get("e0")->is_string()) {
      m.choice("e0", {"fit"});
      o.fit_e0 = true;
    } else {
      m.require(o.elements_given, "e0", "needs [model] elements (e0 is one value per element)");
      c.e0 = m.reals("e0");
      m.require(c.e0.size() == c.atomic_numbers.size(), "e0",
                "needs one value (eV) per element (" + std::to_string(c.atomic_numbers.size()) + ") or \"fit\"");
      o.fit_e0 = false;
    }
  }
  // Edge sums are divided by avg_neighbors; without the key it stays 0 here and becomes the
  // training graphs' mean in-degree (as MACE's avg_num_neighbors) once the data are read.
  read_architecture(m, c);
  m.finish(kModelKeys);
}

// True when key `k` of [model] has the same value in both configurations.
bool same_model_value(const std::string& k, const NativeModelConfig& a, const NativeModelConfig& b) {
  if (k == "elements" || k == "atomic_numbers") return a.atomic_numbers == b.atomic_numbers;
  if (k == "m_max") return a.m_max == b.m_max;
  if (k == "e0") return true;  // not architecture: a fine-tuned model's e0 may be refitted or set
  if (k == "r_max") return a.r_max == b.r_max;
  if (k == "radial_basis") return a.radial_basis == b.radial_basis;
  if (k == "envelope_p") return a.envelope_p == b.envelope_p;
  if (k == "channels") return a.channels == b.channels;
  if (k == "l_max") return a.l_max == b.l_max;
  if (k == "moment_l_max") return a.moment_l_max == b.moment_l_max;
  if (k == "moment_basis") return a.moment_basis == b.moment_basis;
  if (k == "correlation") return a.correlation == b.correlation;
  if (k == "interactions") return a.interactions == b.interactions;
  if (k == "spin_orbit") return a.spin_orbit == b.spin_orbit;
  if (k == "readout_hidden") return a.readout_hidden == b.readout_hidden;
  if (k == "one_body") return a.one_body == b.one_body;
  if (k == "avg_neighbors") return a.avg_neighbors == b.avg_neighbors;
  return true;
}

double sum_of(const at::Tensor& t) { return t.detach().to(at::kDouble).sum().item<double>(); }

void write_atomically(const std::string& path, const std::function<void(const std::string&)>& write) {
  const std::string tmp = path + ".tmp";
  write(tmp);
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw InputError(path + ": cannot write (" + ec.message() + ")");
}

// Every tensor operation on the calling thread, BLAS included (TrainOptions::threads says why).
// LibTorch built without MKL (Debian's) calls the system BLAS; OpenBLAS's pthreads build keeps
// its own pool, which at::set_num_threads does not govern and whose workers busy-wait between
// calls: with two threads evaluating batches it doubled the CPU time of an epoch on a loaded
// machine. Looked up at run time: the BLAS behind LibTorch may be another one.
void single_threaded_tensor_ops() {
  at::set_num_threads(1);
  using SetThreads = void (*)(int);
  if (auto f = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) f(1);
}

std::string fmt(double v, int precision = 3) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(precision) << v;
  return os.str();
}

}  // namespace

// ---- configuration ----------------------------------------------------------------------

TrainOptions parse_train_config(const std::string& text, const std::string& name,
                                const std::vector<std::string>& overrides) {
  toml::table doc = parse_toml_with_overrides(text, name, overrides);
  TrainOptions o;
  o.model.avg_neighbors = 0.0;  // from the training data unless [model] avg_neighbors is given
  o.file = name;
  const std::string dir = input_directory(name);
  Params top(doc, name, "");
  const long long seed = top.integer("seed", 1);
  top.require(seed >= 0, "seed", "must be a non-negative integer");
  o.seed = static_cast<std::uint64_t>(seed);
  o.threads = to_int(top, "threads", 0, 0, 4096);
  o.overrides = overrides;

  if (top.has("model")) {
    Params m = top.table("model");
    read_model(m, o);
  }

  Params d = top.table("data");
  for (const auto& p : d.strings("train")) o.train.push_back(resolve_input_path(dir, p));
  d.require(!o.train.empty(), "train", "needs at least one extended XYZ file or deepmd directory");
  if (d.has("valid"))
    for (const auto& p : d.strings("valid")) o.valid.push_back(resolve_input_path(dir, p));
  o.valid_fraction = d.real("valid_fraction", o.valid_fraction);
  d.require(o.valid_fraction > 0.0 && o.valid_fraction < 1.0, "valid_fraction", "must be in (0, 1)");
  const long long mf = d.integer("max_frames", 0);
  d.require(mf >= 0, "max_frames", "must be >= 0 (0 = all)");
  o.max_frames = static_cast<std::size_t>(mf);
  o.keys.energy = d.string("energy_key", o.keys.energy);
  o.keys.forces = d.string("forces_key", o.keys.forces);
  o.keys.magforces = d.string("magforces_key", o.keys.magforces);
  d.finish({"train", "valid", "valid_fraction", "max_frames", "energy_key", "forces_key", "magforces_key"});

  if (top.has("train")) {
    Params t = top.table("train");
    o.epochs = to_int(t, "epochs", o.epochs, 1, 100000000);
    o.batch_size = to_int(t, "batch_size", o.batch_size, 1, 1000000);
    o.lr = t.real("lr", o.lr);
    t.require(o.lr > 0.0 && std::isfinite(o.lr), "lr", "must be > 0");
    o.lr_factor = t.real("lr_factor", o.lr_factor);
    t.require(o.lr_factor > 0.0 && o.lr_factor <= 1.0, "lr_factor", "must be in (0, 1]");
    o.lr_patience = to_int(t, "lr_patience", o.lr_patience, 0, 100000000);
    o.patience = to_int(t, "patience", o.patience, 1, 100000000);
    if (t.has("weights")) {
      Params w = t.table("weights");
      o.weights.energy = w.real("energy", o.weights.energy);
      o.weights.forces = w.real("forces", o.weights.forces);
      o.weights.magforces = w.real("magforces", o.weights.magforces);
      for (const char* k : {"energy", "forces", "magforces"}) {
        const double v = k[0] == 'e' ? o.weights.energy : k[0] == 'f' ? o.weights.forces : o.weights.magforces;
        w.require(v >= 0.0 && std::isfinite(v), k, "must be >= 0");
      }
      w.require(o.weights.energy + o.weights.forces + o.weights.magforces > 0.0, "energy",
                "at least one weight must be > 0");
      w.finish({"energy", "forces", "magforces"});
    }
    if (t.has("init")) o.init = resolve_input_path(dir, t.string("init"));
    if (t.has("freeze")) {
      o.freeze = t.strings("freeze");
      for (const auto& part : o.freeze) {
        const auto& parts = NativeModelImpl::parts();
        if (std::find(parts.begin(), parts.end(), part) == parts.end()) {
          std::string all;
          for (const auto& q : parts) all += (all.empty() ? "" : ", ") + q;
          const std::string guess = closest_match(part, parts);
          t.fail("freeze", "unknown part '" + part + "' (parts: " + all + ")" +
                               (guess.empty() ? "" : "; did you mean '" + guess + "'?"));
        }
      }
    }
    o.output = resolve_input_path(dir, t.string("output", o.output));
    o.checkpoint = resolve_input_path(dir, t.string("checkpoint", o.checkpoint));
    o.checkpoint_every = to_int(t, "checkpoint_every", o.checkpoint_every, 1, 100000000);
    o.log = resolve_input_path(dir, t.string("log", o.log));
    o.dtype = t.choice("dtype", {"float64", "float32"}, o.dtype);
    o.print_every = to_int(t, "print_every", o.print_every, 1, 100000000);
    t.finish({"epochs", "batch_size", "lr", "lr_factor", "lr_patience", "patience", "weights", "init", "freeze",
              "output", "checkpoint", "checkpoint_every", "log", "dtype", "print_every"});
  } else {
    o.output = resolve_input_path(dir, o.output);
    o.checkpoint = resolve_input_path(dir, o.checkpoint);
    o.log = resolve_input_path(dir, o.log);
  }
  o.keys.need_forces = o.weights.forces > 0.0;
  o.keys.need_magforces = o.weights.magforces > 0.0;
  top.finish({"seed", "threads", "model", "data", "train"});
  return o;
}

TrainOptions read_train_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot open the training config");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_train_config(ss.str(), path, overrides);
}

// ---- batches, predictions, losses -------------------------------------------------------

Batch make_batch(const std::vector<Sample>& samples, const std::vector<std::size_t>& index, at::ScalarType dtype) {
  std::size_t n = 0, ne = 0;
  for (std::size_t k : index) {
    n += samples.at(k).atoms;
    ne += samples[k].graph.edges();
  }
  const auto N = static_cast<std::int64_t>(n), E = static_cast<std::int64_t>(ne);
  const auto B = static_cast<std::int64_t>(index.size());
  at::Tensor pos = torch::empty({N, 3}, at::kDouble), mag = torch::empty({N, 3}, at::kDouble);
  at::Tensor frc = torch::zeros({N, 3}, at::kDouble), mfr = torch::zeros({N, 3}, at::kDouble);
  at::Tensor fmask = torch::zeros({N}, at::kDouble), mmask = torch::zeros({N}, at::kDouble);
  at::Tensor species = torch::empty({N}, at::kLong), graph = torch::empty({N}, at::kLong);
  at::Tensor sender = torch::empty({E}, at::kLong), receiver = torch::empty({E}, at::kLong);
  at::Tensor shifts = torch::empty({E, 3}, at::kDouble);
  at::Tensor atoms = torch::empty({B}, at::kDouble), energy = torch::empty({B}, at::kDouble);
  auto P = pos.accessor<double, 2>(), M = mag.accessor<double, 2>(), F = frc.accessor<double, 2>(),
       MF = mfr.accessor<double, 2>(), S = shifts.accessor<double, 2>();
  auto FM = fmask.accessor<double, 1>(), MM = mmask.accessor<double, 1>(), A = atoms.accessor<double, 1>(),
       EN = energy.accessor<double, 1>();
  auto SP = species.accessor<std::int64_t, 1>(), G = graph.accessor<std::int64_t, 1>(),
       SE = sender.accessor<std::int64_t, 1>(), RE = receiver.accessor<std::int64_t, 1>();
  std::int64_t node = 0, edge = 0;
  for (std::int64_t b = 0; b < B; ++b) {
    const Sample& s = samples[index[static_cast<std::size_t>(b)]];
    for (std::size_t i = 0; i < s.atoms; ++i, ++node) {
      for (int c = 0; c < 3; ++c) {
        P[node][c] = s.position[i][c];
        M[node][c] = s.magmom[i][c];
        if (!s.forces.empty()) F[node][c] = s.forces[i][c];
        if (!s.magforces.empty()) MF[node][c] = s.magforces[i][c];
      }
      FM[node] = s.forces.empty() ? 0.0 : 1.0;
      MM[node] = (!s.magforces.empty() && s.magmom[i].squaredNorm() > 0.0) ? 1.0 : 0.0;
      SP[node] = s.column[i];
      G[node] = b;
    }
    const std::int64_t first = node - static_cast<std::int64_t>(s.atoms);
    for (std::size_t e = 0; e < s.graph.edges(); ++e, ++edge) {
      SE[edge] = s.graph.sender[e] + first;
      RE[edge] = s.graph.receiver[e] + first;
      for (int c = 0; c < 3; ++c) S[edge][c] = s.graph.shift[e][c];
    }
    A[b] = static_cast<double>(s.atoms);
    EN[b] = s.energy;
  }
  Batch out;
  out.inputs.positions = pos.to(dtype);
  out.inputs.magmom = mag.to(dtype);
  out.inputs.species = species;
  out.inputs.sender = sender;
  out.inputs.receiver = receiver;
  out.inputs.shifts = shifts.to(dtype);
  out.graph = graph;
  out.atoms = atoms.to(dtype);
  out.energy = energy.to(dtype);
  out.forces = frc.to(dtype);
  out.magforces = mfr.to(dtype);
  out.force_mask = fmask.to(dtype);
  out.mag_mask = mmask.to(dtype);
  out.graphs = B;
  return out;
}

std::vector<Batch> make_batches(const std::vector<Sample>& samples, const std::vector<std::size_t>& index,
                                int batch_size, at::ScalarType dtype) {
  std::vector<Batch> out;
  for (std::size_t k = 0; k < index.size(); k += static_cast<std::size_t>(batch_size)) {
    const std::size_t end = std::min(index.size(), k + static_cast<std::size_t>(batch_size));
    out.push_back(make_batch(samples, std::vector<std::size_t>(index.begin() + static_cast<std::ptrdiff_t>(k),
                                                               index.begin() + static_cast<std::ptrdiff_t>(end)),
                             dtype));
  }
  return out;
}

Prediction predict(NativeModel& model, const Batch& b, bool create_graph) {
  ModelInputs in = b.inputs;
  in.positions = b.inputs.positions.detach().clone().requires_grad_(true);
  in.magmom = b.inputs.magmom.detach().clone().requires_grad_(true);
  const at::Tensor node = model->node_energy(in);
  Prediction p;
  p.energy = torch::zeros({b.graphs}, node.options()).index_add(0, b.graph, node);
  // −∂E/∂r and −∂E/∂m in one backward pass; create_graph keeps them differentiable in the
  // weights (the "force matching" double backward).
  auto g = torch::autograd::grad({p.energy.sum()}, {in.positions, in.magmom}, {}, /*retain_graph=*/create_graph,
                                 /*create_graph=*/create_graph, /*allow_unused=*/true);
  p.forces = g[0].defined() ? -g[0] : torch::zeros_like(in.positions);
  p.magforces = g[1].defined() ? -g[1] : torch::zeros_like(in.magmom);
  if (!create_graph) {
    p.energy = p.energy.detach();
    p.forces = p.forces.detach();
    p.magforces = p.magforces.detach();
  }
  return p;
}

at::Tensor batch_loss(const Prediction& p, const Batch& b, const LossWeights& w) {
  at::Tensor loss = torch::zeros({}, p.energy.options());
  if (w.energy > 0.0) loss = loss + w.energy * ((p.energy - b.energy) / b.atoms).pow(2).mean();
  const double nf = sum_of(b.force_mask), nm = sum_of(b.mag_mask);
  if (w.forces > 0.0 && nf > 0.0)
    loss = loss + w.forces * ((p.forces - b.forces).pow(2).sum(1) * b.force_mask).sum() / (3.0 * nf);
  if (w.magforces > 0.0 && nm > 0.0)
    loss = loss + w.magforces * ((p.magforces - b.magforces).pow(2).sum(1) * b.mag_mask).sum() / (3.0 * nm);
  return loss;
}

void Metrics::add(const Prediction& p, const Batch& b) {
  const at::Tensor de = ((p.energy.detach() - b.energy) / b.atoms).to(at::kDouble);
  energy_abs += de.abs().sum().item<double>();
  energy_sq += de.pow(2).sum().item<double>();
  energy_n += static_cast<std::size_t>(b.graphs);
  const at::Tensor fm = b.force_mask.to(at::kDouble).unsqueeze(1), mm = b.mag_mask.to(at::kDouble).unsqueeze(1);
  const at::Tensor df = (p.forces.detach() - b.forces).to(at::kDouble) * fm;
  const at::Tensor dm = (p.magforces.detach() - b.magforces).to(at::kDouble) * mm;
  force_abs += df.abs().sum().item<double>();
  force_sq += df.pow(2).sum().item<double>();
  force_n += 3 * static_cast<std::size_t>(std::llround(fm.sum().item<double>()));
  mag_abs += dm.abs().sum().item<double>();
  mag_sq += dm.pow(2).sum().item<double>();
  mag_n += 3 * static_cast<std::size_t>(std::llround(mm.sum().item<double>()));
}

namespace {
double ratio(double a, std::size_t n) { return n ? a / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN(); }
}  // namespace
double Metrics::energy_mae() const { return ratio(energy_abs, energy_n); }
double Metrics::energy_rmse() const { return std::sqrt(ratio(energy_sq, energy_n)); }
double Metrics::force_mae() const { return ratio(force_abs, force_n); }
double Metrics::force_rmse() const { return std::sqrt(ratio(force_sq, force_n)); }
double Metrics::mag_mae() const { return ratio(mag_abs, mag_n); }
double Metrics::mag_rmse() const { return std::sqrt(ratio(mag_sq, mag_n)); }
double Metrics::loss(const LossWeights& w) const {
  double l = 0.0;
  if (w.energy > 0.0 && energy_n) l += w.energy * energy_sq / static_cast<double>(energy_n);
  if (w.forces > 0.0 && force_n) l += w.forces * force_sq / static_cast<double>(force_n);
  if (w.magforces > 0.0 && mag_n) l += w.magforces * mag_sq / static_cast<double>(mag_n);
  return l;
}

namespace {
// Adds the sums of `b` to `a` (the counts and sums of one batch at a time, as Metrics::add).
void accumulate(Metrics& a, const Metrics& b) {
  a.energy_abs += b.energy_abs, a.energy_sq += b.energy_sq, a.energy_n += b.energy_n;
  a.force_abs += b.force_abs, a.force_sq += b.force_sq, a.force_n += b.force_n;
  a.mag_abs += b.mag_abs, a.mag_sq += b.mag_sq, a.mag_n += b.mag_n;
}
}  // namespace

Metrics evaluate(NativeModel& model, const std::vector<Batch>& batches, int threads) {
  // Each batch's sums start from zero, so adding them in batch order afterwards gives the
  // sequential loop's figures bit for bit, whatever the number of threads. Parallelism over
  // batches (not inside each small tensor operation) keeps every thread busy between joins.
  std::vector<Metrics> per(batches.size());
  const std::size_t T = std::min<std::size_t>(static_cast<std::size_t>(std::max(threads, 1)), batches.size());
  auto work = [&](std::size_t first) {
    for (std::size_t k = first; k < batches.size(); k += T) per[k].add(predict(model, batches[k], false), batches[k]);
  };
  if (T <= 1) {
    work(0);
  } else {
    std::vector<std::exception_ptr> errors(T);
    std::vector<std::thread> pool;
    for (std::size_t w = 0; w < T; ++w)
      pool.emplace_back([&, w] {
        try {
          at::set_num_threads(1);  // this worker's own operations stay on it
          work(w);
        } catch (...) {
          errors[w] = std::current_exception();
        }
      });
    for (auto& t : pool) t.join();
    for (auto& e : errors)
      if (e) std::rethrow_exception(e);
  }
  Metrics m;
  for (const Metrics& x : per) accumulate(m, x);
  return m;
}

Metrics baseline_metrics(const std::vector<Batch>& batches, const std::vector<double>& e0) {
  Metrics m;
  for (const Batch& b : batches) {
    const at::Tensor e = torch::tensor(e0, at::kDouble).to(b.energy.scalar_type());
    Prediction p;
    p.energy = torch::zeros({b.graphs}, b.energy.options()).index_add(0, b.graph, e.index_select(0, b.inputs.species));
    p.forces = torch::zeros_like(b.forces);
    p.magforces = torch::zeros_like(b.magforces);
    m.add(p, b);
  }
  return m;
}

Metrics train_epoch(NativeModel& model, torch::optim::Optimizer& optimizer, const std::vector<Batch>& batches,
                    const LossWeights& w) {
  Metrics m;
  model->train();
  for (const Batch& b : batches) {
    optimizer.zero_grad();
    const Prediction p = predict(model, b, true);
    const at::Tensor loss = batch_loss(p, b, w);
    if (!std::isfinite(loss.item<double>()))
      throw NumericalError("training loss is not finite (lower [train] lr, or check the labels)");
    loss.backward();
    optimizer.step();
    m.add(p, b);
  }
  return m;
}

void save_native_model_atomic(NativeModel& model, const std::string& path) {
  write_atomically(path, [&](const std::string& tmp) { save_native_model(model, tmp); });
}

// ---- the trainer --------------------------------------------------------------------------

Trainer::Trainer(TrainOptions options) : o_(std::move(options)) {
  // Tensor operations on one thread (TrainOptions::threads: batches side by side instead).
  single_threaded_tensor_ops();
  dtype_ = o_.dtype == "float32" ? at::kFloat : at::kDouble;

  // The model to fine-tune fixes the architecture, which a [model] key may not change.
  NativeModel init{nullptr};
  if (!o_.init.empty()) {
    if (!fs::exists(o_.init)) throw InputError(o_.file, "train.init", 0, "'" + o_.init + "': no such file");
    init = load_native_model(o_.init);
    const NativeModelConfig& have = init->config();
    for (const auto& [key, line] : o_.model_keys)
      if (!same_model_value(key, o_.model, have))
        throw InputError(o_.file, "model." + key, line,
                         "differs from the model being fine-tuned ('" + o_.init +
                             "'); with [train] init the architecture comes from that model: remove the key");
    const std::vector<double> e0 = o_.model.e0;
    o_.model = have;
    o_.elements_given = o_.m_max_given = true;
    // Without an e0 key the fine-tuned model keeps its own; "fit" refits on the new data.
    if (!o_.model_keys.count("e0")) o_.fit_e0 = false;
    else if (!o_.fit_e0) o_.model.e0 = e0;
  }

  // Frames of every source.
  auto frames_of = [&](const std::vector<std::string>& paths, const char* key) {
    std::vector<std::pair<std::string, std::vector<Frame>>> out;
    for (const auto& p : paths) {
      std::error_code ec;
      if (!fs::exists(p, ec)) throw InputError(o_.file, key, 0, "'" + p + "': no such file or directory");
      out.emplace_back(p, load_frames(p));
    }
    return out;
  };
  const auto train_frames = frames_of(o_.train, "data.train");
  const auto valid_frames = frames_of(o_.valid, "data.valid");

  // Elements and m_max from the training data when [model] leaves them out.
  if (!o_.elements_given || !o_.m_max_given) {
    std::map<int, double> mmax;
    for (const auto& [path, frames] : train_frames)
      for (std::size_t k = 0; k < frames.size(); ++k) {
        const System& s = frames[k].system;
        for (std::size_t i = 0; i < s.size(); ++i) {
          const int z = atomic_number(s.species_name[s.species[i]]);
          if (z == 0)
            throw InputError(path + ": frame " + std::to_string(k) + ": species '" + s.species_name[s.species[i]] +
                             "' is not an element symbol");
          mmax[z] = std::max(mmax[z], s.moment[i]);
        }
      }
    if (!o_.elements_given)
      for (const auto& [z, m] : mmax) o_.model.atomic_numbers.push_back(z);
    o_.model.m_max.clear();
    for (int z : o_.model.atomic_numbers) {
      const auto it = mmax.find(z);
      // 1.2 × the largest |m| seen: the Chebyshev variable stays inside [−1, 1] with room.
      o_.model.m_max.push_back(it == mmax.end() ? 0.0 : 1.2 * it->second);
    }
  }

  auto samples_of = [&](const std::vector<std::pair<std::string, std::vector<Frame>>>& sources) {
    std::vector<Sample> out;
    for (const auto& [path, frames] : sources) {
      auto s = make_samples(frames, path, o_.model.atomic_numbers, o_.model.r_max, o_.keys);
      out.insert(out.end(), std::make_move_iterator(s.begin()), std::make_move_iterator(s.end()));
    }
    return out;
  };
  std::vector<Sample> pool = samples_of(train_frames);
  if (pool.empty()) throw InputError(o_.file + ": [data] train: no frames");
  std::vector<std::size_t> tr, va;
  if (!o_.valid.empty()) {
    valid_ = samples_of(valid_frames);
    for (std::size_t k = 0; k < pool.size(); ++k) tr.push_back(k);
  } else {
    if (pool.size() < 2) throw InputError(o_.file + ": [data]: one training frame cannot be split; give [data] valid");
    std::tie(tr, va) = split_indices(pool.size(), o_.valid_fraction, o_.seed);
    for (std::size_t k : va) valid_.push_back(pool[k]);
  }
  if (o_.max_frames > 0 && o_.max_frames < tr.size()) {
    const auto p = shuffled_indices(tr.size(), o_.seed, kSubsetStream);
    std::vector<std::size_t> sub;
    for (std::size_t k = 0; k < o_.max_frames; ++k) sub.push_back(tr[p[k]]);
    tr = sub;
  }
  for (std::size_t k : tr) train_.push_back(std::move(pool[k]));
  if (valid_.empty()) throw InputError(o_.file + ": [data] valid: no frames");

  if (o_.fit_e0) o_.model.e0 = fit_e0(train_, o_.model.atomic_numbers.size());
  if (!(o_.model.avg_neighbors > 0.0)) {
    std::size_t edges = 0, nodes = 0;
    for (const Sample& x : train_) {
      edges += x.graph.edges();
      nodes += x.graph.nodes;
    }
    o_.model.avg_neighbors = edges > 0 ? static_cast<double>(edges) / static_cast<double>(nodes) : 1.0;
  }

  // The model: seeded initial weights, or the fine-tuned model's.
  if (init) {
    model_ = init;
    if (o_.fit_e0) {
      // Fine-tuning: fit e0 to what the initial model leaves unexplained, E_ref − (E_model −
      // Σ e0_model), so that e0 takes up the change of energy reference between the data sets
      // (teacher → DFT) and the model starts without an energy offset (MACE's fine-tuning
      // estimates E0s the same way, on the residual of the foundation model).
      model_->set_e0(std::vector<double>(o_.model.atomic_numbers.size(), 0.0));
      model_->to(dtype_);
      std::vector<std::size_t> all(train_.size());
      for (std::size_t k = 0; k < all.size(); ++k) all[k] = k;
      std::vector<Sample> residual = train_;
      std::size_t k = 0;
      torch::NoGradGuard no_grad;
      for (const Batch& b : make_batches(train_, all, o_.batch_size, dtype_)) {
        const at::Tensor node = model_->node_energy(b.inputs);
        const at::Tensor e = torch::zeros({b.graphs}, node.options()).index_add(0, b.graph, node).to(at::kDouble);
        for (std::int64_t j = 0; j < b.graphs; ++j, ++k) residual[k].energy -= e[j].item<double>();
      }
      o_.model.e0 = fit_e0(residual, o_.model.atomic_numbers.size());
    }
    if (o_.model_keys.count("e0")) model_->set_e0(o_.model.e0);
  } else {
    check_config(o_.model);
    torch::manual_seed(o_.seed);
    model_ = NativeModel(o_.model);
  }
  model_->to(dtype_);
  for (const auto& part : o_.freeze)
    for (auto& p : model_->parameters_of(part)) p.requires_grad_(false);
  const auto params = trainable();
  if (params.empty()) throw InputError(o_.file, "train.freeze", 0, "freezes every parameter: nothing to train");
  optimizer_ = std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(o_.lr));
  lr_ = o_.lr;
  best_ = plateau_best_ = std::numeric_limits<double>::infinity();
  for (const auto& p : model_->parameters()) best_params_.push_back(p.detach().clone());

  std::vector<std::size_t> all(valid_.size());
  for (std::size_t k = 0; k < all.size(); ++k) all[k] = k;
  valid_batches_ = make_batches(valid_, all, o_.batch_size, dtype_);
  baseline_e0_ = fit_e0(train_, o_.model.atomic_numbers.size());
  baseline_valid_ = baseline_metrics(valid_batches_, baseline_e0_);
}

std::vector<at::Tensor> Trainer::trainable() const {
  std::vector<at::Tensor> out;
  for (const auto& p : model_->parameters())
    if (p.requires_grad()) out.push_back(p);
  return out;
}

Metrics Trainer::step(std::ostream* out) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto order = shuffled_indices(train_.size(), o_.seed, kEpochStream + static_cast<std::uint64_t>(epoch_));
  const auto batches = make_batches(train_, order, o_.batch_size, dtype_);
  const Metrics tm = train_epoch(model_, *optimizer_, batches, o_.weights);
  const Metrics vm = evaluate(model_, valid_batches_, o_.threads);
  ++epoch_;
  const double vl = vm.loss(o_.weights);
  if (vl < best_) {
    best_ = vl;
    best_epoch_ = epoch_;
    torch::NoGradGuard g;
    const auto ps = model_->parameters();
    for (std::size_t k = 0; k < ps.size(); ++k) best_params_[k] = ps[k].detach().clone();
    bad_stop_ = 0;
  } else {
    ++bad_stop_;
  }
  // ReduceLROnPlateau, PyTorch's defaults: improvement means a relative drop of 1e-4.
  if (vl < plateau_best_ * (1.0 - 1e-4)) {
    plateau_best_ = vl;
    bad_lr_ = 0;
  } else if (++bad_lr_ > o_.lr_patience) {
    lr_ *= o_.lr_factor;
    for (auto& group : optimizer_->param_groups())
      static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr_);
    bad_lr_ = 0;
  }
  if (bad_stop_ >= o_.patience) stopped_ = true;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!o_.log.empty()) log_row(tm, vm, seconds);
  if (out && (epoch_ % o_.print_every == 0 || finished())) {
    *out << "epoch " << std::setw(5) << epoch_ << "  lr " << std::scientific << std::setprecision(2) << lr_
         << std::defaultfloat << "  loss " << std::setprecision(4) << tm.loss(o_.weights) << " / " << vl
         << "  valid MAE E " << fmt(1e3 * vm.energy_mae(), 2) << " meV/atom  F " << fmt(1e3 * vm.force_mae(), 1)
         << " meV/Å  B " << fmt(1e3 * vm.mag_mae(), 1) << " meV/μB  (" << fmt(seconds, 1) << " s)"
         << (stopped_ ? "  early stop" : "") << "\n"
         << std::flush;
  }
  return vm;
}

void Trainer::log_row(const Metrics& tm, const Metrics& vm, double seconds) {
  const bool fresh = !fs::exists(o_.log) || fs::file_size(o_.log) == 0;
  std::ofstream f(o_.log, std::ios::app);
  if (!f) throw InputError(o_.log + ": cannot write the training log");
  if (fresh)
    f << "epoch,lr,train_loss,valid_loss,"
         "train_energy_mae,train_energy_rmse,train_forces_mae,train_forces_rmse,train_magforces_mae,train_magforces_rmse,"
         "valid_energy_mae,valid_energy_rmse,valid_forces_mae,valid_forces_rmse,valid_magforces_mae,valid_magforces_rmse,"
         "seconds,baseline_valid_energy_mae,baseline_valid_forces_mae,baseline_valid_magforces_mae\n";
  f << std::setprecision(8) << epoch_ << "," << lr_ << "," << tm.loss(o_.weights) << "," << vm.loss(o_.weights);
  for (const Metrics* m : {&tm, &vm})
    f << "," << 1e3 * m->energy_mae() << "," << 1e3 * m->energy_rmse() << "," << 1e3 * m->force_mae() << ","
      << 1e3 * m->force_rmse() << "," << 1e3 * m->mag_mae() << "," << 1e3 * m->mag_rmse();
  // The trivial models' errors on the same validation set (constant; beside the model's so a
  // row shows at once whether anything was learned).
  const Metrics& z = baseline_valid_;
  f << "," << seconds << "," << 1e3 * z.energy_mae() << "," << 1e3 * z.force_mae() << "," << 1e3 * z.mag_mae() << "\n";
}

Metrics Trainer::evaluate_train(bool best) {
  std::vector<std::size_t> all(train_.size());
  for (std::size_t k = 0; k < all.size(); ++k) all[k] = k;
  const auto batches = make_batches(train_, all, o_.batch_size, dtype_);
  if (!best) return evaluate(model_, batches, o_.threads);
  std::vector<at::Tensor> now;
  for (const auto& p : model_->parameters()) now.push_back(p.detach().clone());
  restore_best();
  const Metrics m = evaluate(model_, batches, o_.threads);
  torch::NoGradGuard g;
  const auto ps = model_->parameters();
  for (std::size_t k = 0; k < ps.size(); ++k) ps[k].copy_(now[k]);
  return m;
}

Metrics Trainer::evaluate_valid(bool best) {
  if (!best) return evaluate(model_, valid_batches_, o_.threads);
  std::vector<at::Tensor> now;
  for (const auto& p : model_->parameters()) now.push_back(p.detach().clone());
  restore_best();
  const Metrics m = evaluate(model_, valid_batches_, o_.threads);
  torch::NoGradGuard g;
  const auto ps = model_->parameters();
  for (std::size_t k = 0; k < ps.size(); ++k) ps[k].copy_(now[k]);
  return m;
}

void Trainer::restore_best() {
  torch::NoGradGuard g;
  const auto ps = model_->parameters();
  for (std::size_t k = 0; k < ps.size(); ++k) ps[k].copy_(best_params_[k]);
}

void Trainer::save_checkpoint(const std::string& path) const {
  torch::serialize::OutputArchive a;
  a.write("spinlat_train_checkpoint", torch::tensor(std::int64_t{1}));
  torch::serialize::OutputArchive m, b, opt;
  const auto ps = model_->parameters();
  for (std::size_t k = 0; k < ps.size(); ++k) {
    m.write("p" + std::to_string(k), ps[k].detach());
    b.write("p" + std::to_string(k), best_params_[k]);
  }
  a.write("model", m);
  a.write("best", b);
  optimizer_->save(opt);
  a.write("optimizer", opt);
  a.write("state", torch::tensor(std::vector<double>{static_cast<double>(epoch_), lr_, best_,
                                                     static_cast<double>(best_epoch_), static_cast<double>(bad_lr_),
                                                     plateau_best_, static_cast<double>(bad_stop_),
                                                     stopped_ ? 1.0 : 0.0, static_cast<double>(ps.size())},
                                 at::kDouble));
  write_atomically(path, [&](const std::string& tmp) { a.save_to(tmp); });
}

void Trainer::load_checkpoint(const std::string& path) {
  if (!fs::exists(path)) throw InputError(path + ": no checkpoint to restart from");
  torch::serialize::InputArchive a;
  at::Tensor tag, st;
  try {
    a.load_from(path);
    if (!a.try_read("spinlat_train_checkpoint", tag)) throw InputError(path + ": not a spinlat training checkpoint");
    a.read("state", st);
  } catch (const c10::Error&) {
    throw InputError(path + ": not a spinlat training checkpoint");
  }
  st = st.to(at::kDouble).contiguous();
  const double* s = st.data_ptr<double>();
  const auto ps = model_->parameters();
  if (st.numel() != 9 || static_cast<std::size_t>(s[8]) != ps.size())
    throw InputError(path + ": written for another model configuration");
  torch::serialize::InputArchive m, b, opt;
  a.read("model", m);
  a.read("best", b);
  a.read("optimizer", opt);
  {
    torch::NoGradGuard g;
    for (std::size_t k = 0; k < ps.size(); ++k) {
      at::Tensor t, u;
      m.read("p" + std::to_string(k), t);
      b.read("p" + std::to_string(k), u);
      if (t.sizes() != ps[k].sizes()) throw InputError(path + ": written for another model configuration");
      ps[k].copy_(t);
      best_params_[k] = u.to(ps[k].dtype()).clone();
    }
  }
  optimizer_->load(opt);
  epoch_ = static_cast<int>(s[0]);
  lr_ = s[1];
  best_ = s[2];
  best_epoch_ = static_cast<int>(s[3]);
  bad_lr_ = static_cast<int>(s[4]);
  plateau_best_ = s[5];
  bad_stop_ = static_cast<int>(s[6]);
  stopped_ = s[7] != 0.0;
  for (auto& group : optimizer_->param_groups()) static_cast<torch::optim::AdamOptions&>(group.options()).lr(lr_);
}

std::string Trainer::checkpoint_path() const {
  if (!o_.checkpoint.empty()) return o_.checkpoint;
  fs::path p = o_.output;
  p.replace_extension(".ckpt");
  return p.string();
}

namespace {
// One word for a POSIX shell: as is when safe, else in single quotes.
std::string shell_word(const std::string& w) {
  if (!w.empty() && w.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+@%") ==
                        std::string::npos)
    return w;
  std::string q = "'";
  for (char c : w) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}
}  // namespace

int Trainer::run(bool restart, std::ostream& out) {
  if (restart) {
    load_checkpoint(checkpoint_path());
    // Drop log rows written after the checkpoint (they are recomputed identically).
    if (!o_.log.empty() && fs::exists(o_.log)) {
      std::ifstream in(o_.log);
      std::string line, kept;
      bool header = true;
      while (std::getline(in, line)) {
        if (header || std::atoi(line.c_str()) <= epoch_) kept += line + "\n";
        header = false;
      }
      in.close();
      std::ofstream(o_.log, std::ios::trunc) << kept;
    }
    out << "restarting from " << checkpoint_path() << " after epoch " << epoch_ << "\n";
  } else if (!o_.log.empty()) {
    std::ofstream(o_.log, std::ios::trunc);
  }
  out << "training on " << train_.size() << " frames, validating on " << valid_.size() << " frames; "
      << model_->parameters().size() << " parameter tensors ("
      << [&] {
           std::int64_t n = 0;
           for (const auto& p : trainable()) n += p.numel();
           return n;
         }()
      << " trainable values), " << o_.dtype << "\n";
  out << "trivial baselines on the validation set (MAE): energy " << fmt(1e3 * baseline_valid_.energy_mae(), 2)
      << " meV/atom (per-element mean energies), forces " << fmt(1e3 * baseline_valid_.force_mae(), 1)
      << " meV/Å (zero), magnetic forces " << fmt(1e3 * baseline_valid_.mag_mae(), 1) << " meV/μB (zero)\n";
  while (!finished()) {
    step(&out);
    if (!o_.checkpoint.empty() && (epoch_ % o_.checkpoint_every == 0 || finished())) save_checkpoint(o_.checkpoint);
    if (o_.stop && o_.stop->load() && !finished()) {
      // Stop request (SIGINT/SIGTERM): the epoch just completed is checkpointed; --restart
      // continues bit for bit (the per-epoch shuffle is keyed by the epoch number).
      const std::string ckpt = checkpoint_path();
      save_checkpoint(ckpt);
      std::string cmd = "spinlat train " + shell_word(o_.file);
      for (const auto& ov : o_.overrides) cmd += " --set " + shell_word(ov);
      out << "stopped after epoch " << epoch_ << ": checkpoint " << ckpt << "; resume with: " << cmd
          << " --restart\n"
          << std::flush;
      return 3;
    }
  }

  // The best-validation model is the result.
  restore_best();
  save_native_model_atomic(model_, o_.output);
  const Metrics tm = evaluate_train(), vm = evaluate_valid();
  std::ostringstream table;
  table << "final model: " << o_.output << " (best validation loss " << best_ << " at epoch " << best_epoch_ << ")\n"
        << "              energy (meV/atom)   forces (meV/Å)     magnetic forces (meV/μB)\n"
        << "              MAE       RMSE      MAE       RMSE     MAE       RMSE\n";
  for (const auto& [name, m] : {std::pair<const char*, const Metrics*>{"train", &tm}, {"validation", &vm},
                                {"baseline", &baseline_valid_}}) {
    table << std::left << std::setw(12) << name << std::right;
    for (double v : {m->energy_mae(), m->energy_rmse(), m->force_mae(), m->force_rmse(), m->mag_mae(), m->mag_rmse()})
      table << std::setw(10) << fmt(1e3 * v, 3);
    table << "\n";
  }
  table << "(baseline: the validation set with per-element mean energies, zero forces, zero magnetic forces)\n";
  out << table.str();

  // Summary next to the model: <output without extension>.metrics.toml.
  fs::path summary = o_.output;
  summary.replace_extension(".metrics.toml");
  std::ofstream f(summary);
  f << "# spinlat train: errors of " << fs::path(o_.output).filename().string() << " (best validation epoch)\n"
    << "model = \"" << fs::path(o_.output).filename().string() << "\"  # next to this file\nconfig = \""
    << fs::path(o_.file).filename().string() << "\"\nbest_epoch = " << best_epoch_
    << "\nepochs = " << epoch_ << "\nvalid_loss = " << std::setprecision(10) << best_ << "\n";
  for (const auto& [name, m] : {std::pair<const char*, const Metrics*>{"train", &tm}, {"valid", &vm},
                                {"valid_baseline", &baseline_valid_}}) {
    if (name[0] == 'v' && name[5] == '_')
      f << "\n# The trivial models on the validation set: energy = sum of per-element mean energies\n"
           "# (least squares on the training set), zero forces, zero magnetic forces.";
    f << "\n[" << name << "]  # energy meV/atom, forces meV/Å, magforces meV/μB\nframes = "
      << (name[0] == 't' ? train_.size() : valid_.size()) << "\nenergy_mae = " << 1e3 * m->energy_mae()
      << "\nenergy_rmse = " << 1e3 * m->energy_rmse() << "\nforces_mae = " << 1e3 * m->force_mae()
      << "\nforces_rmse = " << 1e3 * m->force_rmse() << "\nmagforces_mae = " << 1e3 * m->mag_mae()
      << "\nmagforces_rmse = " << 1e3 * m->mag_rmse() << "\n";
  }
  out << "summary: " << summary.string() << ", log: " << o_.log << "\n";
  return 0;
}

namespace {
std::atomic<bool> g_train_stop{false};
extern "C" void on_train_signal(int) { g_train_stop.store(true); }
}  // namespace

int train_command(const std::string& config, bool restart, std::ostream& out,
                  const std::vector<std::string>& overrides) {
  // SIGINT/SIGTERM ask for a checkpoint and a stop at the end of the epoch (as `spinlat run`);
  // the previous handlers come back afterwards.
  g_train_stop.store(false);
  const auto old_int = std::signal(SIGINT, on_train_signal);
  const auto old_term = std::signal(SIGTERM, on_train_signal);
  struct Restore {
    decltype(old_int) i, t;
    ~Restore() {
      std::signal(SIGINT, i);
      std::signal(SIGTERM, t);
    }
  } restore{old_int, old_term};
  TrainOptions o = read_train_config(config, overrides);
  o.stop = &g_train_stop;
  Trainer t(std::move(o));
  return t.run(restart, out);
}

}  // namespace spinlat
